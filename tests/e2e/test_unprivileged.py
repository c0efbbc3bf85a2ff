"""The app as a préfecture deploys it: a service user runs it from a code tree it cannot write.

As docs/deployment.md §2 tells: root copies the checkout (the files git tracks or would track,
plus the assets `make assets` built), makes a venv beside it with Debian's /usr/bin/python3 and
installs the copy into it (not editable); both belong to root (folders 755, files 644). A system
user without a home then runs `<venv>/bin/streamlit run app.py` from the copy, with
CARTO_STATE_DIR pointing at a folder of its own. Chromium, cut off from the internet, must draw
every marker; afterwards neither the code nor the venv has changed, and the SQLite store and
the marker files are in CARTO_STATE_DIR, written by the service user.

Needs root, useradd and runuser (skipped without them, except in CI where they are there).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect
from streamlit_server import StreamlitServer, start_streamlit

from carto.config import PROJECT_ROOT, Settings
from carto.intake import pipeline as dataset
from carto.map.assets import check_assets
from carto.map.basemap import MARKER_CLASS

from .conftest import MAP_IFRAME, NetworkLog
from .initiatives import wait_drawn

pytestmark = pytest.mark.browser

SERVICE_USER = "carto-test"
SYSTEM_PYTHON = Path("/usr/bin/python3")
# Git-ignored, built by `make assets` and served by the app: a deployment copies them too.
BUILT_ASSETS = ("static/vendor", "static/geo")
PIP_TIMEOUT_S = 480


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; in CI (run as root, Debian) this test must run."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason} — obligatoire en CI", pytrace=False)
    pytest.skip(reason)


def _run(*command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _as_user(*command: str) -> subprocess.CompletedProcess[str]:
    return _run("runuser", "-u", SERVICE_USER, "--", *command)


def _checkout_files() -> list[Path]:
    """The working tree as git sees it (tracked or not ignored: no .venv, node_modules, state/,
    caches), plus the built assets."""
    listed = _run(
        "git",
        "-C",
        str(PROJECT_ROOT),
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    )
    if listed.returncode != 0:
        _unavailable(f"{PROJECT_ROOT} n'est pas un dépôt git : {listed.stderr.strip()}")
    files = [Path(name) for name in listed.stdout.split("\0") if name]
    for folder in BUILT_ASSETS:
        files += [p.relative_to(PROJECT_ROOT) for p in (PROJECT_ROOT / folder).rglob("*")]
    # A file deleted but not yet staged is still listed by git: keep what exists.
    return [
        f for f in files if (PROJECT_ROOT / f).is_file() and not (PROJECT_ROOT / f).is_symlink()
    ]


def _lock_down(root: Path) -> None:
    """root:root, folders 755, files 644 (755 for executables, e.g. the venv's bin/)."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue  # the venv's python links to /usr/bin/python3: leave that alone
        os.chown(path, 0, 0)
        executable = path.is_dir() or path.stat().st_mode & stat.S_IXUSR
        path.chmod(0o755 if executable else 0o644)


def _listing(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """Every entry under root with its mode, owner, size and modification time."""
    entries = {}
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        entries[str(path.relative_to(root))] = (
            info.st_mode,
            info.st_uid,
            info.st_size,
            info.st_mtime_ns,
        )
    return entries


@dataclass(frozen=True)
class Deployment:
    tree: Path  # the read-only code tree (WorkingDirectory)
    venv: Path  # the read-only venv it is installed in
    state_dir: Path  # CARTO_STATE_DIR, owned by the service user
    log_dir: Path
    user: pwd.struct_passwd


def _ensure_service_user() -> pwd.struct_passwd:
    """The system user, created when absent (no home, no login shell).

    It is kept afterwards, like a service's user: another run may be using it at the same time.
    """
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    created = _run(
        "useradd",
        "--system",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        SERVICE_USER,
    )
    if created.returncode not in (0, 9):  # 9: created meanwhile by another run
        pytest.fail(f"useradd {SERVICE_USER} a échoué : {created.stderr.strip()}")
    return pwd.getpwnam(SERVICE_USER)


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    if os.geteuid() != 0:
        _unavailable("il faut être root pour créer l'utilisateur de service et lui ôter l'écriture")
    for tool in ("useradd", "runuser"):
        if shutil.which(tool) is None:
            _unavailable(f"commande {tool} absente (paquets Debian passwd et util-linux)")
    if _run(str(SYSTEM_PYTHON), "-c", "import ensurepip, venv").returncode != 0:
        _unavailable(f"{SYSTEM_PYTHON} sans venv (paquet Debian python3-venv)")
    missing = check_assets(PROJECT_ROOT / "static")
    if missing:
        pytest.fail(f"static/ incomplet ({', '.join(missing[:3])}…) : lancez « make assets »")

    user = _ensure_service_user()
    saved_umask = os.umask(0o022)
    base = Path(tempfile.mkdtemp(prefix="carto-deploy-"))
    try:
        base.chmod(0o755)
        tree = base / "carto-solidaire"
        for relative in _checkout_files():
            target = tree / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PROJECT_ROOT / relative, target)
        venv = base / "carto-solidaire-venv"
        made = _run(str(SYSTEM_PYTHON), "-m", "venv", str(venv))
        assert made.returncode == 0, made.stderr
        # Root installs (pip's cache is root's); the service user only reads the result.
        installed = _run(
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            str(tree),
            timeout=PIP_TIMEOUT_S,
        )
        assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
        _lock_down(base)

        state_dir = base / "state"
        state_dir.mkdir(mode=0o700)
        os.chown(state_dir, user.pw_uid, user.pw_gid)
        log_dir = base / "logs"
        log_dir.mkdir(mode=0o755)

        # The setup means something only if the user can read the tree and cannot write it.
        assert _as_user("test", "-r", str(tree / "app.py")).returncode == 0, (
            f"{SERVICE_USER} ne peut pas lire {tree} : un dossier parent lui est fermé (TMPDIR ?)"
        )
        package = next(venv.glob("lib/python3*/site-packages/carto"))
        for folder in (tree, tree / "static", tree / "data", package):
            probe = folder / "écriture-interdite"
            attempt = _as_user("touch", str(probe))
            assert attempt.returncode != 0 and not probe.exists(), (
                f"{folder} accessible en écriture"
            )
        assert _as_user("touch", str(state_dir / "probe")).returncode == 0
        (state_dir / "probe").unlink()

        yield Deployment(tree=tree, venv=venv, state_dir=state_dir, log_dir=log_dir, user=user)
    finally:
        os.umask(saved_umask)
        shutil.rmtree(base, ignore_errors=True)


def expected_counts(env: dict[str, str]) -> tuple[int, int]:
    """(rows with coordinates, all rows) of the data file the app serves, via carto's pipeline."""
    settings = Settings.from_env(env)
    loaded = dataset.load(settings.data_path, departement=settings.departement)
    return len(loaded.placed), len(loaded.table)


def test_service_user_serves_every_marker_from_a_read_only_tree(
    deployment: Deployment, page, network: NetworkLog
) -> None:
    tree, venv, state_dir = deployment.tree, deployment.venv, deployment.state_dir
    env = {
        "CARTO_TILES": "none",
        # Installed as a package (not editable), the code does not know where the checkout is:
        # the deployment names its data file, as the systemd unit does.
        "CARTO_DATA": str(tree / "data" / "initiatives.csv"),
        "PYTHONPATH": "",  # only what the venv holds, as under systemd
    }
    settings = Settings.from_env({**env, "CARTO_STATE_DIR": str(state_dir)})
    placed, total = expected_counts(env)
    assert placed > 0, "the dataset must have located initiatives for this test to mean anything"
    before = {"code": _listing(tree), "venv": _listing(venv)}

    server: StreamlitServer = start_streamlit(
        cwd=tree,
        env=env,
        state_dir=state_dir,
        log_dir=deployment.log_dir,
        launcher=("runuser", "-u", SERVICE_USER, "--"),
        streamlit=(str(venv / "bin" / "streamlit"),),
    )
    try:
        page.goto(server.base_url)
        expect(page.get_by_text(re.compile(rf"{total} affichées sur {total}"))).to_be_visible()
        wait_drawn(page.frame_locator(MAP_IFRAME), placed)
        markers = page.frame_locator(MAP_IFRAME).locator(f".{MARKER_CLASS}, .carto-cluster")
        expect(markers.first).to_be_visible()
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")

    assert network.blocked == [], network.report()
    assert network.bad_responses == [], network.report()
    assert network.failed_local == [], network.report()
    assert network.page_errors == [], network.report()
    assert "Traceback" not in log, server.log_tail(60)

    for name, root in (("code", tree), ("venv", venv)):
        was, now = before[name], _listing(root)
        changed = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
        assert changed == [], f"écrit dans le {name} ({root}) : {changed[:20]}"

    # What the app wrote is in CARTO_STATE_DIR, owned by the service user.
    sqlite_file = Path(settings.database_url.removeprefix("sqlite:///"))
    assert sqlite_file.parent == state_dir and sqlite_file.is_file(), sorted(state_dir.rglob("*"))
    marker_files = [p for p in settings.markers_dir.rglob("*") if p.is_file()]
    assert marker_files, f"aucun fichier de marqueurs sous {settings.markers_dir}"
    for path in [sqlite_file, *marker_files]:
        assert path.stat().st_uid == deployment.user.pw_uid, path
