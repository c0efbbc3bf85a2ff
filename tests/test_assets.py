"""Offline assets: files copied from node_modules, and maps that only link to them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import branca
import folium
import folium.elements
import pandas as pd
import pytest

import carto
from carto.config import PROJECT_ROOT
from carto.errors import ConfigError
from carto.map.assets import (
    GAZETTEER_DATA,
    LABELS_FILE,
    STATIC_URL,
    VENDOR_DIR,
    VENDOR_FILES,
    check_assets,
    install_assets,
    install_outlines,
    label_data,
    local_js_css,
)
from carto.map.basemap import OSM_TILES, build_map
from carto.models import COLUMNS, GEOCODED_COLUMNS

NODE_MODULES = PROJECT_ROOT / "node_modules"
needs_node_modules = pytest.mark.skipif(
    not (NODE_MODULES / "leaflet").is_dir(),
    reason="node_modules absent: run `npm ci` (CI and `make test` do it first)",
)


@pytest.fixture(scope="module")
def static_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (NODE_MODULES / "leaflet").is_dir():
        pytest.skip("node_modules absent: run `npm ci` (CI and `make test` do it first)")
    target = tmp_path_factory.mktemp("static")
    install_assets(node_modules=NODE_MODULES, static_dir=target)
    return target


OUTLINE_FILES = [
    "geo/62/arrondissements.geojson",
    "geo/62/communes.geojson",
    "geo/62/departement.geojson",
]
LABEL_FILES = ["geo/62/labels.json"]


@needs_node_modules
def test_install_copies_every_vendor_file_and_the_outlines(tmp_path):
    expected = sorted([*VENDOR_FILES, *OUTLINE_FILES, *LABEL_FILES])
    assert sorted(check_assets(tmp_path)) == expected
    written = install_assets(node_modules=NODE_MODULES, static_dir=tmp_path)
    assert written == [tmp_path / VENDOR_DIR / name for name in VENDOR_FILES] + [
        tmp_path / name for name in [*OUTLINE_FILES, *LABEL_FILES]
    ]
    data = Path(carto.__file__).parent / "data" / "62"
    for name in OUTLINE_FILES:
        assert (tmp_path / name).read_bytes() == (data / Path(name).name).read_bytes()
    for name in VENDOR_FILES:
        assert (tmp_path / VENDOR_DIR / name).read_bytes() == (NODE_MODULES / name).read_bytes()
    assert check_assets(tmp_path) == []
    # Running it again (make assets after npm ci) just refreshes the copies.
    assert install_assets(node_modules=NODE_MODULES, static_dir=tmp_path) == written


@pytest.mark.parametrize("present", [0, len(VENDOR_FILES) - 1], ids=["empty", "one-missing"])
def test_install_without_node_modules_says_to_run_npm_ci(tmp_path, present):
    node_modules = tmp_path / "node_modules"
    for name in VENDOR_FILES[:present]:
        (node_modules / name).parent.mkdir(parents=True, exist_ok=True)
        (node_modules / name).write_text("x")
    static = tmp_path / "static"
    with pytest.raises(ConfigError, match="npm ci") as error:
        install_assets(node_modules=node_modules, static_dir=static)
    assert VENDOR_FILES[present] in str(error.value)
    assert not static.exists(), "nothing is copied when a file is missing"


@pytest.mark.parametrize(
    ("base_url", "prefix"),
    [
        ("/app/static/vendor", "/app/static/vendor/"),
        ("/app/static/vendor/", "/app/static/vendor/"),
        ("/carto/app/static/vendor", "/carto/app/static/vendor/"),
    ],
)
def test_local_js_css_urls(base_url, prefix):
    js, css = local_js_css(base_url)
    assert {name for name, _ in js} >= {"leaflet", "jquery"}
    assert {name for name, _ in css} >= {"leaflet_css"}
    for _, url in (*js, *css):
        assert url.startswith(prefix)
        assert url.removeprefix(prefix) in VENDOR_FILES


def sample_table() -> pd.DataFrame:
    row = {name: "" for name in (*COLUMNS, *GEOCODED_COLUMNS)}
    row.update(
        id="a",
        nom="Couture de masques",
        categorie="protection",
        commune="Arras",
        portee="commune",
        latitude=50.29,
        longitude=2.78,
    )
    return pd.DataFrame([row, row | {"id": "b", "portee": "secteur"}])


OUTLINES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "621", "nom": "Arras", "code_insee": "62041"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[2.6, 50.2], [2.9, 50.2], [2.9, 50.4], [2.6, 50.2]]],
            },
        }
    ],
}

MAPS = {
    "osm": lambda: build_map(sample_table(), arrondissements=OUTLINES, tiles="osm"),
    "none": lambda: build_map(
        sample_table(), arrondissements=OUTLINES, communes=OUTLINES, tiles="none"
    ),
    "selected": lambda: build_map(sample_table(), arrondissements=None, selected_id="a"),
}


def streamlit_folium_links(fmap: folium.Map) -> list[str]:
    """The js/css links streamlit-folium's st_folium hands to its iframe (same walk)."""
    links: list[str] = []

    def walk(element: object) -> None:
        assert not isinstance(element, branca.colormap.ColorMap), "pulls d3 from a CDN"
        if isinstance(element, folium.elements.JSCSSMixin):
            links.extend(url for _, url in element.default_css)
            links.extend(url for _, url in element.default_js)
        for child in getattr(element, "_children", {}).values():
            walk(child)

    walk(fmap)
    return links


