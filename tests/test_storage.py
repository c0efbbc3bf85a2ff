"""Versioned storage, run on SQLite and PostgreSQL (see the `store` fixture in conftest.py)."""

from __future__ import annotations

import math
import threading
from datetime import UTC

import pandas as pd
import pytest

from carto.errors import ConflictError, StorageError
from carto.models import COLUMNS, GEOCODED_COLUMNS
from carto.publishing.modes import MODE_LABELS, PublishMode
from carto.publishing.storage import Store, VersionInfo, checksum

ALL_COLUMNS = list(COLUMNS + GEOCODED_COLUMNS)
NAN = float("nan")


def make_table(*rows: dict[str, object]) -> pd.DataFrame:
    """A canonical table: every column present, text "" when missing."""
    records = []
    for row in rows:
        record: dict[str, object] = {c: "" for c in ALL_COLUMNS}
        record.update({"latitude": NAN, "longitude": NAN, "geocode_score": NAN})
        record.update(row)
        records.append(record)
    return pd.DataFrame(records, columns=ALL_COLUMNS)


INITIAL = make_table(
    {
        "id": "p62-001",
        "nom": "Gel hydro-alcoolique de Tereos",
        "categorie": "protection",
        "description": "Production de gel réorientée.\nDons aux soignants du secteur.",
        "commune": "Lillers",
        "code_insee": "62516",
        "portee": "commune",
        "latitude": 50.5626,
        "longitude": 2.4826,
        "arrondissement_code": "627",
        "arrondissement": "Béthune",
        "geocode_status": "exact",
        "geocode_score": 1.0,
    },
    {
        "id": "p62-002",
        "nom": "Visières imprimées en 3D par l'atelier Indelab",
        "categorie": "soignants",
        "commune": "Bruay-la-Buissière",
        "site_web": "https://www.indelab.fr",
        "email": "contact@indelab.fr",
        "latitude": 50.4833,
        "longitude": 2.55,
    },
    {
        "nom": "Courses pour les personnes isolées",
        "categorie": "isoles",
        "commune": "Saint-Omer",
        "description": "Ligne 1\r\nLigne 2 « entre guillemets », avec ; et ,",
        "telephone": "+33 3 21 00 00 00",
    },
)
WEEK_2 = make_table(
    {"id": "p62-001", "nom": "Gel hydro-alcoolique de Tereos", "commune": "Lillers"},
    {"nom": "Sur-blouses de la Mercerie Hollande", "categorie": "soignants", "commune": "Arras"},
)


def assert_same_content(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.columns) == ALL_COLUMNS
    assert len(actual) == len(expected)
    for column in ALL_COLUMNS:
        for got, want in zip(actual[column], expected[column], strict=True):
            if column == "id" and not want:
                assert got, "a row stored without id gets one"
            elif isinstance(want, float) and math.isnan(want):
                assert isinstance(got, float) and math.isnan(got), (column, got)
            else:
                assert got == want, (column, got, want)


def test_empty_store_has_no_version_and_an_empty_table(store: Store) -> None:
    assert store.current() is None
    assert store.versions() == []
    table = store.load()
    assert list(table.columns) == ALL_COLUMNS
    assert table.empty


def test_bootstrap_creates_version_1_once(store: Store) -> None:
    first = store.bootstrap_from(INITIAL)
    assert first is not None
    assert (first.number, first.mode, first.row_count, first.base_version) == (
        1,
        "initial",
        3,
        None,
    )
    assert first.author == "import initial"
    assert first.created_at.tzinfo is not None
    assert first.created_at.utcoffset() == UTC.utcoffset(None)
    assert store.bootstrap_from(WEEK_2) is None
    assert [v.number for v in store.versions()] == [1]
    assert_same_content(store.load(), INITIAL)


