"""Search and filters in a real browser: counts that follow the other filters while choices are
kept, an empty result with its reset button, the notice for an unknown ?id=."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from carto.config import PROJECT_ROOT
from carto.filters import FilterSpec, apply_filters
from carto.gazetteer import load_gazetteer
from carto.intake import pipeline as dataset

from .conftest import MAP_IFRAME
from .initiatives import wait_drawn

pytestmark = pytest.mark.browser

DATA = PROJECT_ROOT / "data" / "initiatives.csv"


def caption(page, shown: int, total: int):
    return page.get_by_text(re.compile(rf"^{shown} affichées sur {total}$"))


def multiselect(page, index: int):
    return page.locator('[data-testid="stMultiSelect"]').nth(index)


def pick(page, index: int, option: str) -> None:
    multiselect(page, index).locator("input").click()
    page.get_by_role("option", name=re.compile(re.escape(option))).click()
    page.keyboard.press("Escape")


def test_counts_follow_the_filters_and_choices_are_kept(page, network, streamlit_app) -> None:
    table = dataset.load(DATA).table
    total = len(table)

    def count(*categories: str) -> int:
        # In the arrondissement of Calais, areas covering it included (carto.filters).
        spec = FilterSpec(categories=categories, arrondissements=("626",))
        return len(apply_filters(table, spec))

    page.goto(streamlit_app.base_url)
    expect(caption(page, total, total)).to_be_visible()

    pick(page, 0, "Mesures de protection")
    pick(page, 1, "Calais")
    both = count("protection")
    expect(caption(page, both, total)).to_be_visible()
    # The chosen category's label now counts Calais only, and it is still chosen.
    chosen = multiselect(page, 0)
    expect(chosen).to_contain_text(f"Mesures de protection ({both})")
    pick(page, 0, f"Personnes isolées ({count('isoles')})")
    expect(caption(page, count("protection", "isoles"), total)).to_be_visible()
    expect(page.get_by_text("Valeur reçue invalide")).to_have_count(0)
    page.wait_for_url(re.compile(r"categorie=protection.*categorie=isoles.*arrondissement=626"))
    assert network.blocked == [] and network.page_errors == []


def test_an_empty_result_offers_to_reset_the_filters(page, network, streamlit_app) -> None:
    total = len(dataset.load(DATA).table)
    page.goto(f"{streamlit_app.base_url}?categorie=routiers&arrondissement=626")
    expect(caption(page, 0, total)).to_be_visible()
    expect(page.get_by_text("Aucune initiative ne correspond")).to_be_visible()
    page.get_by_role("main").get_by_role("button", name="Réinitialiser les filtres").click()
    expect(caption(page, total, total)).to_be_visible()
    expect(page.get_by_text("Aucune initiative ne correspond")).to_have_count(0)
    assert network.blocked == [] and network.page_errors == []


def test_an_unknown_id_gets_a_french_notice(page, network, streamlit_app) -> None:
    page.goto(f"{streamlit_app.base_url}?id=pdc-1999-01-01-99")
    expect(
        page.get_by_text(
            "L'initiative demandée (id pdc-1999-01-01-99) n'existe pas ou n'est plus publiée."
        )
    ).to_be_visible()
    assert network.blocked == [] and network.page_errors == []


def _map_view(frame) -> list[float]:
    """The map's view: [south, west, north, east]."""
    return frame.locator("body").evaluate(
        """() => { const b = window.__cartoInitiativesState.map.getBounds();
                   return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; }"""
    )


@pytest.mark.parametrize(
    ("query", "area"),
    [
        # Saint-Omer's two initiatives are area ones anchored at Béthune and Arras.
        ({"arrondissement": "625"}, {"arrondissements": ("625",)}),
        # Lens has none of its own: two area ones cover it.
        ({"commune": "62498"}, {"communes": ("62498",)}),
    ],
)
def test_a_place_filter_shows_that_place(page, network, streamlit_app, query, area) -> None:
    gaz = load_gazetteer("62")
    (south, west), (north, east) = gaz.area_bounds(**area)
    table = dataset.load(DATA).table
    shown = apply_filters(table, FilterSpec(**area))
    placed = int(shown["latitude"].notna().sum())
    page.goto(streamlit_app.base_url + "?" + urlencode(query))
    expect(caption(page, len(shown), len(table))).to_be_visible()
    frame = page.frame_locator(MAP_IFRAME)
    wait_drawn(frame, placed)
    s, w, n, e = _map_view(frame)
    # The place fills the view: all of it is in, and the view is centred on it.
    assert s <= south and w <= west and n >= north and e >= east, (s, w, n, e)
    assert south <= (s + n) / 2 <= north and west <= (w + e) / 2 <= east, (s, w, n, e)
    assert network.blocked == [] and network.page_errors == []
