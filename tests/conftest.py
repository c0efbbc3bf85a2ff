"""Shared pytest fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from office import REQUIRE_ENV, Office, missing_reason, soffice_path
from office import required as office_required
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from carto.errors import StorageError
from carto.publishing.storage import Store

# --- storage / PostgreSQL fixtures -------------------------------------------------------------
# `store` runs each test on a fresh SQLite file and on a fresh PostgreSQL schema. PostgreSQL comes
# from CARTO_TEST_POSTGRES_URL (see scripts/start-postgres.sh); without it the PostgreSQL cases are
# skipped, except in CI (CI set), where an absent or unreachable server fails them.

POSTGRES_ENV = "CARTO_TEST_POSTGRES_URL"


@dataclass(frozen=True)
class StoreTarget:
    """Where a test's store lives; open more `Store`s on it to play other app instances."""

    backend: str
    url: str
    schema: str | None = None

    def open(self) -> Store:
        return Store.open(self.url, schema=self.schema)


def _postgres_unavailable(reason: str) -> None:
    message = f"PostgreSQL non testé : {reason} (lancez scripts/start-postgres.sh)"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(message + " — obligatoire en CI", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """CARTO_TEST_POSTGRES_URL once checked reachable (skip or, in CI, fail otherwise)."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        _postgres_unavailable(f"{POSTGRES_ENV} n'est pas défini")
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        _postgres_unavailable(f"{shown} injoignable ({str(exc).strip().splitlines()[0]})")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreTarget]:
    """A clean, empty store location: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield StoreTarget("sqlite", f"sqlite:///{tmp_path / 'carto.sqlite'}")
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"carto_test_{uuid.uuid4().hex[:12]}"
    yield StoreTarget("postgresql", url, schema)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


@pytest.fixture
def store(store_target: StoreTarget) -> Iterator[Store]:
    """An empty store on each backend."""
    try:
        opened = store_target.open()
    except StorageError as exc:
        if store_target.backend == "postgresql":
            _postgres_unavailable(str(exc))
        raise
    yield opened
    opened.close()


# --- end of storage / PostgreSQL fixtures ------------------------------------------------------


# --- pages (AppTest) ---------------------------------------------------------------------------
# Helpers to open and drive the pages are in tests/apptest.py.


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A page run's own world: a private SQLite store (filled from data/initiatives.csv on
    first open) and state directory, offline basemap; returns the database URL."""
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    monkeypatch.setenv("CARTO_DATABASE_URL", url)
    monkeypatch.setenv("CARTO_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CARTO_TILES", "none")
    for name in ("DATA", "DEPARTEMENT", "ONLINE_GEOCODER", "MARKERS_MAX_MB"):
        monkeypatch.delenv(f"CARTO_{name}", raising=False)
    return url


# --- files saved by an office suite (tests/office.py) ------------------------------------------


@pytest.fixture(scope="session")
def office(tmp_path_factory: pytest.TempPathFactory) -> Office:
    """LibreOffice with this session's own profile; skipped when absent unless
    CARTO_REQUIRE_OFFICE=1 (then the test fails)."""
    soffice = soffice_path()
    if soffice is None:
        if office_required():
            pytest.fail(f"{missing_reason()}, alors que {REQUIRE_ENV}=1")
        pytest.skip(missing_reason())
    return Office(soffice, tmp_path_factory.mktemp("libreoffice-profile"))
