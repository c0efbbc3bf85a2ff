"""Map builder: checked on folium objects (layers, features, styles), not on generated JS."""

from __future__ import annotations

import html
import json
import math
from typing import Any

import folium
import pandas as pd
import pytest
from folium.map import FitBounds

from carto.config import Settings
from carto.errors import ConfigError
from carto.map.basemap import (
    ARRONDISSEMENTS_LAYER,
    COMMUNES_LAYER,
    LABEL_LEVELS,
    OFFLINE_EVENT,
    OFFLINE_NOTICE,
    Legend,
    MetricScale,
    OfflineFallback,
    Outlines,
    PlaceLabels,
    build_base_map,
    build_map,
    clicked_id,
    initiatives_layer,
)
from carto.map.markers import InitiativeMarkers, marker_payload
from carto.models import CATEGORIES, COLUMNS, GEOCODED_COLUMNS

NAN = float("nan")
CALAIS = (50.9513, 1.8587)
ARRAS = (50.2910, 2.7775)
BOULOGNE = (50.7264, 1.6147)


def initiative(ident: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {name: "" for name in (*COLUMNS, *GEOCODED_COLUMNS)}
    row.update(
        id=ident,
        nom=f"Initiative {ident}",
        categorie="soignants",
        commune="Calais",
        portee="commune",
        latitude=CALAIS[0],
        longitude=CALAIS[1],
    )
    row.update(fields)
    return row


def table(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=[*COLUMNS, *GEOCODED_COLUMNS])


def square(lat: float, lon: float, size: float = 0.2) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


ARRONDISSEMENTS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "621", "nom": "Arras"},
            "geometry": square(50.2, 2.6),
        },
        {
            "type": "Feature",
            "properties": {"code": "624", "nom": "Calais"},
            "geometry": square(50.85, 1.75),
        },
    ],
}
COMMUNES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code_insee": "62193", "nom": "Calais"},
            "geometry": square(50.9, 1.8, 0.1),
        },
        {
            "type": "Feature",
            "properties": {"code_insee": "62041", "nom": "Arras"},
            "geometry": square(50.25, 2.7, 0.1),
        },
        {
            "type": "Feature",
            "properties": {"code_insee": "62160", "nom": "Boulogne-sur-Mer"},
            "geometry": square(50.7, 1.55, 0.1),
        },
    ],
}


def geojson_layers(fmap: folium.Map) -> dict[str, Outlines]:
    """Outline layers of the map, by name."""
    return {c.layer_name: c for c in fmap._children.values() if isinstance(c, Outlines)}


def markers_of(fmap: folium.Map) -> InitiativeMarkers | None:
    stack = list(fmap._children.values())
    while stack:
        child = stack.pop()
        if isinstance(child, InitiativeMarkers):
            return child
        stack.extend(child._children.values())
    return None


def by_id(fmap: folium.Map) -> dict[str, dict[str, Any]]:
    """Each drawn marker: display position, style, tooltip text, drawing order."""
    layer = markers_of(fmap)
    if layer is None:
        return {}
    p = layer.payload
    return {
        ident: {
            "lat": p["lat"][i],
            "lon": p["lon"][i],
            "style": p["styles"][p["style"][i]],
            "name": p["name"][i],
            "commune": p["communes"][p["commune"][i]],
            "order": i,
        }
        for i, ident in enumerate(p["id"])
    }


def style_of(fmap: folium.Map, ident: str) -> dict[str, Any]:
    return by_id(fmap)[ident]["style"]


