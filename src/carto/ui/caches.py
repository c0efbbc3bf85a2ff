"""Everything the pages keep between runs and share between visitors (st.cache_* wrappers).

Each loader is keyed by the Settings it depends on, so that another configuration (a test's
database, another CARTO_STATE_DIR) gets its own object and nothing reads the environment again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from carto.config import Settings
from carto.exports import ExportCache
from carto.filters import FilterSpec, apply_filters, search_index
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.intake import pipeline
from carto.map.markers import MarkerFiles
from carto.publishing.plan import open_store
from carto.publishing.storage import Store, VersionInfo

# Export files built for the public page, shared by every visitor (at 20,000 rows the three
# formats of the whole table take ~40 MB).
EXPORT_CACHE_BYTES = 64 * 1024 * 1024


def settings() -> Settings:
    """This run's settings: read from the environment each run (cheap), checked there."""
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def gazetteer(departement: str) -> Gazetteer:
    return load_gazetteer(departement)


@st.cache_resource(show_spinner="Ouverture de la base…")
def store(cfg: Settings) -> Store:
    """One store per configuration and process; filled from cfg.data_path on first start."""
    return open_store(cfg, gazetteer(cfg.departement))


# Versions are immutable and nothing mutates these objects, so cache_resource (shared, no copy)
# rather than cache_data (a pickled copy per run: ~0.3 s and +40 MB at 50,000 rows).
@st.cache_resource(show_spinner="Chargement des initiatives…", max_entries=2)
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
    """The rows of one view; the search index is built once per data version."""
    return apply_filters(table, spec, index=_search_index(data_key, table))


@st.cache_resource(show_spinner=False)
def _marker_files(directory: str, max_bytes: int) -> MarkerFiles:
    return MarkerFiles(Path(directory), max_bytes=max_bytes)


def marker_files(cfg: Settings) -> MarkerFiles:
    """The one owner of this process's marker data files under cfg.markers_dir."""
    return _marker_files(str(cfg.markers_dir), cfg.markers_max_bytes)


@st.cache_resource(show_spinner=False)
def export_cache() -> ExportCache:
    return ExportCache(max_bytes=EXPORT_CACHE_BYTES)
