"""The initiatives layer as one compact, columnar payload drawn by a few lines of Leaflet.

Why not folium.GeoJson: at 10,000 initiatives a GeoJSON layer with per-feature properties and
HTML tooltips weighs ~5.7 MB and takes ~0.8 s to build and render in Python; this payload is
about 5 times smaller, is built with vectorised pandas, and the browser draws it on a canvas.
Tooltips are built with textContent in the browser, so no initiative text is ever parsed as HTML.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from branca.element import MacroElement
from folium.template import Template

from carto.models import CATEGORIES

MARKER_CLASS = "carto-initiative"
POINT_RADIUS = 7
SECTOR_RADIUS = 12
SELECTED_EXTRA_RADIUS = 4
SELECTED_WEIGHT = 4
SELECTED_COLOR = "#000000"
UNKNOWN_COLOR = "#7f7f7f"
# Above this many markers they are drawn on a canvas (one element) instead of SVG paths.
CANVAS_THRESHOLD = 1000
# Co-located initiatives are spread on a ring so that each stays clickable.
RING_SPACING_M = 250.0
RING_MIN_RADIUS_M = 200.0
METRES_PER_DEGREE = 111_320.0

PALETTE: tuple[str, ...] = tuple(c.color for c in CATEGORIES) + (UNKNOWN_COLOR,)
_CATEGORY_INDEX = {c.slug: i for i, c in enumerate(CATEGORIES)}


def marker_style(*, color: str, sector: bool, selected: bool = False) -> dict[str, Any]:
    """Leaflet path options of one initiative marker."""
    if sector:
        style: dict[str, Any] = {
            "radius": SECTOR_RADIUS,
            "color": color,
            "weight": 2.5,
            "opacity": 1.0,
            "dashArray": "5 4",
            "fill": True,
            "fillColor": color,
            "fillOpacity": 0.25,
        }
    else:
        style = {
            "radius": POINT_RADIUS,
            "color": "#ffffff",
            "weight": 1.5,
            "opacity": 1.0,
            "dashArray": None,
            "fill": True,
            "fillColor": color,
            "fillOpacity": 0.9,
        }
    if selected:
        style["radius"] += SELECTED_EXTRA_RADIUS
        style["weight"] = SELECTED_WEIGHT
        style["color"] = SELECTED_COLOR
    return style


def is_sector(portee: object) -> bool:
    text = (
        "" if portee is None or (isinstance(portee, float) and math.isnan(portee)) else str(portee)
    )
    return text.strip() not in ("", "commune")


def _text_column(table: pd.DataFrame, column: str) -> pd.Series:
    if column not in table.columns:
        return pd.Series([""] * len(table), index=table.index, dtype="object")
    return table[column].fillna("").astype(str).str.strip()


def display_positions(
    lat: np.ndarray, lon: np.ndarray, ids: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Identical points spread on a ring (ordered by id, so row order does not matter)."""
    frame = pd.DataFrame(
        {
            "lat": np.round(lat, 7),
            "lon": np.round(lon, 7),
            "id": ids.to_numpy(),
            "row": range(len(lat)),
        }
    )
    frame = frame.sort_values(["lat", "lon", "id", "row"], kind="stable")
    groups = frame.groupby(["lat", "lon"], sort=False)
    count = groups["row"].transform("size").to_numpy()
    slot = groups.cumcount().to_numpy()
    radius = np.maximum(RING_MIN_RADIUS_M, count * RING_SPACING_M / (2 * math.pi))
    angle = 2 * math.pi * slot / count
    base_lat = frame["lat"].to_numpy()
    lon_scale = METRES_PER_DEGREE * np.maximum(np.cos(np.radians(base_lat)), 0.01)
    spread = count > 1
    shown_lat = np.where(
        spread, base_lat + radius * np.cos(angle) / METRES_PER_DEGREE, lat[frame["row"]]
    )
    shown_lon = np.where(
        spread, frame["lon"].to_numpy() + radius * np.sin(angle) / lon_scale, lon[frame["row"]]
    )
    out_lat = np.empty(len(lat))
    out_lon = np.empty(len(lon))
    out_lat[frame["row"].to_numpy()] = shown_lat
    out_lon[frame["row"].to_numpy()] = shown_lon
    return out_lat, out_lon


def style_table() -> list[dict[str, Any]]:
    """Every marker style: entry 2*c + sector for category c (PALETTE order)."""
    return [
        marker_style(color=color, sector=bool(sector)) for color in PALETTE for sector in (0, 1)
    ]


def marker_payload(table: pd.DataFrame) -> dict[str, Any]:
    """Columnar data of the rows that have valid coordinates; `style[i]` indexes `styles`."""
    if len(table):
        lat = pd.to_numeric(table["latitude"], errors="coerce")
        lon = pd.to_numeric(table["longitude"], errors="coerce")
        valid = (lat.between(-90, 90) & lon.between(-180, 180)).to_numpy()
    else:
        lat = lon = pd.Series([], dtype=float)
        valid = np.zeros(0, dtype=bool)
    placed = table[valid]
    ids = _text_column(placed, "id")
    shown_lat, shown_lon = display_positions(
        lat[valid].to_numpy(dtype=float), lon[valid].to_numpy(dtype=float), ids
    )
    category = _text_column(placed, "categorie").map(_CATEGORY_INDEX).fillna(len(CATEGORIES))
    sector = ~_text_column(placed, "portee").isin(["", "commune"])
    style = category.to_numpy(dtype=int) * 2 + sector.to_numpy(dtype=int)
    # Communes repeat a lot: each marker carries an index into the list of distinct names.
    commune_codes, communes = pd.factorize(_text_column(placed, "commune"))
    return {
        "id": ids.tolist(),
        "lat": np.round(shown_lat, 5).tolist(),
        "lon": np.round(shown_lon, 5).tolist(),
        "style": style.tolist(),
        "name": _text_column(placed, "nom").tolist(),
        "commune": commune_codes.tolist(),
        "communes": [str(c) for c in communes],
        "styles": style_table(),
    }


