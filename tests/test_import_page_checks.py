"""The Publier page shows what blocks a publication and lets the editor settle it on the page:
an id that belongs to another initiative, a point outside the département."""

from __future__ import annotations

import html

import pytest
from apptest import signed_in_publish_page
from apptest import upload as upload_file
from streamlit.testing.v1 import AppTest

from carto.publishing.storage import Store

HEADER = "nom;categorie;commune;latitude;longitude\n"
# 0.4 km inside the Nord, by La Gorgue; the commune column says La Gorgue (Nord).
OUTSIDE = "Épicerie solidaire;isoles;;50.616;2.734\n"


@pytest.fixture
def page(db) -> AppTest:
    return signed_in_publish_page()


def upload(at: AppTest, data: str) -> AppTest:
    return upload_file(at, "ajout.csv", data.encode())


def report_text(at: AppTest) -> str:
    """The text of every report card on the page (HTML entities decoded)."""
    cards = [m.value for m in at.markdown if 'class="carto-report"' in m.value]
    return html.unescape(" ".join(cards))


def publish_button(at: AppTest):
    return next(b for b in at.button if b.label == "Publier")


def confirm(at: AppTest) -> AppTest:
    next(c for c in at.checkbox if c.label.startswith("Je confirme la publication")).check()
    return at.run()


def test_point_outside_is_blocked_until_the_editor_keeps_it(page, db) -> None:
    at = upload(page, HEADER + OUTSIDE)
    assert not at.exception
    assert "hors du département" in report_text(at)
    assert not any(b.label == "Publier" for b in at.button)  # nothing can be published yet

    keep = next(c for c in at.checkbox if c.label.startswith("Ligne 2 : garder ce point"))
    keep.check().run()
    assert not at.exception
    at = confirm(at)
    publish_button(at).click().run()
    assert not at.exception
    published = Store.open(db).load()
    row = published[published["nom"] == "Épicerie solidaire"].iloc[0]
    assert row["latitude"] == pytest.approx(50.616)
    assert row["geocode_status"] == "manual"


def test_id_of_another_initiative_is_shown_as_a_conflict(page, db) -> None:
    at = upload(
        page,
        "id;nom;categorie;commune\npdc-2020-04-06-02;Banque alimentaire;isoles;Arras\n",
    )
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "conflit" in shown.casefold()
    text = report_text(at)
    assert "pdc-2020-04-06-02" in text and "Banque alimentaire" in text
    at = confirm(at)
    assert publish_button(at).disabled
    assert Store.open(db).current().number == 1  # nothing published
