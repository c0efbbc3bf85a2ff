"""Build the folium map of initiatives: one GeoJson point layer, outlines, legend, local assets.

Every JS/CSS file the map needs is served by the app (see carto.map.assets), so the map draws on a
closed network. Text shown by Leaflet (tooltips, legend) is HTML-escaped here because Leaflet
inserts it as HTML; the detail panel is drawn by Streamlit from the clicked feature's id.
"""

from __future__ import annotations

import hashlib
import html
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import folium
import pandas as pd
from branca.element import Element, MacroElement
from folium.map import FitBounds
from folium.template import Template
from folium.utilities import get_bounds

from carto.config import TILES_CHOICES
from carto.errors import ConfigError
from carto.map.assets import DEFAULT_BASE_URL, local_js_css
from carto.map.markers import MARKER_CLASS as MARKER_CLASS  # re-exported for tests and bench
from carto.map.markers import (
    InitiativeMarkers,
    ZoneGeometry,
    marker_style,
    script_json,
)
from carto.models import CATEGORIES, CATEGORY_BY_SLUG, Category

Bounds = tuple[tuple[float, float], tuple[float, float]]
GeoJsonDict = dict[str, Any]

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '© les contributeurs d’<a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
)
# Used when nothing else tells where to look (no rows, no outlines): metropolitan France.
FRANCE_BOUNDS: Bounds = ((41.3, -5.2), (51.1, 9.6))
MAX_FIT_ZOOM = 13

# The offline basemap (CARTO_TILES=none, and the fallback when online tiles fail): communes on a
# pale ground, arrondissement and département outlines, place names (PlaceLabels).
OFFLINE_NOTICE = "Fond de carte en ligne indisponible : fond hors ligne affiché"
OFFLINE_EVENT = "carto:offline"
# Commune names shown from each zoom level: (below this zoom, minimum population). Larger towns
# are placed first and a name that would overlap one already written is left out.
LABEL_LEVELS: tuple[tuple[float, int], ...] = (
    (8.5, 40_000),
    (9.5, 12_000),
    (10, 5_000),
    (11, 1_500),
)
# Arrondissement names are written below this zoom only (further in, commune names suffice).
ARRONDISSEMENT_LABEL_MAX_ZOOM = 11
# Towns at least this large are written before the arrondissement names.
MAJOR_TOWN = 20_000

UNKNOWN_COLOR = "#7f7f7f"
LAND_COLOR = "#faf8f3"
BACKGROUND_COLOR = "#dce6ec"
OUTLINE_COLOR = "#37474f"
COMMUNE_OUTLINE_COLOR = "#b8b8b8"

# Leaflet class names: they let browser tests tell markers from outlines.
ARRONDISSEMENT_CLASS = "carto-arrondissement"
DEPARTEMENT_CLASS = "carto-departement"
COMMUNE_CLASS = "carto-commune"
LABEL_CLASS = "carto-label"
NOTICE_CLASS = "carto-offline-notice"

# The legend starts folded on screens at most this wide (phones, narrow windows).
LEGEND_FOLD_WIDTH = 640
# Narrower maps start with the legend folded too: open, it covers a third of them.
LEGEND_OPEN_MAP_WIDTH = 720
# What the map frame and its controls say (Leaflet's are English), and the touch hint.
MAP_TITLE = "Carte des initiatives solidaires"
ZOOM_IN_TITLE = "Zoom avant"
ZOOM_OUT_TITLE = "Zoom arrière"
TWO_FINGERS_HINT = "Utilisez deux doigts pour déplacer la carte"
# Leaflet's own credit in the attribution control, whose link Leaflet titles « A JavaScript
# library for interactive maps »: the same link, titled in French.
ATTRIBUTION_PREFIX = (
    '<a href="https://leafletjs.com" '
    'title="Leaflet, bibliothèque JavaScript de cartes interactives">Leaflet</a>'
)
HINT_CLASS = "carto-touch-hint"

# Layer names (GeoJson.layer_name / FeatureGroup name), also used by tests to find the layers.
INITIATIVES_LAYER = "Initiatives"
ARRONDISSEMENTS_LAYER = "Arrondissements"
COMMUNES_LAYER = "Communes"
DEPARTEMENT_LAYER = "Département"
LABELS_LAYER = "Noms de lieux"