def test_bootstrap_from_two_instances_at_once_makes_one_version(store_target) -> None:
    stores = [store_target.open() for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    results: list[VersionInfo | None] = []

    def start(instance: Store) -> None:
        barrier.wait()
        results.append(instance.bootstrap_from(INITIAL))

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert sum(r is not None for r in results) == 1
        assert [v.number for v in stores[0].versions()] == [1]
    finally:
        for s in stores:
            s.close()


def test_publish_records_author_note_count_and_checksum(store: Store) -> None:
    store.bootstrap_from(INITIAL)
    info = store.publish(WEEK_2, author="Marie Dupont", note="Semaine 2", base_version=1)
    assert (info.number, info.author, info.note, info.row_count) == (
        2,
        "Marie Dupont",
        "Semaine 2",
        2,
    )
    assert (info.mode, info.base_version) == ("replace", 1)
    # The store gave the row without id one: the checksum is that of what it stored.
    assert info.checksum == checksum(store.load()) != checksum(store.load(1))
    assert store.current() == info
    assert_same_content(store.load(), WEEK_2)
    assert checksum(store.load()) == info.checksum


@pytest.mark.parametrize(
    ("column", "value", "loaded"),
    [
        ("nom", "Épicerie solidaire d'Hénin-Beaumont", "Épicerie solidaire d'Hénin-Beaumont"),
        ("nom", "L’Œuvre « Aide aux aînés »", "L’Œuvre « Aide aux aînés »"),
        ("description", "ligne 1\nligne 2\n\nligne 4", "ligne 1\nligne 2\n\nligne 4"),
        ("description", "Windows\r\nline", "Windows\r\nline"),
        ("description", NAN, ""),
        ("description", None, ""),
        ("code_insee", "62041", "62041"),
        ("code_insee", 62041.0, "62041"),
        ("telephone", "+33 3 21 21 20 00", "+33 3 21 21 20 00"),
        ("site_web", '=HYPERLINK("http://x")', '=HYPERLINK("http://x")'),
        ("latitude", 50.291748, 50.291748),
        ("latitude", NAN, NAN),
        ("latitude", None, NAN),
        ("latitude", "50,5", 50.5),
        ("longitude", -1.5, -1.5),
        ("geocode_score", 0.873, 0.873),
    ],
)
def test_load_gives_back_what_was_published(
    store: Store, column: str, value: object, loaded: object
) -> None:
    table = make_table({"nom": "Initiative", column: value})
    store.publish(table, author="test", base_version=None, mode="initial")
    got = store.load()[column].iloc[0]
    if isinstance(loaded, float) and math.isnan(loaded):
        assert isinstance(got, float) and math.isnan(got)
    else:
        assert got == loaded
    assert checksum(store.load()) == store.current().checksum  # type: ignore[union-attr]


def test_load_keeps_row_order_and_older_versions(store: Store) -> None:
    store.bootstrap_from(INITIAL)
    reversed_rows = INITIAL.iloc[::-1].reset_index(drop=True)
    store.publish(reversed_rows, author="Paul", base_version=1)
    assert list(store.load()["nom"]) == list(reversed_rows["nom"])
    assert list(store.load(1)["nom"]) == list(INITIAL["nom"])


def test_table_without_geocoded_columns_is_stored_with_them_empty(store: Store) -> None:
    table = pd.DataFrame({"nom": ["Masques"], "commune": ["Arras"], "autre": ["ignorée"]})
    store.publish(table, author="test", base_version=None, mode="initial")
    loaded = store.load()
    assert list(loaded.columns) == ALL_COLUMNS
    assert (loaded["nom"].iloc[0], loaded["arrondissement"].iloc[0]) == ("Masques", "")
    assert math.isnan(loaded["latitude"].iloc[0])


def test_versions_are_listed_newest_first(store: Store) -> None:
    store.bootstrap_from(INITIAL)
    store.publish(WEEK_2, author="Marie", base_version=1)
    store.publish(INITIAL, author="Paul", base_version=2, mode="merge")
    listed = store.versions()
    assert [(v.number, v.author, v.mode) for v in listed] == [
        (3, "Paul", "merge"),
        (2, "Marie", "replace"),
        (1, "import initial", "initial"),
    ]
    assert listed[0].created_at >= listed[1].created_at >= listed[2].created_at


def test_rollback_creates_a_new_version_with_the_old_content(store: Store) -> None:
    store.bootstrap_from(INITIAL)
    store.publish(WEEK_2, author="Marie", base_version=1)
    info = store.rollback(1, author="Paul")
    assert (info.number, info.mode, info.rolled_back_from, info.base_version) == (
        3,
        "rollback",
        1,
        2,
    )
    assert info.note == "Retour à la version 1"
    assert info.row_count == 3
    assert info.checksum == checksum(store.load(1))
    assert_same_content(store.load(), INITIAL)
    assert store.load()["id"].tolist() == store.load(1)["id"].tolist()
    # History is untouched: version 2 is still there, as it was.
    assert [v.number for v in store.versions()] == [3, 2, 1]
    assert_same_content(store.load(2), WEEK_2)
    # And the rollback itself can be published over, from its number.
    assert store.publish(WEEK_2, author="Zoé", base_version=3).number == 4


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (9, "La version 9 n'existe pas (versions 1 à 2)."),
        (2, "La version 2 est déjà la version en ligne"),
    ],
)
def test_rollback_refusals_change_nothing(store: Store, number: int, message: str) -> None:
    store.bootstrap_from(INITIAL)
    store.publish(WEEK_2, author="Marie", base_version=1)
    with pytest.raises(StorageError) as caught:
        store.rollback(number, author="Paul")
    assert message in str(caught.value)
    assert [v.number for v in store.versions()] == [2, 1]


