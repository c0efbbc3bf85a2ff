"""Front-end files (Leaflet, jQuery...) copied from node_modules and served by Streamlit.

The map must draw without internet access: folium's CDN links are replaced by URLs of
files that `make assets` copies into ``static/vendor/`` (served at ``/app/static/vendor/``).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

from carto.config import PROJECT_ROOT
from carto.errors import ConfigError

VENDOR_DIR = "vendor"
GEO_DIR = "geo"
GAZETTEER_DATA = PROJECT_ROOT / "src" / "carto" / "data"
# Outline files of each département, served to the browser instead of being inlined in the map.
OUTLINE_FILES: tuple[str, ...] = (
    "arrondissements.geojson",
    "communes.geojson",
    "departement.geojson",
)
# Place names of the offline basemap, built from communes.csv and arrondissements.geojson.
LABELS_FILE = "labels.json"
STATIC_URL = "/app/static"
DEFAULT_BASE_URL = f"{STATIC_URL}/{VENDOR_DIR}"

# Paths relative to node_modules, kept as is under static/vendor/ so that relative URLs inside
# the CSS files (Leaflet's images/) keep working.
VENDOR_FILES: tuple[str, ...] = (
    "leaflet/dist/leaflet.js",
    "leaflet/dist/leaflet.css",
    # Default marker icons and the layers control button, referenced by leaflet.css.
    "leaflet/dist/images/layers.png",
    "leaflet/dist/images/layers-2x.png",
    "leaflet/dist/images/marker-icon.png",
    "leaflet/dist/images/marker-icon-2x.png",
    "leaflet/dist/images/marker-shadow.png",
    "leaflet/LICENSE",
    # folium's popup and map templates call jQuery.
    "jquery/dist/jquery.min.js",
    "jquery/LICENSE.txt",
    # Groups initiatives at the same place (carto.map.markers).
    "leaflet.markercluster/dist/leaflet.markercluster.js",
    "leaflet.markercluster/dist/MarkerCluster.css",
    "leaflet.markercluster/dist/MarkerCluster.Default.css",
    "leaflet.markercluster/MIT-LICENCE.txt",
)

# (folium resource name, path under static/vendor/); names match folium's so ours replace them.
_LOCAL_JS: tuple[tuple[str, str], ...] = (
    ("leaflet", "leaflet/dist/leaflet.js"),
    ("jquery", "jquery/dist/jquery.min.js"),
    # After Leaflet, which it extends.
    ("leaflet_markercluster", "leaflet.markercluster/dist/leaflet.markercluster.js"),
)
_LOCAL_CSS: tuple[tuple[str, str], ...] = (
    ("leaflet_css", "leaflet/dist/leaflet.css"),
    ("leaflet_markercluster_css", "leaflet.markercluster/dist/MarkerCluster.css"),
    ("leaflet_markercluster_default_css", "leaflet.markercluster/dist/MarkerCluster.Default.css"),
)


def install_assets(
    *,
    node_modules: Path = PROJECT_ROOT / "node_modules",
    static_dir: Path = PROJECT_ROOT / "static",
) -> list[Path]:
    """Copy VENDOR_FILES from node_modules into static_dir/vendor; return the written paths."""
    missing = [name for name in VENDOR_FILES if not (node_modules / name).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (" …" if len(missing) > 3 else "")
        raise ConfigError(
            f"Fichiers front-end absents de « {node_modules} » ({len(missing)} manquant(s) : "
            f"{shown}). Lancez « npm ci » à la racine du projet, puis « make assets »."
        )
    written: list[Path] = []
    for name in VENDOR_FILES:
        target = static_dir / VENDOR_DIR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(node_modules / name, target)
        written.append(target)
    return written + install_outlines(static_dir=static_dir)


def _outline_sources(data_dir: Path) -> list[Path]:
    return sorted(
        path
        for departement in data_dir.iterdir()
        if departement.is_dir()
        for path in (departement / name for name in OUTLINE_FILES)
        if path.is_file()
    )


def _ring_centroid(ring: list[list[float]]) -> tuple[float, float, float]:
    """(signed area, lon, lat) of the centroid of one closed ring of [lon, lat] points."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if area == 0:
        xs = [p[0] for p in ring] or [0.0]
        ys = [p[1] for p in ring] or [0.0]
        return 0.0, sum(xs) / len(xs), sum(ys) / len(ys)
    return area / 2, cx / (3 * area), cy / (3 * area)


