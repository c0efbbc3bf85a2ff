"""Filters say where (issue 17, §8): an arrondissement or a commune filter shows that place on
the map, « Communes » offers every commune of the territory and says what a commune without an
initiative of its own has (area initiatives covering it, or the nearest ones), and a period is
typed as people write days."""

from __future__ import annotations

import json
import re
from datetime import date

import pandas as pd
import pytest
from apptest import map_page, shown_count

from carto.config import PROJECT_ROOT
from carto.filters import FilterSpec, apply_filters, commune_notes, day_text, typed_day
from carto.gazetteer import load_gazetteer
from carto.intake import pipeline
from carto.map.basemap import initiatives_layer
from carto.ui.map_view import view_area

DATA = PROJECT_ROOT / "data" / "initiatives.csv"
SAINT_OMER = "625"
LENS, WIMILLE = "62498", "62894"
BETHUNE, ARRAS = (50.5303, 2.6408), (50.2910, 2.7775)


@pytest.fixture(scope="module")
def gaz():
    return load_gazetteer("62")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return pipeline.load(DATA).table


def places(gaz) -> tuple[dict[str, str], dict[str, tuple[float, float]]]:
    names = {c.code_insee: c.nom for c in gaz.communes}
    centres = {c.code_insee: (c.point.latitude, c.point.longitude) for c in gaz.communes}
    return names, centres


def read(markdown: str) -> str:
    """A message as read on screen (its Markdown escapes removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def inside(bounds, point: tuple[float, float]) -> bool:
    (south, west), (north, east) = bounds
    return south <= point[0] <= north and west <= point[1] <= east


# --- the map shows the place filtered on ---


def test_an_arrondissement_filter_shows_its_outline_not_where_its_initiatives_sit(
    gaz, table: pd.DataFrame
) -> None:
    spec = FilterSpec(arrondissements=(SAINT_OMER,))
    shown = apply_filters(table, spec)
    # Saint-Omer's initiatives are area ones, anchored at Béthune and Arras.
    assert set(shown["commune"]) == {"Béthune", "Arras"}
    area = view_area(spec, gaz)
    saint_omer = next(c for c in gaz.communes if c.nom == "Saint-Omer").point
    assert area is not None and inside(area, (saint_omer.latitude, saint_omer.longitude))
    assert not inside(area, BETHUNE) and not inside(area, ARRAS)
    # A commune filter shows the commune (it comes before its arrondissement).
    lens = view_area(FilterSpec(arrondissements=(SAINT_OMER,), communes=(LENS,)), gaz)
    assert lens == gaz.area_bounds(communes=(LENS,))
    assert view_area(FilterSpec(categories=("isoles",)), gaz) is None


def _fit_options(group) -> dict:
    fit = next(c for c in group._children.values() if type(c).__name__ == "FitArea")
    return json.loads(fit.options_json)


def test_the_layer_zooms_to_the_area_and_not_to_its_markers(gaz) -> None:
    area = gaz.area_bounds(arrondissements=(SAINT_OMER,))
    group, markers = initiatives_layer(url="/m/x.json", fit=True, area=area)
    options = _fit_options(group)
    assert options["bounds"] == [list(area[0]), list(area[1])] and not options["skip"]
    assert json.loads(markers.options_json)["fit"] is False
    # Selected: the map shows that one; no place: the markers' own fit.
    group, _ = initiatives_layer(url="/m/x.json", fit=True, area=area, selected_id="a")
    assert _fit_options(group)["skip"] is True
    group, markers = initiatives_layer(url="/m/x.json", fit=True)
    assert _fit_options(group)["bounds"] is None
    assert json.loads(markers.options_json)["fit"] is True


# --- what a commune says ---


def test_a_commune_covered_by_areas_only_says_so(gaz, table: pd.DataFrame) -> None:
    names, centres = places(gaz)
    spec = FilterSpec(communes=(LENS,))
    assert len(apply_filters(table, spec)) == 2
    (note,) = commune_notes(table, spec, names, centres)
    assert note.text == "2 initiatives couvrent Lens (zones)" and note.nearest == ()
    # A commune with initiatives of its own says nothing.
    assert commune_notes(table, FilterSpec(communes=("62041",)), names, centres) == []


def test_a_commune_without_initiative_names_the_nearest_with_their_distance(
    gaz, table: pd.DataFrame
) -> None:
    names, centres = places(gaz)
    spec = FilterSpec(categories=("protection",), communes=(WIMILLE,))
    assert apply_filters(table, spec).empty
    (note,) = commune_notes(table, spec, names, centres)
    assert note.text == "Aucune initiative à Wimille pour l'instant"
    assert len(note.nearest) == 3
    kms = [near.km for near in note.nearest]
    assert kms == sorted(kms) and 0 < kms[0] < 30
    protection = table[table["categorie"] == "protection"]
    assert {near.id for near in note.nearest} <= set(protection["id"])
    assert re.fullmatch(r".+ \(.+\), à (moins de 1|\d+) km", note.nearest[0].text)


# --- the period, typed ---


@pytest.mark.parametrize(
    "text", ["06/04/2020", "6/4/2020", "06.04.2020", "06-04-2020", " 6 / 4 / 2020 ", "2020-04-06"]
)
def test_a_day_is_read_as_people_type_it(text: str) -> None:
    assert typed_day(text) == date(2020, 4, 6)
    assert day_text(typed_day(text)) == "06/04/2020"


@pytest.mark.parametrize("text", ["31/02/2020", "2020", "avril", "06/04/20", "01/01/1850"])
def test_what_is_not_a_day_gets_a_french_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"n'est pas une date|choisissez une date"):
        typed_day(text)
    assert typed_day("  ") is None


# --- the page (AppTest) ---


def test_the_communes_filter_offers_the_whole_territory(db: str, gaz) -> None:
    at = map_page()
    offered = list(at.sidebar.multiselect(key="f_communes").options)
    assert len(offered) == len(gaz.communes)
    assert "Wimille" in offered and "Lens" in offered
    # A link to a commune without an initiative of its own is kept.
    at = map_page(commune=LENS)
    assert not at.exception
    assert at.query_params["commune"] == LENS
    assert shown_count(at)[0] == 2
    assert any("2 initiatives couvrent Lens (zones)" in read(i.value) for i in at.info)


def test_a_commune_with_none_says_so_with_the_nearest(db: str) -> None:
    at = map_page(commune=WIMILLE, categorie="protection")
    assert not at.exception
    assert shown_count(at)[0] == 0
    text = "\n".join(read(w.value) for w in at.warning)
    assert "Aucune initiative à Wimille pour l'instant" in text
    assert "Les plus proches" in text and re.search(r"à \d+ km", text)
    assert "Aucune initiative ne correspond" not in text  # said once, about Wimille
    assert at.button(key="reset_empty_result")  # the way back is still offered
