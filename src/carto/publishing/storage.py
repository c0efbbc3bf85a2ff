"""Versioned storage of the initiatives table (SQLAlchemy 2 Core; SQLite or PostgreSQL).

History is append-only and immutable. Every import, publish, merge or rollback inserts a NEW
version (number = highest + 1) holding a full copy of its rows; no row is ever updated or deleted.
The current version is simply the highest number, so there is no pointer to keep in step, and a
rollback to N is a new version whose rows are copied from N (mode "rollback", rolled_back_from=N).

Writes run in ONE transaction that first takes the store's write lock (SQLite: BEGIN IMMEDIATE;
PostgreSQL: LOCK TABLE versions IN SHARE ROW EXCLUSIVE MODE, which readers never wait for), then
compare the editor's base version with the current one. The primary key on versions.number is a
second guard: a number taken meanwhile is reported as a conflict too.

Stored values are the ones the review compares (text: `carto.text.cell_text`, "" when missing,
kept as NULL; number columns: `publishing.diffing.stored_float`, rounded to 6 decimals), so
"unchanged in review" means "same checksum". `load` gives text columns "" for missing values and
number columns NaN; columns other than fields.TABLE_COLUMNS are not stored.

A SQLite file this process cannot write (file, folder or file system read-only) is opened
read-only: reading works, writing raises a StorageError saying so. SQLite needs a writable folder
to read a WAL database unless its -wal/-shm files exist; when they do not (nobody has the base
open), each connection is opened "immutable" and none is kept, so that a writer starting later is
seen by the next read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, RowMapping, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateSchema

from carto.errors import ConflictError, NothingToPublish, StorageError
from carto.fields import NUMBER_COLUMNS, TABLE_COLUMNS
from carto.identity import derived_id, fill_ids, new_id
from carto.models import Issue
from carto.publishing.diffing import inherit_ids, stored_float
from carto.publishing.modes import PUBLISH_MODES, PublishMode
from carto.text import cell_text

# How long a writer waits for another one before giving up (SQLite busy timeout).
BUSY_TIMEOUT_S = 30
# Editors are in France: times in messages are local times there.
LOCAL_TZ = ZoneInfo("Europe/Paris")
# Arbitrary constant key of the PostgreSQL advisory lock that serialises table creation.
_DDL_LOCK_KEY = 620_406_2020
# Connection execution option asking for the write lock (read by the SQLite "begin" hook).
_WRITE_OPTION = "carto_write"
# What the pages and the CLI say when a publication would change nothing.
NOTHING_TO_PUBLISH = "Aucun changement : rien n'a été publié."

metadata = MetaData()

versions_table = Table(
    "versions",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("author", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("base_version", Integer, nullable=True),
    Column("mode", String(16), nullable=False),
    Column("rolled_back_from", Integer, nullable=True),
    CheckConstraint("number >= 1", name="versions_number_positive"),
    CheckConstraint(
        f"mode IN ({', '.join(repr(str(mode)) for mode in PublishMode)})",
        name="versions_mode_known",
    ),
)

initiatives_table = Table(
    "initiatives",
    metadata,
    Column("version", Integer, ForeignKey("versions.number"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    *(
        Column(name, Double if name in NUMBER_COLUMNS else Text, nullable=name != "nom")
        for name in TABLE_COLUMNS
    ),
    # An initiative without a name cannot be shown: the database refuses it, whatever the caller.
    CheckConstraint("nom <> ''", name="initiatives_nom_not_empty"),
)


@dataclass(frozen=True)
class VersionInfo:
    number: int
    created_at: datetime
    author: str
    note: str
    row_count: int
    checksum: str
    mode: PublishMode
    base_version: int | None
    rolled_back_from: int | None = None
    # What happened after this version was committed (French), e.g. the public site's rebuild;
    # only set on the VersionInfo that publish and rollback return (see Store.on_change).
    notices: tuple[str, ...] = field(default=(), compare=False)


Row = dict[str, str | float | None]


def _canonical_rows(table: pd.DataFrame) -> list[Row]:
    """Rows as stored: canonical text ("" when missing) and floats (None when missing)."""
    present = [c for c in TABLE_COLUMNS if c in table.columns]
    rows: list[Row] = []
    for position, record in enumerate(table[present].to_dict(orient="records")):
        row: Row = dict.fromkeys(TABLE_COLUMNS, "")
        for column in TABLE_COLUMNS:
            value = record.get(column)
            if column not in NUMBER_COLUMNS:
                row[column] = cell_text(value)
                continue
            try:
                row[column] = stored_float(value)
            except (TypeError, ValueError):
                issue = Issue(
                    "error",
                    "nombre attendu ; rien n'a été enregistré",
                    row=position + 2,
                    column=column,
                    value=cell_text(value),
                )
                raise StorageError(str(issue)) from None
        rows.append(row)
    return rows


def _check_unique_ids(rows: Sequence[Row]) -> None:
    """Refuse two rows with the same id: a link and a click must open one initiative."""
    first: dict[str, int] = {}
    for position, row in enumerate(rows):
        rid = str(row["id"] or "")
        if not rid:
            continue
        if rid in first:
            issue = Issue(
                "error",
                f"l'identifiant « {rid} » est déjà celui de la ligne {first[rid] + 2} ; "
                "rien n'a été enregistré",
                row=position + 2,
                column="id",
                value=rid,
            )
            raise StorageError(str(issue))
        first[rid] = position


def _checksum_rows(rows: Sequence[Row]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(list(TABLE_COLUMNS)).encode())
    for row in rows:
        # json.dumps writes floats with repr(): the shortest text that reads back bit-exact.
        line = json.dumps([row[c] for c in TABLE_COLUMNS], ensure_ascii=False)
        digest.update(b"\n" + line.encode("utf-8"))
    return digest.hexdigest()


def checksum(table: pd.DataFrame) -> str:
    """SHA-256 of the canonical content: column order fixed, NaN = "" = missing, floats rounded
    to 6 decimals as the review compares them, then written by repr."""
    return _checksum_rows(_canonical_rows(table))


def _empty_to_null(row: Row) -> Row:
    return {k: (None if v == "" else v) for k, v in row.items()}


LOAD_BATCH = 5_000


def _frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for index, name in enumerate(TABLE_COLUMNS):
        values = [r[index] for r in rows]
        if name in NUMBER_COLUMNS:
            columns[name] = pd.Series(
                [float("nan") if v is None else v for v in values], dtype="float64"
            )
        else:
            columns[name] = pd.Series(["" if v is None else v for v in values], dtype="str")
    return pd.DataFrame(columns, columns=list(TABLE_COLUMNS))


def _utc(value: datetime) -> datetime:
    # SQLite gives back naive datetimes: they were written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _version_info(row: RowMapping) -> VersionInfo:
    return VersionInfo(
        number=row["number"],
        created_at=_utc(row["created_at"]),
        author=row["author"],
        note=row["note"],
        row_count=row["row_count"],
        checksum=row["checksum"],
        mode=PublishMode(row["mode"]),
        base_version=row["base_version"],
        rolled_back_from=row["rolled_back_from"],
    )


def _when(moment: datetime) -> str:
    local = moment.astimezone(LOCAL_TZ)
    if local.date() == datetime.now(LOCAL_TZ).date():
        return f"à {local:%H:%M}"
    return f"le {local:%d/%m/%Y} à {local:%H:%M}"


def _conflict_message(current: VersionInfo | None, base_version: int | None) -> str:
    base = "aucune version" if base_version is None else f"version {base_version}"
    if current is None or (base_version is not None and base_version > current.number):
        online = "aucune" if current is None else f"la version {current.number}"
        return (
            f"Votre import part de la {base}, mais la version en ligne est {online}. "
            "Rechargez et vérifiez avant de publier."
        )
    return (
        f"La version {current.number} a été publiée par {current.author} "
        f"{_when(current.created_at)} depuis votre import (base : {base}). "
        "Rechargez et vérifiez avant de publier."
    )


class _NumberTaken(Exception):
    """Another writer inserted the version number this one computed (guard behind the lock)."""


class _ReadOnly(Exception):
    """A write was asked of a store opened read-only; the argument says why (French)."""


class Store:
    """The versioned initiatives store. Open with `Store.open(url)`; close with `close()`."""

    def __init__(
        self,
        engine: Engine,
        *,
        schema: str | None = None,
        read_only: str | None = None,
        id_prefix: str = "",
    ) -> None:
        self._engine = engine
        # Before new ids (« 62-k4q7m2 »): the département code (carto.identity).
        self._id_prefix = id_prefix
        # Ids computed in memory for rows stored without one, by version: a read-only store
        # that `carto` has not migrated yet (see _give_ids).
        self._memory_ids: dict[int, list[str]] = {}
        self._schema = schema
        self._backend = engine.dialect.name
        # Why this process cannot write the store (French), or None when it can.
        self._read_only = read_only
        self._listeners: list[Callable[[Store, VersionInfo], str | None]] = []
        # Columns the initiatives table lacks: a base created before a derived column was
        # added (zone_*), opened read-only so that it could not be upgraded. They load as "".
        self._missing_columns: frozenset[str] = frozenset()

    @classmethod
    def open(cls, url: str, *, schema: str | None = None, id_prefix: str = "") -> Store:
        """Connect, create the tables if missing, and give an id to rows stored without one.

        `url`: `sqlite:///path/to/file.sqlite` or `postgresql+psycopg://user:pw@host/db`.
        `schema` (PostgreSQL only): keep the tables in that schema, created if missing.
        `id_prefix`: what new ids start with, the département code (« 62-k4q7m2 »).
        """
        engine, read_only = _make_engine(url, schema=schema)
        store = cls(engine, schema=schema, read_only=read_only, id_prefix=id_prefix)
        try:
            store._create_tables()
            store._give_ids()
        except BaseException:
            engine.dispose()
            raise
        return store

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._backend

    @property
    def read_only(self) -> bool:
        """True when this process cannot write the store (it can still read and export)."""
        return self._read_only is not None

    @property
    def url(self) -> str:
        """The database URL without its password, for messages."""
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------

    def current(self) -> VersionInfo | None:
        """The version the map shows (the highest number), or None while the store is empty."""
        with self._errors("Lecture de la version en ligne"), self._engine.connect() as conn:
            return self._current(conn)

    def version(self, number: int) -> VersionInfo | None:
        """Version `number`, or None when there is no such version."""
        with self._errors("Lecture de l'historique"), self._engine.connect() as conn:
            return self._version(conn, number)

    def versions(self) -> list[VersionInfo]:
        """Every version, newest first."""
        with self._errors("Lecture de l'historique"), self._engine.connect() as conn:
            return self._versions(conn)

    def load(self, version: int | None = None) -> pd.DataFrame:
        """Rows of `version` (the current one when None) in stored order; empty when no version."""
        with self._errors("Lecture des initiatives"), self._engine.connect() as conn:
            if version is None:
                current = self._current(conn)
                if current is None:
                    return _frame([])
                number = current.number
            else:
                if self._version(conn, version) is None:
                    raise StorageError(self._missing_version_message(conn, version))
                number = version
            table = self._load(conn, number)
        if number in self._memory_ids:
            table["id"] = self._memory_ids[number]
        return table

    def _load(self, conn: Connection, number: int) -> pd.DataFrame:
        query = (
            select(*self._stored_columns())
            .where(initiatives_table.c.version == number)
            .order_by(initiatives_table.c.position)
        )
        # Streamed in partitions: at 50,000 rows, materialising every row as a Python tuple
        # first would cost several times the size of the finished frame.
        # (An option of this statement only: set on `conn`, it would stay for the next ones.)
        result = conn.execute(query, execution_options={"yield_per": LOAD_BATCH})
        chunks = [_frame(self._full_rows(part)) for part in result.partitions()]
        if not chunks:
            return _frame([])
        return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]

    @property
    def ids_notice(self) -> str | None:
        """French, for operators: this read-only store has rows stored without id, which are
        given ids in memory (by the migration's rule) until `carto` can migrate it."""
        if not self._memory_ids:
            return None
        return (
            "Des initiatives de cette base n'ont pas d'identifiant enregistré : ils sont calculés "
            "en mémoire, de la même façon à chaque lecture. Pour les enregistrer, lancez une fois "
            "`carto versions` avec un compte qui peut écrire dans la base."
        )

    # --- writing -------------------------------------------------------------------------

    def publish(
        self,
        table: pd.DataFrame,
        *,
        author: str,
        note: str = "",
        base_version: int | None,
        mode: PublishMode | str = PublishMode.REPLACE,
    ) -> VersionInfo:
        """Store `table` as the new current version, in one transaction.

        `base_version` is the version the editor reviewed against (None when the store was
        empty); if another version was published since, raise ConflictError and write nothing.
        `mode` is one of PUBLISH_MODES, recorded; for a merge, pass the result of
        `carto.publishing.diffing.merge_tables`.
        """
        if mode not in PUBLISH_MODES:
            raise ValueError(f"mode de publication inconnu « {mode} » : {', '.join(PUBLISH_MODES)}")
        mode = PublishMode(mode)
        rows = _canonical_rows(table)
        try:
            with self._errors("Publication"), self._writing() as conn:
                current = self._current(conn)
                if (None if current is None else current.number) != base_version:
                    raise ConflictError(_conflict_message(current, base_version))
                info = self._insert_version(
                    conn,
                    rows,
                    author=author,
                    note=note,
                    mode=mode,
                    base_version=base_version,
                )
        except _NumberTaken:
            raise ConflictError(_conflict_message(self.current(), base_version)) from None
        return self._announce(info)

    def rollback(self, number: int, *, author: str, note: str = "") -> VersionInfo:
        """Publish a NEW version whose rows are a copy of version `number`'s."""
        columns = self._stored_columns()
        try:
            with self._errors("Retour arrière"), self._writing() as conn:
                source = self._version(conn, number)
                if source is None:
                    raise StorageError(self._missing_version_message(conn, number))
                # `source` exists, so the store is not empty and there is a current version.
                current = self._current(conn) or source
                if current.number == number:
                    raise StorageError(
                        f"La version {number} est déjà la version en ligne : rien n'a été fait."
                    )
                # Compared as stored (a recorded checksum may predate added columns).
                if checksum(self._load(conn, number)) == checksum(self._load(conn, current.number)):
                    raise NothingToPublish(
                        f"La version {number} a le même contenu que la version en ligne "
                        f"({current.number}). {NOTHING_TO_PUBLISH}"
                    )
                new = current.number + 1
                info = self._insert_version_row(
                    conn,
                    number=new,
                    row_count=source.row_count,
                    digest=source.checksum,
                    author=author,
                    note=note or f"Retour à la version {number}",
                    mode=PublishMode.ROLLBACK,
                    base_version=current.number,
                    rolled_back_from=number,
                )
                copy = select(literal(new, Integer), initiatives_table.c.position, *columns).where(
                    initiatives_table.c.version == number
                )
                conn.execute(
                    initiatives_table.insert().from_select(
                        ["version", "position", *(c.name for c in columns)], copy
                    )
                )
        except _NumberTaken:
            raise ConflictError(
                f"Une autre version a été publiée pendant le retour à la version {number} : "
                "rechargez l'historique et recommencez."
            ) from None
        return self._announce(info)

    def on_change(self, listener: Callable[[Store, VersionInfo], str | None]) -> None:
        """Call `listener(store, info)` after each committed publish or rollback.

        The French message it returns, if any, is added to the returned VersionInfo's
        `notices`. The version is published whatever the listener does: an exception it
        raises is logged and reported as a notice, never passed on.
        """
        self._listeners.append(listener)

    def _announce(self, info: VersionInfo) -> VersionInfo:
        notices = []
        for listener in self._listeners:
            try:
                message = listener(self, info)
            except Exception as exc:  # the version is committed: report, never undo
                logging.getLogger(__name__).exception("after version %s", info.number)
                message = f"Version {info.number} publiée, mais une suite a échoué : {exc}"
            if message:
                notices.append(message)
        return replace(info, notices=tuple(notices)) if notices else info

    def bootstrap_from(
        self,
        table: pd.DataFrame,
        *,
        author: str = "import initial",
        note: str = "Import initial du fichier de données",
    ) -> VersionInfo | None:
        """Publish `table` as version 1 if the store is empty; else do nothing and return None.

        Safe when several app instances start at once: only one of them creates version 1.
        """
        rows = _canonical_rows(table)
        try:
            with self._errors("Import initial"), self._writing() as conn:
                if self._current(conn) is not None:
                    return None
                return self._insert_version(
                    conn,
                    rows,
                    author=author,
                    note=note,
                    mode=PublishMode.INITIAL,
                    base_version=None,
                )
        except _NumberTaken:
            return None

    # --- internals -----------------------------------------------------------------------

    def _all_ids(self, conn: Connection) -> set[str]:
        """Every id the store holds or has held: a new id must be none of them."""
        column = initiatives_table.c.id
        query = select(column).where(column.is_not(None), column != "").distinct()
        return {str(rid) for rid in conn.execute(query).scalars()}

    def _lacks_ids(self, conn: Connection) -> bool:
        column = initiatives_table.c.id
        query = select(literal(1)).where(column.is_(None) | (column == "")).limit(1)
        return conn.execute(query).first() is not None

    def _history_ids(self, conn: Connection) -> dict[int, list[str]]:
        """The ids of every version holding rows without one, oldest version first.

        A row takes the id of its match in the version it was made from (the previous one, or
        the one a rollback copies), matched as a merge matches rows; an unmatched row gets an id
        derived from its place in the history, so that the same store always gets the same ids.
        """
        versions = list(reversed(self._versions(conn)))
        sources = {v.rolled_back_from for v in versions if v.rolled_back_from is not None}
        taken = self._all_ids(conn)
        kept: dict[int, pd.DataFrame] = {}
        changed: dict[int, list[str]] = {}
        previous: pd.DataFrame | None = None
        for info in versions:
            table = self._load(conn, info.number)
            reference: pd.DataFrame | None
            if info.rolled_back_from is not None and info.rolled_back_from in kept:
                reference = kept[info.rolled_back_from]
            else:
                reference = previous
            ids = [str(rid) for rid in table["id"]]
            if not all(ids):
                if reference is not None:
                    table, _ = inherit_ids(reference, table, strict=False)
                ids, _ = fill_ids(
                    [str(rid) for rid in table["id"]], taken, self._derived_ids(info.number)
                )
                table["id"] = ids
                changed[info.number] = ids
            if info.number in sources:
                kept[info.number] = table
            previous = table
        return changed

    def _derived_ids(self, number: int) -> Callable[[int, set[str]], str]:
        """How the migration names the row at `position` of version `number`."""

        def make(position: int, taken: set[str]) -> str:
            return derived_id(self._id_prefix, f"{number}:{position}", taken)

        return make

    def _versions(self, conn: Connection) -> list[VersionInfo]:
        query = select(versions_table).order_by(versions_table.c.number.desc())
        return [_version_info(r) for r in conn.execute(query).mappings()]

    def _give_ids(self) -> None:
        """Give an id to every row stored without one, once, in one transaction under the
        write lock (several instances starting together migrate once). A store this process
        cannot write gets the same ids in memory (see ids_notice)."""
        with self._errors("Attribution des identifiants"):
            with self._engine.connect() as conn:
                if not self._lacks_ids(conn):
                    return
                if self._read_only is not None:
                    self._memory_ids = self._history_ids(conn)
                    logging.getLogger(__name__).warning("%s", self.ids_notice)
                    return
            with self._writing() as conn:
                if not self._lacks_ids(conn):
                    return  # another instance migrated it meanwhile
                for number, ids in self._history_ids(conn).items():
                    conn.execute(
                        initiatives_table.update()
                        .where(
                            initiatives_table.c.version == bindparam("v"),
                            initiatives_table.c.position == bindparam("p"),
                        )
                        .values(id=bindparam("new_id")),
                        [{"v": number, "p": p, "new_id": rid} for p, rid in enumerate(ids)],
                    )
                    table = self._load(conn, number)
                    conn.execute(
                        versions_table.update()
                        .where(versions_table.c.number == number)
                        .values(checksum=checksum(table))
                    )

    def _stored_columns(self) -> list[Column[Any]]:
        return [initiatives_table.c[n] for n in TABLE_COLUMNS if n not in self._missing_columns]

    def _full_rows(self, rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
        """Rows with None where the base lacks a column, in TABLE_COLUMNS order."""
        if not self._missing_columns:
            return rows
        stored = [n for n in TABLE_COLUMNS if n not in self._missing_columns]
        full = []
        for row in rows:
            values = dict(zip(stored, row, strict=True))
            full.append([values.get(n) for n in TABLE_COLUMNS])
        return full

    def _create_tables(self) -> None:
        action = "Ouverture de la base de données"
        with self._errors(action), self._engine.connect() as conn:
            # Nothing to write when the tables exist: a read-only store opens too.
            inspector = inspect(conn)
            if all(
                inspector.has_table(t.name, schema=self._schema)
                for t in (versions_table, initiatives_table)
            ):
                present = {
                    c["name"]
                    for c in inspector.get_columns(initiatives_table.name, schema=self._schema)
                }
                missing = frozenset(TABLE_COLUMNS) - present
                if missing:
                    self._add_columns(missing)
                return
        if self._read_only is not None:
            raise StorageError(
                f"{action} : la base de données {self._where()} est en lecture seule "
                f"({self._read_only}) et ne contient pas encore les tables de Carto solidaire. "
                "Ouvrez-la une première fois avec un compte qui peut y écrire, ou changez "
                "CARTO_DATABASE_URL."
            )
        with self._errors(action), self._writing(lock=False) as conn:
            if self._backend == "postgresql":
                # Concurrent CREATE TABLE IF NOT EXISTS can still collide on PostgreSQL.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK_KEY})
                if self._schema:
                    conn.execute(CreateSchema(self._schema, if_not_exists=True))
            metadata.create_all(conn)

    def _add_columns(self, missing: frozenset[str]) -> None:
        """Upgrade a base made before derived columns were added: old versions get NULL there,
        which loads as "" (a version published before the zones shows its rows as points)."""
        if self._read_only is not None:
            self._missing_columns = missing
            return
        preparer = self._engine.dialect.identifier_preparer
        name = preparer.quote(initiatives_table.name)
        if self._schema:
            name = f"{preparer.quote_schema(self._schema)}.{name}"
        with self._errors("Mise à jour de la base de données"), self._writing() as conn:
            present = {
                c["name"]
                for c in inspect(conn).get_columns(initiatives_table.name, schema=self._schema)
            }
            for column in TABLE_COLUMNS:
                if column in missing and column not in present:
                    kind = "DOUBLE PRECISION" if column in NUMBER_COLUMNS else "TEXT"
                    conn.execute(
                        text(f"ALTER TABLE {name} ADD COLUMN {preparer.quote(column)} {kind}")
                    )

    @contextmanager
    def _writing(self, *, lock: bool = True) -> Iterator[Connection]:
        """A transaction holding the store's write lock (readers are never blocked)."""
        if self._read_only is not None:
            raise _ReadOnly(self._read_only)
        with self._engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                if lock and self._backend == "postgresql":
                    preparer = conn.dialect.identifier_preparer
                    name = preparer.quote(versions_table.name)
                    if self._schema:
                        name = f"{preparer.quote_schema(self._schema)}.{name}"
                    conn.execute(text(f"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE"))
                yield conn

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn database errors into a French StorageError (no stack trace for users)."""
        try:
            yield
        except _ReadOnly as exc:
            raise StorageError(self._read_only_message(action, str(exc))) from None
        except IntegrityError as exc:
            raise StorageError(
                f"{action} : la base de données a refusé une valeur ({_reason(exc)}). "
                "Rien n'a été modifié : la version en ligne est inchangée."
            ) from exc
        except DBAPIError as exc:
            # Retrying cannot help a store that refuses writes or cannot be opened: say why.
            refusal = _refusal(exc)
            if refusal == "read-only":
                raise StorageError(self._read_only_message(action, _reason(exc))) from exc
            if refusal == "cannot-open":
                raise StorageError(
                    f"{action} : impossible d'ouvrir la base de données {self._where()} "
                    f"({_reason(exc)}). Vérifiez que le fichier existe ou peut être créé, et que "
                    f"l'utilisateur{_user_label()} peut le lire et écrire dans son dossier ; "
                    "sinon changez CARTO_DATABASE_URL. Rien n'a été modifié."
                ) from exc
            if not isinstance(exc, OperationalError | InterfaceError):
                raise StorageError(
                    f"{action} : erreur de la base de données ({_reason(exc)}). "
                    "Rien n'a été modifié."
                ) from exc
            raise StorageError(
                f"{action} : base de données injoignable ou occupée ({self.url} : "
                f"{_reason(exc)}). Rien n'a été modifié ; réessayez, et si cela persiste "
                "vérifiez CARTO_DATABASE_URL."
            ) from exc
        except SQLAlchemyError as exc:
            raise StorageError(
                f"{action} : erreur de la base de données ({_reason(exc)}). Rien n'a été modifié."
            ) from exc

    def _where(self) -> str:
        """The store as an operator finds it: the SQLite file, or the URL without password."""
        if self._backend == "sqlite" and self._engine.url.database:
            return f"« {Path(self._engine.url.database).resolve()} »"
        return f"« {self.url} »"

    def _read_only_message(self, action: str, why: str) -> str:
        if self._backend == "sqlite":
            remedy = (
                f"donnez à l'utilisateur{_user_label()} le droit d'écrire dans ce fichier et "
                "dans son dossier"
            )
        else:
            user = self._engine.url.username
            remedy = (
                "publiez sur le serveur principal (pas un serveur de secours), avec un rôle"
                + (f" (ici « {user} »)" if user else "")
                + " qui a le droit d'écrire dans les tables de Carto solidaire"
            )
        return (
            f"{action} impossible : la base de données {self._where()} est en lecture seule"
            + (f" ({why})" if why else "")
            + f". Rien n'a été modifié : la version en ligne est inchangée. Pour y écrire, {remedy}"
            " ; ou changez CARTO_DATABASE_URL."
        )

    def _current(self, conn: Connection) -> VersionInfo | None:
        query = select(versions_table).order_by(versions_table.c.number.desc()).limit(1)
        row = conn.execute(query).mappings().first()
        return None if row is None else _version_info(row)

    def _version(self, conn: Connection, number: int) -> VersionInfo | None:
        query = select(versions_table).where(versions_table.c.number == number)
        row = conn.execute(query).mappings().first()
        return None if row is None else _version_info(row)

    def _missing_version_message(self, conn: Connection, number: int) -> str:
        highest = conn.execute(select(func.max(versions_table.c.number))).scalar()
        if highest is None:
            return f"La version {number} n'existe pas : aucune version n'est encore publiée."
        return f"La version {number} n'existe pas (versions 1 à {highest})."

    def _insert_version(
        self,
        conn: Connection,
        rows: Sequence[Row],
        *,
        author: str,
        note: str,
        mode: PublishMode,
        base_version: int | None,
    ) -> VersionInfo:
        """Insert a version of `rows`; rows without id get a new one (carto.identity)."""
        _check_unique_ids(rows)
        if any(not row["id"] for row in rows):
            ids, _ = fill_ids(
                [str(row["id"]) for row in rows],
                self._all_ids(conn),
                lambda _position, taken: new_id(self._id_prefix, taken),
            )
            rows = [{**row, "id": rid} for row, rid in zip(rows, ids, strict=True)]
        digest = _checksum_rows(rows)
        current = self._current(conn)
        number = 1 if current is None else current.number + 1
        info = self._insert_version_row(
            conn,
            number=number,
            row_count=len(rows),
            digest=digest,
            author=author,
            note=note,
            mode=mode,
            base_version=base_version,
            rolled_back_from=None,
        )
        if rows:
            payload = [
                {"version": number, "position": position, **_empty_to_null(row)}
                for position, row in enumerate(rows)
            ]
            try:
                conn.execute(initiatives_table.insert(), payload)
            except IntegrityError as exc:
                raise StorageError(_refused_rows_message(rows, exc)) from exc
        return info

    def _insert_version_row(
        self,
        conn: Connection,
        *,
        number: int,
        row_count: int,
        digest: str,
        author: str,
        note: str,
        mode: PublishMode,
        base_version: int | None,
        rolled_back_from: int | None,
    ) -> VersionInfo:
        info = VersionInfo(
            number=number,
            created_at=datetime.now(UTC),
            author=author.strip() or "anonyme",
            note=note,
            row_count=row_count,
            checksum=digest,
            mode=mode,
            base_version=base_version,
            rolled_back_from=rolled_back_from,
        )
        values = {
            "number": info.number,
            "created_at": info.created_at,
            "author": info.author,
            "note": info.note,
            "row_count": info.row_count,
            "checksum": info.checksum,
            "base_version": info.base_version,
            "mode": info.mode.value,  # the text, whatever a driver makes of enums
            "rolled_back_from": info.rolled_back_from,
        }
        try:
            # A savepoint keeps the PostgreSQL transaction usable if the number is taken.
            with conn.begin_nested():
                conn.execute(versions_table.insert().values(**values))
        except IntegrityError as exc:
            raise _NumberTaken from exc
        return info


def _reason(exc: SQLAlchemyError) -> str:
    """First line of the driver's message, short enough for a user-facing sentence."""
    origin = getattr(exc, "orig", None) or exc
    first = (str(origin).strip().splitlines() or [type(origin).__name__])[0]
    return first if len(first) <= 160 else first[:157] + "…"


def _refused_rows_message(rows: Sequence[Row], exc: IntegrityError) -> str:
    for position, row in enumerate(rows):
        if not row["nom"]:
            issue = Issue(
                "error",
                "le nom est obligatoire ; rien n'a été publié, la version en ligne est inchangée",
                row=position + 2,
                column="nom",
                value="",
            )
            return str(issue)
    return (
        f"Publication refusée par la base de données ({_reason(exc)}). "
        "Rien n'a été publié : la version en ligne est inchangée."
    )


def _refusal(exc: DBAPIError) -> Literal["read-only", "cannot-open"] | None:
    """Errors that retrying cannot fix: the store refuses writes, or SQLite cannot open it."""
    origin = exc.orig
    sqlite_error = str(getattr(origin, "sqlite_errorname", ""))
    # PostgreSQL: read_only_sql_transaction (a standby, default_transaction_read_only), or
    # insufficient_privilege (a role without INSERT).
    if sqlite_error.startswith("SQLITE_READONLY") or getattr(origin, "sqlstate", None) in (
        "25006",
        "42501",
    ):
        return "read-only"
    if sqlite_error.startswith("SQLITE_CANTOPEN"):
        return "cannot-open"
    return None


def _user_label() -> str:
    """The account this process runs as, for messages (« " « carto »" »), or ""."""
    try:
        import pwd

        return f" « {pwd.getpwuid(os.geteuid()).pw_name} »"
    except (ImportError, KeyError, OSError):
        return ""


def _sqlite_unwritable(path: Path) -> str | None:
    """Why this process cannot write an existing SQLite file (French), or None if it can."""
    if not path.exists():
        return None  # to be created; if that fails, the error says why
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "son système de fichiers est monté en lecture seule"
    except (AttributeError, OSError):
        pass  # no statvfs (Windows): the access checks below still apply
    if not os.access(path, os.W_OK):
        return "le fichier n'est pas accessible en écriture"
    if not os.access(path.parent, os.W_OK):
        return f"son dossier « {path.parent} » n'est pas accessible en écriture"
    return None


def _sqlite_read_only_connector(path: Path) -> Any:
    """Open `path` read-only; "immutable" when no -wal file exists (see the module docstring)."""
    target = quote(str(path.resolve()))

    def connect() -> sqlite3.Connection:
        wal = path.with_name(path.name + "-wal")
        options = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        return sqlite3.connect(
            f"file:{target}?{options}", uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
        )

    return connect


def _make_engine(url: str, *, schema: str | None) -> tuple[Engine, str | None]:
    """The engine for `url`, and why this process cannot write there (None when it can)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(
            f"Adresse de base de données illisible « {url} » : utilisez sqlite:///chemin/fichier"
            " ou postgresql+psycopg://utilisateur:motdepasse@hôte/base."
        ) from None
    backend = parsed.get_backend_name()
    read_only: str | None = None
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    elif backend == "sqlite":
        if schema is not None:
            raise StorageError("Le paramètre « schema » n'existe que pour PostgreSQL.")
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise StorageError(
                f"Base SQLite « {url} » : indiquez un fichier (sqlite:///chemin/fichier.sqlite) ;"
                " une base en mémoire serait perdue à l'arrêt."
            )
        path = Path(database)
        read_only = _sqlite_unwritable(path)
        if read_only is None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"Base SQLite « {path} » : impossible de créer son dossier « {path.parent} » "
                    f"({exc.strerror}). Créez-le, ou changez CARTO_DATABASE_URL."
                ) from None
            engine = create_engine(
                parsed, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
            )
        else:
            # No pool: each read decides again between "immutable" and a plain read-only open.
            engine = create_engine(
                parsed, creator=_sqlite_read_only_connector(path), poolclass=NullPool
            )
        _configure_sqlite(engine, wal=read_only is None)
    else:
        raise StorageError(
            f"Base de données « {parsed.drivername} » non prise en charge : utilisez sqlite:/// "
            "ou postgresql+psycopg://."
        )
    if schema is not None:
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine, read_only


def _configure_sqlite(engine: Engine, *, wal: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal:  # switching to WAL writes to the file
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock at once, so two publishers queue up instead of both
        # reading the same current version; readers keep plain (deferred) transactions.
        writing = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")
