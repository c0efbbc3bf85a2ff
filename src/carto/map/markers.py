"""The initiatives layer as one compact, columnar payload drawn by a few lines of Leaflet.

Why not folium.GeoJson: at 10,000 initiatives a GeoJSON layer with per-feature properties and
HTML tooltips weighs ~5.7 MB and takes ~0.8 s to build and render in Python; this payload is
about 5 times smaller, is built with vectorised pandas, and the browser groups it with
leaflet.markercluster (only the clusters and markers in view are in the page, so 10,000 markers
stay fast while each one is a focusable, named button). Tooltips and names are built with
textContent in the browser, so no initiative text is ever parsed as HTML.

The page does not embed the payload: it hands the browser the URL of a static file. Those files
are owned by one MarkerFiles object per process, which both hands them out and deletes them
(LRU of views bounded in bytes, shared content-addressed files, re-created if they vanish), so a
URL the page hands out never points at a missing file; see its docstring.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import sys
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from branca.element import MacroElement
from folium.template import Template

from carto.models import CATEGORIES
from carto.text import cell_text

if sys.platform != "win32":
    import fcntl

MARKER_CLASS = "carto-initiative"
POINT_RADIUS = 7
SECTOR_RADIUS = 12
SELECTED_EXTRA_RADIUS = 4
SELECTED_WEIGHT = 4
SELECTED_COLOR = "#000000"
UNKNOWN_COLOR = "#7f7f7f"
# Leaflet class names of clusters and of the selected marker; pane of the area outlines (above
# the basemap outlines, below markers and tooltips).
CLUSTER_CLASS = "carto-cluster"
SELECTED_CLASS = "carto-selected"
ZONE_PANE = "cartoZones"
ZONE_PANE_Z = 398
# Markers closer than this many pixels are grouped (initiatives 1-2 px apart overlapped).
CLUSTER_RADIUS_PX = 40
# Zoom to results never zooms in further than this (one initiative: its neighbourhood).
FIT_MAX_ZOOM = 13
# Used when the map sets no maximum (clustering needs one).
MAX_ZOOM = 18
# Co-located initiatives are spread on a ring so that each stays clickable.
RING_SPACING_M = 250.0
RING_MIN_RADIUS_M = 200.0
METRES_PER_DEGREE = 111_320.0
# Disk budget of one process's marker data files (MarkerFiles), and how many views it tracks
# (views with the same data share a file, so bytes alone would not bound its memory).
DEFAULT_MAX_BYTES = 64 * 2**20
DEFAULT_MAX_VIEWS = 4096

PALETTE: tuple[str, ...] = tuple(c.color for c in CATEGORIES) + (UNKNOWN_COLOR,)
_CATEGORY_INDEX = {c.slug: i for i, c in enumerate(CATEGORIES)}
# zone key -> GeoJSON geometry of the area, or None (carto.zones.zone_geometry with a gazetteer).
ZoneGeometry = Callable[[str], dict[str, Any] | None]


def marker_style(*, color: str, sector: bool, selected: bool = False) -> dict[str, Any]:
    """Leaflet path options of one initiative marker."""
    if sector:
        style: dict[str, Any] = {
            "radius": SECTOR_RADIUS,
            "color": color,
            "weight": 2.5,
            "opacity": 1.0,
            "dashArray": "5 4",
            "fill": True,
            "fillColor": color,
            "fillOpacity": 0.25,
        }
    else:
        style = {
            "radius": POINT_RADIUS,
            "color": "#ffffff",
            "weight": 1.5,
            "opacity": 1.0,
            "dashArray": None,
            "fill": True,
            "fillColor": color,
            "fillOpacity": 0.9,
        }
    if selected:
        style["radius"] += SELECTED_EXTRA_RADIUS
        style["weight"] = SELECTED_WEIGHT
        style["color"] = SELECTED_COLOR
    return style


def _text_column(table: pd.DataFrame, column: str) -> pd.Series:
    """The column as stripped `cell_text`: vectorised when it holds only text (a stored table)."""
    if column not in table.columns:
        return pd.Series([""] * len(table), index=table.index, dtype="object")
    values = table[column]
    if not isinstance(values.dtype, pd.StringDtype):
        values = values.map(cell_text)
    return values.fillna("").astype(str).str.strip()


def display_positions(
    lat: np.ndarray, lon: np.ndarray, ids: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Identical points spread on a ring (ordered by id, so row order does not matter)."""
    frame = pd.DataFrame(
        {
            "lat": np.round(lat, 7),
            "lon": np.round(lon, 7),
            "id": ids.to_numpy(),
            "row": range(len(lat)),
        }
    )
    frame = frame.sort_values(["lat", "lon", "id", "row"], kind="stable")
    groups = frame.groupby(["lat", "lon"], sort=False)
    count = groups["row"].transform("size").to_numpy()
    slot = groups.cumcount().to_numpy()
    radius = np.maximum(RING_MIN_RADIUS_M, count * RING_SPACING_M / (2 * math.pi))
    angle = 2 * math.pi * slot / count
    base_lat = frame["lat"].to_numpy()
    lon_scale = METRES_PER_DEGREE * np.maximum(np.cos(np.radians(base_lat)), 0.01)
    spread = count > 1
    shown_lat = np.where(
        spread, base_lat + radius * np.cos(angle) / METRES_PER_DEGREE, lat[frame["row"]]
    )
    shown_lon = np.where(
        spread, frame["lon"].to_numpy() + radius * np.sin(angle) / lon_scale, lon[frame["row"]]
    )
    out_lat = np.empty(len(lat))
    out_lon = np.empty(len(lon))
    out_lat[frame["row"].to_numpy()] = shown_lat
    out_lon[frame["row"].to_numpy()] = shown_lon
    return out_lat, out_lon


