"""The public map page over time, as a visitor sees it (AppTest): the « Nouveau » badge on what
the latest publication added, ended initiatives hidden until asked, the period filter and its
link, and « Nouveautés »."""

from __future__ import annotations

import pandas as pd
import pytest
from apptest import map_page, shown_count, signed_in_publish_page
from streamlit.testing.v1 import AppTest

from carto.config import PROJECT_ROOT
from carto.display import md_escape
from carto.intake import pipeline
from carto.publishing.storage import Store

DATA = PROJECT_ROOT / "data" / "initiatives.csv"
NEW_ID = "pdc-2026-12-01-01"
NEW_NAME = "Épicerie solidaire du Ternois"


@pytest.fixture(scope="module")
def seed() -> pd.DataFrame:
    return pipeline.load(DATA).table


@pytest.fixture
def two_publications(db: str, seed: pd.DataFrame) -> pd.DataFrame:
    """The seed (version 1), then a communiqué that adds one initiative and ends another."""
    with Store.open(db) as store:
        store.bootstrap_from(seed)
        new = seed.iloc[[0]].copy()
        new["id"], new["nom"], new["date_debut"] = NEW_ID, NEW_NAME, "2026-12-01"
        table = pd.concat([seed, new], ignore_index=True)
        table.loc[1, "statut"] = "terminee"
        store.publish(table, author="Marie", note="Communiqué du 1er décembre", base_version=1)
    return table


def _all_markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_a_visitor_sees_what_is_new_and_not_what_has_ended(
    two_publications: pd.DataFrame,
) -> None:
    at = map_page()
    assert not at.exception
    total = len(two_publications)
    assert shown_count(at) == (total - 1, total)
    assert any("1 initiative terminée n'est pas affichée" in c.value for c in at.caption)
    table = at.table[0].value
    assert table.loc[table["Nouveauté"] == "Nouveau", "Nom"].tolist() == [NEW_NAME]
    ended_name = two_publications.loc[1, "nom"]
    assert ended_name not in table["Nom"].tolist()
    # « Nouveautés »: the publication's date, note and what it changed, in French.
    assert "Nouveautés" in [h.value for h in at.header]
    text = _all_markdown(at)
    assert "Publication du " in text
    assert "Communiqué du 1er décembre" in text
    assert "1 initiative ajoutée" in text and "1 initiative terminée" in text
    assert "Première publication de la carte" in text


def test_showing_ended_initiatives_is_one_checkbox_and_goes_into_the_link(
    two_publications: pd.DataFrame,
) -> None:
    at = map_page()
    box = at.sidebar.checkbox(key="f_ended")
    assert box.label == "Afficher aussi les initiatives terminées" and box.value is False
    at = box.check().run()
    assert not at.exception
    assert shown_count(at) == (len(two_publications), len(two_publications))
    assert at.query_params["terminees"] == "1"
    # The link opens the same view; « Réinitialiser les filtres » hides them again.
    again = map_page(terminees="1")
    assert shown_count(again) == (len(two_publications), len(two_publications))
    again = again.sidebar.button[0].click().run()
    assert shown_count(again)[0] == len(two_publications) - 1
    assert "terminees" not in again.query_params


def test_the_period_filter_keeps_what_runs_then_and_round_trips(
    two_publications: pd.DataFrame,
) -> None:
    # Until 30 November 2026: the new initiative (from 1 December) was not running yet; the seed
    # has no dates, so it counts as running.
    at = map_page(au="2026-11-30")
    assert not at.exception
    assert at.sidebar.text_input(key="f_end").value == "30/11/2026"
    assert shown_count(at)[0] == len(two_publications) - 2
    assert NEW_NAME not in at.table[0].value["Nom"].tolist()
    assert at.query_params["au"] == "2026-11-30"
    at = at.sidebar.text_input(key="f_end").input("").run()
    assert shown_count(at)[0] == len(two_publications) - 1
    assert "au" not in at.query_params
    # Typed as people write it (the field is applied by Enter, as any text field).
    at = at.sidebar.text_input(key="f_end").input("30/11/2026").run()
    assert shown_count(at)[0] == len(two_publications) - 2
    assert at.query_params["au"] == "2026-11-30"
    # What is not a day is said, in French, and that end of the period is left open.
    at = at.sidebar.text_input(key="f_end").input("31/02/2026").run()
    assert not at.exception
    assert any("n'est pas une date" in e.value for e in at.sidebar.error)
    assert shown_count(at)[0] == len(two_publications) - 1
    assert "au" not in at.query_params


@pytest.mark.parametrize(
    "query",
    [
        {"du": "n'importe quoi", "au": "2026-02-30", "terminees": "oui!"},
        {"du": ["2026-01-01", "2027-01-01"], "terminees": ["", "1"]},
        {"du": "2030-01-01", "au": "2020-01-01"},
    ],
)
def test_odd_time_values_in_a_link_are_ignored_without_a_crash(
    two_publications: pd.DataFrame, query: dict
) -> None:
    at = map_page(**query)
    assert not at.exception
    assert not at.error
    assert shown_count(at)[1] == len(two_publications)


def test_a_link_to_an_initiative_that_has_ended_shows_it(
    two_publications: pd.DataFrame,
) -> None:
    """Shared while it ran, opened after it ended: the visitor sees it, marked as ended, and
    the view (and its address) shows the ended ones, instead of a « masquée » notice."""
    ended_id, ended_name = two_publications.loc[1, ["id", "nom"]]
    at = map_page(id=ended_id)
    assert not at.exception
    assert not any("L'initiative demandée" in w.value for w in at.warning)
    assert [s.value for s in at.subheader] == [md_escape(ended_name)]
    assert "Terminée" in _all_markdown(at)
    assert at.sidebar.checkbox(key="f_ended").value is True
    assert at.query_params.get("terminees") == "1" and at.query_params["id"] == ended_id
    total = len(two_publications)
    assert shown_count(at) == (total, total)
    # An explicit choice of the link is kept: « terminees=0 » still hides it, and says so.
    at = map_page(id=ended_id, terminees="0")
    assert not at.exception
    assert at.sidebar.checkbox(key="f_ended").value is False
    assert any("masquée par les filtres" in w.value for w in at.warning)


def test_the_detail_of_a_new_initiative_says_nouveau(two_publications: pd.DataFrame) -> None:
    at = map_page(id=NEW_ID)
    assert not at.exception
    assert any("Nouveau" in m.value for m in at.markdown if "badge" in m.value)
    picker = at.selectbox(key="table")
    assert picker.format_func(NEW_ID).endswith("— Nouveau")


def test_the_seed_alone_has_nothing_new_and_hides_nothing(db: str) -> None:
    at = map_page()
    assert not at.exception
    shown, total = shown_count(at)
    assert shown == total
    assert "Nouveauté" not in at.table[0].value.columns
    assert "Première publication de la carte" in _all_markdown(at)


def test_an_editor_finds_what_to_check_in_its_tab(
    two_publications: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARTO_REVIEW_WEEKS", "8")
    at = signed_in_publish_page()
    tab = next(t for t in at.tabs if t.label == "À vérifier")
    # The seed was never checked since the communiqué of 6 April 2020; the ended one is done.
    due = len(two_publications) - 1
    assert any(f"{due} initiatives à vérifier" in m.value for m in tab.markdown)
    listed = tab.table[0].value
    assert two_publications.loc[1, "nom"] not in listed["Nom"].tolist()
    assert listed["Pourquoi"].str.contains("jamais vérifiée depuis sa publication").any()
    assert [b.label for b in tab.get("download_button")] == ["Télécharger la liste (CSV)"]
