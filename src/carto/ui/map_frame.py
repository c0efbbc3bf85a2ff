"""The map component's arguments, with the base map built and rendered once per process.

streamlit-folium's `st_folium` rebuilds everything on every page run: it renders the whole
folium map (jinja compiles every element's output again) to send strings that, for our base
map, depend only on the settings. Here those strings are computed once per (département,
tiles, bounds), the initiatives layer's string once per (data file, selection), and each run
calls the component streamlit-folium declares with exactly the arguments `st_folium` would
pass (tests/test_map_frame.py compares both).

This relies on private names of streamlit-folium (PRIVATE_NAMES, checked at import) and on how
0.27 builds its arguments: pyproject pins the version range that the tests check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import folium
import folium.elements
import streamlit as st
import streamlit_folium

from carto.map import basemap
from carto.ui import caches

# What map_frame uses of streamlit-folium, beyond its public st_folium.
PRIVATE_NAMES = (
    "_component_func",
    "_get_html",
    "_get_header",
    "_get_map_string",
    "_get_feature_group_string",
    "get_full_id",
    "generate_js_hash",
)
# The versions whose st_folium arguments map_frame reproduces (pyproject says the same).
SUPPORTED_VERSIONS = ((0, 27), (0, 28))  # from 0.27 included to 0.28 excluded

_missing = [name for name in PRIVATE_NAMES if not hasattr(streamlit_folium, name)]
if _missing:  # pragma: no cover - only with an unsupported streamlit-folium
    raise ImportError(
        "streamlit-folium n'a plus " + ", ".join(_missing) + " : carto.ui.map_frame reproduit "
        "st_folium de la version 0.27 ; vérifiez la version installée (pyproject.toml)."
    )

# Marker layers kept (one per data file and selection): a few KB each.
LAYER_CACHE_SIZE = 256


@dataclass(frozen=True)
class BaseFrame:
    """What st_folium sends for a base map, before any layer is added to it."""

    script: str
    header: str
    html: str
    map_id: str
    element_id: str  # the map's folium _id once rendered (streamlit-folium renames it)
    bounds: tuple[tuple[float | None, float | None], tuple[float | None, float | None]]
    zoom: Any
    css_links: tuple[str, ...]
    js_links: tuple[str, ...]


@dataclass(frozen=True)
class Layer:
    """The feature-group string of one initiatives layer, and the links it needs."""

    script: str
    css_links: tuple[str, ...]
    js_links: tuple[str, ...]


def _links(element: Any) -> tuple[list[str], list[str]]:
    """CSS and JS links of an element and its descendants, depth first (as st_folium)."""
    css: list[str] = []
    js: list[str] = []
    stack = [element]
    while stack:
        node = stack.pop()
        if isinstance(node, folium.elements.JSCSSMixin):
            css.extend(href for _, href in getattr(node, "default_css", []))
            js.extend(src for _, src in getattr(node, "default_js", []))
        stack.extend(reversed(list(getattr(node, "_children", {}).values())))
    return css, js


def frame_of(fmap: folium.Map) -> BaseFrame:
    """The strings st_folium computes from a map (it alters the map: pass a fresh one)."""
    fmap.get_root().render()
    fmap.render()
    html = streamlit_folium._get_html(fmap)
    header = streamlit_folium._get_header(fmap)
    script = streamlit_folium._get_map_string(fmap)
    css, js = _links(fmap)
    return BaseFrame(
        script=script,
        header=header,
        html=html,
        map_id=streamlit_folium.get_full_id(fmap),
        element_id=fmap._id,
        bounds=_pair(fmap.get_bounds()),
        zoom=fmap.options.get("zoom"),
        css_links=tuple(css),
        js_links=tuple(js),
    )


def _pair(
    bounds: Sequence[Sequence[float | None]],
) -> tuple[tuple[float | None, float | None], tuple[float | None, float | None]]:
    (south, west), (north, east) = bounds
    return ((south, west), (north, east))


@lru_cache(maxsize=8)
def base_frame(
    *,
    arrondissements: str,
    communes: str,
    departement: str,
    labels: str,
    tiles: str,
    bounds: basemap.Bounds | None,
) -> BaseFrame:
    """The base map's frame for these settings, built once per process."""
    return frame_of(
        basemap.build_base_map(
            arrondissements=arrondissements,
            communes=communes,
            departement=departement,
            labels=labels,
            tiles=tiles,
            bounds=bounds,
        )
    )


