"""The Publier page's « Importer un communiqué »: an editor drops the préfecture's communiqué,
reviews the candidates, and publishes them; what is already on the map is updated, not doubled.
"""

from __future__ import annotations

import sys

import pytest
from apptest import COMMUNIQUE_UPLOADER, signed_in_publish_page, upload
from streamlit.testing.v1 import AppTest

from carto.config import PROJECT_ROOT
from carto.publishing.storage import Store

HERE = PROJECT_ROOT / "tests" / "data" / "communiques"
SEED = PROJECT_ROOT / "tests" / "data" / "communiques" / "communique-2020-04-06-pas-de-calais.txt"
sys.path.insert(0, str(HERE))
from build import communique_pdf  # noqa: E402


@pytest.fixture
def page(db) -> AppTest:
    return signed_in_publish_page()


def drop_communique(at: AppTest, name: str, data: bytes, mime: str) -> AppTest:
    """Drop a file in the « Importer un communiqué » tab's uploader (the page's second)."""
    return upload(at, name, data, mime, label=COMMUNIQUE_UPLOADER)


def button(at: AppTest, start: str):
    return next(b for b in at.button if b.label.startswith(start))


def texts(at: AppTest) -> str:
    return " ".join(
        [m.value for m in at.markdown]
        + [s.value for s in at.success]
        + [e.value for e in at.error]
        + [i.value for i in at.info]
    )


def test_tab_is_there(page: AppTest) -> None:
    assert "Importer un communiqué" in [t.label for t in page.tabs]


def test_seed_pdf_candidates_published_on_the_map(page: AppTest, db: str) -> None:
    if not SEED.is_file():
        pytest.skip(f"communiqué d'origine absent : {SEED}")
    before = Store.open(db).load()
    assert len(before) == 18  # the map holds the hand-made rows of the same communiqué
    at = drop_communique(
        page, "communique-2020-04-06.pdf", communique_pdf(SEED.read_text()), "application/pdf"
    )
    assert not at.exception
    assert "16 initiative(s) candidate(s)" in texts(at)
    assert "TERREOS" in at.dataframe[0].value["Nom"].tolist()  # the candidates' table

    # Those already on the map (same commune, similar name) are left out until kept.
    at = button(at, "Vérifier et comparer").click().run()
    assert not at.exception
    shown = texts(at)
    assert "mise(s) à jour" in shown and "0 retirée(s)" in shown
    first_added = int(shown.split("version en ligne** (version 1) : ")[1].split(" ")[0])

    # « Tout garder »: the matched ones update their initiative instead of being doubled.
    at = button(at, "Tout garder").click().run()
    at = button(at, "Vérifier et comparer").click().run()
    shown = texts(at)
    assert not at.exception
    added = int(shown.split("version en ligne** (version 1) : ")[1].split(" ")[0])
    assert added == first_added  # keeping the matched ones adds nothing more
    next(c for c in at.checkbox if c.label.startswith("Je confirme la publication")).check()
    at = at.run()
    at = button(at, "Publier le communiqué").click().run()
    assert not at.exception
    assert "Version 2 publiée" in texts(at)

    after = Store.open(db).load()
    assert len(after) == 18 + added
    assert added >= 1
    new = after[~after["id"].isin(before["id"])]
    assert set(new["date_publication"]) == {"2020-04-06"}
    assert all("6 avril 2020" in s for s in new["source"])
    # Nothing published was lost; Indelab kept its hand-written name and gained nothing twice.
    assert set(before["id"]) <= set(after["id"])
    assert (after["commune"] == "Bruay-la-Buissière").sum() == 1


def test_bad_communique_gets_a_french_message(page: AppTest, db: str) -> None:
    at = drop_communique(page, "communique.pdf", b"%PDF-1.4 abime", "application/pdf")
    assert not at.exception
    assert "illisible ou abîmé" in texts(at) and "Rien n'a été modifié" in texts(at)
    assert len(Store.open(db).load()) == 18


def test_the_candidates_table_shows_empty_cells_empty(page: AppTest) -> None:
    """Streamlit writes « None » in an empty cell unless told (placeholder): the candidates'
    table says nothing there; its English toolbar is hidden, a French download replaces it."""
    text = (HERE / "communique-2020-04-20.txt").read_bytes()
    at = drop_communique(page, "communique-2020-04-20.txt", text, "text/plain")
    assert not at.exception
    assert at.dataframe, "no candidates' table"
    assert all(
        frame.proto.HasField("placeholder") and frame.proto.placeholder == ""
        for frame in at.dataframe
    )
    labels = [b.label for b in at.get("download_button")]  # type: ignore[attr-defined]
    assert "Télécharger les candidates (CSV)" in labels
