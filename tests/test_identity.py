"""Every initiative has an id, whatever file it came from (issue 17 §1).

As an editor meets it: a spreadsheet saved by LibreOffice without an id column is imported, each
new initiative gets a short id that a link can carry, exports keep it, and importing the same
file again duplicates nothing and publishes nothing. Stores made before ids were given are
migrated once, with the same id for the same initiative in every version. Real SQLite files,
a real PostgreSQL server, the real `carto` command.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import threading
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from test_storage_readonly import _unwritable

from carto import identity
from carto.cli import main
from carto.config import PROJECT_ROOT, Settings
from carto.errors import StorageError
from carto.gazetteer import load_gazetteer
from carto.publishing.plan import open_store
from carto.publishing.storage import Store, checksum
from carto.timeline import nouveau_mask, publication_news

DATA = PROJECT_ROOT / "data" / "initiatives.csv"
NEW_ID = re.compile(r"^62-[23456789abcdefghjkmnpqrstuvwxyz]{6}$")
# Three initiatives as an editor types them: no id column, an extra column, accents.
NEW_ROWS = [
    ("Épicerie solidaire du Trait d'Union", "isoles", "Guînes", "Ouverte le mardi"),
    ("Couturières de Béthune", "protection", "Béthune", "Masques en tissu"),
    ("Collecte de l'Entraide", "isoles", "Lens", "Denrées pour les familles"),
]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    monkeypatch.setenv("CARTO_DATA", str(DATA))
    monkeypatch.setenv("CARTO_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def _store() -> Store:
    cfg = Settings.from_env()
    return open_store(cfg, load_gazetteer(cfg.departement))


def _idless_csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Nom", "Thème", "Commune", "Description", "Remarque interne"])
        for nom, theme, commune, description in NEW_ROWS:
            writer.writerow([nom, theme, commune, description, "à rappeler"])
    return path


def test_a_libreoffice_file_without_ids_gives_each_initiative_an_id_kept_on_reimport(
    env: Path, office, capsys: pytest.CaptureFixture[str]
) -> None:
    ods = office.convert(_idless_csv(env / "ajouts.csv"), "ods", env / "office")
    assert main(["import", str(ods), "--mode", "merge", "--note", "Ajouts"]) == 0
    capsys.readouterr()
    with _store() as store:
        table = store.load()
        versions = store.versions()
    added = table[table["nom"].isin([r[0] for r in NEW_ROWS])]
    assert len(added) == 3
    assert all(NEW_ID.match(rid) for rid in added["id"]), added["id"].tolist()
    assert table["id"].is_unique and (table["id"] != "").all()
    # « Nouveau » is exactly the three of them, not every row without id.
    news = publication_news(store)
    assert set(table.loc[nouveau_mask(table, news), "id"]) == set(added["id"])

    # The export carries them, so the next round trip keeps them.
    export = env / "export.csv"
    assert main(["export", "--format", "csv", "-o", str(export)]) == 0
    exported = pd.read_csv(export, sep=";", dtype=str, encoding="utf-8-sig").fillna("")
    assert set(added["id"]) <= set(exported["id"])

    # The same file again: nothing duplicated, nothing published.
    assert main(["import", str(ods), "--mode", "merge"]) == 0
    assert "Aucun changement : rien n'a été publié." in capsys.readouterr().out
    with _store() as store:
        assert store.versions() == versions
    # Replacing by it removes the 18 others and keeps the three ids (no new initiative).
    assert main(["import", str(ods), "--mode", "replace", "--confirmer-suppressions", "18"]) == 0
    assert "0 ajoutée(s), 0 modifiée(s), 18 retirée(s)" in capsys.readouterr().out
    with _store() as store:
        assert sorted(store.load()["id"]) == sorted(added["id"])


def test_replacing_with_a_file_without_ids_keeps_the_published_ids(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = pd.read_csv(DATA, dtype=str).fillna("")
    without = env / "sans-id.csv"
    seed.drop(columns=["id"]).to_csv(without, sep=";", index=False)
    assert main(["import", str(without), "--mode", "replace"]) == 0
    assert "Aucun changement : rien n'a été publié." in capsys.readouterr().out
    renamed = seed.drop(columns=["id"])
    renamed.loc[0, "description"] = "Nouvelle description"
    renamed.to_csv(without, sep=";", index=False)
    assert main(["import", str(without), "--mode", "replace"]) == 0
    out = capsys.readouterr().out
    assert "0 ajoutée(s), 1 modifiée(s), 0 retirée(s)" in out
    with _store() as store:
        assert store.load()["id"].tolist() == seed["id"].tolist()


def test_a_row_without_id_matching_two_initiatives_stops_the_import(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twins = env / "jumelles.csv"
    twins.write_text(
        "id;nom;categorie;commune\n"
        "a-1;Distribution de masques;protection;Arras\n"
        "a-2;Distribution de masques;protection;Arras\n",
        encoding="utf-8",
    )
    assert main(["import", str(twins), "--mode", "merge"]) == 0
    capsys.readouterr()
    update = env / "maj.csv"
    update.write_text(
        "nom;categorie;commune;description\nDistribution de masques;protection;Arras;Le lundi\n",
        encoding="utf-8",
    )
    with _store() as store:
        before = store.versions()
    assert main(["import", str(update), "--mode", "merge"]) == 1
    err = capsys.readouterr()
    message = err.out + err.err
    assert "« a-1 » et « a-2 »" in message and "ligne 2" in message
    with _store() as store:
        assert store.versions() == before


def test_a_new_id_is_never_one_the_store_held_before(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _store() as store:
        seed = store.load()
        first = store.publish(
            pd.concat([seed, pd.DataFrame([{"nom": "Éphémère", "commune": "Arras"}])]),
            author="test",
            base_version=1,
        )
        gone = store.load()["id"].iloc[-1]
        store.publish(seed, author="test", base_version=first.number)
        # The random draw gives the removed initiative's code first: it is skipped.
        codes = iter(gone.split("-")[1] + "k4q7m2")
        monkeypatch.setattr(identity.secrets, "choice", lambda _alphabet: next(codes))
        store.publish(
            pd.concat([seed, pd.DataFrame([{"nom": "Nouvelle", "commune": "Arras"}])]),
            author="test",
            base_version=first.number + 1,
        )
        assert store.load()["id"].iloc[-1] == "62-k4q7m2"


@pytest.mark.parametrize("store_target", ["sqlite", "postgresql"], indirect=True)
def test_the_store_refuses_two_initiatives_with_one_id(store: Store) -> None:
    table = pd.DataFrame(
        [
            {"id": "x-1", "nom": "Une", "commune": "Arras"},
            {"id": "x-1", "nom": "Autre", "commune": "Lens"},
        ]
    )
    with pytest.raises(StorageError, match=r"ligne 3.*« x-1 ».*ligne 2"):
        store.publish(table, author="test", base_version=None)
    assert store.current() is None


# --- stores made before ids were given ----------------------------------------------------------


def _old_store(target) -> list[list[str]]:
    """Four versions published without ids, as an older Carto solidaire stored them:
    v1 three rows, v2 adds one and renames another's description, v3 removes one, v4 rolls
    back to v2. Returns each version's names."""
    store = Store.open(target.url, schema=target.schema)
    v1 = pd.DataFrame(
        [
            {"nom": "Roquette", "commune": "Lestrem"},
            {"nom": "Visières", "commune": "Bruay-la-Buissière"},
            {"nom": "Paniers", "commune": "Guînes"},
        ]
    )
    v2 = pd.concat([v1, pd.DataFrame([{"nom": "Aire routière", "commune": "Arras"}])])
    v2 = v2.reset_index(drop=True)
    v2.loc[0, "description"] = "Gel"
    store.bootstrap_from(v1)
    store.publish(v2, author="test", base_version=1)
    store.publish(v2.iloc[1:], author="test", base_version=2)
    store.rollback(2, author="test")
    store.close()
    # Then empty every id, as the rows were before this version of the store.
    engine = create_engine(target.url)
    name = f'"{target.schema}".initiatives' if target.schema else "initiatives"
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {name} SET id = NULL"))
    engine.dispose()
    return [v1["nom"].tolist(), v2["nom"].tolist(), v2["nom"].tolist()[1:], v2["nom"].tolist()]