def style_table() -> list[dict[str, Any]]:
    """Every marker style: entry 2*c + sector for category c (PALETTE order)."""
    return [
        marker_style(color=color, sector=bool(sector)) for color in PALETTE for sector in (0, 1)
    ]


def _factorize_text(values: pd.Series) -> tuple[list[int], list[str]]:
    """(per-row index into the distinct non-empty texts, those texts); -1 for an empty one."""
    codes, uniques = pd.factorize(values.where(values != "", None))
    return codes.tolist(), [str(u) for u in uniques]


def marker_payload(
    table: pd.DataFrame,
    zone_geometry: ZoneGeometry | None = None,
    *,
    new_ids: Collection[str] = (),
) -> dict[str, Any]:
    """Columnar data of the rows that have valid coordinates; `style[i]` indexes `styles`.

    Areas: `zone_label[i]` indexes `zone_labels` (-1: none), from the table's `zone_label`
    column; `zone[i]` indexes `zones` (-1: none), the distinct outlines that
    `zone_geometry(zone_key)` returns (each drawn once however many initiatives share it).
    `new`: the positions of the markers whose id is in `new_ids`, the initiatives the latest
    publication added (carto.timeline, « Nouveau »): few, so listed rather than flagged.
    """
    if len(table):
        lat = pd.to_numeric(table["latitude"], errors="coerce")
        lon = pd.to_numeric(table["longitude"], errors="coerce")
        valid = (lat.between(-90, 90) & lon.between(-180, 180)).to_numpy()
    else:
        lat = lon = pd.Series([], dtype=float)
        valid = np.zeros(0, dtype=bool)
    placed = table[valid]
    ids = _text_column(placed, "id")
    shown_lat, shown_lon = display_positions(
        lat[valid].to_numpy(dtype=float), lon[valid].to_numpy(dtype=float), ids
    )
    category = _text_column(placed, "categorie").map(_CATEGORY_INDEX).fillna(len(CATEGORIES))
    sector = ~_text_column(placed, "portee").isin(["", "commune"])
    style = category.to_numpy(dtype=int) * 2 + sector.to_numpy(dtype=int)
    # Communes repeat a lot: each marker carries an index into the list of distinct names.
    commune_codes, communes = pd.factorize(_text_column(placed, "commune"))
    label_codes, labels = _factorize_text(_text_column(placed, "zone_label"))
    key_codes, keys = _factorize_text(_text_column(placed, "zone_key"))
    zones: list[dict[str, Any]] = []
    zone_of_key: list[int] = []
    for key in keys:
        geometry = zone_geometry(key) if zone_geometry is not None else None
        if geometry:
            zone_of_key.append(len(zones))
            zones.append({"key": key, "geometry": geometry})
        else:
            zone_of_key.append(-1)
    new = np.flatnonzero(ids.isin(set(new_ids)).to_numpy()).tolist() if new_ids else []
    return {
        "id": ids.tolist(),
        "new": new,
        "lat": np.round(shown_lat, 5).tolist(),
        "lon": np.round(shown_lon, 5).tolist(),
        "style": style.tolist(),
        "name": _text_column(placed, "nom").tolist(),
        "commune": commune_codes.tolist(),
        "communes": [str(c) for c in communes],
        "zone_label": label_codes,
        "zone_labels": labels,
        "zone": [zone_of_key[k] if k >= 0 else -1 for k in key_codes],
        "zones": zones,
        "styles": style_table(),
    }