def served_file(url: str, static_dir: Path) -> Path:
    assert url.startswith(STATIC_URL + "/"), f"not served by the app: {url}"
    return static_dir / url.removeprefix(STATIC_URL + "/")


@pytest.mark.parametrize("kind", MAPS)
def test_streamlit_folium_links_are_local_files(kind, static_dir):
    links = streamlit_folium_links(MAPS[kind]())
    assert links, "the map must at least load Leaflet"
    for url in links:
        assert served_file(url, static_dir).is_file(), url


@pytest.mark.parametrize("kind", MAPS)
def test_rendered_page_loads_no_remote_script_or_stylesheet(kind, static_dir):
    page = MAPS[kind]().get_root().render()
    scripts = re.findall(r"<script[^>]*\bsrc=[\"']([^\"']+)", page)
    styles = re.findall(r"<link[^>]*\bhref=[\"']([^\"']+)", page)
    assert scripts and styles
    for url in (*scripts, *styles):
        assert served_file(url, static_dir).is_file(), url
    remote = set(re.findall(r"https?://[^\s\"'<>\\]+", page))
    # Only tiles (osm) and the attribution links (OpenStreetMap, Leaflet's credit, which the
    # map titles in French) may name another host: links a visitor may follow, never loads.
    assert remote <= {OSM_TILES, "https://www.openstreetmap.org/copyright", "https://leafletjs.com"}


def test_leaflet_css_images_are_installed(static_dir):
    css_path = static_dir / VENDOR_DIR / "leaflet/dist/leaflet.css"
    # (IE's "url(#default#VML)" behaviour is not a file.)
    images = set(re.findall(r"url\((images/[^)\"']+)\)", css_path.read_text()))
    assert images, "leaflet.css references its icons"
    for image in images:
        assert (css_path.parent / image).is_file(), image


def test_place_names_file_lists_larger_towns_first_and_every_arrondissement(tmp_path):
    written = install_outlines(static_dir=tmp_path)
    path = tmp_path / "geo" / "62" / LABELS_FILE
    assert path in written
    labels = json.loads(path.read_text(encoding="utf-8"))
    assert labels == label_data(GAZETTEER_DATA / "62")
    communes = labels["communes"]
    assert len(communes) == 887
    assert [c[0] for c in communes[:3]] == ["Calais", "Arras", "Boulogne-sur-Mer"]
    populations = [c[3] for c in communes]
    assert populations == sorted(populations, reverse=True)
    names = {a[0]: (a[1], a[2]) for a in labels["arrondissements"]}
    assert sorted(names) == sorted(
        ["Arras", "Béthune", "Boulogne-sur-Mer", "Calais", "Lens", "Montreuil", "Saint-Omer"]
    )
    for lat, lon in names.values():  # inside the Pas-de-Calais
        assert 50.0 < lat < 51.1 and 1.5 < lon < 3.2
    # Only the vendor files (not installed here) are missing: geo/ is complete and current.
    assert sorted(check_assets(tmp_path)) == sorted(VENDOR_FILES)


def test_stale_place_names_file_is_reported(tmp_path):
    install_outlines(static_dir=tmp_path)
    path = tmp_path / "geo" / "62" / LABELS_FILE
    path.write_text('{"communes": [], "arrondissements": []}', encoding="utf-8")
    assert f"geo/62/{LABELS_FILE}" in check_assets(tmp_path)
