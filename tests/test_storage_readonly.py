"""A store the process cannot write (read-only file and folder): reading works, writing says why.

Root ignores permission bits, so as root the file and its folder are made immutable
(`chattr +i`), which refuses every write even to root; otherwise they are chmod'ed read-only.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from carto.cli import main
from carto.errors import StorageError
from carto.intake.pipeline import load
from carto.publishing.storage import Store

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "initiatives.csv"


def _chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


@contextmanager
def _unwritable(*paths: Path) -> Iterator[None]:
    """Make files and folders unwritable for this process, even as root; restore them after."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("chattr absent : impossible de refuser l'écriture à root")
        try:
            _chattr("+i", *paths)
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"chattr +i refusé ici ({exc.stderr.decode().strip()})")
        try:
            yield
        finally:
            _chattr("-i", *paths)
        return
    modes = {path: path.stat().st_mode for path in paths}
    for path in paths:
        path.chmod(stat.S_IRUSR | stat.S_IXUSR if path.is_dir() else stat.S_IRUSR)
    try:
        yield
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


# closed: nobody has the base open (no -wal/-shm files); open elsewhere: an app instance holds
# it (the -wal/-shm files exist, unwritable too); folder only: the file itself is writable.
CASES = ["closed", "open elsewhere", "folder only"]


@pytest.fixture(params=CASES)
def readonly_store(request, tmp_path, monkeypatch) -> Iterator[Path]:
    """A store with versions 1 and 2 that this process cannot write."""
    folder = tmp_path / "base"
    database = folder / "carto.sqlite"
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("CARTO_DATA", str(DATA))
    folder.mkdir()
    shipped = load(DATA).table
    update = load(b"nom;categorie;commune\nMasques cousus;protection;Arras\n", filename="m.csv")
    with Store.open(f"sqlite:///{database}") as store:
        store.bootstrap_from(shipped)
        store.publish(
            pd.concat([shipped, update.table], ignore_index=True), author="Marie", base_version=1
        )
    assert sorted(p.name for p in folder.iterdir()) == ["carto.sqlite"]  # closed cleanly

    if request.param == "folder only":
        with _unwritable(folder):
            yield database
        return
    holder = Store.open(f"sqlite:///{database}") if request.param == "open elsewhere" else None
    try:
        if holder is not None:
            assert holder.current() is not None  # keeps a connection, so -wal/-shm exist
        with _unwritable(*sorted(folder.iterdir()), folder):
            yield database
    finally:
        if holder is not None:
            holder.close()


def test_versions_lists_a_readonly_store(readonly_store, capsys) -> None:
    assert main(["versions"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.lstrip("* ").split()[0] for line in lines] == ["2", "1"]


@pytest.mark.parametrize("fmt", ["csv", "geojson", "xlsx"])
def test_export_reads_a_readonly_store(readonly_store, tmp_path, fmt: str) -> None:
    out = tmp_path / f"export.{fmt}"
    assert main(["export", "--format", fmt, "-o", str(out)]) == 0
    content = out.read_bytes()
    assert len(content) > 1000
    if fmt == "csv":
        assert "Masques cousus" in content.decode("utf-8-sig")


def test_import_dry_run_reviews_against_a_readonly_store(readonly_store, tmp_path, capsys) -> None:
    path = tmp_path / "new.csv"
    path.write_text("nom;categorie;commune\nRepas chauds;routiers;Calais\n", encoding="utf-8")
    assert main(["import", str(path), "--mode", "merge", "--dry-run"]) == 0
    assert "1 ajoutée(s)" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["import", "rollback"])
def test_writing_to_a_readonly_store_says_why_and_where(
    readonly_store, tmp_path, capsys, command: str
) -> None:
    if command == "import":
        path = tmp_path / "new.csv"
        path.write_text("nom;categorie;commune\nRepas chauds;routiers;Calais\n", encoding="utf-8")
        argv = ["import", str(path), "--mode", "merge"]
    else:
        argv = ["rollback", "1"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "lecture seule" in err
    assert str(readonly_store) in err
    assert "réessayez" not in err.lower()
    assert "rien n'a été" in err.lower()
    assert main(["versions"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2  # nothing was written


def test_store_opened_readonly_reports_it(readonly_store) -> None:
    with Store.open(f"sqlite:///{readonly_store}") as store:
        assert store.read_only
        assert store.current() is not None and store.current().number == 2
        with pytest.raises(StorageError, match="lecture seule"):
            store.rollback(1, author="Marie")


@pytest.mark.postgres
def test_a_readonly_postgresql_session_lists_and_refuses_writes(postgres_url: str) -> None:
    """A hot standby or a read-only role: versions and reading work, writing says why."""
    schema = f"carto_test_{uuid.uuid4().hex[:12]}"
    shipped = load(DATA).table
    try:
        with Store.open(postgres_url, schema=schema) as store:
            store.bootstrap_from(shipped)
            store.publish(shipped.iloc[:5], author="Marie", base_version=1)
        readonly = make_url(postgres_url).update_query_dict(
            {"options": "-c default_transaction_read_only=on"}
        )
        url = readonly.render_as_string(hide_password=False)
        with Store.open(url, schema=schema) as store:
            assert [v.number for v in store.versions()] == [2, 1]
            assert len(store.load()) == 5
            with pytest.raises(StorageError, match="lecture seule") as caught:
                store.rollback(1, author="Marie")
            assert "réessayez" not in str(caught.value)
            assert [v.number for v in store.versions()] == [2, 1]
    finally:
        engine = create_engine(postgres_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            engine.dispose()
