"""Streamlit AppTest of each page: filters change the count, the editor gate, import to publish."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest import (
    NAVIGATION,
    TIMEOUT,
    editors_secrets,
    map_page,
    publish_page,
    shown_count,
    sign_in,
    signed_in_publish_page,
    uploaders,
)
from apptest import upload as upload_file
from streamlit.testing.v1 import AppTest

from carto.publishing.storage import Store

ROOT = Path(__file__).resolve().parents[1]
MESSY = ROOT / "tests" / "data" / "messy"


def test_map_page_filters_change_the_count(db) -> None:
    at = map_page()
    assert not at.exception
    shown, total = shown_count(at)
    assert shown == total >= 16

    at.sidebar.multiselect(key="f_categories").set_value(["protection"]).run()
    protection = shown_count(at)[0]
    assert 0 < protection < total

    at.sidebar.multiselect(key="f_arrondissements").set_value(["626"]).run()  # Calais
    both = shown_count(at)[0]
    assert 0 < both < protection
    assert at.query_params["categorie"] in ("protection", ["protection"])  # URL follows the view

    at.sidebar.text_input(key="f_text").set_value("zzz-introuvable").run()
    assert shown_count(at)[0] == 0
    assert not at.exception

    at.sidebar.button[0].click().run()  # « Réinitialiser les filtres »
    assert shown_count(at) == (total, total)


def test_shared_link_reproduces_filters_and_detail(db) -> None:
    at = map_page(categorie="isoles", id="pdc-2020-04-06-14")
    assert not at.exception
    assert at.sidebar.multiselect(key="f_categories").value == ["isoles"]
    assert shown_count(at)[0] < shown_count(at)[1]
    subheaders = [s.value for s in at.subheader]
    assert any("Guînes" in s for s in subheaders), subheaders
    details = " ".join(m.value for m in at.markdown)
    assert "03 21 85 53 70" in details and "tel:" in details


def test_stale_link_values_are_ignored(db) -> None:
    at = map_page(categorie=["pirate", "routiers"], arrondissement="999", id="nope")
    assert not at.exception
    assert at.sidebar.multiselect(key="f_categories").value == ["routiers"]
    assert shown_count(at)[0] >= 1


def editor_page(*, signed_in: bool) -> AppTest:
    return signed_in_publish_page() if signed_in else publish_page({"editors": editors_secrets()})


def test_anonymous_visitors_see_no_editor_controls(db) -> None:
    at = editor_page(signed_in=False)
    assert not at.exception
    assert len(uploaders(at)) == 0
    assert not any(b.label == "Publier" for b in at.button)
    assert [t.label for t in at.text_input] == ["Identifiant", "Mot de passe"]


def test_wrong_password_is_refused(db) -> None:
    at = sign_in(editor_page(signed_in=False), "marie", "mauvais")
    assert any("incorrect" in e.value for e in at.error)
    assert len(uploaders(at)) == 0


def upload(at: AppTest, path: Path) -> AppTest:
    return upload_file(at, path.name, path.read_bytes())


def test_editor_imports_reviews_and_publishes_cp1252_export(db) -> None:
    at = editor_page(signed_in=True)
    assert not at.exception
    assert len(uploaders(at)) == 1
    at = upload(at, MESSY / "export-excel-cp1252-pointvirgule.csv")
    assert not at.exception
    detected = " ".join(s.value for s in at.success)
    assert "cp1252" in detected.lower() or "windows-1252" in detected.lower()
    assert "point-virgule" in detected

    publish = next(b for b in at.button if b.label == "Publier")
    assert publish.disabled  # not before the explicit confirmation
    next(c for c in at.checkbox if c.label.startswith("Je confirme la publication")).check().run()
    next(b for b in at.button if b.label == "Publier").click().run()
    assert any("Version 2 publiée" in s.value for s in at.success), [s.value for s in at.success]

    store = Store.open(db)
    current = store.current()
    assert current is not None and current.number == 2 and current.author == "Marie Dupont"
    published = store.load().set_index("nom")["commune"]
    assert published["Épicerie solidaire « Le Panier »"] == "Guînes"
    assert published["Aire de repos des routiers"] == "Saint-Laurent-Blangy"


def test_invalid_file_cannot_be_published(db, tmp_path) -> None:
    bad = tmp_path / "mauvais.csv"
    bad.write_text("nom;categorie;commune\nMasques;protection;Lille\n", encoding="utf-8")
    at = editor_page(signed_in=True)
    at = upload(at, bad)
    assert not at.exception
    assert any("rien ne peut être publié" in e.value for e in at.error)
    assert not any(b.label == "Publier" for b in at.button)
    assert Store.open(db).current().number == 1  # type: ignore[union-attr]


def test_rollback_from_the_versions_tab(db) -> None:
    at = editor_page(signed_in=True)
    at = upload(at, MESSY / "export-excel-cp1252-pointvirgule.csv")
    next(c for c in at.checkbox if c.label.startswith("Je confirme la publication")).check().run()
    next(b for b in at.button if b.label == "Publier").click().run()

    at.selectbox(key="rollback_target:2").set_value(1).run()
    at.checkbox(key="rollback_confirm:2").check().run()
    next(b for b in at.button if b.label == "Revenir à cette version").click().run()
    assert not at.exception
    store = Store.open(db)
    assert store.current().number == 3  # type: ignore[union-attr]
    assert store.current().checksum == store.versions()[-1].checksum  # type: ignore[union-attr]


def test_second_editor_gets_a_conflict_and_nothing_is_overwritten(db) -> None:
    at = editor_page(signed_in=True)
    at = upload(at, MESSY / "export-excel-cp1252-pointvirgule.csv")  # reviewed against v1

    # Meanwhile another editor publishes version 2 from the CLI.
    store = Store.open(db)
    other = store.load().head(3)
    store.publish(other, author="Paul", note="autre import", base_version=1)

    next(c for c in at.checkbox if c.label.startswith("Je confirme la publication")).check().run()
    next(b for b in at.button if b.label == "Publier").click().run()
    assert not at.exception
    assert any("version 2" in e.value.lower() for e in at.error), [e.value for e in at.error]
    current = store.current()
    assert current is not None and current.number == 2 and current.author == "Paul"
    assert len(store.load()) == 3


OIDC_SECRETS = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "carto",
    "client_secret": "secret",
    "server_metadata_url": "https://sso.example.invalid/.well-known/openid-configuration",
}


@pytest.mark.parametrize(
    ("user", "sees_uploader", "message"),
    [
        ({"is_logged_in": False}, False, None),
        ({"is_logged_in": True, "email": "intrus@example.org", "name": "X"}, False, "autorisé"),
        (
            {"is_logged_in": True, "email": "Marie.Dupont@pas-de-calais.gouv.fr", "name": "Marie"},
            True,
            None,
        ),
    ],
    ids=["anonymous", "not-an-editor", "editor"],
)
def test_single_sign_on_route(db, user, sees_uploader, message) -> None:
    at = AppTest.from_file(str(NAVIGATION), default_timeout=TIMEOUT).run()
    at.secrets["auth"] = OIDC_SECRETS
    at.secrets["oidc_editors"] = {"emails": ["marie.dupont@pas-de-calais.gouv.fr"]}
    at.user = user
    at.switch_page("pages/publier.py").run()
    assert not at.exception
    assert (len(uploaders(at)) == 1) is sees_uploader
    assert not at.text_input  # no password form when single sign-on is configured
    if message:
        assert any(message in e.value for e in at.error)
    if not user.get("is_logged_in"):
        assert any("authentification unique" in b.label for b in at.button)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CARTO_TILES": "satellite"}, "CARTO_TILES"),
        ({"CARTO_DEPARTEMENT": "59"}, "carto gazetteer build --departement 59"),
    ],
)
def test_bad_configuration_is_explained_in_french(db, monkeypatch, env, expected) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = map_page()
    assert not at.exception
    shown = [e.value.replace("\\", "") for e in at.error]  # Markdown escapes aside
    assert any(expected in text for text in shown), shown


@pytest.mark.parametrize("value", ["1", "peut-être"])
def test_a_public_only_instance_has_no_publier_page(db, monkeypatch, value) -> None:
    """CARTO_PUBLIC_ONLY=1 (an instance others may frame): the map, and no editors' page;
    an unreadable value hides it too (the map says why)."""
    monkeypatch.setenv("CARTO_PUBLIC_ONLY", value)
    at = AppTest.from_file(str(NAVIGATION), default_timeout=TIMEOUT).run()
    assert not at.exception
    with pytest.raises(ValueError, match="navigation page"):
        at.switch_page("pages/publier.py")
    if value != "1":
        shown = [e.value.replace("\\", "") for e in at.error]  # Markdown escapes aside
        assert any("CARTO_PUBLIC_ONLY vaut" in text for text in shown), shown
    monkeypatch.setenv("CARTO_PUBLIC_ONLY", "0")
    at = AppTest.from_file(str(NAVIGATION), default_timeout=TIMEOUT).run()
    at.switch_page("pages/publier.py").run()
    assert [t.value for t in at.title] == ["Publier une mise à jour"]