def _ids_by_name(store: Store) -> dict[int, dict[str, str]]:
    return {
        v.number: dict(zip(store.load(v.number)["nom"], store.load(v.number)["id"], strict=True))
        for v in store.versions()
    }


@pytest.mark.parametrize("store_target", ["sqlite", "postgresql"], indirect=True)
def test_an_old_store_is_migrated_once_with_one_id_per_initiative(store_target) -> None:
    if store_target.backend == "postgresql":
        pytest.importorskip("psycopg")
        try:
            _old_store(store_target)
        except StorageError as exc:
            pytest.skip(str(exc))
    else:
        _old_store(store_target)
    # Four instances start together: the rows are migrated once, the same way for all.
    opened: list[Store] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        opened.append(Store.open(store_target.url, schema=store_target.schema, id_prefix="62"))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(opened) == 4
    views = [_ids_by_name(s) for s in opened]
    assert all(view == views[0] for view in views)
    ids = views[0]
    every = {rid for version in ids.values() for rid in version.values()}
    assert all(NEW_ID.match(rid) for rid in every)
    # The same initiative has the same id in every version; the rollback copies version 2's.
    for nom in ("Roquette", "Visières", "Paniers", "Aire routière"):
        assert len({v[nom] for v in ids.values() if nom in v}) == 1, nom
    assert len(every) == 4
    assert ids[4] == ids[2]
    store = opened[0]
    for info in store.versions():
        assert info.checksum == checksum(store.load(info.number))
    # « Nouveautés » still read right: v2 added the aire, v4 put it back after v3.
    news = {n.number: n for n in publication_news(store)}
    assert news[2].added == ("Aire routière (Arras)",)
    assert 3 not in news  # withdrawn by the rollback
    for s in opened:
        s.close()


def test_a_read_only_old_store_gets_the_same_ids_in_memory(tmp_path: Path) -> None:
    target = type("T", (), {"url": f"sqlite:///{tmp_path / 'old.sqlite'}", "schema": None})
    _old_store(target)
    copy = tmp_path / "ro" / "old.sqlite"
    copy.parent.mkdir()
    copy.write_bytes((tmp_path / "old.sqlite").read_bytes())
    with sqlite3.connect(copy) as conn:  # no -wal left beside the copy
        conn.execute("PRAGMA journal_mode = DELETE")
    with (
        _unwritable(copy, copy.parent),
        Store.open(f"sqlite:///{copy}", id_prefix="62") as read_only,
    ):
        assert read_only.read_only
        assert "carto versions" in (read_only.ids_notice or "")
        in_memory = _ids_by_name(read_only)
    with Store.open(target.url, id_prefix="62") as migrated:
        assert migrated.ids_notice is None
        assert _ids_by_name(migrated) == in_memory