def script_json(value: object) -> str:
    """JSON that is also safe inside an HTML <script> element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def payload_name(payload_json: str) -> str:
    """The file name of a payload: its content digest, so equal payloads share one file."""
    return hashlib.sha256(payload_json.encode()).hexdigest()[:32] + ".json"


def _partial_path(target: Path) -> Path:
    """A temporary name unique to this call (process, thread, random part), next to `target`.

    Concurrent writers of the same file never share a temporary file, so none of them can
    rename away another's half-written data.
    """
    unique = f"{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}"
    return target.with_name(f".{target.name}.{unique}.tmp")


def _write_atomic(data: bytes, target: Path) -> None:
    """Write through a temporary file of this writer only, then rename over `target`."""
    partial = _partial_path(target)
    try:
        with partial.open("xb") as out:
            out.write(data)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def write_payload_file(payload_json: str, directory: Path) -> str:
    """Store a payload as `<sha256>.json` in `directory` (once) and return the file name.

    The page hands the browser this file's URL instead of embedding the data in the map: at
    50,000 initiatives that avoids ~100 MB of string copies per run on the server and lets the
    browser cache the data of a view it has seen. Safe for concurrent writers; never deletes
    anything (MarkerFiles decides which files may go).
    """
    name = payload_name(payload_json)
    target = directory / name
    if not target.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomic(payload_json.encode(), target)
    return name


@dataclass
class _File:
    size: int
    users: int


class MarkerFiles:
    """The marker data files of this process, and the only code that deletes them.

    Why: a URL handed to a page must keep working. Before, a cache of URLs (64 entries) and a
    pruning of files by date (256 kept) lived apart: a popular view kept its cached URL while
    its file, never rewritten, was pruned, and the map went blank for everyone (issue 8).
    Here one object both hands out the files and deletes them:

    - Views are keys (data version + normalised filters, see FilterSpec.view_key) in an LRU;
      each key points at a content-addressed file, and equal payloads share one file.
    - Disk use is bounded in bytes (`max_bytes`, 64 MiB by default) and the views tracked
      in number (`max_views`): past either, the least recently handed-out keys are dropped,
      and a file is deleted only when the last key pointing at it goes. The view being
      handed out is never dropped, so one view larger than the budget is still served.
    - Every hand-out checks that the file is there and writes it again if it vanished
      (someone emptied the folder): a hot view can never point at a missing file.
    - Writes are atomic per writer (unique temporary names); the bookkeeping, the final
      rename and the deletions happen under one lock, so no thread deletes a file another
      thread is handing out.
    - Each process owns a subfolder `<pid>-<random>` of `directory`, held by an advisory
      lock on `<pid>-<random>.lock`: several app instances can share one folder without
      deleting each other's files. On start, folders whose owner is gone (lock free) and
      files of the former flat layout are removed; the folder is removed at exit.

    `directory` is a parameter (it is meant to move under CARTO_STATE_DIR); the page serves it
    as static files. A file handed out is evicted only after `max_bytes` of newer views, so
    it outlives the few hundred milliseconds its browser needs to fetch it.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_views: int = DEFAULT_MAX_VIEWS,
    ) -> None:
        if max_bytes <= 0 or max_views <= 0:
            raise ValueError(f"limits must be positive, not {max_bytes} bytes, {max_views} views")
        self.root = directory
        self.max_bytes = max_bytes
        self.max_views = max_views
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.directory = directory / self.owner
        self._lock = threading.Lock()
        self._keys: OrderedDict[Hashable, str] = OrderedDict()
        self._files: dict[str, _File] = {}
        self._total = 0
        self._held: list[IO[bytes]] = []  # the open ownership lock, once the folder exists
        self._finalizer = weakref.finalize(
            self, _release_owner, self.directory, self.root / f"{self.owner}.lock", self._held
        )

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def total_bytes(self) -> int:
        """Bytes of the files this object keeps (each shared file counted once)."""
        return self._total

    def path_for(self, key: Hashable, build: Callable[[], str]) -> str:
        """Path, relative to `directory`, of the file holding the payload of view `key`.

        `build()` makes the payload JSON; it is called only when the view is new or its file
        vanished. Raises OSError when the folder cannot be written.
        """
        with self._lock:
            name = self._keys.get(key)
            if name is not None:
                self._keys.move_to_end(key)
                if (self.directory / name).is_file():
                    return f"{self.owner}/{name}"
        payload = build()  # outside the lock: building a big view must not hold up the others
        data = payload.encode()
        name = payload_name(payload)
        target = self.directory / name
        with self._lock:
            self._ensure_directory()
            if name in self._files and target.is_file():
                self._bind(key, name, len(data))
                return f"{self.owner}/{name}"
        # Write outside the lock under a name of our own; rename and register under it.
        partial = _partial_path(target)
        try:
            with partial.open("xb") as out:
                out.write(data)
            with self._lock:
                self._ensure_directory()
                os.replace(partial, target)
                self._bind(key, name, len(data))
        finally:
            partial.unlink(missing_ok=True)
        return f"{self.owner}/{name}"

    def close(self) -> None:
        """Delete this process's files and release the folder (also done at exit)."""
        with self._lock:
            self._keys.clear()
            self._files.clear()
            self._total = 0
            self._finalizer()

    # --- under self._lock ----------------------------------------------------------------

    def _bind(self, key: Hashable, name: str, size: int) -> None:
        """Point `key` at file `name` (most recently used), then evict down to the budget."""
        old = self._keys.get(key)
        if old != name:
            if old is not None:
                self._release(old)
            file = self._files.get(name)
            if file is None:
                self._files[name] = _File(size=size, users=1)
                self._total += size
            else:
                file.users += 1
            self._keys[key] = name
        self._keys.move_to_end(key)
        while len(self._keys) > 1 and (
            self._total > self.max_bytes or len(self._keys) > self.max_views
        ):
            _, evicted = self._keys.popitem(last=False)
            self._release(evicted)

    def _release(self, name: str) -> None:
        file = self._files[name]
        file.users -= 1
        if file.users == 0:
            del self._files[name]
            self._total -= file.size
            (self.directory / name).unlink(missing_ok=True)

    def _ensure_directory(self) -> None:
        """Create and lock this process's folder (first write, or after it was removed)."""
        if not self._held or not (self.root / f"{self.owner}.lock").is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            _sweep_stale_owners(self.root, keep=self.owner)
            for handle in self._held:
                handle.close()
            self._held[:] = [_take_ownership(self.root, self.owner)]
        self.directory.mkdir(exist_ok=True)