@pytest.mark.parametrize(
    ("rows", "expected_ids"),
    [
        ([initiative("a"), initiative("b", latitude=ARRAS[0], longitude=ARRAS[1])], {"a", "b"}),
        ([initiative("a"), initiative("b", latitude=NAN)], {"a"}),
        ([initiative("a", longitude=NAN), initiative("b")], {"b"}),
        ([initiative("a", latitude=None, longitude=None)], set()),
        ([initiative("a", latitude="", longitude="")], set()),
        ([initiative("a", latitude=95.0)], set()),
        ([], set()),
    ],
    ids=["all", "nan-lat", "nan-lon", "none", "empty-text", "out-of-range", "no-rows"],
)
def test_one_point_feature_per_row_with_coordinates(rows, expected_ids):
    fmap = build_map(table(*rows), arrondissements=None, tiles="none")
    assert set(by_id(fmap)) == expected_ids
    layer = markers_of(fmap)
    assert layer is not None and len(layer) == len(expected_ids)


@pytest.mark.parametrize(("lat", "lon"), [CALAIS, ARRAS, BOULOGNE])
def test_isolated_point_is_drawn_at_its_coordinates(lat, lon):
    fmap = build_map(
        table(initiative("a", latitude=lat, longitude=lon)), arrondissements=None, tiles="none"
    )
    marker = by_id(fmap)["a"]
    assert (marker["lat"], marker["lon"]) == (lat, lon)


@pytest.mark.parametrize("category", CATEGORIES, ids=lambda c: c.slug)
def test_marker_colour_follows_category(category):
    fmap = build_map(table(initiative("a", categorie=category.slug)), arrondissements=None)
    assert style_of(fmap, "a")["fillColor"] == category.color


@pytest.mark.parametrize(
    ("portee", "sector"),
    [
        ("commune", False),
        ("", False),
        ("secteur", True),
        ("arrondissement", True),
        ("departement", True),
    ],
)
def test_sector_markers_look_different_from_point_markers(portee, sector):
    rows = [
        initiative("ref", latitude=ARRAS[0], longitude=ARRAS[1]),
        initiative("x", portee=portee),
    ]
    fmap = build_map(table(*rows), arrondissements=None)
    ref, style = style_of(fmap, "ref"), style_of(fmap, "x")
    if sector:
        assert style["radius"] > ref["radius"]
        assert style["dashArray"] and not ref["dashArray"]
        assert style["fillOpacity"] < ref["fillOpacity"]
    else:
        assert style == ref


@pytest.mark.parametrize("count", [2, 3, 8, 40])
def test_colocated_points_are_spread_but_keep_true_coordinates(count):
    rows = [initiative(f"c{i:02d}", portee="secteur" if i % 2 else "commune") for i in range(count)]
    rows.append(initiative("alone", latitude=ARRAS[0], longitude=ARRAS[1]))
    fmap = build_map(table(*rows), arrondissements=None)
    markers = by_id(fmap)
    shown = {(markers[f"c{i:02d}"]["lat"], markers[f"c{i:02d}"]["lon"]) for i in range(count)}
    assert len(shown) == count
    for lat, lon in shown:
        # Close to the true place: within a few kilometres even for a large group.
        assert math.dist((lat, lon), CALAIS) < 0.05
    assert (markers["alone"]["lat"], markers["alone"]["lon"]) == ARRAS


def test_colocated_display_positions_do_not_depend_on_row_order():
    rows = [initiative(ident) for ident in ("b", "a", "c")]
    forward = by_id(build_map(table(*rows), arrondissements=None))
    backward = by_id(build_map(table(*reversed(rows)), arrondissements=None))
    for ident in ("a", "b", "c"):
        assert forward[ident]["lat"] == backward[ident]["lat"]
        assert forward[ident]["lon"] == backward[ident]["lon"]


PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "Ça c'est « chouette » & co",
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("field", ["nom", "commune"])
def test_tooltip_text_travels_as_data_never_as_markup(field, payload):
    fmap = build_map(table(initiative("a", **{field: payload})), arrondissements=None)
    marker = by_id(fmap)["a"]
    # The browser sets it with textContent: the exact text, not HTML.
    assert marker["name" if field == "nom" else "commune"] == payload


