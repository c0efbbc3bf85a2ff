"""The real app in headless Chromium: time until the markers are drawn, websocket bytes, RSS.

Chromium is Debian's (/usr/bin/chromium); every non-local request is aborted and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from datasets import BenchDataset
from measure import rss_mb
from streamlit_server import StreamlitServer, start_streamlit

from carto.config import PROJECT_ROOT
from carto.ui.routes import MARKERS_URL

# Leaflet class of our markers (carto.map.basemap.MARKER_CLASS when the markers are SVG paths).
MARKER_CLASS = "carto-initiative"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Streamlit's title for the component's frame, then the map's French one.
MAP_IFRAME = (
    'iframe[title="streamlit_folium.st_folium"], iframe[title="Carte des initiatives solidaires"]'
)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
# Streamlit has booted and shown the first run of the page: the sidebar's category filter.
FILTER = '[data-testid="stSidebar"] [data-testid="stMultiSelect"]'
CATEGORY_LABEL = "Personnels soignants"  # label of server.NARROW
# Markers drawn: the count the map's layer publishes once its initiatives are on the map
# (window.cartoMarkerCount, clustered or not: carto.map.markers, tests/e2e/initiatives.py); else
# our SVG paths, else the leaf layers of the feature groups st_folium put on the map.
COUNT_JS = f"""
n => {{
    if (window.cartoMarkerCount !== undefined) return window.cartoMarkerCount === n;
    let count = document.querySelectorAll('path.{MARKER_CLASS}').length;
    if (!count) {{
        const walk = layer => {{
            if (layer.getLayers) layer.getLayers().forEach(walk); else count += 1;
        }};
        (window.feature_group || []).filter(group => group._map).forEach(walk);
    }}
    return count === n;
}}
"""


@dataclass
class AppServer:
    """The app served by the shared harness (tests/streamlit_server.py); RSS sampled."""

    server: StreamlitServer
    peak_rss_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def port(self) -> int:
        return self.server.port

    @classmethod
    def start(cls, data: BenchDataset, *, log_dir: Path, timeout_s: float = 90) -> AppServer:
        # The server gets its own CARTO_STATE_DIR in log_dir: nothing is written in the checkout.
        server = start_streamlit(
            cwd=PROJECT_ROOT,
            env={"CARTO_TILES": "none", "CARTO_DATABASE_URL": data.database_url},
            log_dir=log_dir,
            name=f"streamlit-{data.size}",
            timeout_s=timeout_s,
        )
        app = cls(server)
        threading.Thread(target=app._sample_rss, daemon=True).start()
        return app

    def _sample_rss(self) -> None:
        while not self._stop.wait(0.2):
            current, peak = rss_mb(self.server.process.pid)
            if peak == peak:  # not NaN: the process is alive
                self.peak_rss_mb = max(self.peak_rss_mb, peak, current)

    def rss(self) -> tuple[float, float]:
        return rss_mb(self.server.process.pid)

    def stop(self) -> None:
        self._stop.set()
        self.server.stop()


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


@dataclass
class ViewerRun:
    """One visitor: open the map, then narrow to one category."""

    open_s: float = float("nan")
    # The page-boot part of open_s: navigation -> Streamlit's first run shown (the sidebar's
    # category filter), and -> the map's frame loaded (its document and scripts, no marker yet).
    app_s: float = float("nan")
    frame_s: float = float("nan")
    filter_s: float = float("nan")
    open_ws_bytes: int = 0
    filter_ws_bytes: int = 0
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def new_context(browser: Any, blocked: list[str]) -> Any:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")

    async def route(route: Any) -> None:
        if _is_local(route.request.url):
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("blockedbyclient")

    await context.route("**/*", route)
    return context


async def _unless_exception(page: Any, waiting: Any) -> Any:
    """Await `waiting`, but fail at once when the page shows a Python exception."""
    task = asyncio.ensure_future(waiting)
    failure = asyncio.ensure_future(
        page.wait_for_selector('[data-testid="stException"]', timeout=0)
    )
    try:
        done, _ = await asyncio.wait({task, failure}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        text = await page.locator('[data-testid="stException"]').first.inner_text()
        raise RuntimeError(f"exception dans la page : {text[:300]}")
    finally:
        for pending in (task, failure):
            if not pending.done():
                pending.cancel()
        await asyncio.gather(task, failure, return_exceptions=True)


async def _wait_count(page: Any, frame: Any, count: int, *, timeout_ms: float) -> None:
    await _unless_exception(
        page, frame.wait_for_function(COUNT_JS, arg=count, polling=50, timeout=timeout_ms)
    )


async def view(
    browser: Any,
    url: str,
    *,
    placed: int,
    narrow_placed: int,
    timeout_s: float,
    change_filter: bool = True,
) -> ViewerRun:
    """Navigation -> `placed` markers in the map iframe; click a category -> `narrow_placed`."""
    run = ViewerRun()
    context = await new_context(browser, run.blocked)
    received = [0]

    def on_websocket(ws: Any) -> None:
        ws.on("framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload)))

    async def on_response(response: Any) -> None:
        # The map's static files (outlines, marker data) count as map bytes too (decompressed,
        # like the websocket frames; the server may send them gzipped).
        if "/app/static/geo/" in response.url or MARKERS_URL in response.url:
            with contextlib.suppress(Exception):  # a page closed mid-download
                received[0] += len(await response.body())

    try:
        page = await context.new_page()
        page.set_default_timeout(timeout_s * 1000)
        page.on("websocket", on_websocket)
        page.on("response", on_response)
        page.on("pageerror", lambda error: run.errors.append(f"page : {error}"))
        start = time.perf_counter()
        await page.goto(url)
        await _unless_exception(page, page.wait_for_selector(FILTER, state="attached"))
        run.app_s = time.perf_counter() - start
        handle = await _unless_exception(page, page.wait_for_selector(MAP_IFRAME, state="attached"))
        frame = await handle.content_frame()
        await frame.wait_for_load_state("load")
        run.frame_s = time.perf_counter() - start
        await _wait_count(page, frame, placed, timeout_ms=timeout_s * 1000)
        run.open_s = time.perf_counter() - start
        run.open_ws_bytes = received[0]
        if not change_filter:
            return run
        sidebar = page.locator(FILTER).first
        await sidebar.click()
        option = page.get_by_role("option").filter(has_text=CATEGORY_LABEL)
        await option.wait_for()
        before = received[0]
        start = time.perf_counter()
        await option.click()
        await _wait_count(page, frame, narrow_placed, timeout_ms=timeout_s * 1000)
        run.filter_s = time.perf_counter() - start
        run.filter_ws_bytes = received[0] - before
    except Exception as error:  # a timeout or a crash is a result, not a reason to stop
        run.errors.append(f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
    finally:
        await context.close()
    return run


async def launch(playwright: Any) -> Any:
    return await playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )


def bench_browser(
    data: BenchDataset, server: AppServer, *, repeats: int, timeout_s: float, warmup: int = 1
) -> list[ViewerRun]:
    """`repeats` visitors one after the other (each in a fresh browser context), on a warm
    server: `warmup` visitors first, not counted (the first run fills the server's caches)."""
    from playwright.async_api import async_playwright

    placed = len(data.placed)
    narrow = int(data.placed["categorie"].isin(["soignants"]).sum())

    async def main() -> list[ViewerRun]:
        async with async_playwright() as playwright:
            browser = await launch(playwright)
            try:
                runs: list[ViewerRun] = []
                for number in range(warmup + repeats):
                    run = await view(
                        browser,
                        server.url,
                        placed=placed,
                        narrow_placed=narrow,
                        timeout_s=timeout_s,
                    )
                    if run.errors and number < warmup:
                        return [run]  # the page does not work: one failure says it
                    runs.append(run)
                return runs[warmup:]
            finally:
                await browser.close()

    return asyncio.run(main())
