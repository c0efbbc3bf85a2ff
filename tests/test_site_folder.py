"""The site folder is ours, or untouched (issue 18 § 4): `carto site build` and the rebuild after
each publication write only into an empty folder, a folder signed by this store, or one left by
an interrupted build of ours; never through a symbolic link; and say in French what they did."""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from test_site import KEY, referenced, site_data

from carto.cli import main
from carto.config import Settings
from carto.errors import ConfigError
from carto.gazetteer import load_gazetteer
from carto.intake.pipeline import load
from carto.publishing.plan import open_store
from carto.publishing.storage import Store, VersionInfo
from carto.site.build import build_published_site, build_site, site_files
from carto.site.folder import site_key

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "initiatives.csv"


def rows_online(out: Path) -> int:
    return len(site_data(out)["rows"])


def whole(out: Path) -> bool:
    """index.html is there and every file it loads too."""
    return (out / "index.html").is_file() and all((out / r).is_file() for r in referenced(out))


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry below `folder`, links not followed: files by content, folders, links."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[name] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            found[name] = "dossier"
        else:
            found[name] = path.read_bytes()
    return found


def published() -> tuple[pd.DataFrame, VersionInfo]:
    cfg = Settings.from_env()
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        version = store.current()
        assert version is not None
        return store.load(), version


def _chattr(flag: str, path: Path) -> None:
    subprocess.run(["chattr", flag, str(path)], check=True, capture_output=True)


@contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """`folder` refuses new entries, even to root (chattr +i; chmod otherwise)."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield
        finally:
            folder.chmod(mode)
        return
    if shutil.which("chattr") is None:
        pytest.skip("chattr absent : impossible de refuser l'écriture à root")
    try:
        _chattr("+i", folder)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"chattr +i refusé ici ({exc.stderr.decode().strip()})")
    try:
        yield
    finally:
        _chattr("-i", folder)


def _other_store_manifest(folder: Path) -> None:
    """A manifest signed by another store's key, listing the operator's own file."""
    body = {"format": 2, "version": 1, "data": None, "files": ["important.docx"], "previous": []}
    body["signature"] = "0" * 64
    (folder / ".carto-site.json").write_text(json.dumps(body), encoding="utf-8")


def _any_manifest(folder: Path) -> None:
    (folder / ".carto-site.json").write_text('{"files": ["index.html"]}', encoding="utf-8")


def _old_data_file(folder: Path) -> None:
    (folder / "data.js").write_text("window.cartoSiteData = {};", encoding="utf-8")


@pytest.mark.parametrize(
    ("make", "offending"),
    [
        (_old_data_file, "data.js"),  # any data.js
        (_any_manifest, "important.docx"),  # any .carto-site.json, unsigned: not all listed
        (_other_store_manifest, ".carto-site.json"),  # signed, by another store
    ],
    ids=["data.js", "manifeste quelconque", "manifeste d'une autre base"],
)
def test_a_folder_that_is_not_ours_is_left_untouched(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], make, offending: str
) -> None:
    folder = tmp_path / "documents"
    (folder / "sub").mkdir(parents=True)
    (folder / "index.html").write_text("<p>Page de la préfecture</p>", encoding="utf-8")
    (folder / "important.docx").write_bytes(b"PK\x03\x04 rapport")
    (folder / "sub" / "notes.txt").write_text("à garder", encoding="utf-8")
    make(folder)
    before = snapshot(folder)
    assert main(["site", "build", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"« {folder} »" in err and f"« {folder / offending} »" in err, err
    assert "Traceback" not in err
    assert snapshot(folder) == before


def test_a_symlink_in_the_folder_is_refused_and_never_written_through(
    db: str, tmp_path: Path
) -> None:
    table, version = published()
    out = tmp_path / "site"
    build_site(out, table, departement="62", version=version, key=KEY)
    elsewhere = tmp_path / "ailleurs"
    (out / "vendor").rename(elsewhere)
    (out / "vendor").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "leaflet").rename(elsewhere / "leaflet-copie")  # what the site loads is gone
    outside, online = snapshot(elsewhere), snapshot(out)
    with pytest.raises(ConfigError, match="lien symbolique") as refused:
        build_site(out, table.iloc[:3], departement="62", version=version, key=KEY)
    assert f"« {out / 'vendor'} »" in str(refused.value)
    assert snapshot(elsewhere) == outside and snapshot(out) == online


# The child writes a site and stops for good after a few files (argv[3]) have been put in place.
_STOPPED_BUILD = """
import os, pickle, sys
real = os.replace
count = 0
def replace(*args, **kwargs):
    global count
    real(*args, **kwargs)
    count += 1
    if count == int(sys.argv[3]):
        os.write(1, b"arrete\\n")
        sys.stdin.buffer.read()
