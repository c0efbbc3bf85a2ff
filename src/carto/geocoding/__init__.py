"""Geocoding: a commune and a point for each row, offline first, online addresses optionally.

- types: GeocodeResult, the Geocoder protocol, OnlineLocation;
- offline: OfflineGeocoder, names, codes and coordinates against the gazetteer;
- online: OnlineGeocoder, geopy (BAN or Nominatim) behind one rate limiter, built from Settings;
- cache: GeocodeCache, the persistent SQLite cache of online answers;
- chain: ChainGeocoder, offline then online;
- table: geocode_table, the pandas adapter that turns results into Issues.
"""

from __future__ import annotations

from carto.geocoding.cache import GeocodeCache
from carto.geocoding.chain import ChainGeocoder
from carto.geocoding.offline import OfflineGeocoder
from carto.geocoding.online import ONLINE_PROVIDERS, OnlineGeocoder, online_geocoder
from carto.geocoding.table import geocode_table, outside_departement_rows
from carto.geocoding.types import (
    GEOCODE_STATUS_LABELS,
    OUTSIDE_DEPARTEMENT,
    SPELLING_CORRECTED,
    Geocoder,
    GeocodeResult,
    OnlineLocation,
    geocode_summary,
)

__all__ = [
    "GEOCODE_STATUS_LABELS",
    "ONLINE_PROVIDERS",
    "OUTSIDE_DEPARTEMENT",
    "SPELLING_CORRECTED",
    "ChainGeocoder",
    "GeocodeCache",
    "GeocodeResult",
    "Geocoder",
    "OfflineGeocoder",
    "OnlineGeocoder",
    "OnlineLocation",
    "geocode_summary",
    "geocode_table",
    "online_geocoder",
    "outside_departement_rows",
]
