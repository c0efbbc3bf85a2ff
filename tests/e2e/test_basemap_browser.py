"""The default basemap is readable on a closed network: outlines, place names, metric scale."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from carto.map.basemap import LABEL_CLASS, MARKER_CLASS, NOTICE_CLASS, OFFLINE_NOTICE

from .conftest import ARTIFACTS, MAP_IFRAME, wait_until

pytestmark = pytest.mark.browser

# No CARTO_TILES at all would be overridden by the harness default: "" means "the default".
DEFAULT_SETTINGS = {"CARTO_TILES": ""}
TOWNS = ("Arras", "Calais", "Boulogne-sur-Mer")
# (width, height, names that must be readable): on a phone the open legend covers Calais, and
# no name is written under a map control.
VIEWPORTS = {
    "desktop": (1366, 900, TOWNS),
    "phone": (390, 844, ("Arras", "Boulogne-sur-Mer")),
}


def label(frame: Any, name: str) -> Any:
    return frame.locator(f".{LABEL_CLASS}").filter(has_text=re.compile(rf"^{name}$")).first


def assert_inside_map(page: Any, frame: Any, name: str) -> None:
    """The label is drawn within the map's visible area (not just present in the DOM)."""
    expect(label(frame, name)).to_be_visible()
    box = label(frame, name).bounding_box()
    map_box = page.locator(MAP_IFRAME).bounding_box()
    assert box is not None and map_box is not None
    assert map_box["x"] <= box["x"] and box["x"] + box["width"] <= map_box["x"] + map_box["width"]
    assert map_box["y"] <= box["y"] and box["y"] + box["height"] <= map_box["y"] + map_box["height"]


def assert_metric_scale(frame: Any) -> None:
    scale = frame.locator(".leaflet-control-scale-line")
    expect(scale).to_have_count(1)
    text = scale.inner_text().strip()
    assert re.fullmatch(r"\d+ (km|m)", text), text


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_default_basemap_names_places_offline_with_a_metric_scale(
    page, network, streamlit_server, viewport
):
    app = streamlit_server(DEFAULT_SETTINGS)
    width, height, towns = VIEWPORTS[viewport]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(app.base_url)

    frame = page.frame_locator(MAP_IFRAME)
    expect(frame.locator(f".{MARKER_CLASS}, .carto-cluster").first).to_be_attached()
    expect(frame.locator("path.carto-commune").first).to_be_attached()
    expect(frame.locator("path.carto-departement").first).to_be_attached()
    for name in towns:
        assert_inside_map(page, frame, name)
    expect(frame.locator(f".{LABEL_CLASS}-arrondissement").first).to_be_visible()
    # Labels never take a click meant for a marker.
    pointer = label(frame, towns[0]).evaluate("el => getComputedStyle(el).pointerEvents")
    assert pointer == "none"
    expect(frame.locator(".leaflet-tile")).to_have_count(0)
    assert_metric_scale(frame)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"basemap-offline-{viewport}.png"))
    shown = frame.locator(f".{LABEL_CLASS}").count()
    print(f"{viewport}: {shown} noms affichés, requêtes non locales : {len(network.blocked)}")
    assert network.blocked == [], network.report()
    assert network.failed_local == [], network.report()
    assert network.bad_responses == [], network.report()
    assert network.page_errors == [], network.report()


def test_online_tiles_blocked_fall_back_to_the_offline_basemap(page, network, streamlit_server):
    app = streamlit_server({"CARTO_TILES": "osm"})
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(app.base_url)

    frame = page.frame_locator(MAP_IFRAME)
    expect(frame.locator(f".{MARKER_CLASS}, .carto-cluster").first).to_be_attached()
    wait_until(page, lambda: any("tile.openstreetmap.org" in url for url in network.blocked))
    expect(frame.locator(f".{NOTICE_CLASS}")).to_have_text(OFFLINE_NOTICE)
    expect(frame.get_by_text("Fond de carte en ligne indisponible")).to_be_visible()
    expect(frame.locator("path.carto-commune").first).to_be_attached()
    for name in TOWNS:
        assert_inside_map(page, frame, name)
    # The failed tile layer is gone: no broken tiles, no more requests.
    expect(frame.locator("img.leaflet-tile")).to_have_count(0)
    assert_metric_scale(frame)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "basemap-fallback-desktop.png"))
    print(f"requêtes non locales bloquées : {len(network.blocked)}")
    assert all("tile.openstreetmap.org" in url for url in network.blocked), network.report()
    assert network.failed_local == [], network.report()
    assert network.page_errors == [], network.report()