def _category(slug: str) -> Category:
    known = CATEGORY_BY_SLUG.get(slug)
    if known is not None:
        return known
    return Category(slug, slug or "Sans catégorie", UNKNOWN_COLOR)


def _outline_collection(collection: Mapping[str, Any]) -> GeoJsonDict:
    """Copy of an outline FeatureCollection without `id` properties."""
    features = []
    for feature in collection.get("features", []):
        props = dict(feature.get("properties") or {})
        # An outline must never pass for an initiative when clicked.
        props.pop("id", None)
        features.append({"type": "Feature", "geometry": feature["geometry"], "properties": props})
    return {"type": "FeatureCollection", "features": features}


ARRONDISSEMENT_STYLE: dict[str, Any] = {
    "color": OUTLINE_COLOR,
    "weight": 2.5,
    "opacity": 0.8,
    "fill": False,
    "className": ARRONDISSEMENT_CLASS,
}
COMMUNE_STYLE: dict[str, Any] = {
    "color": COMMUNE_OUTLINE_COLOR,
    "weight": 0.7,
    "opacity": 1.0,
    "fill": True,
    "fillColor": LAND_COLOR,
    "fillOpacity": 1.0,
    "className": COMMUNE_CLASS,
}
DEPARTEMENT_STYLE: dict[str, Any] = {
    "color": "#263238",
    "weight": 3.5,
    "opacity": 0.9,
    "fill": False,
    "className": DEPARTEMENT_CLASS,
}

# Fetches `source` (URL) or uses it (inline data), then calls draw(data); with o.waitFor set,
# only once the map fires that event (the offline fallback of online tiles).
_LOAD_JS = """
    function start() {
        if (typeof source === "string") {
            fetch(source)
                .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
                .then(draw)
                .catch(function (e) { console.error(o.unavailable + " : " + source, e); });
        } else {
            draw(source);
        }
    }
    if (o.waitFor) { map.once(o.waitFor, start); } else { start(); }
})({{ this._parent.get_name() }}, {{ this.source_json }}, {{ this.options_json }});
{% endmacro %}
"""


def _has_features(source: Mapping[str, Any] | str | None) -> bool:
    return isinstance(source, str) or bool(source and source.get("features"))


class Outlines(MacroElement):
    """Outline polygons (communes, arrondissements) in a pane of their own.

    `source` is a GeoJSON FeatureCollection (inlined) or the URL of a static file that the
    browser fetches: the page passes URLs, so that ~0.5 MB of outlines is neither rebuilt nor
    re-sent to the browser on every run. Tooltips are set with textContent, never as HTML.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function (map, source, o) {
    function draw(data) {
        if (!map.getPane(o.pane)) {
            var pane = map.createPane(o.pane);
            pane.style.zIndex = o.zIndex;
            if (!o.tooltip) { pane.style.pointerEvents = "none"; }
        }
        var layer = L.geoJSON(data, {
            pane: o.pane,
            interactive: !!o.tooltip,
            style: function () { return o.style; }
        });
        if (o.tooltip) {
            layer.bindTooltip(function (l) {
                var box = document.createElement("div");
                box.textContent = o.tooltip + " : " + ((l.feature.properties || {}).nom || "");
                return box;
            }, {sticky: true});
        }
        layer.addTo(map);
        // Chromium makes each outline with a tooltip a Tab stop (about 900 communes before the
        // markers): the outlines are the basemap, their names are written on it, so they
        // leave the Tab order; the markers stay in it.
        layer.eachLayer(function (l) {
            var el = l.getElement && l.getElement();
            if (el) { el.setAttribute("tabindex", "-1"); }
        });
    }
"""
        + _LOAD_JS
    )

    def __init__(
        self,
        source: Mapping[str, Any] | str,
        *,
        name: str,
        style: Mapping[str, Any],
        pane: str,
        z_index: int,
        tooltip: str | None = None,
        wait_for: str | None = None,
    ) -> None:
        super().__init__()
        self._name = "Outlines"
        self.wait_for = wait_for
        self.layer_name = name
        self.url = source if isinstance(source, str) else None
        self.data = None if isinstance(source, str) else _outline_collection(source)
        self.source_json = script_json(self.url if self.url is not None else self.data)
        self.options_json = script_json(
            {
                "style": dict(style),
                "pane": pane,
                "zIndex": z_index,
                "tooltip": tooltip,
                "unavailable": "Contours indisponibles",
                "waitFor": wait_for,
            }
        )