# Owner folders and their lock files: `<pid>-<12 hex digits>` and `<same>.lock`.
_OWNER_NAME = re.compile(r"^\d+-[0-9a-f]{12}$")
# Files of the former flat layout (`<digest>.json`, `.<digest>.json.<pid>.tmp`) older than this
# are removed on start; younger ones may still be served by a process of the former version.
LEGACY_MAX_AGE_S = 3600.0


def _lock_nowait(handle: IO[bytes]) -> bool:
    """Take an exclusive advisory lock without waiting; False when someone holds it."""
    if sys.platform == "win32":  # no flock: every owner is taken as alive
        return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _take_ownership(root: Path, owner: str) -> IO[bytes]:
    """Create `<owner>.lock` already locked (lock a new file, then rename it into place)."""
    fresh = root / f".{owner}.lock-new"
    handle = fresh.open("wb")
    try:
        _lock_nowait(handle)
        os.replace(fresh, root / f"{owner}.lock")
    except BaseException:
        handle.close()
        fresh.unlink(missing_ok=True)
        raise
    return handle


def _sweep_stale_owners(root: Path, *, keep: str) -> None:
    """Remove the folders of owners that are gone, and old files of the former flat layout."""
    now = time.time()
    for path in root.iterdir():
        name = path.name
        try:
            if name.endswith(".lock") and _OWNER_NAME.match(name[:-5]) and name[:-5] != keep:
                with path.open("rb") as handle:
                    if _lock_nowait(handle):  # its owner's lock was released: it is gone
                        shutil.rmtree(root / name[:-5], ignore_errors=True)
                        path.unlink(missing_ok=True)
            elif _OWNER_NAME.match(name) and name != keep and path.is_dir():
                # An owner folder is created after its lock file: without one, it is stale.
                if not (root / f"{name}.lock").exists():
                    shutil.rmtree(path, ignore_errors=True)
            elif (
                name.endswith((".json", ".tmp"))
                and path.is_file()
                and now - path.stat().st_mtime > LEGACY_MAX_AGE_S
            ):
                path.unlink(missing_ok=True)
        except OSError:  # another process swept it first, or it is not ours to remove
            continue


def _release_owner(directory: Path, lock_path: Path, held: list[IO[bytes]]) -> None:
    if not held:
        return
    shutil.rmtree(directory, ignore_errors=True)
    lock_path.unlink(missing_ok=True)
    for handle in held:
        handle.close()
    held.clear()


# Look of the markers, clusters and tooltips (added once to the map's document by the script).
LAYER_CSS = """
.carto-initiative { border-radius: 50%; border: 1.5px solid #fff; box-sizing: border-box;
    box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.55); cursor: pointer; }
.carto-initiative--area { border-width: 2.5px; box-shadow: 0 0 0 1px rgba(255, 255, 255, 0.8); }
.carto-initiative.carto-selected { box-shadow: 0 0 0 2px #fff, 0 0 0 5px #000; }
.carto-cluster { border-radius: 50%; background: #1d3557; color: #fff; display: flex;
    align-items: center; justify-content: center; font: bold 14px/1 sans-serif;
    box-shadow: 0 0 0 3px rgba(255, 255, 255, 0.9), 0 1px 5px rgba(0, 0, 0, 0.5); }
.carto-initiative:focus-visible, .carto-cluster:focus-visible { outline: 3px solid #000;
    outline-offset: 3px; }
.carto-tooltip { white-space: normal; width: max-content; max-width: 220px; }
.carto-initiative--new::after { content: ""; position: absolute; top: -5px; right: -5px;
    width: 8px; height: 8px; border-radius: 50%; background: #ffd400;
    border: 2px solid #1d1d1b; }
.carto-new-badge { display: inline-block; margin-left: 0.3em; padding: 0 0.35em;
    border-radius: 0.6em; background: #ffd400; color: #1d1d1b; font-size: 0.85em;
    font-weight: bold; }
"""