def layer_of(group: folium.FeatureGroup, frame: BaseFrame) -> Layer:
    """The string st_folium builds for `group` added to the frame's map."""
    # A stand-in for the base map: the layer's script only names its map.
    stand_in = folium.Map(tiles=None)
    stand_in._id = frame.element_id
    script = streamlit_folium._get_feature_group_string(group, map=stand_in, idx=0)
    css, js = _links(group)
    return Layer(script, tuple(css), tuple(js))


_layers: caches.Lru[Layer] = caches.Lru(LAYER_CACHE_SIZE)


def layer(
    frame: BaseFrame,
    url: str,
    selected_id: str | None,
    *,
    fit: bool = False,
    area: basemap.Bounds | None = None,
) -> Layer:
    """The initiatives layer of a data file with one initiative selected, built once.

    `fit`: the map zooms to the initiatives when their data changes (a filtered view), or to
    `area` (the outline of the place filtered on) when given."""

    def build() -> Layer:
        group, _ = basemap.initiatives_layer(url=url, selected_id=selected_id, fit=fit, area=area)
        return layer_of(group, frame)

    return _layers.get((frame, url, selected_id, fit, area), build)


def clear() -> None:
    """Forget every frame and layer (tests)."""
    base_frame.cache_clear()
    _layers.clear()


@lru_cache(maxsize=32)
def _hash_key(script: str, key: str | None) -> str:
    return streamlit_folium.generate_js_hash(script, key, False)


def _bounds_dict(bounds: Sequence[Sequence[float | None]]) -> dict[str, dict[str, Any]]:
    (south, west), (north, east) = bounds
    return {
        "_southWest": {"lat": south, "lng": west},
        "_northEast": {"lat": north, "lng": east},
    }


def component_args(
    frame: BaseFrame,
    layer: Layer,
    *,
    key: str,
    height: int,
    returned_objects: Sequence[str],
    on_change: Callable[[], None],
) -> dict[str, Any]:
    """The arguments st_folium(map, key=…, height=…, use_container_width=True,
    feature_group_to_add=…, returned_objects=…, on_change=…) passes to the component."""
    hash_key = _hash_key(frame.script, key)
    everything: Mapping[str, Any] = {
        "last_clicked": None,
        "last_object_clicked": None,
        "last_object_clicked_count": None,
        "last_object_clicked_tooltip": None,
        "last_object_clicked_popup": None,
        "all_drawings": None,
        "last_active_drawing": None,
        "bounds": _bounds_dict(frame.bounds),
        "zoom": frame.zoom,
        "last_circle_radius": None,
        "last_circle_polygon": None,
        "selected_layers": None,
        "selected_tags": None,
        "last_geocoder_result": None,
    }

    def _on_change() -> None:
        # What st_folium's callback does: the returned value under the visitor's key.
        st.session_state[key] = st.session_state.get(hash_key, {})
        on_change()

    return {
        "script": frame.script,
        "header": frame.header,
        "html": frame.html,
        "id": frame.map_id,
        "key": hash_key,
        "height": height,
        "width": None,
        "returned_objects": returned_objects,
        "default": {k: v for k, v in everything.items() if k in returned_objects},
        "zoom": None,
        "center": None,
        "feature_group": layer.script,
        "return_on_hover": False,
        "layer_control": None,
        "pixelated": False,
        "css_links": list(dict.fromkeys([*frame.css_links, *layer.css_links])),
        "js_links": list(dict.fromkeys([*frame.js_links, *layer.js_links])),
        "on_change": _on_change,
        "wrap_longitude": False,
    }


def show(frame: BaseFrame, layer: Layer, **kwargs: Any) -> Any:
    """Draw the map component (see component_args); returns what it returns."""
    return streamlit_folium._component_func(**component_args(frame, layer, **kwargs))