@pytest.mark.parametrize("nom", ["</script><script>alert(1)</script>", "a\u2028b", "<!--"])
def test_names_cannot_close_the_script_element(nom):
    layer = markers_of(build_map(table(initiative("a", nom=nom)), arrondissements=None))
    assert layer is not None
    # What goes into the page's <script>: JSON with no "<" that could end the element or open a
    # comment, and no line separator, which gives back the exact name.
    assert "<" not in layer.source_json and "\u2028" not in layer.source_json
    assert json.loads(layer.source_json)["name"] == [nom]


@pytest.mark.parametrize(
    ("tiles", "tile_count", "communes_wait_for"),
    [("osm", 1, OFFLINE_EVENT), ("none", 0, None)],
)
def test_tiles_choice(tiles, tile_count, communes_wait_for):
    fmap = build_map(
        table(initiative("a")), arrondissements=ARRONDISSEMENTS, communes=COMMUNES, tiles=tiles
    )
    tile_layers = [c for c in fmap._children.values() if isinstance(c, folium.TileLayer)]
    assert len(tile_layers) == tile_count
    for layer in tile_layers:
        assert "openstreetmap.org" in layer.tiles
        assert "OpenStreetMap" in layer.options["attribution"]
        assert "© les contributeurs" in layer.options["attribution"]
    layers = geojson_layers(fmap)
    # With online tiles, the commune outlines wait for a tile failure (offline fallback).
    assert layers[COMMUNES_LAYER].wait_for == communes_wait_for
    assert len(layers[COMMUNES_LAYER].data["features"]) == len(COMMUNES["features"])
    assert len(layers[ARRONDISSEMENTS_LAYER].data["features"]) == 2


@pytest.mark.parametrize("tiles", ["OSM", "stamen", ""])
def test_unknown_tiles_name_is_refused_in_french(tiles):
    with pytest.raises(ConfigError, match=f"« {tiles} »"):
        build_map(table(initiative("a")), arrondissements=None, tiles=tiles)


def test_outlines_are_escaped_and_never_carry_an_initiative_id():
    hostile = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "629", "nom": "<b>Piège</b>", "id": "a"},
                "geometry": square(50.2, 2.6),
            }
        ],
    }
    fmap = build_map(table(initiative("a")), arrondissements=hostile, tiles="none")
    layer = geojson_layers(fmap)[ARRONDISSEMENTS_LAYER]
    outline = layer.data["features"][0]
    assert clicked_id({"last_active_drawing": outline}) is None
    # The name travels as data (set with textContent by the browser), never as markup.
    assert "<" not in layer.source_json
    assert json.loads(layer.source_json)["features"][0]["properties"]["nom"] == "<b>Piège</b>"
    # The caller's collection is left untouched.
    assert hostile["features"][0]["properties"] == {"code": "629", "nom": "<b>Piège</b>", "id": "a"}


def legend_of(fmap: folium.Map) -> Legend:
    (legend,) = [c for c in fmap._children.values() if isinstance(c, Legend)]
    return legend


@pytest.mark.parametrize(
    ("slugs", "expected_labels"),
    [
        (["soignants"], ["Personnels soignants"]),
        (
            ["routiers", "protection", "routiers"],
            ["Mesures de protection", "Transporteurs routiers"],
        ),
        (["<i>autre</i>"], ["<i>autre</i>"]),
    ],
)
def test_legend_lists_categories_present(slugs, expected_labels):
    rows = [initiative(f"r{i}", categorie=slug) for i, slug in enumerate(slugs)]
    legend = legend_of(build_map(table(*rows), arrondissements=None))
    assert [c.label for c in legend.categories] == expected_labels
    for label in expected_labels:
        assert html.escape(label) in legend.html
    assert "<i>" not in legend.html
    assert "Secteur" in legend.html and "Commune" in legend.html


