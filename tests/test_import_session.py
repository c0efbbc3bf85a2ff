"""The Publier page reads, validates and geocodes an upload once per session, not on every click.

`ImportSession` counts the work it really does (`reads`, `loads`, `plans`): ticking « Je
confirme », typing the note or re-dropping the same file must leave them unchanged; a commune
correction or another file must redo exactly what it changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest import signed_in_publish_page, upload
from streamlit.testing.v1 import AppTest

from carto.gazetteer import load_gazetteer
from carto.intake.session import ImportSession
from carto.publishing.storage import Store

ROOT = Path(__file__).resolve().parents[1]
MESSY = ROOT / "tests" / "data" / "messy"


@pytest.fixture
def page(db) -> AppTest:
    return signed_in_publish_page()


def session_of(at: AppTest) -> ImportSession:
    session = at.session_state["import_session"]
    assert isinstance(session, ImportSession)
    return session


def work(at: AppTest) -> tuple[int, int, int]:
    session = session_of(at)
    return session.reads, session.loads, session.plans


def confirm_box(at: AppTest):
    return next(c for c in at.checkbox if c.label.startswith("Je confirme la publication"))


def test_confirmation_and_note_reuse_the_checked_file(page, db) -> None:
    data = (MESSY / "export-excel-cp1252-pointvirgule.csv").read_bytes()
    at = upload(page, "export.csv", data)
    assert not at.exception
    assert work(at) == (1, 1, 1)

    confirm_box(at).check().run()
    confirm_box(at).uncheck().run()
    confirm_box(at).check().run()
    next(t for t in at.text_input if t.label.startswith("Note de version")).input("Avril").run()
    at = upload(at, "export.csv", data)  # the same file dropped again
    assert not at.exception
    assert work(at) == (1, 1, 1)  # five reruns, no new read, validation, geocoding or diff

    next(b for b in at.button if b.label == "Publier").click().run()
    assert any("Version 2 publiée" in s.value for s in at.success), [s.value for s in at.success]
    current = Store.open(db).current()
    assert current is not None and current.note == "Avril"


def test_a_correction_redoes_the_load_only(page) -> None:
    data = "nom;categorie;commune\nMasques;protection;Arras\nRepas;soignants;Lens-Nord\n"
    at = upload(page, "communes.csv", data.encode())
    assert not at.exception
    assert work(at) == (1, 1, 0)  # an error: nothing to review yet
    assert not any(b.label == "Publier" for b in at.button)

    fix = next(s for s in at.selectbox if s.label.startswith("Ligne 3"))
    fix.select("62498").run()  # Lens
    next(b for b in at.button if b.label == "Appliquer les corrections").click().run()
    assert not at.exception
    assert work(at) == (1, 2, 1)

    confirm_box(at).check().run()
    assert work(at) == (1, 2, 1)
    assert not next(b for b in at.button if b.label == "Publier").disabled


def test_another_file_starts_a_new_session(page) -> None:
    at = upload(page, "a.csv", b"nom;categorie;commune\nMasques;protection;Arras\n")
    first = session_of(at)
    at = upload(at, "b.csv", b"nom;categorie;commune\nRepas;soignants;Lens\n")
    assert session_of(at) is not first and work(at) == (1, 1, 1)
    assert at.radio[0].value == "merge"  # the default: published initiatives stay
    assert [e.label for e in at.expander if "ajoutée" in e.label] == ["1 initiative(s) ajoutée(s)"]


# --- the core object -----------------------------------------------------------------------------


def test_session_keeps_each_step_until_its_input_changes(tmp_path) -> None:
    gaz = load_gazetteer("62")
    data = b"nom;categorie;commune\nMasques;protection;Arras\nRepas;soignants;Lens-Nord\n"
    session = ImportSession(data, filename="x.csv")
    first = session.loaded(gaz)
    assert session.loaded(gaz) is first and session.loaded(gaz, corrections={}) is first
    assert not first.ok
    fixed = session.loaded(gaz, corrections={3: "62498"})
    assert fixed.ok and session.loaded(gaz, corrections={3: "62498"}) is fixed
    assert (session.reads, session.loads) == (1, 2)

    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}")
    plan = session.plan(fixed, store, mode="replace", base_version=None)
    assert session.plan(fixed, store, mode="replace", base_version=None) is plan
    merged = session.plan(fixed, store, mode="merge", base_version=None)
    assert session.plan(fixed, store, mode="replace", base_version=None) is plan  # both kept
    assert merged is not plan and session.plans == 2
    assert plan.diff.added_count == 2