class PlaceLabels(MacroElement):
    """Commune and arrondissement names of the offline basemap, as plain text.

    `source` is label data (carto.map.assets.label_data) or the URL of its static file. Names
    go in a pane below the markers that ignores the pointer, so they never catch a click; each
    is set with textContent. Which communes are named depends on the zoom (LABEL_LEVELS), larger
    towns first, and a name that would overlap one already written is skipped.
    """

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
    .carto-label { position: absolute; transform: translate(-50%, -50%); white-space: nowrap;
        font: 11px/1.2 sans-serif; color: #333; pointer-events: none;
        text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff; }
    .carto-label-town { font-size: 12px; color: #222; }
    .carto-label-city { font-size: 14px; font-weight: bold; color: #111; }
    .carto-label-arrondissement { font-size: 13px; font-style: italic; letter-spacing: 0.12em;
        text-transform: uppercase; color: #5d4037; }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
(function (map, source, o) {
    function draw(data) {
        var pane = map.getPane(o.pane) || map.createPane(o.pane);
        pane.style.zIndex = o.zIndex;
        pane.style.pointerEvents = "none";
        var box = null;
        function minPopulation(zoom) {
            for (var i = 0; i < o.levels.length; i++) {
                if (zoom < o.levels[i][0]) { return o.levels[i][1]; }
            }
            return 0;
        }
        function redraw() {
            if (box) { L.DomUtil.remove(box); }
            box = L.DomUtil.create("div", "carto-labels", pane);
            var zoom = map.getZoom(), floor = minPopulation(zoom), size = map.getSize();
            // The controls (zoom, legend, scale...) cover the map: no name goes under them.
            var frame = map.getContainer().getBoundingClientRect(), taken = [];
            map.getContainer().querySelectorAll(".leaflet-control").forEach(function (c) {
                var b = c.getBoundingClientRect();
                if (b.width && b.height) {
                    taken.push([b.left - frame.left, b.top - frame.top,
                                b.right - frame.left, b.bottom - frame.top]);
                }
            });
            function place(name, lat, lon, kind) {
                var at = map.latLngToContainerPoint([lat, lon]);
                // Commune names sit just below their point, where a marker would hide them.
                var below = kind === "arrondissement" ? 0 : o.offsetY;
                at.y += below;
                if (at.x < -100 || at.y < -20 || at.x > size.x + 100 || at.y > size.y + 20) {
                    return;
                }
                var el = L.DomUtil.create("div", o.className + " " + o.className + "-" + kind, box);
                el.textContent = name;
                var w = el.offsetWidth / 2 + 3, h = el.offsetHeight / 2 + 1;
                // A name near the frame's edge is moved inward rather than cut off.
                var dx = Math.max(0, w - at.x) - Math.max(0, at.x + w - size.x);
                var dy = Math.max(0, h - at.y) - Math.max(0, at.y + h - size.y);
                var r = [at.x + dx - w, at.y + dy - h, at.x + dx + w, at.y + dy + h];
                for (var i = 0; i < taken.length; i++) {
                    var t = taken[i];
                    if (r[0] < t[2] && t[0] < r[2] && r[1] < t[3] && t[1] < r[3]) {
                        L.DomUtil.remove(el);
                        return;
                    }
                }
                taken.push(r);
                var p = map.latLngToLayerPoint([lat, lon]);
                p.y += below;
                el.style.left = p.x + dx + "px";
                el.style.top = p.y + dy + "px";
            }
            function kindOf(population) {
                return population >= o.major ? "city" : population >= o.town ? "town" : "village";
            }
            var communes = data.communes || [], i = 0;
            for (; i < communes.length && communes[i][3] >= Math.max(o.major, floor); i++) {
                place(communes[i][0], communes[i][1], communes[i][2], kindOf(communes[i][3]));
            }
            if (zoom < o.arrondissementMaxZoom) {
                (data.arrondissements || []).forEach(function (a) {
                    place(a[0], a[1], a[2], "arrondissement");
                });
            }
            for (; i < communes.length && communes[i][3] >= floor; i++) {
                place(communes[i][0], communes[i][1], communes[i][2], kindOf(communes[i][3]));
            }
        }
        map.on("zoomstart", function () { if (box) { box.style.display = "none"; } });
        map.on("zoomend moveend resize", redraw);
        redraw();
    }
"""
        + _LOAD_JS
    )

    def __init__(
        self,
        source: Mapping[str, Any] | str,
        *,
        pane: str = "cartoLabels",
        z_index: int = 450,
        wait_for: str | None = None,
    ) -> None:
        super().__init__()
        self._name = "PlaceLabels"
        self.layer_name = LABELS_LAYER
        self.url = source if isinstance(source, str) else None
        self.data = None if isinstance(source, str) else dict(source)
        self.wait_for = wait_for
        self.source_json = script_json(self.url if self.url is not None else self.data)
        self.options_json = script_json(
            {
                "pane": pane,
                "zIndex": z_index,
                "levels": [list(level) for level in LABEL_LEVELS],
                "major": MAJOR_TOWN,
                "town": 5_000,
                "arrondissementMaxZoom": ARRONDISSEMENT_LABEL_MAX_ZOOM,
                "className": LABEL_CLASS,
                "offsetY": 14,
                "unavailable": "Noms de lieux indisponibles",
                "waitFor": wait_for,
            }
        )


class MetricScale(MacroElement):
    """Leaflet scale bar in kilometres and metres only (folium's control_scale adds miles)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


class OfflineFallback(MacroElement):
    """When the online tiles fail to load, swap them for the offline basemap.

    On the tile layer's first `tileerror`, the tile layer is removed (no more requests), the map
    fires OFFLINE_EVENT (the deferred Outlines and PlaceLabels then draw) and a small control
    says so in French (set with textContent).
    """

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
    .carto-offline-notice { background: rgba(255, 255, 255, 0.92); padding: 4px 8px;
        border-radius: 4px; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3);
        font: 12px/1.4 sans-serif; color: #222; max-width: 260px; }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
(function (map, tiles, o) {
    var done = false;
    tiles.on("tileerror", function () {
        if (done) { return; }
        done = true;
        map.removeLayer(tiles);
        map.getContainer().style.background = o.background;
        var notice = L.control({position: "bottomleft"});
        notice.onAdd = function () {
            var div = L.DomUtil.create("div", o.className);
            div.setAttribute("role", "status");
            div.textContent = o.message;
            return div;
        };
        notice.addTo(map);
        map.fire(o.event);
    });
})({{ this._parent.get_name() }}, {{ this.tiles.get_name() }}, {{ this.options_json }});
{% endmacro %}
"""
    )

    def __init__(self, tiles: folium.TileLayer) -> None:
        super().__init__()
        self._name = "OfflineFallback"
        self.tiles = tiles
        self.options_json = script_json(
            {
                "message": OFFLINE_NOTICE,
                "event": OFFLINE_EVENT,
                "background": BACKGROUND_COLOR,
                "className": NOTICE_CLASS,
            }
        )


def legend_html(categories: Iterable[Category]) -> str:
    """HTML of the legend (labels escaped): one line per category, then the marker styles."""

    def disc(style: Mapping[str, Any], *, size: int = 26) -> str:
        half = size / 2
        radius = min(float(style["radius"]), half - 2)
        dash = f' stroke-dasharray="{style["dashArray"]}"' if style["dashArray"] else ""
        return (
            f'<svg width="{size}" height="{size}" aria-hidden="true">'
            f'<circle cx="{half}" cy="{half}" r="{radius}" fill="{style["fillColor"]}"'
            f' fill-opacity="{style["fillOpacity"]}" stroke="{style["color"]}"'
            f' stroke-width="{style["weight"]}"{dash}/></svg>'
        )

    lines = ['<div class="carto-legend-title">Catégories</div>']
    for category in categories:
        color = html.escape(category.color)
        lines.append(
            f'<div class="carto-legend-row"><span class="carto-legend-swatch"'
            f' style="background:{color}"></span>{html.escape(category.label)}</div>'
        )
    lines.append('<div class="carto-legend-title">Portée</div>')
    point = marker_style(color="#555555", sector=False) | {"color": "#333333"}
    sector = marker_style(color="#555555", sector=True)
    lines.append(f'<div class="carto-legend-row">{disc(point)}Commune (point)</div>')
    lines.append(
        f'<div class="carto-legend-row">{disc(sector)}Secteur, arrondissement, département</div>'
    )
    # The yellow dot of carto.map.markers (.carto-initiative--new), drawn the same way.
    lines.append(
        '<div class="carto-legend-row"><span class="carto-legend-swatch" aria-hidden="true"'
        ' style="background:#ffd400;box-shadow:0 0 0 2px #1d1d1b;width:8px;height:8px;'
        'margin:0 2px"></span>Nouveau : ajoutée par la dernière publication</div>'
    )
    # <details>: a « Légende » button (keyboard operable, its state read as expanded or
    # collapsed) that folds the legend; the Legend control folds it on small maps.
    return f"<details open><summary>Légende</summary>{''.join(lines)}</details>"


class Legend(MacroElement):
    """Leaflet control showing legend_html(categories) in the map's top-right corner, folded
    when the screen (the page holding the map's frame) is at most LEGEND_FOLD_WIDTH px wide."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
            .carto-legend { background: rgba(255, 255, 255, 0.92); padding: 6px 10px;
                border-radius: 4px; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3);
                font: 12px/1.4 sans-serif; color: #222; max-width: 260px; }
            .carto-legend summary { cursor: pointer; font-weight: bold; }
            .carto-legend-title { font-weight: bold; margin-top: 4px; }
            .carto-legend-row { display: flex; align-items: center; gap: 6px; }
            .carto-legend-swatch { display: inline-block; width: 12px; height: 12px;
                border-radius: 50%; border: 1px solid #fff; box-shadow: 0 0 0 1px #888; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "topright"});
        {{ this.get_name() }}.onAdd = function (map) {
            var div = L.DomUtil.create("div", "carto-legend");
            div.innerHTML = {{ this.html|tojson }};
            // Folded on a small screen (a phone), where it would cover a third of the map, and
            // on a narrow map (the dashboard's column), where it would hide initiatives.
            var width = window.innerWidth;
            try { width = window.top.innerWidth; } catch (e) { /* a frame of another site */ }
            if (width <= {{ this.fold_width }} || map.getSize().x < {{ this.open_map_width }}) {
                div.querySelector("details").removeAttribute("open");
            }
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, categories: Iterable[Category]) -> None:
        super().__init__()
        self._name = "Legend"
        self.fold_width = LEGEND_FOLD_WIDTH
        self.open_map_width = LEGEND_OPEN_MAP_WIDTH
        self.categories: tuple[Category, ...] = tuple(categories)
        self.html = legend_html(self.categories)


class MapAccess(MacroElement):
    """The map in French and usable on a touch screen.

    - The frame holding the map (streamlit-folium's iframe, same origin) gets a French title,
      the map document `lang="fr"`, the zoom buttons French names, and Leaflet's credit in
      the attribution control a French title (ATTRIBUTION_PREFIX).
    - The map no longer forbids zooming the page (folium's viewport meta says user-scalable=no).
    - On a touch screen (coarse pointer), one finger scrolls the page and two fingers move and
      zoom the map: Leaflet's one-finger dragging is turned off, which leaves the container with
      `touch-action: pan-x pan-y`; a one-finger swipe shows TWO_FINGERS_HINT for a moment.
    - A click or tap on a map partly off screen is not lost: the map takes the focus without
      scrolling the page (Leaflet's focus on press made the page jump under the pointer).
    """

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
    .carto-touch-hint { position: absolute; inset: 0; z-index: 1000; display: flex;
        align-items: center; justify-content: center; padding: 16px; text-align: center;
        background: rgba(0, 0, 0, 0.55); color: #fff; font: bold 18px/1.4 sans-serif;
        pointer-events: none; opacity: 0; transition: opacity 0.3s; }
    .carto-touch-hint.carto-shown { opacity: 1; }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
(function (map, o) {
    document.documentElement.lang = "fr";
    document.title = o.title;
    try {
        if (window.frameElement) { window.frameElement.title = o.title; }
    } catch (e) { /* a frame of another origin: its title stays as its page set it */ }
    document.querySelectorAll('meta[name="viewport"]').forEach(function (meta) {
        meta.content = "width=device-width, initial-scale=1";
    });
    if (map.attributionControl) { map.attributionControl.setPrefix(o.prefix); }
    if (map.zoomControl) {
        [[".leaflet-control-zoom-in", o.zoomIn], [".leaflet-control-zoom-out", o.zoomOut]]
            .forEach(function (pair) {
                var button = map.zoomControl.getContainer().querySelector(pair[0]);
                if (button) {
                    button.title = pair[1];
                    button.setAttribute("aria-label", pair[1]);
                }
            });
    }
    // Leaflet's keyboard handler focuses the map on every press of a mouse button or finger
    // that lands on it while the map itself is not focused (a focused marker or group does not
    // count), so that the arrow keys move it. A plain focus() scrolls every scrolling box
    // around the map, up to the page that holds the map's frame, until the whole map is on
    // screen; Leaflet only puts back the scroll of the map's own window. With the map partly
    // off screen the page jumped between the press and the release, and the click or tap
    // landed beside the marker or group: focus the map without scrolling.
    var keyboard = map.keyboard;
    if (keyboard && keyboard._onMouseDown) {
        var enabled = keyboard.enabled();
        if (enabled) { keyboard.disable(); }  // unbinds Leaflet's own listener
        keyboard._onMouseDown = function () {
            if (!this._focused) { this._map.getContainer().focus({preventScroll: true}); }
        };
        if (enabled) { keyboard.enable(); }
    }
    if (!(window.matchMedia && window.matchMedia("(pointer: coarse)").matches)) { return; }
    map.dragging.disable();
    var hint = L.DomUtil.create("div", o.hintClass, map.getContainer());
    hint.setAttribute("aria-hidden", "true");
    hint.textContent = o.hint;
    var timer = null;
    map.getContainer().addEventListener("touchmove", function (e) {
        if (e.touches.length !== 1) {
            L.DomUtil.removeClass(hint, "carto-shown");
            return;
        }
        L.DomUtil.addClass(hint, "carto-shown");
        clearTimeout(timer);
        timer = setTimeout(function () { L.DomUtil.removeClass(hint, "carto-shown"); }, 1500);
    }, {passive: true});
})({{ this._parent.get_name() }}, {{ this.options_json }});
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MapAccess"
        self.options_json = script_json(
            {
                "title": MAP_TITLE,
                "zoomIn": ZOOM_IN_TITLE,
                "zoomOut": ZOOM_OUT_TITLE,
                "prefix": ATTRIBUTION_PREFIX,
                "hint": TWO_FINGERS_HINT,
                "hintClass": HINT_CLASS,
            }
        )


class MapBackground(MacroElement):
    """CSS colour behind the map, seen where no tile or outline is drawn."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>#{{ this._parent.get_name() }} { background: {{ this.color }}; }</style>
        {% endmacro %}
        """
    )

    def __init__(self, color: str) -> None:
        super().__init__()
        self._name = "MapBackground"
        self.color = color


def _new_map(*, base_url: str) -> folium.Map:
    """A tile-less folium Map whose scripts and stylesheets are all served by the app."""
    # Half-level zoom steps let fitBounds fill the frame better than whole levels.
    fmap = folium.Map(
        location=[46.6, 2.4], zoom_start=6, tiles=None, control_scale=False, zoom_snap=0.5
    )
    fmap.add_child(MetricScale())
    fmap.add_child(MapAccess())
    js, css = local_js_css(base_url)
    # Instance attributes shadow folium's CDN lists (read by folium and streamlit-folium).
    fmap.default_js = js
    fmap.default_css = css
    return fmap


def _fit_bounds(bounds: Bounds) -> FitBounds:
    (south, west), (north, east) = bounds
    fit = FitBounds([[south, west], [north, east]], padding=(20, 20), max_zoom=MAX_FIT_ZOOM)
    # Jump straight to the view: an animated zoom right after load leaves markers moving
    # (and unclickable) for a moment.
    fit.options["animate"] = False
    return fit


def _collection_bounds(collection: Mapping[str, Any] | None) -> Bounds | None:
    if not collection or not collection.get("features"):
        return None
    (south, west), (north, east) = get_bounds(collection, lonlat=True)
    if south is None or west is None or north is None or east is None:
        return None
    return ((south, west), (north, east))


def build_base_map(
    *,
    arrondissements: Mapping[str, Any] | str | None,
    communes: Mapping[str, Any] | str | None = None,
    tiles: str = "none",
    bounds: Bounds | None = None,
    categories: Iterable[Category] = CATEGORIES,
    base_url: str = DEFAULT_BASE_URL,
    departement: Mapping[str, Any] | str | None = None,
    labels: Mapping[str, Any] | str | None = None,
) -> folium.Map:
    """Everything but the initiatives: basemap, legend, initial view.

    tiles="none" (the default) draws the offline basemap: commune outlines on a pale ground,
    arrondissement and département outlines, place names (`labels`, see
    carto.map.assets.label_data). tiles="osm" uses OpenStreetMap tiles and falls back to the
    offline basemap if they fail to load. Outlines and labels are inline data or URLs of static
    files.

    The page builds it once per département and sends the initiatives as a separate layer, so
    that a filter change or a selection does not reload the map nor lose the visitor's view.
    """
    if tiles not in TILES_CHOICES:
        raise ConfigError(
            f"Fond de carte « {tiles} » inconnu : valeurs possibles {', '.join(TILES_CHOICES)}."
        )
    fmap = _new_map(base_url=base_url)
    wait_for: str | None = None
    if tiles == "osm":
        layer = folium.TileLayer(
            tiles=OSM_TILES, attr=OSM_ATTRIBUTION, name="OpenStreetMap", max_zoom=19
        )
        layer.add_to(fmap)
        fmap.add_child(OfflineFallback(layer))
        wait_for = OFFLINE_EVENT
    else:
        fmap.add_child(MapBackground(BACKGROUND_COLOR))
    # Drawn in this order, from the finest to the coarsest outline (pane z-index).
    outline_layers: tuple[tuple[Mapping[str, Any] | str | None, dict[str, Any]], ...] = (
        (
            communes,
            dict(
                name=COMMUNES_LAYER,
                style=COMMUNE_STYLE,
                pane="cartoCommunes",
                z_index=350,
                tooltip="Commune",
                wait_for=wait_for,
            ),
        ),
        (
            arrondissements,
            dict(
                name=ARRONDISSEMENTS_LAYER,
                style=ARRONDISSEMENT_STYLE,
                pane="cartoArrondissements",
                z_index=390,
                tooltip="Arrondissement",
            ),
        ),
        (
            departement,
            dict(
                name=DEPARTEMENT_LAYER,
                style=DEPARTEMENT_STYLE,
                pane="cartoDepartement",
                z_index=395,
            ),
        ),
    )
    for data, options in outline_layers:
        if data is not None and _has_features(data):
            fmap.add_child(Outlines(data, **options))
    if labels is not None and (isinstance(labels, str) or labels):
        fmap.add_child(PlaceLabels(labels, wait_for=wait_for))
    fmap.add_child(Legend(list(categories)))
    inline = arrondissements if not isinstance(arrondissements, str) else None
    target = bounds or _collection_bounds(inline) or FRANCE_BOUNDS
    _set_view(fmap, target)
    _stabilise_ids(fmap, prefix="base")
    return fmap


def _stabilise_ids(element: Element, *, prefix: str) -> None:
    """Replace folium's random element ids by positional ones.

    The same inputs then render the same JavaScript, which streamlit-folium uses as the identity
    of its component: an unchanged base map is not reloaded between two runs of the page.
    """
    # Ids keep folium's shape (32 hex digits): streamlit-folium rewrites them by plain string
    # replacement, so one id must never be a prefix of another.
    stack: list[tuple[Element, str]] = [(element, prefix)]
    while stack:
        node, path = stack.pop()
        node._id = hashlib.sha256(path.encode()).hexdigest()[:32]
        children = list(node._children.values())
        node._children = OrderedDict()
        for i, child in enumerate(children):
            child._id = hashlib.sha256(f"{path}/{i}".encode()).hexdigest()[:32]
            node._children[child.get_name()] = child
            stack.append((child, f"{path}/{i}"))


def _set_view(fmap: folium.Map, target: Bounds) -> None:
    (south, west), (north, east) = target
    fmap.location = [(south + north) / 2, (west + east) / 2]
    fmap.add_child(_fit_bounds(((south, west), (north, east))))


class FitArea(MacroElement):
    """Zoom the map to the place a filter names (an arrondissement's or a commune's outline:
    `bounds`), rather than to the initiatives shown, which may be anchored elsewhere (an area
    initiative has its point at its zone's seat).

    It zooms once per view (`key`: the data of the view and the place), like the markers' own
    fit: a re-run of the page for the same view keeps the visitor's zoom. With `bounds` None
    it only forgets the last view (choosing the same place again zooms again). With an
    initiative selected (`skip`) it does not zoom: the map shows that one.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function (group, o) {
    function start(map) {
        var last = window.__cartoAreaFit;
        window.__cartoAreaFit = o.bounds ? o.key : null;
        if (!o.bounds || o.skip || last === o.key) { return; }
        map.fitBounds(o.bounds, {padding: [20, 20], maxZoom: o.maxZoom, animate: false});
    }
    if (group._map) {
        start(group._map);
    } else {
        group.once("add", function () { start(group._map); });
    }
})({{ this._parent.get_name() }}, {{ this.options_json }});
{% endmacro %}
"""
    )

    def __init__(self, bounds: Bounds | None, *, key: str, skip: bool = False) -> None:
        super().__init__()
        self._name = "FitArea"
        self.bounds = bounds
        self.options_json = script_json(
            {
                "bounds": [list(corner) for corner in bounds] if bounds else None,
                "key": key,
                "skip": skip,
                "maxZoom": MAX_FIT_ZOOM,
            }
        )


def initiatives_layer(
    table: pd.DataFrame | None = None,
    *,
    url: str | None = None,
    selected_id: str | None = None,
    fit: bool = False,
    zone_geometry: ZoneGeometry | None = None,
    area: Bounds | None = None,
) -> tuple[folium.FeatureGroup, InitiativeMarkers]:
    """The initiatives as one compact marker layer (carto.map.markers), in a feature group.

    Pass the table to inline the data, or the URL of a file written by
    `carto.map.markers.write_payload_file` (what the page does). `fit=True` zooms the map to
    the initiatives (when filters are active), or to `area` when given (the outline of the
    arrondissements or communes filtered on: FitArea); `zone_geometry` draws the areas of
    inline data (for a URL, pass it to marker_payload when writing the file).
    """
    group = folium.FeatureGroup(name=INITIATIVES_LAYER, control=False)
    markers = InitiativeMarkers(
        table,
        url=url,
        selected_id=selected_id,
        fit=fit and area is None,
        zone_geometry=zone_geometry,
    )
    markers.add_to(group)
    place = area if fit else None
    key = script_json([url if url is not None else markers.options_json, place])
    FitArea(place, key=key, skip=selected_id is not None).add_to(group)
    return group, markers


def _payload_bounds(payload: Mapping[str, Any]) -> Bounds | None:
    if not payload["lat"]:
        return None
    return (
        (min(payload["lat"]), min(payload["lon"])),
        (max(payload["lat"]), max(payload["lon"])),
    )


def build_map(
    table: pd.DataFrame,
    *,
    arrondissements: Mapping[str, Any] | None,
    communes: Mapping[str, Any] | None = None,
    tiles: str = "none",
    bounds: Bounds | None = None,
    selected_id: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    departement: Mapping[str, Any] | None = None,
    labels: Mapping[str, Any] | None = None,
) -> folium.Map:
    """A self-contained map of the table's initiatives (exports, benchmarks, tests)."""
    group, markers = initiatives_layer(table, selected_id=selected_id)
    slugs = set(table["categorie"].fillna("").astype(str)) if len(markers) else set()
    known = [c for c in CATEGORIES if c.slug in slugs]
    others = sorted(slugs - CATEGORY_BY_SLUG.keys())
    fmap = build_base_map(
        arrondissements=arrondissements,
        communes=communes,
        tiles=tiles,
        bounds=bounds or (_payload_bounds(markers.payload) if markers.payload else None),
        categories=[*known, *(_category(slug) for slug in others)],
        base_url=base_url,
        departement=departement,
        labels=labels,
    )
    group.add_to(fmap)
    return fmap


def clicked_id(st_folium_result: Mapping[str, Any] | None) -> str | None:
    """Id of the initiative clicked on the map, from st_folium's returned dict, or None."""
    if not isinstance(st_folium_result, Mapping):
        return None
    feature = st_folium_result.get("last_active_drawing")
    if not isinstance(feature, Mapping):
        return None
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        return None
    ident = props.get("id")
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        return None
    text = str(ident).strip()
    return text or None