os.replace = replace
from carto.site.folder import write_site
with open(sys.argv[1], "rb") as job:
    files, key = pickle.load(job)
write_site(sys.argv[2], files, version=1, key=key)
"""


def killed_while_writing(out: Path, files: dict[str, bytes], key: bytes, *, after: int) -> None:
    """A real process writes `files` into `out` and is killed (-9) after `after` renames."""
    job = out.parent / "travail.pickle"
    job.write_bytes(pickle.dumps((files, key)))
    child = subprocess.Popen(
        [sys.executable, "-c", _STOPPED_BUILD, str(job), str(out), str(after)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"arrete\n"
    finally:
        child.kill()
        child.wait()
        child.stdin.close()  # type: ignore[union-attr]
        child.stdout.close()  # type: ignore[union-attr]
    assert child.returncode == -9


def publish_with_site(out: Path, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version 2 published with CARTO_SITE_DIR = `out`: its site is rebuilt."""
    monkeypatch.setenv("CARTO_SITE_DIR", str(out))
    cfg = Settings.from_env()
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        info = store.publish(table, author="test", base_version=1)
    assert len(info.notices) == 1 and "Site public mis à jour" in info.notices[0], info.notices
    assert whole(out) and rows_online(out) == len(table)
    assert not list(out.rglob("*.part")) and not (out / ".carto-site-journal.json").exists()


def store_key() -> bytes:
    cfg = Settings.from_env()
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        key = site_key(store)
    assert key is not None
    return key