def test_selection_is_passed_to_the_browser_not_baked_into_the_data():
    rows = [initiative("a"), initiative("b", latitude=ARRAS[0], longitude=ARRAS[1])]
    plain = markers_of(build_map(table(*rows), arrondissements=None))
    chosen = markers_of(build_map(table(*rows), arrondissements=None, selected_id="b"))
    assert plain is not None and chosen is not None
    # Same data file for every selection: only the tiny options change (drawn last, larger).
    assert chosen.payload == plain.payload
    assert json.loads(chosen.options_json)["selected"] == "b"
    assert json.loads(plain.options_json)["selected"] is None


def test_page_markers_are_fetched_from_a_file(tmp_path):
    from carto.map.markers import script_json, write_payload_file

    rows = table(initiative("a"), initiative("b", latitude=ARRAS[0], longitude=ARRAS[1]))
    text = script_json(marker_payload(rows))
    name = write_payload_file(text, tmp_path)
    assert write_payload_file(text, tmp_path) == name  # same view, same file
    assert (tmp_path / name).read_text(encoding="utf-8") == text
    group, layer = initiatives_layer(url=f"/app/static/markers/{name}", selected_id="a")
    assert layer.payload is None
    assert json.loads(layer.source_json) == f"/app/static/markers/{name}"
    with pytest.raises(ValueError):
        initiatives_layer(rows, url="/x.json")


def fit_bounds(fmap: folium.Map) -> list[list[float]]:
    (fit,) = [c for c in fmap._children.values() if isinstance(c, FitBounds)]
    return fit.bounds


def test_map_fits_the_data_or_the_given_bounds():
    rows = [initiative("a"), initiative("b", latitude=ARRAS[0], longitude=ARRAS[1])]
    (south, west), (north, east) = fit_bounds(build_map(table(*rows), arrondissements=None))
    for lat, lon in (CALAIS, ARRAS):
        assert south <= lat <= north and west <= lon <= east
    given = ((50.0, 1.5), (51.0, 3.0))
    fmap = build_map(table(*rows), arrondissements=None, bounds=given)
    assert fit_bounds(fmap) == [[50.0, 1.5], [51.0, 3.0]]


def test_empty_table_fits_the_arrondissements():
    fmap = build_map(table(), arrondissements=ARRONDISSEMENTS, tiles="none")
    (south, west), (north, east) = fit_bounds(fmap)
    assert (south, west, north, east) == pytest.approx((50.2, 1.75, 51.05, 2.8))


FEATURE = {"type": "Feature", "properties": {"id": "ini-7"}, "geometry": None}


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, None),
        ({}, None),
        ("ini-7", None),
        ({"last_active_drawing": None}, None),
        ({"last_active_drawing": "ini-7"}, None),
        ({"last_active_drawing": {"type": "Feature"}}, None),
        ({"last_active_drawing": {"properties": None}}, None),
        ({"last_active_drawing": {"properties": {"code": "621"}}}, None),
        ({"last_active_drawing": {"properties": {"id": ""}}}, None),
        ({"last_active_drawing": {"properties": {"id": ["x"]}}}, None),
        ({"last_active_drawing": {"properties": {"id": True}}}, None),
        ({"last_active_drawing": FEATURE}, "ini-7"),
        ({"last_active_drawing": {"properties": {"id": 12}}}, "12"),
        ({"last_clicked": {"lat": 50.0}, "last_active_drawing": FEATURE}, "ini-7"),
    ],
)
def test_clicked_id(result, expected):
    assert clicked_id(result) == expected


def test_page_map_fetches_outlines_instead_of_inlining_them():
    fmap = build_base_map(
        arrondissements="/app/static/geo/62/arrondissements.geojson",
        communes="/app/static/geo/62/communes.geojson",
        tiles="none",
        bounds=((50.0, 1.5), (51.0, 3.0)),
    )
    layers = geojson_layers(fmap)
    for name, url in (
        (COMMUNES_LAYER, "/app/static/geo/62/communes.geojson"),
        (ARRONDISSEMENTS_LAYER, "/app/static/geo/62/arrondissements.geojson"),
    ):
        # The browser is handed the URL only: no outline coordinates in the page.
        assert layers[name].data is None
        assert json.loads(layers[name].source_json) == url