def script_json(value: object) -> str:
    """JSON that is also safe inside an HTML <script> element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def write_payload_file(payload_json: str, directory: Path, *, keep: int = 256) -> str:
    """Store a payload as `<sha256>.json` in `directory` (once) and return the file name.

    The page hands the browser this file's URL instead of embedding the data in the map: at
    50,000 initiatives that avoids ~100 MB of string copies per run on the server and lets the
    browser cache the data of a view it has seen. Only the `keep` newest files are kept.
    """
    name = hashlib.sha256(payload_json.encode()).hexdigest()[:32] + ".json"
    target = directory / name
    if not target.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f".{name}.{os.getpid()}.tmp"
        partial.write_text(payload_json, encoding="utf-8")
        partial.replace(target)  # atomic: a browser never reads half a file
        files = sorted(directory.glob("*.json"), key=lambda f: f.stat().st_mtime, reverse=True)
        for old in files[keep:]:
            old.unlink(missing_ok=True)
    else:
        target.touch()
    return name


# End of a layer template: draw the inlined data, or fetch it from a URL first. The template
# defines `draw(data)` and passes `o.unavailable`, the console message on failure.
LOAD_SOURCE_JS = """
    if (typeof source === "string") {
        fetch(source)
            .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
            .then(draw)
            .catch(function (e) { console.error(o.unavailable + " : " + source, e); });
    } else {
        draw(source);
    }
})({{ this._parent.get_name() }}, {{ this.source_json }}, {{ this.options_json }});
{% endmacro %}
"""


class InitiativeMarkers(MacroElement):
    """Adds one circle marker per initiative to its parent layer (a FeatureGroup or the map).

    The data is inlined (`table`) or fetched from a URL (`url`, see write_payload_file). Each
    marker carries `feature.properties.id`, which streamlit-folium returns on click as
    `last_active_drawing`. The selected initiative is drawn last, larger, with a dark outline.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function (group, source, o) {
    function draw(d) {
        var n = d.id.length, selected = -1;
        // markerPane sits above the outline polygons of the tile-free basemap.
        var renderer = n > o.canvasThreshold
            ? L.canvas({padding: 0.5, pane: "markerPane"})
            : L.svg({pane: "markerPane"});
        function add(i, highlighted) {
            var options = Object.assign({}, d.styles[d.style[i]]);
            if (highlighted) {
                options.radius += o.selectedStyle.extraRadius;
                options.weight = o.selectedStyle.weight;
                options.color = o.selectedStyle.color;
            }
            options.renderer = renderer;
            options.pane = "markerPane";
            options.className = o.className;
            options.index = i;
            var marker = L.circleMarker([d.lat[i], d.lon[i]], options);
            marker.feature = {type: "Feature", properties: {id: d.id[i]}, geometry: null};
            group.addLayer(marker);
        }
        for (var i = 0; i < n; i++) {
            if (d.id[i] === o.selected) { selected = i; } else { add(i, false); }
        }
        if (selected >= 0) {
            add(selected, true);
            // Chosen in the table or from a link: bring it into view if it is off screen.
            var map = group._map, here = L.latLng(d.lat[selected], d.lon[selected]);
            if (map && !map.getBounds().contains(here)) { map.panTo(here); }
        }
        group.bindTooltip(function (layer) {
            var i = layer.options.index, box = document.createElement("div");
            var name = document.createElement("strong");
            name.textContent = d.name[i];
            box.appendChild(name);
            var commune = d.communes[d.commune[i]];
            if (commune) {
                box.appendChild(document.createElement("br"));
                box.appendChild(document.createTextNode(commune));
            }
            return box;
        }, {sticky: false, className: "carto-tooltip"});
        window.cartoMarkerCount = n;
    }
"""
        + LOAD_SOURCE_JS
    )

    def __init__(
        self,
        table: pd.DataFrame | None = None,
        *,
        url: str | None = None,
        selected_id: str | None = None,
    ) -> None:
        super().__init__()
        if (table is None) == (url is None):
            raise ValueError("InitiativeMarkers needs exactly one of table and url")
        self._name = "InitiativeMarkers"
        self.url = url
        self.selected_id = selected_id
        self.payload = marker_payload(table) if table is not None else None
        self.source_json = script_json(url if url is not None else self.payload)
        self.options_json = script_json(
            {
                "selected": selected_id,
                "selectedStyle": {
                    "extraRadius": SELECTED_EXTRA_RADIUS,
                    "weight": SELECTED_WEIGHT,
                    "color": SELECTED_COLOR,
                },
                "canvasThreshold": CANVAS_THRESHOLD,
                "className": MARKER_CLASS,
                "unavailable": "Initiatives indisponibles",
            }
        )

    def __len__(self) -> int:
        return len(self.payload["id"]) if self.payload is not None else 0
