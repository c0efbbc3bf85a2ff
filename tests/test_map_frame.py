"""The map built once per process (carto.ui.map_frame) sends the browser what st_folium sent.

The page used to call st_folium with a fresh base map on every run; it now sends strings made
once. Every argument of the component must stay the same for the same view, or the map would
reload between runs, lose clicks or show something else.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from typing import Any

import pandas as pd
import pytest
import streamlit_folium
from streamlit_folium import st_folium

from carto.config import PROJECT_ROOT
from carto.map import basemap
from carto.map.assets import LABELS_FILE, outlines_url
from carto.ui import map_frame

ARGS: dict[str, Any] = {
    "arrondissements": outlines_url("62", "arrondissements.geojson"),
    "communes": outlines_url("62", "communes.geojson"),
    "departement": outlines_url("62", "departement.geojson"),
    "labels": outlines_url("62", LABELS_FILE),
    "bounds": ((50.0, 1.5), (51.0, 3.2)),
}
RETURNED = ["last_active_drawing"]


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b"],
            "nom": ["Épicerie <b>solidaire</b>", "Couture"],
            "categorie": ["isoles", "protection"],
            "commune": ["Arras", "Lens"],
            "latitude": [50.29, 50.43],
            "longitude": [2.78, 2.83],
            "portee": ["commune", "commune"],
        }
    )


class Recorder:
    """Stands for the component: keeps the arguments it is called with."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


class FakeSession(dict):
    """What the two on_change callbacks read and write (st.session_state)."""


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(streamlit_folium, "_component_func", rec)
    map_frame.clear()
    return rec


def _group(view: dict[str, Any]) -> Any:
    if view.get("url"):
        group, _ = basemap.initiatives_layer(url=view["url"], selected_id=view.get("selected"))
    else:
        group, _ = basemap.initiatives_layer(_table(), selected_id=view.get("selected"))
    return group


def _old(view: dict[str, Any], on_change: Any) -> None:
    """What map_view did before: st_folium on a fresh base map."""
    st_folium(
        basemap.build_base_map(**ARGS, tiles=view["tiles"]),
        key="map",
        height=560,
        use_container_width=True,
        feature_group_to_add=_group(view),
        returned_objects=RETURNED,
        on_change=on_change,
    )


def _new(view: dict[str, Any], on_change: Any) -> None:
    frame = map_frame.base_frame(**ARGS, tiles=view["tiles"])
    if view.get("url"):
        layer = map_frame.layer(frame, view["url"], view.get("selected"))
    else:
        layer = map_frame.layer_of(_group(view), frame)
    map_frame.show(
        frame, layer, key="map", height=560, returned_objects=RETURNED, on_change=on_change
    )


VIEWS = {
    "data file": {"tiles": "none", "url": "/app/static/markers/v1-abc.json"},
    "data file, one selected": {
        "tiles": "none",
        "url": "/app/static/markers/v1-abc.json",
        "selected": "b",
    },
    "online tiles": {"tiles": "osm", "url": "/app/static/markers/v2-def.json"},
    "inline data": {"tiles": "none", "selected": "a"},
}


@pytest.mark.parametrize("name", VIEWS)
def test_the_component_gets_the_same_arguments_as_from_st_folium(recorder, name):
    view = VIEWS[name]
    _old(view, lambda: None)
    for _ in range(2):  # the first run builds the frame, the second reuses it
        _new(view, lambda: None)
    old, *new = recorder.calls
    for call in new:
        assert call.keys() == old.keys()
        for arg in old:
            if arg != "on_change":
                assert call[arg] == old[arg], f"« {arg} » differs from st_folium's"
    assert old["feature_group"] and "map_div" in old["feature_group"]


def test_another_view_changes_only_the_layer(recorder):
    _new(VIEWS["data file"], lambda: None)
    _new(VIEWS["data file, one selected"], lambda: None)
    first, second = recorder.calls
    assert first["feature_group"] != second["feature_group"]
    # The component's identity (its key) and the base map are unchanged: no reload.
    for arg in ("script", "header", "html", "id", "key", "css_links", "js_links"):
        assert first[arg] == second[arg]


def test_a_map_click_reaches_the_page_as_with_st_folium(recorder, monkeypatch):
    clicked = {"properties": {"id": "b"}}
    seen: list[tuple[str, Any]] = []
    results = []
    for draw in (_old, _new):
        session = FakeSession()
        monkeypatch.setattr(streamlit_folium.st, "session_state", session)
        monkeypatch.setattr(map_frame.st, "session_state", session)
        draw(VIEWS["data file"], lambda s=session: seen.append(("called", s.get("map"))))
        call = recorder.calls[-1]
        session[call["key"]] = {"last_active_drawing": clicked}
        call["on_change"]()
        results.append(dict(session))
    assert results[0] == results[1]
    assert seen == [("called", {"last_active_drawing": clicked})] * 2


def test_streamlit_folium_still_has_what_map_frame_relies_on():
    missing = [n for n in map_frame.PRIVATE_NAMES if not hasattr(streamlit_folium, n)]
    assert not missing, (
        f"streamlit-folium n'a plus {missing} : carto.ui.map_frame doit être revu pour cette "
        "version (il reproduit les arguments de st_folium 0.27)."
    )
    version = tuple(int(p) for p in importlib.metadata.version("streamlit-folium").split(".")[:2])
    low, high = map_frame.SUPPORTED_VERSIONS
    assert low <= version < high, (
        f"streamlit-folium {version} n'est pas une version vérifiée par carto.ui.map_frame "
        f"({low} à {high} exclu) : relancez ces tests et ajustez pyproject.toml."
    )


def test_pyproject_pins_the_versions_map_frame_was_checked_with():
    deps = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    spec = next(d for d in deps["project"]["dependencies"] if d.startswith("streamlit-folium"))
    low, high = map_frame.SUPPORTED_VERSIONS
    bounds = re.findall(r"(>=|<)(\d+)\.(\d+)", spec)
    assert ("<", str(high[0]), str(high[1])) in bounds, spec
    assert (">=", str(low[0]), str(low[1])) in bounds, spec