def _label_point(geometry: dict[str, Any]) -> tuple[float, float]:
    """(lat, lon) where to write an area's name: centroid of its largest outer ring."""
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    best = max((_ring_centroid(polygon[0]) for polygon in polygons), key=lambda c: abs(c[0]))
    return round(best[2], 5), round(best[1], 5)


def label_data(departement_dir: Path) -> dict[str, Any]:
    """Place names of one département for the offline basemap.

    `communes`: [name, lat, lon, population] sorted by decreasing population (the browser shows
    the larger towns first); `arrondissements`: [name, lat, lon] at each area's centroid.
    """
    communes: list[list[Any]] = []
    csv_path = departement_dir / "communes.csv"
    if csv_path.is_file():
        with csv_path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                try:
                    lat, lon = float(row["latitude"]), float(row["longitude"])
                except (KeyError, TypeError, ValueError):
                    continue
                population = int(row.get("population") or 0)
                communes.append([row["nom"], lat, lon, population])
    communes.sort(key=lambda c: (-c[3], c[0]))
    arrondissements: list[list[Any]] = []
    geo_path = departement_dir / "arrondissements.geojson"
    if geo_path.is_file():
        for feature in json.loads(geo_path.read_text(encoding="utf-8")).get("features", []):
            name = (feature.get("properties") or {}).get("nom")
            if name and feature.get("geometry"):
                arrondissements.append([str(name), *_label_point(feature["geometry"])])
    return {"communes": communes, "arrondissements": arrondissements}


def _label_bytes(departement_dir: Path) -> bytes:
    data = label_data(departement_dir)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _label_sources(data_dir: Path) -> list[Path]:
    return sorted(
        departement
        for departement in data_dir.iterdir()
        if (departement / "communes.csv").is_file()
    )


def install_outlines(
    *, data_dir: Path = GAZETTEER_DATA, static_dir: Path = PROJECT_ROOT / "static"
) -> list[Path]:
    """Copy each département's outline GeoJSON files to static_dir/geo/<département>/, and
    write its place names there (LABELS_FILE, see label_data)."""
    written = []
    for source in _outline_sources(data_dir):
        target = static_dir / GEO_DIR / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    for departement in _label_sources(data_dir):
        target = static_dir / GEO_DIR / departement.name / LABELS_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_label_bytes(departement))
        written.append(target)
    return written


def outlines_url(departement: str, name: str) -> str:
    """URL at which the browser fetches an outline file (see install_outlines)."""
    return f"{STATIC_URL}/{GEO_DIR}/{departement}/{name}"


def check_assets(
    static_dir: Path = PROJECT_ROOT / "static", *, data_dir: Path = GAZETTEER_DATA
) -> list[str]:
    """Files missing from static_dir (empty when everything is installed and up to date)."""
    missing = [name for name in VENDOR_FILES if not (static_dir / VENDOR_DIR / name).is_file()]
    for source in _outline_sources(data_dir):
        target = static_dir / GEO_DIR / source.parent.name / source.name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            missing.append(f"{GEO_DIR}/{source.parent.name}/{source.name}")
    for departement in _label_sources(data_dir):
        target = static_dir / GEO_DIR / departement.name / LABELS_FILE
        if not target.is_file() or target.read_bytes() != _label_bytes(departement):
            missing.append(f"{GEO_DIR}/{departement.name}/{LABELS_FILE}")
    return missing


def local_js_css(
    base_url: str = DEFAULT_BASE_URL,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return (js, css) lists of (name, url) to use as a folium Map's default_js/default_css."""
    base = base_url.rstrip("/")
    js = [(name, f"{base}/{path}") for name, path in _LOCAL_JS]
    css = [(name, f"{base}/{path}") for name, path in _LOCAL_CSS]
    return js, css