def test_a_first_build_killed_is_finished_by_the_next_publication(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 during the first build of the site: the rebuild after the next publication
    writes the site all the same, without anyone emptying the folder."""
    table, version = published()
    key = store_key()
    out = tmp_path / "public"
    files, _ = site_files(table, departement="62", version=version)
    killed_while_writing(out, files, key, after=5)
    assert any(out.iterdir()) and not (out / "index.html").exists()
    publish_with_site(out, table.iloc[:4], monkeypatch)


def test_a_rebuild_killed_leaves_a_whole_site_and_is_finished_by_the_next(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Visitors keep a whole site after a kill -9 during a rebuild (here after the new data
    and file list, before the page); the next one cleans up what the killed one wrote, and
    nothing else."""
    table, version = published()
    key = store_key()
    out = tmp_path / "public"
    build_site(out, table, departement="62", version=version, key=key)
    (out / "important.docx").write_bytes(b"PK\x03\x04 rapport")
    files, _ = site_files(table.iloc[:7], departement="62", version=version)
    killed_while_writing(out, files, key, after=5)
    assert whole(out) and rows_online(out) in (len(table), 7)
    assert (out / ".carto-site-journal.json").exists()  # it was stopped mid-way
    publish_with_site(out, table.iloc[:4], monkeypatch)
    assert (out / "important.docx").read_bytes() == b"PK\x03\x04 rapport"
    data_files = [p.name for p in out.glob("data.*.js")]
    assert len(data_files) == 2, data_files  # this site and the one before: no leftover


def test_a_build_started_during_another_first_build_waits_for_it(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two instances publish at once into a new folder: the second build waits for the first's
    writes, then writes its own site; neither is refused."""
    table, version = published()
    out = tmp_path / "site"
    first_writing, go_on, second_waiting = threading.Event(), threading.Event(), threading.Event()
    real_replace, real_flock = os.replace, fcntl.flock
    errors: list[BaseException] = []

    def replace(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        real_replace(*args, **kwargs)
        if threading.current_thread().name == "premier" and not first_writing.is_set():
            first_writing.set()  # one file written, the others to come
            go_on.wait()

    def flock(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "second":
            second_waiting.set()
        real_flock(*args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(fcntl, "flock", flock)

    def build(rows: int) -> None:
        try:
            build_site(out, table.iloc[:rows], departement="62", version=version, key=KEY)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            second_waiting.set()

    first = threading.Thread(target=build, args=(7,), name="premier")
    second = threading.Thread(target=build, args=(3,), name="second")
    first.start()
    try:
        assert first_writing.wait(timeout=300)
        second.start()
        assert second_waiting.wait(timeout=300)  # it asks for the lock, or was refused
    finally:
        go_on.set()
        first.join()
        if second.is_alive() or second.ident is not None:
            second.join()
    assert errors == []
    assert whole(out) and rows_online(out) == 3


def test_a_superseded_build_says_so(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The folder already shows a later version (another instance's build): `carto site build`
    leaves it and says so, instead of « Site public écrit »."""
    table, version = published()
    out = tmp_path / "site"
    later = replace(version, number=version.number + 1)
    build_site(out, table.iloc[:2], departement="62", version=later)
    assert main(["site", "build", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Site public écrit" not in said
    assert f"montre déjà la version {later.number}" in said, said
    assert rows_online(out) == 2


def test_a_read_only_folder_gets_a_french_message(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """From the CLI (exit 1) and after a publication (which stays published)."""
    table, _ = published()
    out = tmp_path / "site"
    out.mkdir()
    with unwritable(out):
        assert main(["site", "build", str(out)]) == 1
        err = capsys.readouterr().err
        assert f"Impossible d'écrire le site public dans « {out} »" in err, err
        assert "Errno" not in err and "Traceback" not in err
        monkeypatch.setenv("CARTO_SITE_DIR", str(out))
        cfg = Settings.from_env()
        with open_store(cfg, load_gazetteer(cfg.departement)) as store:
            info = store.publish(table.iloc[:4], author="test", base_version=1)
            assert store.current() == info
    [notice] = info.notices
    assert "n'a pas pu être reconstruit" in notice and "Impossible d'écrire" in notice, notice
    assert "Errno" not in notice
    assert list(out.iterdir()) == []


def test_a_site_of_an_earlier_release_is_taken_over_once_then_signed(
    db: str, tmp_path: Path
) -> None:
    """A folder written by an earlier `carto site build` (unsigned manifest listing exactly its
    files) is taken over; from then on, files someone adds there are left alone."""
    out = tmp_path / "site"
    (out / "vendor").mkdir(parents=True)
    old = {
        "index.html": '<script src="data.0123456789.js"></script>',
        "data.0123456789.js": "window.cartoSiteData = {};",
        "data.aaaaaaaaaa.js": "window.cartoSiteData = {};",
        "vendor/leaflet.js": "/* Leaflet */",
    }
    for name, text in old.items():
        (out / name).write_text(text, encoding="utf-8")
    manifest = {
        "version": 1,
        "data": "data.0123456789.js",
        "files": ["data.0123456789.js", "index.html", "vendor/leaflet.js"],
        "previous": ["data.aaaaaaaaaa.js"],
    }
    (out / ".carto-site.json").write_text(json.dumps(manifest), encoding="utf-8")
    table, version = published()
    build_site(out, table.iloc[:3], departement="62", version=version, key=KEY)
    assert whole(out) and rows_online(out) == 3
    assert not (out / "data.aaaaaaaaaa.js").exists()  # listed as older: gone
    (out / "important.docx").write_bytes(b"PK\x03\x04 rapport")
    build_site(out, table.iloc[:5], departement="62", version=version, key=KEY)
    assert whole(out) and rows_online(out) == 5
    assert (out / "important.docx").read_bytes() == b"PK\x03\x04 rapport"


def test_a_read_only_store_builds_only_into_an_empty_folder(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It cannot make the key that signs the folder: a second build is refused, in French."""
    published()  # the store, filled, then closed
    database = Path(db.removeprefix("sqlite:///"))
    (tmp_path / "public").mkdir()
    out = tmp_path / "public" / "site"
    with unwritable(database.parent):
        if os.geteuid() == 0:
            _chattr("+i", database)
        try:
            assert main(["site", "build", str(out)]) == 0
            assert whole(out)
            before = snapshot(out)
            assert main(["site", "build", str(out)]) == 2
        finally:
            if os.geteuid() == 0:
                _chattr("-i", database)
    err = capsys.readouterr().err
    assert "lecture seule" in err and f"« {out} »" in err, err
    assert snapshot(out) == before


def test_the_site_key_is_shared_by_the_instances_of_a_store(
    store: Store, store_target, tmp_path: Path
) -> None:
    """Kept in the store (SQLite or PostgreSQL), made by the first build: another instance of
    the store rebuilds the folder; another store may not."""
    table = load(DATA).table.iloc[:3]
    store.bootstrap_from(table)
    out = tmp_path / "site"
    build_published_site(out, store, departement="62")
    other = Store.open(f"sqlite:///{tmp_path / 'autre.sqlite'}")
    with other:
        other.bootstrap_from(table)
        online = snapshot(out)
        with pytest.raises(ConfigError, match="signé par une autre base"):
            build_published_site(out, other, departement="62")
    assert snapshot(out) == online
    with store_target.open() as instance:
        instance.publish(table.iloc[:2], author="b", base_version=1)
        build_published_site(out, instance, departement="62")
    assert rows_online(out) == 2
