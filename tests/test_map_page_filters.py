"""The map page's filters as a visitor sees them: counts that follow the other filters, an empty
result that offers a way back, and a French notice for an initiative the link cannot show."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from apptest import map_page, shown_count
from streamlit.testing.v1 import AppTest

from carto.config import PROJECT_ROOT
from carto.filters import memberships
from carto.gazetteer import load_gazetteer
from carto.intake import pipeline as dataset
from carto.models import CATEGORIES

DATA = PROJECT_ROOT / "data" / "initiatives.csv"
NO_MATCH = "Aucune initiative ne correspond"


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    """The initiatives the page shows (the `db` fixture publishes DATA on first open)."""
    return dataset.load(DATA).table


def shown_counts(at: AppTest, key: str) -> dict[str, int]:
    """What each option of a sidebar multiselect says: « Arras (4) » gives {"Arras": 4}."""
    pairs = (
        re.fullmatch(r"(.*) \((\d+)\)", label) for label in at.sidebar.multiselect(key=key).options
    )
    return {m.group(1): int(m.group(2)) for m in pairs if m}


def category_counts(rows: pd.DataFrame) -> dict[str, int]:
    return {c.label: int((rows["categorie"] == c.slug).sum()) for c in CATEGORIES}


def arrondissement_counts(at: AppTest, rows: pd.DataFrame) -> dict[str, int]:
    """Rows counted in each arrondissement: an area initiative in every one it covers."""
    names = shown_counts(at, "f_arrondissements")
    codes = {a.nom: a.code for a in load_gazetteer("62").arrondissements}
    covered = memberships(rows, "arrondissement_code")
    return {name: int(covered.map(lambda c, n=name: codes.get(n) in c).sum()) for name in names}


def in_arrondissement(rows: pd.DataFrame, code: str) -> pd.DataFrame:
    return rows[memberships(rows, "arrondissement_code").map(lambda c: code in c)]


def warnings(at: AppTest) -> list[str]:
    """The warnings as read on screen (their Markdown escapes removed)."""
    return [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]


def test_counts_follow_the_other_filters(db: str, published: pd.DataFrame) -> None:
    at = map_page()
    assert shown_counts(at, "f_categories") == category_counts(published)
    everywhere = arrondissement_counts(at, published)
    assert shown_counts(at, "f_arrondissements") == everywhere
    # Area initiatives count in each arrondissement they cover, so more than once.
    assert sum(everywhere.values()) > len(published)
    assert min(everywhere.values()) >= 1

    # Choosing Calais: the categories count Calais only; the arrondissements still count all
    # (a filter does not restrict its own options).
    at.sidebar.multiselect(key="f_arrondissements").set_value(["626"]).run()
    assert not at.exception
    calais = in_arrondissement(published, "626")
    assert shown_counts(at, "f_categories") == category_counts(calais)
    assert category_counts(calais) != category_counts(published)
    assert shown_counts(at, "f_arrondissements") == everywhere

    # Then a category: the arrondissements count that category, the categories still Calais.
    at.sidebar.multiselect(key="f_categories").set_value(["protection"]).run()
    assert not at.exception
    protection = published[published["categorie"] == "protection"].reset_index(drop=True)
    assert shown_counts(at, "f_arrondissements") == arrondissement_counts(at, protection)
    assert shown_counts(at, "f_categories") == category_counts(calais)

    # A second category while the labels of the first changed: both kept, no error.
    at.sidebar.multiselect(key="f_categories").set_value(["protection", "isoles"]).run()
    assert not at.exception
    assert [e.value for e in at.error] == []
    assert at.sidebar.multiselect(key="f_categories").value == ["protection", "isoles"]
    assert at.sidebar.multiselect(key="f_arrondissements").value == ["626"]
    both = calais[calais["categorie"].isin(["protection", "isoles"])]
    assert shown_count(at) == (len(both), len(published))

    # The search counts too.
    at.sidebar.text_input(key="f_text").set_value("introuvablexyz").run()
    assert set(shown_counts(at, "f_categories").values()) == {0}
    assert set(shown_counts(at, "f_arrondissements").values()) == {0}


def test_an_empty_result_says_so_and_resets_the_filters(db: str, published: pd.DataFrame) -> None:
    at = map_page()
    assert not any(NO_MATCH in w for w in warnings(at))
    at = map_page(categorie="routiers", arrondissement="626")
    assert not at.exception
    assert shown_count(at) == (0, len(published))
    assert any(NO_MATCH in w for w in warnings(at)), warnings(at)

    at.button(key="reset_empty_result").click().run()
    assert not at.exception
    assert shown_count(at) == (len(published), len(published))
    assert not any(NO_MATCH in w for w in warnings(at))
    assert at.sidebar.multiselect(key="f_categories").value == []
    assert at.sidebar.multiselect(key="f_arrondissements").value == []
    assert "categorie" not in at.query_params and "arrondissement" not in at.query_params


def test_an_unknown_id_in_the_link_gets_a_french_notice(db: str) -> None:
    at = map_page(id="pdc-1999-01-01-99")
    assert not at.exception
    notice = "L'initiative demandée (id pdc-1999-01-01-99) n'existe pas ou n'est plus publiée."
    assert notice in warnings(at), warnings(at)
    assert "id" not in at.query_params
    # Said once: the next run of the page (any click) no longer shows it.
    at.sidebar.text_input(key="f_text").set_value("gel").run()
    assert not any("L'initiative demandée" in w for w in warnings(at))


def test_an_id_hidden_by_the_filters_of_the_link_says_so(db: str, published: pd.DataFrame) -> None:
    ident = str(published.loc[published["categorie"] == "isoles", "id"].iloc[0])
    at = map_page(categorie="protection", id=ident)
    assert not at.exception
    assert f"L'initiative demandée (id {ident}) est masquée par les filtres en cours." in warnings(
        at
    ), warnings(at)


def test_a_known_id_gets_no_notice(db: str, published: pd.DataFrame) -> None:
    at = map_page(id=str(published["id"].iloc[0]))
    assert not at.exception
    assert not any("L'initiative demandée" in w for w in warnings(at))
    assert not any(NO_MATCH in w for w in warnings(at))