def test_load_of_a_missing_version_says_which_exist(store: Store) -> None:
    with pytest.raises(StorageError, match="aucune version n'est encore publiée"):
        store.load(1)
    store.bootstrap_from(INITIAL)
    with pytest.raises(StorageError, match=r"La version 4 n'existe pas \(versions 1 à 1\)"):
        store.load(4)


def test_second_publish_from_the_same_base_conflicts_and_keeps_the_first(store: Store) -> None:
    store.bootstrap_from(INITIAL)
    store.publish(WEEK_2, author="Marie", base_version=1)
    with pytest.raises(ConflictError) as caught:
        store.publish(INITIAL.iloc[:1], author="Paul", base_version=1)
    message = str(caught.value)
    assert message.startswith("La version 2 a été publiée par Marie à ")
    assert "depuis votre import (base : version 1). Rechargez et vérifiez" in message
    assert [v.number for v in store.versions()] == [2, 1]
    assert_same_content(store.load(), WEEK_2)


def test_first_publish_conflicts_when_someone_bootstrapped_meanwhile(store: Store) -> None:
    store.bootstrap_from(INITIAL)
    with pytest.raises(ConflictError, match=r"\(base : aucune version\)"):
        store.publish(WEEK_2, author="Marie", base_version=None)


def test_concurrent_publishes_from_the_same_base_let_exactly_one_through(store_target) -> None:
    with store_target.open() as first:
        first.bootstrap_from(INITIAL)
    editors = [store_target.open() for _ in range(4)]
    barrier = threading.Barrier(len(editors))
    outcomes: dict[int, str] = {}
    tables = [make_table({"nom": f"Initiative de l'éditeur {i}"}) for i in range(len(editors))]

    def publish(index: int) -> None:
        barrier.wait()
        try:
            editors[index].publish(tables[index], author=f"éditeur {index}", base_version=1)
            outcomes[index] = "ok"
        except ConflictError:
            outcomes[index] = "conflict"

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(len(editors))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert sorted(outcomes.values()) == ["conflict", "conflict", "conflict", "ok"]
        winner = next(i for i, outcome in outcomes.items() if outcome == "ok")
        assert [v.number for v in editors[0].versions()] == [2, 1]
        assert editors[0].current().author == f"éditeur {winner}"  # type: ignore[union-attr]
        assert_same_content(editors[0].load(), tables[winner])
    finally:
        for e in editors:
            e.close()


