"""The initiatives layer's payload and options (carto.map.markers): area outlines carried once,
zone labels for the accessible names, zoom to results, grouping script loaded offline."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from carto.map.assets import VENDOR_FILES, local_js_css
from carto.map.basemap import initiatives_layer
from carto.map.markers import InitiativeMarkers, marker_payload


def square(lat: float, lon: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + 0.1, lat], [lon + 0.1, lat + 0.1], [lon, lat + 0.1], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "nom": ["A", "B", "C", "D"],
            "categorie": ["protection"] * 4,
            "commune": ["Arras", "Béthune", "Calais", "Lens"],
            "portee": ["secteur", "secteur", "commune", "secteur"],
            "latitude": [50.29, 50.53, 50.95, 50.43],
            "longitude": [2.78, 2.64, 1.86, 2.83],
            "zone_key": ["epci:1+epci:2", "epci:1+epci:2", "", "epci:9"],
            "zone_label": ["CU d'Arras, CA Béthune", "CU d'Arras, CA Béthune", "", "Inconnue"],
        }
    )


def test_each_area_outline_is_carried_once_with_a_row_index():
    asked: list[str] = []

    def geometry(key: str) -> dict[str, Any] | None:
        asked.append(key)
        return square(50.3, 2.7) if key == "epci:1+epci:2" else None

    payload = marker_payload(rows(), geometry)
    assert asked == ["epci:1+epci:2", "epci:9"]  # each distinct key once, none for ""
    assert payload["zones"] == [{"key": "epci:1+epci:2", "geometry": square(50.3, 2.7)}]
    assert payload["zone"] == [0, 0, -1, -1]  # no outline for an unknown key
    labels = [payload["zone_labels"][i] if i >= 0 else "" for i in payload["zone_label"]]
    assert labels == ["CU d'Arras, CA Béthune", "CU d'Arras, CA Béthune", "", "Inconnue"]


def test_without_zone_columns_or_geometry_the_payload_has_no_areas():
    table = rows().drop(columns=["zone_key", "zone_label"])
    payload = marker_payload(table)
    assert payload["zones"] == [] and payload["zone"] == [-1] * 4
    assert payload["zone_label"] == [-1] * 4 and payload["zone_labels"] == []
    assert marker_payload(rows())["zones"] == []  # labels kept, no outline asked


def options(layer: InitiativeMarkers) -> dict[str, Any]:
    return json.loads(layer.options_json)


def test_zoom_to_results_is_an_option_of_the_layer():
    _, markers = initiatives_layer(rows(), fit=True)
    assert options(markers)["fit"] is True
    assert options(InitiativeMarkers(url="/x.json"))["fit"] is False
    script = markers._template.module.script(markers)
    assert "fitBounds" in script and "markerClusterGroup" in script


def test_names_are_french():
    text = options(InitiativeMarkers(rows()))["text"]
    assert text["cluster"].replace("{n}", "3") == (
        "Groupe de 3 initiatives, Entrée pour les afficher"
    )
    assert text["zone"] == "Zone : "


def test_grouping_script_is_installed_and_loaded_after_leaflet():
    assert "leaflet.markercluster/dist/leaflet.markercluster.js" in VENDOR_FILES
    assert "leaflet.markercluster/dist/MarkerCluster.css" in VENDOR_FILES
    js, css = local_js_css("/v")
    names = [name for name, _ in js]
    assert names.index("leaflet") < names.index("leaflet_markercluster")
    assert ("leaflet_markercluster_css", "/v/leaflet.markercluster/dist/MarkerCluster.css") in css
