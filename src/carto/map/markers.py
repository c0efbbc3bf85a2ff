"""The initiatives layer as one compact, columnar payload drawn by a few lines of Leaflet.

Why not folium.GeoJson: at 10,000 initiatives a GeoJSON layer with per-feature properties and
HTML tooltips weighs ~5.7 MB and takes ~0.8 s to build and render in Python; this payload is
about 5 times smaller, is built with vectorised pandas, and the browser draws it on a canvas.
Tooltips are built with textContent in the browser, so no initiative text is ever parsed as HTML.

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
from collections.abc import Callable, Hashable
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
# Above this many markers they are drawn on a canvas (one element) instead of SVG paths.
CANVAS_THRESHOLD = 1000
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


def marker_payload(table: pd.DataFrame) -> dict[str, Any]:
    """Columnar data of the rows that have valid coordinates; `style[i]` indexes `styles`."""
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
    return {
        "id": ids.tolist(),
        "lat": np.round(shown_lat, 5).tolist(),
        "lon": np.round(shown_lon, 5).tolist(),
        "style": style.tolist(),
        "name": _text_column(placed, "nom").tolist(),
        "commune": commune_codes.tolist(),
        "communes": [str(c) for c in communes],
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


# End of a layer template: draw the inlined data, or fetch it from a URL first. The template
# defines `draw(data)` and passes `o.unavailable`, the console message on failure.
LOAD_SOURCE_JS = """
    if (typeof source === "string") {
        fetch(source)
            .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
            .then(draw)
            .catch(function (e) { console.error(o.unavailable + " : " + source, e); });
    } else {
        draw(source);
    }
})({{ this._parent.get_name() }}, {{ this.source_json }}, {{ this.options_json }});
{% endmacro %}
"""


class InitiativeMarkers(MacroElement):
    """Adds one circle marker per initiative to its parent layer (a FeatureGroup or the map).

    The data is inlined (`table`) or fetched from a URL (`url`, see write_payload_file). Each
    marker carries `feature.properties.id`, which streamlit-folium returns on click as
    `last_active_drawing`. The selected initiative is drawn last, larger, with a dark outline.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function (group, source, o) {
    function draw(d) {
        var n = d.id.length, selected = -1;
        // markerPane sits above the outline polygons of the tile-free basemap.
        var renderer = n > o.canvasThreshold
            ? L.canvas({padding: 0.5, pane: "markerPane"})
            : L.svg({pane: "markerPane"});
        function add(i, highlighted) {
            var options = Object.assign({}, d.styles[d.style[i]]);
            if (highlighted) {
                options.radius += o.selectedStyle.extraRadius;
                options.weight = o.selectedStyle.weight;
                options.color = o.selectedStyle.color;
            }
            options.renderer = renderer;
            options.pane = "markerPane";
            options.className = o.className;
            options.index = i;
            var marker = L.circleMarker([d.lat[i], d.lon[i]], options);
            marker.feature = {type: "Feature", properties: {id: d.id[i]}, geometry: null};
            group.addLayer(marker);
        }
        for (var i = 0; i < n; i++) {
            if (d.id[i] === o.selected) { selected = i; } else { add(i, false); }
        }
        if (selected >= 0) {
            add(selected, true);
            // Chosen in the table or from a link: bring it into view if it is off screen.
            var map = group._map, here = L.latLng(d.lat[selected], d.lon[selected]);
            if (map && !map.getBounds().contains(here)) { map.panTo(here); }
        }
        group.bindTooltip(function (layer) {
            var i = layer.options.index, box = document.createElement("div");
            var name = document.createElement("strong");
            name.textContent = d.name[i];
            box.appendChild(name);
            var commune = d.communes[d.commune[i]];
            if (commune) {
                box.appendChild(document.createElement("br"));
                box.appendChild(document.createTextNode(commune));
            }
            return box;
        }, {sticky: false, className: "carto-tooltip"});
        window.cartoMarkerCount = n;
    }
"""
        + LOAD_SOURCE_JS
    )

    def __init__(
        self,
        table: pd.DataFrame | None = None,
        *,
        url: str | None = None,
        selected_id: str | None = None,
    ) -> None:
        super().__init__()
        if (table is None) == (url is None):
            raise ValueError("InitiativeMarkers needs exactly one of table and url")
        self._name = "InitiativeMarkers"
        self.url = url
        self.selected_id = selected_id
        self.payload = marker_payload(table) if table is not None else None
        self.source_json = script_json(url if url is not None else self.payload)
        self.options_json = script_json(
            {
                "selected": selected_id,
                "selectedStyle": {
                    "extraRadius": SELECTED_EXTRA_RADIUS,
                    "weight": SELECTED_WEIGHT,
                    "color": SELECTED_COLOR,
                },
                "canvasThreshold": CANVAS_THRESHOLD,
                "className": MARKER_CLASS,
                "unavailable": "Initiatives indisponibles",
            }
        )

    def __len__(self) -> int:
        return len(self.payload["id"]) if self.payload is not None else 0