@pytest.mark.parametrize("bad_name", ["", None, NAN, "   "])
def test_a_publish_failing_halfway_leaves_the_previous_version_intact(
    store: Store, bad_name: object
) -> None:
    store.bootstrap_from(INITIAL)
    before = store.current()
    # 2,000 rows, the 1,501st refused by the database: rows before it were already sent.
    rows = [{"nom": f"Initiative {i}", "commune": "Arras"} for i in range(2000)]
    rows[1500]["nom"] = bad_name
    with pytest.raises(StorageError) as caught:
        store.publish(make_table(*rows), author="Marie", base_version=1)
    assert "ligne 1502" in str(caught.value)
    assert "colonne « nom »" in str(caught.value)
    assert "rien n'a été publié" in str(caught.value)
    assert store.current() == before
    assert [v.number for v in store.versions()] == [1]
    assert_same_content(store.load(), INITIAL)
    # The store still works afterwards.
    assert store.publish(WEEK_2, author="Marie", base_version=1).number == 2


@pytest.mark.parametrize(
    ("column", "value"),
    [("latitude", "nord"), ("longitude", "2°46'E"), ("geocode_score", "élevé")],
)
def test_a_non_numeric_coordinate_is_refused_naming_line_column_value(
    store: Store, column: str, value: str
) -> None:
    store.bootstrap_from(INITIAL)
    table = make_table({"nom": "A"}, {"nom": "B", column: value})
    with pytest.raises(StorageError) as caught:
        store.publish(table, author="Marie", base_version=1)
    assert f"ligne 3, colonne « {column} », valeur « {value} »" in str(caught.value)
    assert [v.number for v in store.versions()] == [1]


def test_unknown_publish_mode_is_a_programming_error(store: Store) -> None:
    with pytest.raises(ValueError, match="rollback"):
        store.publish(INITIAL, author="x", base_version=None, mode="rollback")


def test_every_mode_reads_back_with_its_french_label(store: Store) -> None:
    store.bootstrap_from(INITIAL)
    store.publish(WEEK_2, author="Marie", base_version=1, mode=PublishMode.REPLACE)
    store.publish(INITIAL, author="Paul", base_version=2, mode="merge")
    store.rollback(2, author="Zoé")
    modes = [v.mode for v in reversed(store.versions())]
    assert modes == list(PublishMode)
    assert [MODE_LABELS[m] for m in modes] == [
        "Import initial",
        "Remplacer",
        "Fusionner",
        "Retour à une version",
    ]


@pytest.mark.parametrize(
    ("table", "same_as_initial"),
    [
        (INITIAL[list(reversed(ALL_COLUMNS))], True),
        (INITIAL.replace({"": None}), True),
        (INITIAL.assign(latitude=INITIAL["latitude"].astype(object)), True),
        (INITIAL.assign(zone=["", NAN, None]), True),
        (INITIAL.assign(nom=INITIAL["nom"].str.upper()), False),
        # Floats count at 6 decimals (~0.1 m), as the review compares them.
        (INITIAL.assign(latitude=INITIAL["latitude"] + 1e-9), True),
        (INITIAL.assign(latitude=INITIAL["latitude"] + 2e-6), False),
        (INITIAL.iloc[::-1], False),
        (INITIAL.iloc[:2], False),
    ],
)
def test_checksum_depends_on_content_only(table: pd.DataFrame, same_as_initial: bool) -> None:
    assert (checksum(table) == checksum(INITIAL)) is same_as_initial
    assert len(checksum(table)) == 64


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:secret@localhost/db", "« mysql » non prise en charge"),
        ("sqlite://", "indiquez un fichier"),
        ("sqlite:///:memory:", "indiquez un fichier"),
        ("pas une url", "Adresse de base de données illisible"),
        (
            "postgresql+psycopg://carto:secret@127.0.0.1:1/carto",
            "base de données injoignable ou occupée",
        ),
    ],
)
def test_open_failures_are_french_storage_errors_without_password(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as caught:
        Store.open(url)
    assert "secret" not in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_sqlite_file_is_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    path = tmp_path / "sub" / "carto.sqlite"
    with Store.open(f"sqlite:///{path}") as store:
        store.bootstrap_from(INITIAL)
        engine = store._engine  # the connection settings themselves
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    assert path.exists()
    # Reopening finds the data again (tables are created only if missing).
    with Store.open(f"sqlite:///{path}") as again:
        assert again.current() is not None
        assert_same_content(again.load(), INITIAL)