def test_same_inputs_render_the_same_base_map():
    def render() -> str:
        return build_base_map(arrondissements=ARRONDISSEMENTS, tiles="none").get_root().render()

    assert render() == render()  # what keeps streamlit-folium from reloading the map


# --- offline basemap (issue 10 §1) ------------------------------------------------------------

LABELS = {
    "communes": [
        ["Calais", *CALAIS, 67_571],
        ["Arras", *ARRAS, 42_875],
        ["<b>Wimille</b>", 50.76, 1.63, 800],
    ],
    "arrondissements": [["Boulogne-sur-Mer", 50.72, 1.73]],
}


def children_of(fmap: folium.Map, kind: type) -> list[Any]:
    return [c for c in fmap._children.values() if isinstance(c, kind)]


def test_default_settings_need_no_tiles():
    assert Settings.from_env({}).tiles == "none"
    assert Settings.from_env({"CARTO_TILES": "osm"}).tiles == "osm"
    fmap = build_map(table(initiative("a")), arrondissements=ARRONDISSEMENTS, labels=LABELS)
    assert children_of(fmap, folium.TileLayer) == []
    assert "tile.openstreetmap.org" not in fmap.get_root().render()


def test_offline_basemap_writes_place_names_as_text_below_the_markers():
    fmap = build_map(table(initiative("a")), arrondissements=ARRONDISSEMENTS, labels=LABELS)
    (labels,) = children_of(fmap, PlaceLabels)
    assert labels.wait_for is None
    options = json.loads(labels.options_json)
    # Below markerPane (600), and never a click target.
    assert options["zIndex"] < 600
    assert json.loads(labels.source_json)["communes"][0][0] == "Calais"
    script = labels._template.module.script(labels, {})
    assert 'pointerEvents = "none"' in script
    assert "textContent = name" in script
    assert "innerHTML" not in script
    # The name that looks like HTML stays in the JSON data, escaped for a <script> block.
    assert "<b>" not in labels.source_json
    # Larger towns from the first levels, every commune at zoom 11 and beyond.
    thresholds = [population for _, population in LABEL_LEVELS]
    assert thresholds == sorted(thresholds, reverse=True)
    assert LABEL_LEVELS[-1][0] <= 11


def test_scale_bar_is_metric_only():
    fmap = build_map(table(initiative("a")), arrondissements=None)
    assert fmap.control_scale is False
    (scale,) = children_of(fmap, MetricScale)
    script = scale._template.module.script(scale, {})
    assert "imperial: false" in script
    assert "L.control.scale()" not in fmap.get_root().render()


def test_online_tiles_fall_back_to_the_offline_basemap_with_a_french_notice():
    fmap = build_map(
        table(initiative("a")),
        arrondissements=ARRONDISSEMENTS,
        communes=COMMUNES,
        labels=LABELS,
        tiles="osm",
    )
    (tiles,) = children_of(fmap, folium.TileLayer)
    (fallback,) = children_of(fmap, OfflineFallback)
    assert fallback.tiles is tiles
    options = json.loads(fallback.options_json)
    assert options["message"] == OFFLINE_NOTICE
    assert OFFLINE_NOTICE == "Fond de carte en ligne indisponible : fond hors ligne affiché"
    assert options["event"] == OFFLINE_EVENT
    script = fallback._template.module.script(fallback, {})
    assert "tileerror" in script and "textContent = o.message" in script
    (labels,) = children_of(fmap, PlaceLabels)
    assert labels.wait_for == OFFLINE_EVENT
    assert geojson_layers(fmap)[COMMUNES_LAYER].wait_for == OFFLINE_EVENT