class InitiativeMarkers(MacroElement):
    """The initiatives layer: one keyboard-reachable marker per initiative, grouped with
    leaflet.markercluster, and the outlines of the areas they cover.

    The data is inlined (`table`) or fetched from a URL (`url`, see write_payload_file). Each
    marker is a focusable button named « Nom — Commune » (« Nom — Zone : … » for an area);
    Enter or Space opens it like a click. A click carries `feature.properties.id`, which
    streamlit-folium returns as `last_active_drawing`. A cluster is named « Groupe de N
    initiatives… »; Enter zooms in (or spreads it out) and moves the focus to its first
    initiative. The selected initiative is ringed in black and its area outline drawn bolder.
    `fit=True` zooms the map to the initiatives when their data changes (unless one is
    selected: the map then shows that one). Area outlines come from `zone_geometry` (see
    marker_payload), drawn under the markers and never catching clicks.

    The script keeps one state per map (window.__cartoInitiativesState): when the page runs it
    again (streamlit-folium, on each run) the same markers are updated in place. It exposes
    `window.cartoInitiatives` for the static site, and fires `carto:initiatives-ready` on the
    document when the data is drawn:

    - `ids()`: the ids drawn, in payload order;
    - `show(ids | null, {fit})`: show only these (null: all), zoom to them unless fit is false;
    - `select(id | null, {focus})`: highlight one and bring it into view (no callback);
    - `onSelect(callback)`: callback(id) when a visitor opens an initiative.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function (group, source, o) {
    // One state per map, kept across the re-runs of this script (streamlit-folium evaluates a
    // new copy on every page run): the cluster layer stays on the map and is updated in place,
    // so markers never blink and keyboard focus is kept when the page re-runs.
    var state = window.__cartoInitiativesState;
    var token = {};
    window.__cartoInitiativesLatest = token;

    function hexToRgba(hex, alpha) {
        var h = String(hex || "").replace("#", "");
        if (h.length === 3) { h = h[0] + h[0] + h[1] + h[1] + h[2] + h[2]; }
        var n = parseInt(h, 16);
        if (h.length !== 6 || isNaN(n)) { return hex; }
        var rgb = [n >> 16 & 255, n >> 8 & 255, n & 255].join(",");
        return "rgba(" + rgb + "," + alpha + ")";
    }

    var CartoIcon = L.DivIcon.extend({
        createIcon: function (old) {
            var el = L.DivIcon.prototype.createIcon.call(this, old), opt = this.options;
            el.setAttribute("aria-label", opt.label);
            if (opt.fill) {
                el.style.backgroundColor = hexToRgba(opt.fill, opt.fillOpacity);
                el.style.borderColor = opt.stroke;
                el.style.borderStyle = opt.dashed ? "dashed" : "solid";
            }
            if (opt.text !== undefined) {
                el.textContent = "";
                var span = document.createElement("span");
                span.textContent = opt.text;
                span.setAttribute("aria-hidden", "true");
                el.appendChild(span);
            }
            el._cartoLayer = opt.layer;
            return el;
        }
    });

    function isNew(d, i) {
        if (!d.new || !d.new.length) { return false; }
        if (!d._newSet) {
            d._newSet = {};
            d.new.forEach(function (k) { d._newSet[k] = true; });
        }
        return !!d._newSet[i];
    }

    function label(d, i) {
        var name = d.name[i] || o.text.unnamed, where = "";
        if (d.zone_label && d.zone_label[i] >= 0) {
            where = o.text.zone + d.zone_labels[d.zone_label[i]];
        } else if (d.communes[d.commune[i]]) {
            where = d.communes[d.commune[i]];
        }
        var text = where ? name + " — " + where : name;
        return isNew(d, i) ? text + " — " + o.text.nouveau : text;
    }

    function tooltipContent(layer) {
        var d = state.data, i = layer._cartoIndex, box = document.createElement("div");
        var name = document.createElement("strong");
        name.textContent = d.name[i] || o.text.unnamed;
        box.appendChild(name);
        if (isNew(d, i)) {
            var badge = document.createElement("span");
            badge.className = "carto-new-badge";
            badge.textContent = o.text.nouveau;
            box.appendChild(badge);
        }
        var where = "";
        if (d.zone_label && d.zone_label[i] >= 0) {
            where = o.text.zone + d.zone_labels[d.zone_label[i]];
        } else if (d.communes[d.commune[i]]) {
            where = d.communes[d.commune[i]];
        }
        if (where) {
            box.appendChild(document.createElement("br"));
            box.appendChild(document.createTextNode(where));
        }
        return box;
    }

    // Keep the tooltip inside the map: above the marker, else below, else beside it.
    function placeTooltip(tooltip, marker) {
        var map = marker._map, el = tooltip.getElement();
        if (!map || !el) { return; }
        var p = map.latLngToContainerPoint(marker.getLatLng()), size = map.getSize();
        var w = el.offsetWidth, h = el.offsetHeight, r = marker._cartoSize / 2, gap = 8;
        var dir = p.y - r - h - gap >= 0 ? "top" : (p.y + r + h + gap <= size.y ? "bottom" : "");
        if (!dir || p.x - w / 2 < 0 || p.x + w / 2 > size.x) {
            dir = p.x + r + w + gap <= size.x ? "right" : "left";
        }
        var offsets = {top: [0, -r], bottom: [0, r], left: [-r, 0], right: [r, 0]};
        if (tooltip.options.direction !== dir) {
            tooltip.options.direction = dir;
            tooltip.options.offset = L.point(offsets[dir]);
            tooltip.update();
        }
    }

    function decorate(marker) {
        var el = marker.getElement();
        if (!el) { return; }
        var on = marker._cartoId === state.selected;
        L.DomUtil[on ? "addClass" : "removeClass"](el, o.selectedClass);
    }

    function createMarker(d, i) {
        var st = d.styles[d.style[i]], size = Math.round(2 * st.radius + 2);
        var icon = new CartoIcon({
            className: o.className + (st.dashArray ? " " + o.className + "--area" : "") +
                (isNew(d, i) ? " " + o.className + "--new" : ""),
            iconSize: [size, size],
            label: label(d, i),
            fill: st.fillColor,
            fillOpacity: st.fillOpacity,
            stroke: st.color,
            dashed: !!st.dashArray
        });
        var marker = L.marker([d.lat[i], d.lon[i]], {icon: icon, keyboard: true});
        icon.options.layer = marker;
        marker._cartoId = d.id[i];
        marker._cartoSize = size;
        marker.feature = {type: "Feature", properties: {id: d.id[i]}, geometry: null};
        marker.on("add", function () { decorate(marker); });
        marker.on("click", function () { opened(marker); });
        marker.bindTooltip(tooltipContent, {
            direction: "top", offset: [0, -size / 2], className: "carto-tooltip"
        });
        marker.on("tooltipopen", function (e) { placeTooltip(e.tooltip, marker); });
        return marker;
    }

    function signature(d, i) {
        return [d.lat[i], d.lon[i], d.style[i], label(d, i)].join("\u0001");
    }

    function opened(marker) {
        // A visitor opened it (pointer or keyboard): highlight it, then tell the listeners.
        setSelected(marker._cartoId);
        state.revealed = marker._cartoId;
        state.callbacks.forEach(function (callback) {
            try { callback(marker._cartoId); } catch (e) { console.error(e); }
        });
    }

    function focusMarker(marker) {
        var el = marker.getElement();
        if (el) { el.focus(); }
    }

    // Enter on a group: zoom in until its first initiative is drawn, or spread the group out
    // when zooming cannot split it (last zoom level), then move the focus to that initiative.
    function openGroup(cluster, origin) {
        var map = state.map, mcg = state.mcg;
        var group = cluster.getAllChildMarkers().sort(function (a, b) {
            return a._cartoIndex - b._cartoIndex;
        });
        if (!group.length) { return; }
        var focusFirst = function () {
            // Markercluster re-creates marker elements when its zoom animation ends, which
            // drops the focus to the page: give it back to the group's first initiative,
            // unless the visitor has moved on.
            var active = document.activeElement;
            var lost = !active || active === document.body || active === origin;
            var inGroup = group.some(function (m) { return m.getElement() === active; });
            if (inGroup || !lost) { return; }
            var shown = group.filter(function (m) { return m.getElement(); });
            if (!shown.length) { return; }
            sortPane();
            focusMarker(shown[0]);
        };
        // Leaflet pans a focused group into view (autoPanOnFocus). A pan still running when
        // Enter is pressed would be stopped by the zoom below, with a "moveend" fired before
        // the zoom starts: zoomToShowLayer takes it for the end of its zoom and spreads the
        // group at the current level, and the zoom that follows then loses the spread markers.
        map.stop();
        mcg.once("animationend spiderfied", function () { setTimeout(focusFirst, 0); });
        if (map.getZoom() >= map.getMaxZoom()) {
            cluster.spiderfy();
        } else {
            mcg.zoomToShowLayer(group[0], focusFirst);
        }
        // The group was off screen or is re-drawn late: focus it once the map is still.
        [300, 600, 1000, 1500, 2500].forEach(function (ms) { setTimeout(focusFirst, ms); });
    }

    function onKey(e) {
        if (e.key !== "Enter" && e.key !== " " && e.key !== "Spacebar") { return; }
        var layer = e.target && e.target._cartoLayer;
        if (!layer || !state) { return; }
        L.DomEvent.preventDefault(e);
        if (L.MarkerCluster && layer instanceof L.MarkerCluster) {
            openGroup(layer, e.target);
        } else {
            layer.fire("click", {latlng: layer.getLatLng(), originalEvent: e}, true);
        }
    }

    // Tab order = reading order of the map (north to south, then west to east), whatever the
    // order in which clusters were drawn. The focused element keeps its focus.
    function sortPane() {
        if (!state) { return; }
        var pane = state.map.getPane("markerPane"), focused = document.activeElement;
        var items = Array.prototype.filter.call(pane.children, function (el) {
            return el._cartoLayer && el._cartoLayer.getLatLng;
        });
        var sorted = items.map(function (el) {
            var p = el._cartoLayer.getLatLng();
            return {el: el, lat: Math.round(p.lat * 1e4), lng: p.lng};
        }).sort(function (a, b) { return b.lat - a.lat || a.lng - b.lng; });
        var same = sorted.every(function (item, i) { return item.el === items[i]; });
        if (same) { return; }
        sorted.forEach(function (item) { pane.appendChild(item.el); });
        if (focused && pane.contains(focused) && document.activeElement !== focused) {
            focused.focus({preventScroll: true});
        }
    }

    var sortSoon = (function () {
        var timer = null;
        return function () {
            if (timer) { return; }
            timer = setTimeout(function () { timer = null; sortPane(); }, 0);
        };
    })();

    function plainGroup(map) {
        // Without leaflet.markercluster (page without its script): same calls, no grouping.
        var g = L.featureGroup();
        g.addLayers = function (layers) { layers.forEach(function (l) { g.addLayer(l); }); };
        g.removeLayers = function (layers) { layers.forEach(function (l) { g.removeLayer(l); }); };
        g.zoomToShowLayer = function (layer, callback) {
            if (!map.getBounds().contains(layer.getLatLng())) { map.panTo(layer.getLatLng()); }
            callback();
        };
        return g;
    }

    function ensureState(map) {
        if (state && state.map === map) { return; }
        if (!document.getElementById("carto-initiatives-style")) {
            var css = document.createElement("style");
            css.id = "carto-initiatives-style";
            css.textContent = o.css;
            document.head.appendChild(css);
        }
        if (!isFinite(map.getMaxZoom())) { map.setMaxZoom(o.maxZoom); }
        if (!map.getPane(o.zonePane)) {
            var pane = map.createPane(o.zonePane);
            pane.style.zIndex = o.zonePaneZ;
            pane.style.pointerEvents = "none";
        }
        var mcg = L.markerClusterGroup ? L.markerClusterGroup({
            chunkedLoading: true,
            maxClusterRadius: o.clusterRadius,
            showCoverageOnHover: false,
            spiderfyOnMaxZoom: true,
            zoomToBoundsOnClick: true,
            iconCreateFunction: function (cluster) {
                var count = cluster.getChildCount();
                var size = count < 10 ? 34 : (count < 100 ? 40 : 46);
                return new CartoIcon({
                    className: o.clusterClass,
                    iconSize: [size, size],
                    text: String(count),
                    label: o.text.cluster.replace("{n}", count),
                    layer: cluster
                });
            }
        }) : plainGroup(map);
        state = window.__cartoInitiativesState = {
            map: map, mcg: mcg, zones: L.layerGroup(), key: null, data: null, markers: [],
            byId: {}, visible: new Set(), selected: null, revealed: null, callbacks: [],
            shownZones: []
        };
        map.addLayer(state.zones);
        map.addLayer(mcg);
        map.on("moveend zoomend", sortSoon);
        mcg.on("animationend spiderfied unspiderfied", sortSoon);
        if (mcg._noanimationUnspiderfy) {
            // markercluster (1.5.3) loses a spread group when a zoom ends before the group was
            // folded back (a zoom without animation, or one starting during the 200 ms of the
            // spreading): on "zoomend" it first draws the new level, leaving the spread markers
            // where they are, then folds them away, and that place stays empty. Fold the group
            // back as the zoom changes, before "zoomend".
            map.on("zoom", function () {
                if (mcg._spiderfied) { mcg._noanimationUnspiderfy(); }
            });
        }
        L.DomEvent.on(map.getContainer(), "keydown", onKey);
    }

    function zoneStyle(z) {
        var selected = state.selectedZone === z.index;
        return {
            pane: o.zonePane, interactive: false, color: z.color,
            weight: selected ? 3.5 : 2, opacity: selected ? 1 : 0.8, dashArray: "6 5",
            fill: true, fillColor: z.color, fillOpacity: selected ? 0.16 : 0.05
        };
    }

    function drawZones(markers) {
        var d = state.data, seen = {};
        state.zones.clearLayers();
        state.shownZones = [];
        if (!d.zones || !d.zones.length) { return; }
        markers.forEach(function (m) {
            var z = d.zone[m._cartoIndex];
            if (z >= 0 && !seen[z]) {
                seen[z] = {index: z, color: d.styles[d.style[m._cartoIndex]].fillColor};
                state.shownZones.push(seen[z]);
            }
        });
        state.shownZones.forEach(function (z) {
            z.layer = L.geoJSON(d.zones[z.index].geometry, {
                pane: o.zonePane, interactive: false, style: function () { return zoneStyle(z); }
            });
            state.zones.addLayer(z.layer);
        });
    }

    function setSelected(id) {
        var old = state.byId[state.selected], now = id == null ? null : state.byId[id];
        state.selected = now ? id : null;
        if (old && old !== now) { old.setZIndexOffset(0); decorate(old); }
        if (now) { now.setZIndexOffset(1000); decorate(now); }
        var zone = now && state.data.zone ? state.data.zone[now._cartoIndex] : -1;
        state.selectedZone = zone;
        state.shownZones.forEach(function (z) { z.layer.setStyle(zoneStyle(z)); });
    }

    function setVisible(list) {
        var want = new Set(list), add = [], remove = [];
        state.visible.forEach(function (m) { if (!want.has(m)) { remove.push(m); } });
        list.forEach(function (m) { if (!state.visible.has(m)) { add.push(m); } });
        if (remove.length) { state.mcg.removeLayers(remove); }
        if (add.length) { state.mcg.addLayers(add); }
        state.visible = want;
        window.cartoMarkerCount = list.length;
        sortSoon();
        drawZones(list);
    }

    function setData(d, key) {
        var old = state.byId, byId = {}, markers = new Array(d.id.length), kept = new Set();
        for (var i = 0; i < d.id.length; i++) {
            var id = d.id[i], sig = signature(d, i), m = old[id];
            if (!m || m._cartoSig !== sig || byId[id] || kept.has(m)) {
                m = createMarker(d, i);
                m._cartoSig = sig;
            }
            kept.add(m);
            m._cartoIndex = i;
            markers[i] = m;
            if (!byId[id]) { byId[id] = m; }
        }
        state.data = d;
        state.key = key;
        state.markers = markers;
        state.byId = byId;
    }

    function fit(markers) {
        var map = state.map;
        if (!markers.length) { return; }
        if (markers.length === 1) {
            var zoom = Math.min(o.fitMaxZoom, map.getMaxZoom());
            map.setView(markers[0].getLatLng(), zoom, {animate: false});
            return;
        }
        var bounds = L.latLngBounds(markers.map(function (m) { return m.getLatLng(); }));
        map.fitBounds(bounds, {padding: [28, 28], maxZoom: o.fitMaxZoom, animate: false});
    }

    function reveal(id, focus) {
        var marker = state.byId[id];
        if (!marker || !state.visible.has(marker)) { return; }
        state.mcg.zoomToShowLayer(marker, function () {
            if (focus) { focusMarker(marker); }
        });
    }

    var api = {
        ids: function () { return state && state.data ? state.data.id.slice() : []; },
        show: function (ids, options) {
            var list = ids == null ? state.markers.slice() : [];
            if (ids != null) {
                var seen = new Set();
                ids.forEach(function (id) {
                    var m = state.byId[id];
                    if (m && !seen.has(m)) { seen.add(m); list.push(m); }
                });
            }
            setVisible(list);
            setSelected(state.selected);
            if (!options || options.fit !== false) { fit(list); }
        },
        select: function (id, options) {
            setSelected(id);
            state.revealed = state.selected;
            if (state.selected !== null) { reveal(state.selected, options && options.focus); }
        },
        onSelect: function (callback) { state.callbacks.push(callback); }
    };

    function draw(d, key) {
        if (window.__cartoInitiativesLatest !== token) { return; }  // a newer run took over
        var changed = state.key !== key;
        if (changed) { setData(d, key); }
        setVisible(state.markers);
        setSelected(o.selected);
        if (state.selected !== null && (changed || state.selected !== state.revealed)) {
            state.revealed = state.selected;  // chosen in the table or from a link
            reveal(state.selected, false);
        } else if (o.fit && changed) {
            fit(state.markers);
        }
        if (state.selected === null) { state.revealed = null; }
        window.cartoInitiatives = api;
        document.dispatchEvent(new CustomEvent("carto:initiatives-ready"));
    }

    function start(map) {
        ensureState(map);
        var key = typeof source === "string" ? source : o.key;
        if (state.key === key && state.data) {
            draw(state.data, key);
        } else if (typeof source === "string") {
            fetch(source)
                .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
                .then(function (d) { draw(d, key); })
                .catch(function (e) { console.error(o.unavailable + " : " + source, e); });
        } else {
            draw(source, key);
        }
    }

    if (group._map) {
        start(group._map);
    } else {
        group.once("add", function () { start(group._map); });
    }
})({{ this._parent.get_name() }}, {{ this.source_json }}, {{ this.options_json }});
{% endmacro %}
"""
    )

    def __init__(
        self,
        table: pd.DataFrame | None = None,
        *,
        url: str | None = None,
        selected_id: str | None = None,
        fit: bool = False,
        zone_geometry: ZoneGeometry | None = None,
    ) -> None:
        super().__init__()
        if (table is None) == (url is None):
            raise ValueError("InitiativeMarkers needs exactly one of table and url")
        self._name = "InitiativeMarkers"
        self.url = url
        self.selected_id = selected_id
        self.fit = fit
        self.payload = marker_payload(table, zone_geometry) if table is not None else None
        self.source_json = script_json(url if url is not None else self.payload)
        self.options_json = script_json(
            {
                "selected": selected_id,
                "fit": fit,
                # Identity of the data: a URL names its content; inline data gets its digest.
                "key": None if self.payload is None else payload_name(self.source_json),
                "fitMaxZoom": FIT_MAX_ZOOM,
                "maxZoom": MAX_ZOOM,
                "clusterRadius": CLUSTER_RADIUS_PX,
                "className": MARKER_CLASS,
                "clusterClass": CLUSTER_CLASS,
                "selectedClass": SELECTED_CLASS,
                "zonePane": ZONE_PANE,
                "zonePaneZ": ZONE_PANE_Z,
                "css": LAYER_CSS,
                "text": {
                    "cluster": "Groupe de {n} initiatives, Entrée pour les afficher",
                    "zone": "Zone : ",
                    "unnamed": "Initiative sans nom",
                    "nouveau": "Nouveau",
                },
                "unavailable": "Initiatives indisponibles",
            }
        )

    def __len__(self) -> int:
        return len(self.payload["id"]) if self.payload is not None else 0
