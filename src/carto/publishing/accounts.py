"""Editor accounts kept in the database, next to the published versions (`carto editors …`).

One table, `editor_accounts`, created on first write in the store's database (and schema): a row
per account with its login name, display name, password hash (argon2id, from `carto.auth`) and
the dates of creation and of the last password change. Names are unique whatever their case (the
primary key is the case-folded name). Reading a store that has no such table yet gives no account,
so a read-only store opens; writing to a read-only store gives the store's French message.

The module uses the Store's own engine, transactions and error translation (same package), so
that an account write on SQLite takes the same write lock as a publication and every database
error reaches the user as a French StorageError.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    Table,
    Text,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from carto.auth import Editor, hash_password, login_key
from carto.errors import CartoError, UsageError
from carto.publishing.storage import LOCAL_TZ, Store

USERNAME_MIN, USERNAME_MAX = 2, 64
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
NAME_MAX = 120
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
# Arbitrary key of the PostgreSQL advisory lock that serialises the creation of the table.
_DDL_LOCK_KEY = 620_406_2021
SOURCE = "database"
"""`Editor.source` of the accounts of this table."""

_metadata = MetaData()
accounts_table = Table(
    "editor_accounts",
    _metadata,
    Column("key", Text, primary_key=True),  # case-folded username: unique whatever the case
    Column("username", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Account:
    username: str
    name: str
    password_hash: str
    created_at: datetime
    password_changed_at: datetime

    def editor(self) -> Editor:
        return Editor(
            username=self.username,
            name=self.name,
            password_hash=self.password_hash,
            source=SOURCE,
        )


def account_key(username: str) -> str:
    """How a login name is looked up: trimmed and case-folded (as secrets.toml's accounts)."""
    return login_key(username)


def check_username(username: str) -> str:
    """The login name, trimmed; UsageError in French when it cannot be one."""
    name = username.strip()
    rule = (
        f"de {USERNAME_MIN} à {USERNAME_MAX} caractères : lettres sans accent, chiffres, point, "
        "tiret, tiret bas ou @, en commençant par une lettre ou un chiffre (par ex. "
        "marie.dupont)"
    )
    if not (USERNAME_MIN <= len(name) <= USERNAME_MAX) or not _USERNAME.fullmatch(name):
        shown = "".join(c if c.isprintable() else "?" for c in name)
        shown = shown if len(shown) <= 80 else shown[:77] + "…"
        raise UsageError(f"Identifiant « {shown} » refusé : il faut {rule}.")
    return name


def check_password(password: str) -> str:
    """The password as given; UsageError in French when too short or too long."""
    if not password:
        raise UsageError("Le mot de passe est vide : rien n'a été modifié.")
    if len(password) < PASSWORD_MIN:
        raise UsageError(
            f"Mot de passe trop court ({len(password)} caractères) : il en faut au moins "
            f"{PASSWORD_MIN}. Rien n'a été modifié."
        )
    if len(password) > PASSWORD_MAX:
        raise UsageError(
            f"Mot de passe trop long (plus de {PASSWORD_MAX} caractères) : rien n'a été modifié."
        )
    return password


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def local_time(moment: datetime) -> str:
    """A date as editors in France read it (« 06/12/2026 21:40 »)."""
    return f"{moment.astimezone(LOCAL_TZ):%d/%m/%Y %H:%M}"


def _account(row: RowMapping) -> Account:
    return Account(
        username=row["username"],
        name=row["name"],
        password_hash=row["password_hash"],
        created_at=_utc(row["created_at"]),
        password_changed_at=_utc(row["password_changed_at"]),
    )


class Accounts:
    """The editor accounts of a store (its database, its schema)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # --- reading -----------------------------------------------------------------------------

    def list(self) -> list[Account]:
        """Every account, by login name (case-insensitive order); [] before the first one."""
        store = self._store
        with store._errors("Lecture des comptes éditeurs"), store._engine.connect() as conn:
            if not self._has_table(conn):
                return []
            rows = conn.execute(select(accounts_table).order_by(accounts_table.c.key))
            return [_account(row) for row in rows.mappings()]

    def get(self, username: str) -> Account | None:
        """The account of this login name, whatever its case; None when there is none."""
        store = self._store
        with store._errors("Lecture des comptes éditeurs"), store._engine.connect() as conn:
            if not self._has_table(conn):
                return None
            return self._get(conn, account_key(username))

    def editors(self) -> dict[str, Editor]:
        """The accounts as `carto.auth` signs them in, keyed by case-folded login name."""
        return {account_key(a.username): a.editor() for a in self.list()}

    # --- writing -----------------------------------------------------------------------------

    def add(self, username: str, password: str, *, name: str = "") -> Account:
        """Create an account; CartoError when the name is taken (whatever its case)."""
        username = check_username(username)
        display = self._display_name(name, username)
        stored = hash_password(check_password(password))
        now = datetime.now(UTC)
        action = "Création du compte éditeur"
        with self._store._errors(action):
            try:
                with self._writing() as conn:
                    taken = self._get(conn, account_key(username))
                    if taken is not None:
                        raise CartoError(_taken(username, taken))
                    conn.execute(
                        accounts_table.insert().values(
                            key=account_key(username),
                            username=username,
                            name=display,
                            password_hash=stored,
                            created_at=now,
                            password_changed_at=now,
                        )
                    )
            except IntegrityError:  # created meanwhile by another process (PostgreSQL)
                raise CartoError(_taken(username, None)) from None
        return Account(username, display, stored, now, now)

    def set_password(self, username: str, password: str) -> Account:
        """Replace the password of an account; CartoError when there is no such account."""
        stored = hash_password(check_password(password))
        now = datetime.now(UTC)
        with self._store._errors("Changement de mot de passe"), self._writing() as conn:
            found = self._get(conn, account_key(username))
            if found is None:
                raise CartoError(unknown_account(username))
            conn.execute(
                accounts_table.update()
                .where(accounts_table.c.key == account_key(username))
                .values(password_hash=stored, password_changed_at=now)
            )
        return Account(found.username, found.name, stored, found.created_at, now)

    def remove(self, username: str) -> tuple[Account, int]:
        """Delete an account; (the account, how many remain). CartoError when there is none."""
        with self._store._errors("Suppression du compte éditeur"), self._writing() as conn:
            found = self._get(conn, account_key(username))
            if found is None:
                raise CartoError(unknown_account(username))
            conn.execute(
                accounts_table.delete().where(accounts_table.c.key == account_key(username))
            )
            remaining = len(conn.execute(select(accounts_table.c.key)).all())
        return found, remaining

    # --- inside ------------------------------------------------------------------------------

    def _has_table(self, conn: Connection) -> bool:
        return inspect(conn).has_table(accounts_table.name, schema=self._store._schema)

    def _get(self, conn: Connection, key: str) -> Account | None:
        if not self._has_table(conn):
            return None
        query = select(accounts_table).where(accounts_table.c.key == key)
        row = conn.execute(query).mappings().first()
        return None if row is None else _account(row)

    def _writing(self) -> _Transaction:
        return _Transaction(self._store)

    @staticmethod
    def _display_name(name: str, username: str) -> str:
        display = " ".join(name.split()) or username
        if len(display) > NAME_MAX or any(not c.isprintable() for c in display):
            raise UsageError(
                f"Nom affiché refusé : au plus {NAME_MAX} caractères imprimables "
                "(par ex. « Marie Dupont »)."
            )
        return display


class _Transaction:
    """A write transaction of the store (SQLite: BEGIN IMMEDIATE), the table created if missing."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._context = store._writing(lock=False)

    def __enter__(self) -> Connection:
        conn = self._context.__enter__()
        if self._store.backend == "postgresql":
            # Two first writers could otherwise both try to create the table.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK_KEY})
        _metadata.create_all(conn, checkfirst=True)
        return conn

    def __exit__(self, *exc: object) -> bool | None:
        return self._context.__exit__(*exc)  # type: ignore[arg-type]


def _taken(username: str, existing: Account | None) -> str:
    same = f" (« {existing.username} »)" if existing and existing.username != username else ""
    return (
        f"L'identifiant « {username} » existe déjà{same} : les identifiants ne distinguent pas "
        "majuscules et minuscules. Choisissez-en un autre, ou changez son mot de passe avec "
        f"carto editors set-password {username}."
    )


def unknown_account(username: str) -> str:
    return (
        f"Aucun compte éditeur « {username.strip()} » dans la base : la liste est donnée par "
        "carto editors list."
    )


# --- « Rester connecté » : signed tokens kept in an HttpOnly cookie (carto.ui.routes) ----------

_COOKIE_FORMAT = "v1"
_KEY_NAME = "editor_cookie"
signing_keys_table = Table(
    "signing_keys",
    _metadata,
    Column("name", Text, primary_key=True),
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def signing_key(store: Store, *, create: bool) -> bytes | None:
    """The key that signs editors' « rester connecté » tokens, shared by every instance of the
    store (it lives in its database); made on first use when `create`. None when there is none
    yet and it cannot (or must not) be made, e.g. on a read-only store."""
    with store._errors("Lecture de la clé de connexion"), store._engine.connect() as conn:
        found = _read_key(conn, store)
    if found is not None or not create:
        return found
    try:
        with store._errors("Création de la clé de connexion"), _Transaction(store) as conn:
            found = _read_key(conn, store)
            if found is None:
                found = secrets.token_bytes(32)
                conn.execute(
                    signing_keys_table.insert().values(
                        name=_KEY_NAME, secret=found, created_at=datetime.now(UTC)
                    )
                )
    except CartoError:  # read-only store, or made meanwhile by another instance
        with store._errors("Lecture de la clé de connexion"), store._engine.connect() as conn:
            return _read_key(conn, store)
    return found


def _read_key(conn: Connection, store: Store) -> bytes | None:
    if not inspect(conn).has_table(signing_keys_table.name, schema=store._schema):
        return None
    query = select(signing_keys_table.c.secret).where(signing_keys_table.c.name == _KEY_NAME)
    value = conn.execute(query).scalar()
    return None if value is None else bytes(value)


def password_fingerprint(key: bytes, editor: Editor) -> str:
    """Changes whenever the account's password (hash) changes; reveals nothing of it."""
    material = f"{editor.source}\0{account_key(editor.username)}\0{editor.password_hash}"
    digest = hmac.new(key, b"fingerprint\0" + material.encode(), hashlib.sha256).digest()
    return _b64(digest[:18])


def make_token(key: bytes, editor: Editor, *, expires: datetime) -> str:
    """`v1.<name>.<expiry>.<fingerprint>.<signature>`: HMAC-SHA256 of the rest under `key`."""
    name = _b64(editor.username.encode())
    body = f"{_COOKIE_FORMAT}.{name}.{int(expires.timestamp())}.{password_fingerprint(key, editor)}"
    return f"{body}.{_sign(key, body)}"


def read_token(
    key: bytes, token: str, editors: Mapping[str, Editor], *, now: datetime | None = None
) -> tuple[Editor | None, str]:
    """The editor a token signs in, or (None, why) when it is forged, expired, or its account
    was removed or its password changed since. `editors` are keyed by case-folded name."""
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != _COOKIE_FORMAT:
        return None, "jeton mal formé"
    body, signature = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(_sign(key, body).encode(), signature.encode()):
        return None, "signature fausse"
    try:
        username = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
        expiry = int(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None, "jeton mal formé"
    moment = datetime.now(UTC) if now is None else now
    if expiry <= moment.timestamp():
        return None, "expiré"
    editor = editors.get(account_key(username))
    if editor is None:
        return None, "compte supprimé"
    if not hmac.compare_digest(password_fingerprint(key, editor).encode(), parts[3].encode()):
        return None, "mot de passe changé"
    return editor, ""


def _sign(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
