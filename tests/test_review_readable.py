"""The import report and review, as a new editor reads them (issue 12, §3).

What the editor hit: corrected communes changed silently, « Lile » with no word about Lille, no
way to drop a row, technical words (« exact 19, failed 1 », « manual »), the chosen commune
gone after « Appliquer les corrections », a review that hid « Avant » / « Après », « Remplacer »
by default removing 18 initiatives unannounced, and a history that lagged behind a rollback,
with `replace` / `rollback` as mode names. Each test does what the editor did (AppTest on the
real page and SQLite store, or the `carto` command) and checks what they would now notice.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest
from apptest import signed_in_publish_page
from apptest import upload as upload_file
from streamlit.testing.v1 import AppTest

from carto.cli import main
from carto.config import Settings
from carto.gazetteer import load_gazetteer
from carto.gazetteer.france import (
    FRANCE_DEPARTEMENTS_FILE,
    FRANCE_DIR,
    FRANCE_NAMES_FILE,
    build_france_names,
    load_france_names,
)
from carto.intake.pipeline import load
from carto.publishing.diffing import diff_tables
from carto.publishing.history import count_changes
from carto.publishing.modes import REMOVAL_CONFIRMATION_SHARE
from carto.publishing.plan import open_store, plan_import
from carto.publishing.storage import Store
from carto.ui.readable import inline_diff

ROOT = Path(__file__).resolve().parents[1]
DECOUPAGE = ROOT / "node_modules" / "@etalab" / "decoupage-administratif" / "data"
HEADER = "nom;categorie;commune\n"
# Technical or English words the report used to show.
JARGON = re.compile(r"\b(exact|fuzzy|failed|manual|replace|merge|rollback|initial)\b")


@pytest.fixture
def page(db) -> AppTest:
    return signed_in_publish_page()


def upload(at: AppTest, data: str, name: str = "semaine.csv") -> AppTest:
    at = upload_file(at, name, data.encode())
    assert not at.exception
    return at


def cards(at: AppTest) -> list[str]:
    """The text of each report card (HTML tags dropped, entities decoded)."""
    found = []
    for block in (m.value for m in at.markdown if 'class="carto-report"' in m.value):
        for card in block.split('<div class="carte')[1:]:
            found.append(html.unescape(re.sub(r"<[^>]+>", " ", card.split(">", 1)[1])))
    return [" ".join(c.split()) for c in found]


def card_of(at: AppTest, line: int) -> str:
    return " ".join(c for c in cards(at) if c.startswith(f"Ligne {line} "))


def visible_text(at: AppTest) -> str:
    texts = [m.value for m in at.markdown if not m.value.startswith("<style>")]
    texts += [e.value for e in at.error]
    texts += [w.label for w in (*at.checkbox, *at.selectbox, *at.radio, *at.button)]
    texts += [html.unescape(re.sub(r"<[^>]+>", " ", t)) for t in texts]
    return " ".join(texts)


def checkbox(at: AppTest, start: str):
    return next(c for c in at.checkbox if c.label.startswith(start))


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


# --- the report -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("commune", "expected"),
    [
        ("Bethune", "Bethune → Béthune (corrigé)"),
        ("St Omer", "St Omer → Saint-Omer (corrigé)"),
        ("Lille", "Lille est dans le Nord (59)"),
        ("Angers", "Angers est en Maine-et-Loire (49)"),
        ("Lile", "Lillers"),
        ("Lile", "hors du département : Lille est dans le Nord (59)"),
    ],
)
def test_each_line_says_what_was_corrected_or_where_the_name_is(
    page, commune: str, expected: str
) -> None:
    at = upload(page, HEADER + f"Colis solidaires;isoles;{commune}\n")
    assert expected in card_of(at, 2), cards(at)


def test_a_case_only_difference_is_not_reported(page) -> None:
    at = upload(page, HEADER + "Colis solidaires;isoles;ARRAS\n")
    assert card_of(at, 2) == ""


def test_report_speaks_plain_french(page) -> None:
    at = upload(page, HEADER + "A;isoles;Arras\nB;isoles;Bethnue\nC;isoles;Lile\n")
    summary = next(m.value for m in at.markdown if "initiative(s) ; communes" in m.value)
    assert "1 reconnue, 1 devinée (à vérifier), 1 introuvable" in summary
    # (The history tab is on the page too: « import initial » is French, the first author.)
    text = re.sub("import initial", "", visible_text(at), flags=re.I)
    assert JARGON.search(text) is None, text
    # Every card keeps its column headings as words the editor can read.
    assert "Problème :" in card_of(at, 4) and "Que faire :" in card_of(at, 4)
    assert "Suggestions :" in card_of(at, 4)


def test_file_text_in_cards_is_shown_literally(page) -> None:
    at = upload(page, HEADER + "Masques;protection;<img src=x onerror=alert(1)>![x](http://a)\n")
    raw = " ".join(m.value for m in at.markdown if "carto-report" in m.value)
    assert "<img" not in raw and "![x](" not in raw
    assert "<img src=x onerror=alert(1)>![x](http://a)" in card_of(at, 2)


def test_a_line_can_be_left_out_and_taken_back(page, db) -> None:
    at = upload(page, HEADER + "Colis;isoles;Arras\nBanque alimentaire;isoles;Lille\n")
    assert not any(b.label == "Publier" for b in at.button)  # Lille: an error
    checkbox(at, "Exclure la ligne 3").check().run()
    assert not at.exception
    assert card_of(at, 3) == ""  # the line is no longer checked
    assert checkbox(at, "Ligne 3 exclue").value
    assert "1 ligne(s) exclue(s) de l'import" in visible_text(at)

    checkbox(at, "Ligne 3 exclue").uncheck().run()  # taken back: its error is back
    assert "Lille est dans le Nord (59)" in card_of(at, 3)
    checkbox(at, "Exclure la ligne 3").check().run()

    checkbox(at, "Je confirme la publication").check().run()
    button(at, "Publier").click().run()
    assert not at.exception
    published = Store.open(db).load()
    assert "Colis" in set(published["nom"]) and "Banque alimentaire" not in set(published["nom"])


def test_the_chosen_commune_stays_shown_after_applying(page) -> None:
    at = upload(page, HEADER + "Couturières;protection;Lile\n")
    fix = next(s for s in at.selectbox if s.label.startswith("Ligne 2"))
    fix.select("62516").run()  # Lillers
    button(at, "Appliquer les corrections").click().run()
    assert not at.exception
    fix = next(s for s in at.selectbox if s.label.startswith("Ligne 2"))
    assert fix.value == "62516"
    assert "Lile → Lillers (commune choisie par l'éditeur)" in card_of(at, 2)
    assert any(b.label == "Publier" for b in at.button)  # the error is settled


# --- the review --------------------------------------------------------------------------------

ROQUETTE = "pdc-2020-04-06-02"


def test_review_shows_each_changed_field_before_and_after(page) -> None:
    data = (
        "id;nom;categorie;commune;description\n"
        f"{ROQUETTE};Roquette : production de gel hydro-alcoolique;protection;Lestrem;"
        "L’entreprise Roquette produit du gel et des masques sur son site de Lestrem.\n"
    )
    at = upload(page, data)
    change = next(m.value for m in at.markdown if "Avant :" in m.value)
    # Line 2 of the file, though Roquette is the 2nd of the 18 rows the merge compares.
    assert "Roquette : production de gel hydro-alcoolique (ligne 2 du fichier)" in re.sub(
        "<[^>]+>", "", html.unescape(change)
    )
    assert "<ins>" in change and "<del>" in change  # marked, not by colour only
    before, after = change.split("Avant :", 1)[1].split("Après :", 1)
    assert "<del>" in before and "<ins>" not in before
    assert "<ins>" in after and "masques" in html.unescape(after)


def test_merge_is_the_default_and_keeps_the_published_initiatives(page, db) -> None:
    at = upload(page, HEADER + "Colis;isoles;Arras\nRepas;soignants;Lens\n")
    assert at.radio[0].value == "merge"
    assert [e.label for e in at.expander if "retirée" in e.label] == []
    checkbox(at, "Je confirme la publication").check().run()
    button(at, "Publier").click().run()
    assert len(Store.open(db).load()) == 18 + 2


def test_replacing_most_of_the_map_needs_the_count_confirmed(page, db) -> None:
    at = upload(page, HEADER + "Colis;isoles;Arras\nRepas;soignants;Lens\n")
    at.radio[0].set_value("replace").run()
    warning = " ".join(w.value for w in at.warning)
    assert "18 initiative(s) sur les 18 publiées" in warning
    checkbox(at, "Je confirme la publication").check().run()
    assert button(at, "Publier").disabled  # the first confirmation is not enough
    second = checkbox(at, "Je confirme la suppression de 18 initiative(s) sur 18")
    second.check().run()
    button(at, "Publier").click().run()
    assert not at.exception
    assert sorted(Store.open(db).load()["nom"]) == ["Colis", "Repas"]


@pytest.mark.parametrize(("removed", "asked"), [(3, False), (4, True), (18, True)])
def test_the_rule_is_a_share_of_the_published_initiatives(
    db, removed: int, asked: bool, tmp_path: Path
) -> None:
    """18 published: removing 3 (17 %) is not asked, 4 (22 %) is (REMOVAL_CONFIRMATION_SHARE)."""
    assert REMOVAL_CONFIRMATION_SHARE == 0.2
    cfg = Settings.from_env()
    store = open_store(cfg, load_gazetteer("62"))
    kept = store.load().iloc[: 18 - removed]
    path = tmp_path / "kept.csv"
    kept.to_csv(path, index=False, sep=";")
    plan = plan_import(load(path), store, mode="replace")
    assert plan.diff.removed_count == removed
    assert plan.needs_removal_confirmation is asked


# --- the command line ---------------------------------------------------------------------------


def test_cli_refuses_a_large_replace_without_the_count(db, tmp_path, capsys) -> None:
    path = tmp_path / "deux.csv"
    path.write_text(HEADER + "Colis;isoles;Arras\nRepas;soignants;Lens\n", encoding="utf-8")
    assert main(["import", str(path), "--mode", "replace"]) == 1
    err = capsys.readouterr().err
    assert "retirerait 18 initiative(s) sur 18 publiées" in err
    assert "--confirmer-suppressions 18" in err
    assert main(["import", str(path), "--mode", "replace", "--confirmer-suppressions", "5"]) == 1
    assert Store.open(db).current().number == 1  # type: ignore[union-attr]
    capsys.readouterr()
    assert main(["import", str(path), "--mode", "replace", "--confirmer-suppressions", "18"]) == 0
    assert len(Store.open(db).load()) == 2


def test_cli_leaves_out_the_excluded_lines(db, tmp_path, capsys) -> None:
    path = tmp_path / "lignes.csv"
    path.write_text(HEADER + "Colis;isoles;Arras\nBanque;isoles;Lille\n", encoding="utf-8")
    assert main(["import", str(path)]) == 1  # Lille is in the Nord
    assert "Lille est dans le Nord (59)" in capsys.readouterr().out
    assert main(["import", str(path), "--exclure-ligne", "3"]) == 0
    out = capsys.readouterr().out
    assert "Ligne(s) exclue(s) de l'import : 3." in out
    assert "Revue (fusion) : 1 ajoutée(s)" in out
    assert "Banque" not in set(Store.open(db).load()["nom"])


def test_versions_command_speaks_french_with_counts(db, tmp_path, capsys) -> None:
    path = tmp_path / "ajout.csv"
    path.write_text(HEADER + "Colis;isoles;Arras\n", encoding="utf-8")
    assert main(["import", str(path), "--note", "Semaine 15", "--author", "Marie"]) == 0
    assert main(["rollback", "1", "--author", "Paul"]) == 0
    capsys.readouterr()
    assert main(["versions"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("*    3 ") and "retour à la version 1" in lines[0]
    assert "Paul" in lines[0] and "0 ajoutée, 0 modifiée, 1 retirée" in lines[0]
    assert "fusion" in lines[1] and "Marie" in lines[1] and "« Semaine 15 »" in lines[1]
    assert "19 initiative(s) (1 ajoutée, 0 modifiée, 0 retirée)" in lines[1]
    assert "version initiale" in lines[2]
    # (« import initial » is the first version's author and note, in French.)
    assert JARGON.search(re.sub("import initial", "", "\n".join(lines), flags=re.I)) is None


# --- the history on the page ---------------------------------------------------------------------


def history(at: AppTest) -> list[str]:
    return [c for c in cards(at) if c.startswith("Version ")]


def test_history_refreshes_at_once_after_publish_and_rollback(page) -> None:
    at = upload(page, HEADER + "Colis;isoles;Arras\n")
    next(t for t in at.text_input if t.label.startswith("Note de version")).input("Semaine 15")
    checkbox(at, "Je confirme la publication").check().run()
    button(at, "Publier").click().run()
    shown = history(at)
    assert shown[0].startswith("Version 2 — en ligne — fusion")
    assert "Marie Dupont" in shown[0] and "Semaine 15" in shown[0]
    assert "19 initiative(s) (1 ajoutée, 0 modifiée, 0 retirée)" in shown[0]

    at.selectbox(key="rollback_target:2").set_value(1).run()
    at.checkbox(key="rollback_confirm:2").check().run()
    button(at, "Revenir à cette version").click().run()
    assert not at.exception
    shown = history(at)
    assert shown[0].startswith("Version 3 — en ligne — retour à la version 1"), shown
    assert "0 ajoutée, 0 modifiée, 1 retirée" in shown[0]
    assert shown[2].startswith("Version 1 — version initiale")
    assert any("Version 3 publiée : contenu de la version 1" in s.value for s in at.success)


# --- the national list of names -------------------------------------------------------------------


def test_national_names_rebuild_to_the_shipped_files(tmp_path: Path) -> None:
    if not DECOUPAGE.is_dir():
        pytest.skip("node_modules absent : lancez npm ci")
    build_france_names(DECOUPAGE, out_dir=tmp_path)
    for name in (FRANCE_NAMES_FILE, FRANCE_DEPARTEMENTS_FILE):
        assert (tmp_path / name).read_bytes() == (FRANCE_DIR / name).read_bytes(), name
    assert (FRANCE_DIR / FRANCE_NAMES_FILE).stat().st_size < 700_000  # folded names only


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("Lille", "Lille est dans le Nord (59)"),
        ("Amiens", "Amiens est dans la Somme (80)"),
        ("Laon", "Laon est dans l'Aisne (02)"),
        ("Versailles", "Versailles est dans les Yvelines (78)"),
        ("Paris", "Paris est à Paris (75)"),
        ("Saint-Denis", "Saint-Denis est"),
    ],
)
def test_national_names_say_where_a_name_is(name: str, sentence: str) -> None:
    found = load_france_names().exact(name, exclude="62")
    assert found is not None and found.sentence(name).startswith(sentence)
    assert load_france_names().exact("Béthune", exclude="62") is None  # only ours


def test_cli_review_shows_each_changed_field_before_and_after(db, tmp_path, capsys) -> None:
    path = tmp_path / "roquette.csv"
    path.write_text(
        "id;nom;categorie;commune;description\n"
        f"{ROQUETTE};Roquette : production de gel hydro-alcoolique;protection;Lestrem;"
        "Gel et masques.\n",
        encoding="utf-8",
    )
    assert main(["import", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "ligne 2, Roquette : production de gel hydro-alcoolique — Description : « L’" in out
    assert "» → « Gel et masques. »" in out


def _seed_store(path: Path) -> Store:
    store = Store.open(f"sqlite:///{path / 'histoire.sqlite'}")
    store.bootstrap_from(load(ROOT / "data" / "initiatives.csv").clean_rows())
    return store


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.iloc[3:],  # removed
        lambda t: pd.concat([t, t.iloc[:2].assign(id="", nom=["Nouvelle A", "Nouvelle B"])]),
        lambda t: t.assign(description=t["description"].where(t.index % 3 != 0, "changée")),
        lambda t: pd.concat([t, t.iloc[:4].assign(id="")]),  # duplicates without id
        lambda t: t.iloc[::-1].assign(telephone=t["telephone"].iloc[::-1].replace("", "01")),
    ],
    ids=["removed", "added", "changed", "duplicates", "reordered-and-changed"],
)
def test_history_counts_agree_with_the_review_diff(edit, tmp_path: Path) -> None:
    with _seed_store(tmp_path) as store:
        old = store.load()
        store.publish(edit(old.copy()), author="t", base_version=1, mode="replace")
        new = store.load()
    diff = diff_tables(old, new)
    counted = count_changes(old, new)
    assert (counted.added, counted.changed, counted.removed) == (
        diff.added_count,
        diff.changed_count,
        diff.removed_count,
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("spécialiste de la confection", "expert du tricot"),
        ("Atelier couture, spécialiste de la confection", "Atelier : couture et confection"),
    ],
)
def test_review_diff_keeps_the_spaces_between_words(old: str, new: str) -> None:
    # A space between two changed words was escaped as an empty cell: « spécialistedela… ».
    before, after = inline_diff(old, new)
    assert html.unescape(re.sub("<[^>]+>", "", before)) == old
    assert html.unescape(re.sub("<[^>]+>", "", after)) == new
    assert "<del>" in before and "<ins>" in after
