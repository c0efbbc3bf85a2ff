"""The map page draws every located initiative with no internet access at all."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from carto.config import Settings
from carto.intake import pipeline as dataset
from carto.map.basemap import MARKER_CLASS

from .conftest import DEFAULT_ENV, MAP_IFRAME, wait_until
from .initiatives import wait_drawn

pytestmark = pytest.mark.browser


def expected_counts(env: dict[str, str]) -> tuple[int, int]:
    """(rows with coordinates, all rows) of the dataset the app serves, via carto's pipeline."""
    settings = Settings.from_env({**DEFAULT_ENV, **env})
    loaded = dataset.load(settings.data_path, departement=settings.departement)
    return len(loaded.placed), len(loaded.table)


def test_map_draws_every_located_initiative_offline(page, network, streamlit_app):
    placed, total = expected_counts(streamlit_app.env)
    assert placed > 0, "the dataset must have located initiatives for this test to mean anything"

    page.goto(streamlit_app.base_url)
    expect(page.get_by_text(re.compile(rf"{total} affichées sur {total}"))).to_be_visible()

    frame = page.frame_locator(MAP_IFRAME)
    expect(frame.locator(".leaflet-container")).to_be_visible()
    wait_drawn(frame, placed)  # grouped in clusters: fewer elements than initiatives
    expect(frame.locator(f".{MARKER_CLASS}, .carto-cluster").first).to_be_visible()
    # Outlines drawn from the shipped gazetteer stand in for tiles (CARTO_TILES=none).
    expect(frame.locator(".leaflet-tile")).to_have_count(0)
    expect(frame.locator("path.carto-arrondissement").first).to_be_attached()
    expect(frame.locator(".carto-legend")).to_contain_text("Catégories")

    print(f"requêtes non locales bloquées : {len(network.blocked)}")
    assert network.blocked == [], network.report()
    assert network.failed_local == [], network.report()
    assert network.bad_responses == [], network.report()
    assert network.dialogs == [], network.report()
    assert network.page_errors == [], network.report()


def test_tiles_from_the_internet_are_blocked_and_the_map_still_draws(
    page, network, streamlit_server
):
    # Proves the harness sees non-local requests: OSM tiles are the only remote URLs we emit.
    app = streamlit_server({"CARTO_TILES": "osm"})
    placed, _ = expected_counts(app.env)

    page.goto(app.base_url)
    frame = page.frame_locator(MAP_IFRAME)
    wait_drawn(frame, placed)
    wait_until(page, lambda: any("tile.openstreetmap.org" in url for url in network.blocked))
    # The blocked tiles are replaced by the offline basemap (tests/e2e/test_basemap_browser.py).
    expect(frame.locator(".carto-offline-notice")).to_contain_text("fond hors ligne affiché")
    expect(frame.locator("path.carto-commune").first).to_be_attached()

    print(f"requêtes non locales bloquées : {len(network.blocked)}")
    assert all("tile.openstreetmap.org" in url for url in network.blocked), network.report()
    assert network.failed_local == [], network.report()
    assert network.dialogs == [], network.report()
