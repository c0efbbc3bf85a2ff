"""Front-end files (Leaflet, jQuery...) copied from node_modules and served by Streamlit.

The map must draw without internet access: folium's CDN links are replaced by URLs of
files that `make assets` copies into ``static/vendor/`` (served at ``/app/static/vendor/``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from carto.config import PROJECT_ROOT
from carto.errors import ConfigError

VENDOR_DIR = "vendor"
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
    # Not used yet: kept ready for clustering large datasets.
    "leaflet.markercluster/dist/leaflet.markercluster.js",
    "leaflet.markercluster/dist/MarkerCluster.css",
    "leaflet.markercluster/dist/MarkerCluster.Default.css",
    "leaflet.markercluster/MIT-LICENCE.txt",
)

# (folium resource name, path under static/vendor/); names match folium's so ours replace them.
_LOCAL_JS: tuple[tuple[str, str], ...] = (
    ("leaflet", "leaflet/dist/leaflet.js"),
    ("jquery", "jquery/dist/jquery.min.js"),
)
_LOCAL_CSS: tuple[tuple[str, str], ...] = (("leaflet_css", "leaflet/dist/leaflet.css"),)


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
    return written


def check_assets(static_dir: Path = PROJECT_ROOT / "static") -> list[str]:
    """Return the VENDOR_FILES missing from static_dir/vendor (empty when all are installed)."""
    return [name for name in VENDOR_FILES if not (static_dir / VENDOR_DIR / name).is_file()]


def local_js_css(
    base_url: str = DEFAULT_BASE_URL,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return (js, css) lists of (name, url) to use as a folium Map's default_js/default_css."""
    base = base_url.rstrip("/")
    js = [(name, f"{base}/{path}") for name, path in _LOCAL_JS]
    css = [(name, f"{base}/{path}") for name, path in _LOCAL_CSS]
    return js, css
