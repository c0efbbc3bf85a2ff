"""The persistent cache of online answers: one SQLite file under the state directory."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from carto.geocoding.types import OnlineLocation
from carto.models import GeoPoint


class GeocodeCache:
    """Persistent SQLite cache of online answers (misses included), keyed by provider+query."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS geocode_cache ("
                " provider TEXT NOT NULL, query TEXT NOT NULL,"
                " latitude REAL, longitude REAL, address TEXT, created REAL NOT NULL,"
                " PRIMARY KEY (provider, query))"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A short-lived connection per call: Streamlit runs sessions in several threads.
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    @staticmethod
    def key(query: str) -> str:
        return " ".join(query.split()).casefold()

    def get(self, provider: str, query: str) -> tuple[bool, OnlineLocation | None]:
        """(True, answer) when cached — answer None for a cached miss — else (False, None)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT latitude, longitude, address FROM geocode_cache"
                " WHERE provider = ? AND query = ?",
                (provider, self.key(query)),
            ).fetchone()
        if row is None:
            return False, None
        lat, lon, address = row
        if lat is None or lon is None:
            return True, None
        return True, OnlineLocation(GeoPoint(lat, lon), address or "")

    def put(self, provider: str, query: str, location: OnlineLocation | None) -> None:
        lat = location.point.latitude if location else None
        lon = location.point.longitude if location else None
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO geocode_cache VALUES (?, ?, ?, ?, ?, ?)",
                (
                    provider,
                    self.key(query),
                    lat,
                    lon,
                    location.address if location else None,
                    time.time(),
                ),
            )

    def __len__(self) -> int:
        with self._connect() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM geocode_cache").fetchone()
        return int(count)
