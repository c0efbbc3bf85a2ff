"""Editor accounts in the database (carto.publishing.accounts), on SQLite and PostgreSQL: what an
operator creating, listing, re-keying and removing accounts relies on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from test_storage_readonly import _unwritable

from carto.auth import Throttle, authenticate, verify_password
from carto.errors import CartoError, StorageError, UsageError
from carto.publishing.accounts import Accounts
from carto.publishing.storage import Store

PASSWORD = "Solidarité-62!"


def test_a_new_store_has_no_account_and_reading_creates_nothing(store: Store) -> None:
    accounts = Accounts(store)
    assert accounts.list() == []
    assert accounts.get("marie") is None
    # Reading did not create the table: the first write does.
    with store._engine.connect() as conn:
        assert not inspect(conn).has_table("editor_accounts", schema=store._schema)
    accounts.add("marie", PASSWORD)
    with store._engine.connect() as conn:
        assert inspect(conn).has_table("editor_accounts", schema=store._schema)


def test_add_list_sign_in_change_password_remove(store: Store) -> None:
    accounts = Accounts(store)
    before = datetime.now(UTC)
    created = accounts.add("marie.dupont", PASSWORD, name="  Marie   Dupont ")
    assert created.name == "Marie Dupont"
    assert created.password_hash.startswith("$argon2id$")
    assert verify_password(PASSWORD, created.password_hash)

    [listed] = accounts.list()
    assert (listed.username, listed.name) == ("marie.dupont", "Marie Dupont")
    assert before - timedelta(seconds=1) <= listed.created_at <= datetime.now(UTC)
    assert listed.password_changed_at == listed.created_at

    # The login page signs in whatever the case of the name typed.
    editors = accounts.editors()
    found, message = authenticate(editors, " Marie.Dupont ", PASSWORD, throttle=Throttle())
    assert found is not None and found.name == "Marie Dupont" and found.source == "database"
    assert authenticate(editors, "marie.dupont", "mauvais-mdp", throttle=Throttle())[0] is None

    changed = accounts.set_password("MARIE.DUPONT", "Nouveau-mot-62")
    assert changed.password_changed_at > listed.password_changed_at
    assert changed.created_at == listed.created_at
    stored = accounts.get("marie.dupont")
    assert stored is not None
    assert verify_password("Nouveau-mot-62", stored.password_hash)
    assert not verify_password(PASSWORD, stored.password_hash)

    removed, remaining = accounts.remove("Marie.Dupont")
    assert (removed.username, remaining) == ("marie.dupont", 0)
    assert accounts.list() == []


def test_names_are_unique_whatever_their_case(store: Store) -> None:
    accounts = Accounts(store)
    accounts.add("Marie", PASSWORD)
    with pytest.raises(CartoError, match=r"« marie » existe déjà \(« Marie »\)"):
        accounts.add("marie", "Autre-mot-62")
    assert [a.username for a in accounts.list()] == ["Marie"]
    assert verify_password(PASSWORD, accounts.list()[0].password_hash)


def test_accounts_are_kept_by_the_database_for_another_instance(store_target) -> None:
    """A second app instance (another Store on the same database) sees the same accounts."""
    with store_target.open() as first:
        Accounts(first).add("paul", PASSWORD)
    with store_target.open() as second:
        assert [a.username for a in Accounts(second).list()] == ["paul"]
        second.current()  # publishing tables untouched by accounts
        assert second.versions() == []


@pytest.mark.parametrize(
    "name",
    ["", "a", "x" * 65, "marie dupont", "hélène", "-marie", "marie;drop", "<b>", "mar\nie"],
)
def test_unusable_names_are_refused_in_french(store: Store, name: str) -> None:
    with pytest.raises(UsageError, match="Identifiant .* refusé : il faut de 2 à 64 caractères"):
        Accounts(store).add(name, PASSWORD)
    assert Accounts(store).list() == []


@pytest.mark.parametrize(
    ("password", "expected"),
    [("", "vide"), ("court", "trop court"), ("x" * 1025, "trop long")],
)
def test_unusable_passwords_are_refused_and_nothing_changes(store, password, expected) -> None:
    accounts = Accounts(store)
    with pytest.raises(UsageError, match=expected):
        accounts.add("marie", password)
    accounts.add("marie", PASSWORD)
    with pytest.raises(UsageError, match=expected):
        accounts.set_password("marie", password)
    [account] = accounts.list()
    assert verify_password(PASSWORD, account.password_hash)


def test_unknown_account_is_named(store: Store) -> None:
    accounts = Accounts(store)
    for action in (
        lambda: accounts.remove("jean"),
        lambda: accounts.set_password("jean", PASSWORD),
    ):
        with pytest.raises(CartoError, match="Aucun compte éditeur « jean »"):
            action()
    accounts.add("marie", PASSWORD)
    accounts.add("paul", PASSWORD)
    assert accounts.remove("paul")[1] == 1


def test_read_only_sqlite_store_lists_but_refuses_writes_in_french(tmp_path: Path) -> None:
    folder = tmp_path / "base"
    folder.mkdir()
    path = folder / "carto.sqlite"
    with Store.open(f"sqlite:///{path}") as writable:
        Accounts(writable).add("marie", PASSWORD)
    with _unwritable(path, folder), Store.open(f"sqlite:///{path}") as read_only:
        assert read_only.read_only
        _lists_but_refuses_writes(Accounts(read_only))


@pytest.mark.postgres
def test_read_only_postgresql_session_lists_but_refuses_writes(postgres_url: str) -> None:
    """A hot standby or a read-only role."""
    schema = f"carto_test_{uuid.uuid4().hex[:12]}"
    try:
        with Store.open(postgres_url, schema=schema) as writable:
            Accounts(writable).add("marie", PASSWORD)
        url = make_url(postgres_url).update_query_dict(
            {"options": "-c default_transaction_read_only=on"}
        )
        with Store.open(url.render_as_string(hide_password=False), schema=schema) as read_only:
            _lists_but_refuses_writes(Accounts(read_only))
    finally:
        drop_schema(postgres_url, schema)


def _lists_but_refuses_writes(accounts: Accounts) -> None:
    assert [a.username for a in accounts.list()] == ["marie"]
    with pytest.raises(StorageError, match="Création du compte éditeur impossible.*lecture seule"):
        accounts.add("paul", PASSWORD)
    with pytest.raises(StorageError, match="lecture seule"):
        accounts.set_password("marie", "Autre-mot-62")
    with pytest.raises(StorageError, match="lecture seule"):
        accounts.remove("marie")
    [kept] = accounts.list()
    assert kept.username == "marie" and verify_password(PASSWORD, kept.password_hash)


def drop_schema(postgres_url: str, schema: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()
