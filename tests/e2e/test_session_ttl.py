"""Visitors who leave are freed: a closed tab's session lives `server.disconnectedSessionTTL`
seconds (so a phone that lost its signal gets its page back), then the server lets it go.

The real app is served by the real launcher (tests/streamlit_server.py) with the project's
.streamlit/config.toml; only the TTL is shortened, by STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL.
Visitors are websocket clients that speak Streamlit's protocol, as a browser does.

What we observe: Streamlit counts neither stored sessions nor freed ones (its
/_stcore/metrics `active_sessions` only counts connected ones), so the server is started through
a small launcher (written here, in the test's temporary folder) that registers every
`AppSession` Streamlit creates in a `weakref.WeakSet` and, twice a second, writes how many are
still alive after a garbage collection. A session that is only unreachable counts as freed;
one still held by the server (connected, or kept for reconnection) counts as alive. The same
visitors on a server whose TTL is an hour show that the observation can fail.

Streamlit (1.67) expires stored sessions lazily: an expired one leaves its store (at most 128
sessions, least recently used evicted first) when the store is next written, i.e. at the next
departure, not when its TTL ends. The test follows that: visitors leave, the TTL passes, one
more visitor comes and goes, and only that last one may still be held.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aio
import pytest
from streamlit_server import StreamlitServer, start_streamlit

from carto.config import PROJECT_ROOT

SHORT_TTL_S = 3
LONG_TTL_S = 3600
VISITORS = 6
RUN_TIMEOUT_S = 60.0
# After the departure that makes Streamlit drop the expired sessions: the probe's period, a
# garbage collection, slack for a loaded machine.
FREED_WITHIN_S = 15.0

PROBE = '''"""streamlit, counting the AppSession objects still alive (test_session_ttl.py)."""

import gc
import os
import sys
import threading
import time
import weakref

from streamlit.runtime import app_session

alive = weakref.WeakSet()
original_init = app_session.AppSession.__init__


def counting_init(self, *args, **kwargs):
    original_init(self, *args, **kwargs)
    alive.add(self)


app_session.AppSession.__init__ = counting_init
path = os.environ["CARTO_TEST_SESSION_COUNT"]


def report():
    while True:
        gc.collect()
        with open(path + ".tmp", "w") as out:
            out.write(str(len(alive)))
        os.replace(path + ".tmp", path)
        time.sleep(0.5)


threading.Thread(target=report, daemon=True).start()

from streamlit.web.cli import main  # noqa: E402

sys.argv[0] = "streamlit"
sys.exit(main())
'''


def _python() -> str:
    venv_python = PROJECT_ROOT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


class CountedServer:
    def __init__(self, server: StreamlitServer, count_file: Path) -> None:
        self.server = server
        self.count_file = count_file

    def alive_sessions(self) -> int:
        """The probe's latest count, waiting for a fresh one (written after this call)."""
        before = self.count_file.stat().st_mtime_ns if self.count_file.exists() else 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.count_file.exists() and self.count_file.stat().st_mtime_ns != before:
                return int(self.count_file.read_text() or "0")
            time.sleep(0.1)  # the probe writes twice a second
        raise AssertionError(f"le compteur de sessions ne répond pas :\n{self.server.log_tail()}")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[int, CountedServer]]:
    probe = tmp_path / "counting_streamlit.py"
    probe.write_text(PROBE, encoding="utf-8")
    started: dict[int, CountedServer] = {}
    try:
        for ttl in (SHORT_TTL_S, LONG_TTL_S):
            count_file = tmp_path / f"sessions-{ttl}.txt"
            server = start_streamlit(
                cwd=PROJECT_ROOT,
                log_dir=tmp_path,
                env={
                    "CARTO_TILES": "none",
                    "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(ttl),
                    "CARTO_TEST_SESSION_COUNT": str(count_file),
                },
                streamlit=(_python(), str(probe)),
                name=f"ttl-{ttl}",
            )
            started[ttl] = CountedServer(server, count_file)
        yield started
    finally:
        for counted in started.values():
            counted.server.stop()


async def _open_page(port: int) -> tuple[object, str]:
    """A visitor opens the map: (the open websocket, the page's text) once the run is over."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.asyncio.client import connect

    ws = await connect(
        f"ws://127.0.0.1:{port}/_stcore/stream",
        subprotocols=["streamlit"],  # type: ignore[list-item]
        max_size=None,
        open_timeout=RUN_TIMEOUT_S,
    )
    first = BackMsg()
    first.rerun_script.query_string = ""
    await ws.send(first.SerializeToString())
    texts: list[str] = []
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout=RUN_TIMEOUT_S)
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            if element.WhichOneof("type") == "markdown":
                texts.append(element.markdown.body)
        elif kind == "script_finished":
            return ws, "\n".join(texts)


def _visit_then_leave(ports: list[int], visitors: int) -> list[str]:
    """`visitors` visitors per server open the map together, then all close their tabs."""

    async def main() -> list[str]:
        opened = await asyncio.gather(
            *(_open_page(port) for port in ports for _ in range(visitors))
        )
        for ws, _ in opened:
            await ws.close()  # type: ignore[attr-defined]
        return [text for _, text in opened]

    return aio.run(main())


def test_closed_tabs_are_freed_after_the_ttl(servers: dict[int, CountedServer]) -> None:
    short, long = servers[SHORT_TTL_S], servers[LONG_TTL_S]
    ports = [short.server.port, long.server.port]
    baseline = {ttl: counted.alive_sessions() for ttl, counted in servers.items()}
    pages = _visit_then_leave(ports, VISITORS)
    # Each visitor saw the map (its count of initiatives), not an error.
    assert all("affichées sur" in page for page in pages), pages[0][:500]

    # Right after they leave, both servers keep their sessions for a reconnection.
    for ttl, counted in servers.items():
        kept = counted.alive_sessions() - baseline[ttl]
        assert kept == VISITORS, f"TTL {ttl} s : {kept} sessions gardées juste après le départ"

    # Past the short TTL, someone else comes and goes. Streamlit drops expired sessions from its
    # store when it next writes to it (a departure), not on a timer: that is when they are freed.
    time.sleep(SHORT_TTL_S + 1)
    _visit_then_leave(ports, 1)
    freed_by = time.monotonic() + FREED_WITHIN_S
    remaining = VISITORS + 1
    while time.monotonic() < freed_by and remaining > 1:
        remaining = short.alive_sessions() - baseline[SHORT_TTL_S]
    assert remaining == 1, (
        f"TTL {SHORT_TTL_S} s : {remaining - 1} session(s) de visiteurs partis depuis plus "
        "longtemps toujours en mémoire (seule celle du dernier parti devrait l'être)"
    )
    # The same visitors and the same wait with an hour of TTL: every session is still there.
    kept_long = long.alive_sessions() - baseline[LONG_TTL_S]
    assert kept_long == VISITORS + 1, f"TTL d'une heure : {kept_long} sessions gardées"
