"""Everything the pages keep between runs and share between visitors (st.cache_* wrappers).

Each loader is keyed by the Settings it depends on, so that another configuration (a test's
database, another CARTO_STATE_DIR) gets its own object and nothing reads the environment again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

import pandas as pd
import streamlit as st

from carto.config import Settings
from carto.exports import ExportCache
from carto.filters import FilterSpec, apply_filters, facets, search_index
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.intake import pipeline
from carto.map.markers import MarkerFiles
from carto.publishing.plan import open_store
from carto.publishing.storage import Store, VersionInfo

# Export files built for the public page, shared by every visitor (at 20,000 rows the three
# formats of the whole table take ~40 MB).
EXPORT_CACHE_BYTES = 64 * 1024 * 1024
# Views whose facet counts and table are kept (a few KB each at seed size, at most ~1 MB for
# a 1,000-row table).
VIEW_CACHE_ENTRIES = 64

V = TypeVar("V")


class Lru(Generic[V]):
    """A bounded mapping shared by the sessions of the process; the least recently used entry
    is dropped first. Cheaper per call than st.cache_resource, which hashes its arguments.

    Two sessions missing the same key at once may both build it (the first value is kept);
    values must not be mutated by their readers.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()  # outside the lock: other sessions go on meanwhile
        with self._lock:
            value = self._items.setdefault(key, value)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def settings() -> Settings:
    """This run's settings: read from the environment each run (cheap), checked there."""
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def gazetteer(departement: str) -> Gazetteer:
    return load_gazetteer(departement)


# Settings is a frozen dataclass: Python's hash is enough within a process, and ~1,000 times
# cheaper per run than Streamlit's default hashing of its fields (0.5 ms).
_SETTINGS_HASH: dict[str | type[Any], Callable[[Any], Any]] = {Settings: hash}


@st.cache_resource(show_spinner="Ouverture de la base…", hash_funcs=_SETTINGS_HASH)
def store(cfg: Settings) -> Store:
    """One store per configuration and process; filled from cfg.data_path on first start."""
    return open_store(cfg, gazetteer(cfg.departement))


# Versions are immutable and nothing mutates these objects, so cache_resource (shared, no copy)
# rather than cache_data (a pickled copy per run: ~0.3 s and +40 MB at 50,000 rows).
@st.cache_resource(
    show_spinner="Chargement des initiatives…", max_entries=2, hash_funcs=_SETTINGS_HASH
)
def _version_table(cfg: Settings, number: int) -> pd.DataFrame:
    return store(cfg).load(number)


def published_data(cfg: Settings) -> tuple[pd.DataFrame, str, VersionInfo | None]:
    """The current version's table and a cache key that changes with every publish."""
    current = store(cfg).current()
    if current is None:
        return pipeline.empty_table(), f"{cfg.database_url}:empty", None
    table = _version_table(cfg, current.number)
    return table, f"{cfg.database_url}:v{current.number}:{current.checksum[:12]}", current


@st.cache_resource(show_spinner=False, max_entries=4)
def _search_index(data_key: str, _table: pd.DataFrame) -> pd.Series:
    return search_index(_table)


def table_search_index(table: pd.DataFrame, *, data_key: str) -> pd.Series:
    """The search index of one data version (filters.search_index), built once."""
    return _search_index(data_key, table)


def filtered(table: pd.DataFrame, spec: FilterSpec, *, data_key: str) -> pd.DataFrame:
    """The rows of one view, computed once per data version and view (read only); the search
    index is built once per data version."""
    return _rows.get(
        (data_key, *spec.view_key),
        lambda: apply_filters(table, spec, index=_search_index(data_key, table)),
    )


_facets: Lru[dict[str, dict[str, int]]] = Lru(VIEW_CACHE_ENTRIES)
# Filtered rows: fewer, as a view of a 50,000-row table weighs megabytes (the unfiltered view
# is the table itself and costs nothing).
_rows: Lru[pd.DataFrame] = Lru(16)
_present: Lru[object] = Lru(4)
_views: Lru[object] = Lru(VIEW_CACHE_ENTRIES)


def facet_counts(
    table: pd.DataFrame,
    spec: FilterSpec,
    columns: Iterable[str],
    *,
    data_key: str,
    index: pd.Series | None = None,
) -> dict[str, dict[str, int]]:
    """filters.facets of one view, computed once per data version and view (FilterSpec.view_key:
    equivalent filters count the same rows). Read only."""
    wanted = tuple(columns)
    return _facets.get(
        (data_key, spec.view_key, wanted), lambda: facets(table, spec, wanted, index=index)
    )


def per_version(data_key: str, name: str, build: Callable[[], V]) -> V:
    """`build()` once per data version (the few latest versions are kept). Read only."""
    return _present.get((data_key, name), build)  # type: ignore[return-value]


def per_view(view: Hashable, name: str, build: Callable[[], V]) -> V:
    """`build()` once per view (data version and filters), bounded. Read only."""
    return _views.get((view, name), build)  # type: ignore[return-value]


@st.cache_resource(show_spinner=False)
def _marker_files(directory: str, max_bytes: int) -> MarkerFiles:
    return MarkerFiles(Path(directory), max_bytes=max_bytes)


def marker_files(cfg: Settings) -> MarkerFiles:
    """The one owner of this process's marker data files under cfg.markers_dir."""
    return _marker_files(str(cfg.markers_dir), cfg.markers_max_bytes)


@st.cache_resource(show_spinner=False)
def export_cache() -> ExportCache:
    return ExportCache(max_bytes=EXPORT_CACHE_BYTES)
