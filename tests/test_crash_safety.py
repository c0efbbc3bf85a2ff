"""kill -9 in the middle of a publication loses nothing: the published version stays whole, the
store opens without repair, and the next import publishes as if nothing had happened.

The import runs as the real `carto` command on a real SQLite file and a real PostgreSQL server.
It is killed (SIGKILL, which no code can catch) at the worst moment, chosen by state, not by
delay: every row of the new version has been written inside the transaction, which is not
committed yet. The child reaches that point through a wrapper that runs `carto.cli.main` with
`Store._insert_version` followed by a SIGKILL to itself: the product code is unchanged.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from carto.publishing.storage import Store, checksum

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "data" / "initiatives.csv"
CARTO = Path(sys.executable).with_name("carto")
KILLED_AFTER_WRITING = """
import os, signal, sys
from carto.cli import main
from carto.publishing.storage import Store
insert = Store._insert_version
def insert_then_die(self, conn, rows, **kwargs):
    insert(self, conn, rows, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
Store._insert_version = insert_then_die
sys.exit(main(sys.argv[1:]))
"""
ADDED = "nom;categorie;commune\nPaniers solidaires;isoles;Guînes\nCouturières;protection;Lens\n"


def test_an_import_killed_while_it_writes_loses_nothing(store_target: Any, tmp_path: Path) -> None:
    store_url = store_target.url
    if store_target.schema:  # the command line's store, in this test's own schema
        with store_target.open():
            pass
        store_url += f"?options=-csearch_path%3D{store_target.schema}"
    env = {**os.environ, "CARTO_DATABASE_URL": store_url, "CARTO_DATA": str(SEED)}
    env.pop("CARTO_SITE_DIR", None)
    first = subprocess.run(
        [str(CARTO), "import", str(SEED), "--note", "Première"], env=env, capture_output=True
    )
    assert first.returncode == 0, first.stderr.decode()
    with Store.open(store_url) as store:
        before = store.versions()
        published = store.load()

    added = tmp_path / "ajouts.csv"
    added.write_text(ADDED, encoding="utf-8")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_WRITING, "import", str(added), "--note", "Coupée"],
        env=env,
        capture_output=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()

    with Store.open(store_url) as store:
        assert store.versions() == before
        assert checksum(store.load()) == checksum(published) == before[0].checksum

    again = subprocess.run(
        [str(CARTO), "import", str(added), "--note", "Reprise"], env=env, capture_output=True
    )
    assert again.returncode == 0, again.stderr.decode()
    assert "2 ajoutée(s)" in again.stdout.decode()
    with Store.open(store_url) as store:
        assert sorted(v.number for v in store.versions()) == [1, 2]
        assert len(store.load()) == len(published) + 2
