"""The real app behind `streamlit run`, for the browser tests and the benchmark.

One harness: start `streamlit run app.py` on a free local port with a given environment, wait for
/_stcore/health, keep the server's log, stop it (its whole process group). Used by
tests/e2e/conftest.py (pytest puts tests/ on sys.path) and by bench/browser.py (bench/run.py adds
tests/ to sys.path). It does not import carto, so it serves any code tree: the checkout, another
commit (bench/run.py --source) or a copy installed for another user (test_unprivileged.py).

Each server gets its own CARTO_STATE_DIR (a new folder in log_dir unless one is given) and its
own secrets file, so nothing is written in the code tree and the developer's data/, state/ and
.streamlit/secrets.toml are never read or touched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
HEALTH_PATH = "/_stcore/health"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StreamlitServer:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    # Where the app writes (CARTO_STATE_DIR).
    state_dir: Path
    # The variables asked for by the caller (not the whole environment), e.g. {"CARTO_DATA": …}.
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(pas de journal)"

    def wait_healthy(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        url = self.base_url + HEALTH_PATH
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Streamlit s'est arrêté (code {self.process.returncode}) :\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (localhost)
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)  # polling interval of the health check, not a wait for the UI
        raise RuntimeError(f"Streamlit ne répond pas sur {url} :\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        # The server was started in its own session: end its whole process group (a launcher
        # such as runuser and the streamlit process it started).
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except ProcessLookupError:
            pass


def start_streamlit(
    *,
    cwd: Path,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    script: str = "app.py",
    secrets: str | None = None,
    state_dir: Path | None = None,
    streamlit: Sequence[str] = (sys.executable, "-m", "streamlit"),
    launcher: Sequence[str] = (),
    name: str = "streamlit",
    timeout_s: float = STARTUP_TIMEOUT_S,
) -> StreamlitServer:
    """`launcher… streamlit… run script` from `cwd`, on a free port; returns once healthy.

    The environment is this process's without any STREAMLIT_* or CARTO_* variable, plus
    CARTO_STATE_DIR (state_dir, else a new folder in log_dir) and then `env`, which wins.
    `secrets` is the content of the server's own secrets.toml (empty when None). `launcher`
    runs the server through another program, e.g. ("runuser", "-u", "carto", "--").
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    if state_dir is None:
        state_dir = Path(tempfile.mkdtemp(prefix=f"state-{port}-", dir=log_dir))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMLIT_", "CARTO_"))}
    full_env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    full_env["CARTO_STATE_DIR"] = str(state_dir)
    full_env.update(env or {})
    secrets_path = log_dir / f"{name}-{port}.secrets.toml"
    secrets_path.write_text(secrets or "", encoding="utf-8")
    log_path = log_dir / f"{name}-{port}.log"
    command = [
        *launcher,
        *streamlit,
        "run",
        script,
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--secrets.files",
        str(secrets_path),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = StreamlitServer(
        port=port,
        process=process,
        log_path=log_path,
        state_dir=Path(full_env["CARTO_STATE_DIR"]),
        env=dict(env or {}),
    )
    try:
        server.wait_healthy(timeout_s)
    except BaseException:
        server.stop()
        raise
    return server
