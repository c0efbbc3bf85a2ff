"""Hundreds of views through the real server never blank the public map (issue 8, item 2).

The views are driven the way a browser drives them, over Streamlit's websocket protocol
(protobuf BackMsg/ForwardMsg on /_stcore/stream, as in bench/concurrency.py): each one is a
commune selection in the sidebar, and every marker data URL the page hands out is fetched at
once. A real Chromium then opens the default view, which must still draw all its markers.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from carto.config import Settings
from carto.filters import FilterSpec, apply_filters
from carto.intake import pipeline as dataset
from carto.ui.routes import MARKERS_URL as MARKERS_ROUTE

from .conftest import DEFAULT_ENV, MAP_IFRAME
from .initiatives import drawn_count, wait_drawn

pytestmark = pytest.mark.browser

VIEWS = 300
WORKERS = 2
# The default view is asked for again every few views, like the page most visitors open.
DEFAULT_EVERY = 10
RUN_TIMEOUT_S = 60.0
TOTAL_TIMEOUT_S = 600.0
MARKERS_URL = re.compile(re.escape(MARKERS_ROUTE) + r"/[\w./-]+?\.json")
COMMUNES_KEY = "f_communes"
# Its own server, so that other browser tests share none of these 300 views.
ENV = {"CARTO_DEPARTEMENT": "62"}


@dataclass
class Tally:
    runs: int = 0
    urls: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def expected_counts() -> tuple[int, int]:
    settings = Settings.from_env({**DEFAULT_ENV, **ENV})
    loaded = dataset.load(settings.data_path, departement=settings.departement)
    return len(loaded.placed), len(loaded.table)


def commune_views(count: int) -> list[list[str]]:
    """`count` distinct commune selections (pairs, then triples) of the served dataset."""
    settings = Settings.from_env({**DEFAULT_ENV, **ENV})
    table = dataset.load(settings.data_path, departement=settings.departement).table
    codes = sorted(table["code_insee"].dropna().astype(str).unique())
    combos = itertools.chain(itertools.combinations(codes, 2), itertools.combinations(codes, 3))
    views = [list(c) for c in itertools.islice(combos, count)]
    assert len(views) == count, f"only {len(views)} distinct selections in the dataset"
    return views


def distinct_results(views: list[list[str]]) -> int:
    """How many different sets of initiatives these commune selections show (carto.filters)."""
    settings = Settings.from_env({**DEFAULT_ENV, **ENV})
    table = dataset.load(settings.data_path, departement=settings.departement).table
    shown = {tuple(apply_filters(table, FilterSpec(communes=tuple(view)))["id"]) for view in views}
    return len(shown)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (localhost)
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


async def _finish(ws: Any, tally: Tally) -> tuple[str | None, str | None]:
    """Read one run's messages: (markers data URL, id of the communes multiselect)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    url = widget_id = None
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout=RUN_TIMEOUT_S)
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            element_kind = element.WhichOneof("type")
            if element_kind == "exception":
                tally.errors.append(f"exception : {element.exception.message[:200]}")
            elif element_kind == "multiselect" and COMMUNES_KEY in element.multiselect.id:
                widget_id = element.multiselect.id
            elif element_kind == "component_instance":
                found = MARKERS_URL.search(element.component_instance.json_args)
                url = found.group(0) if found else url
        elif kind == "script_finished":
            if msg.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                tally.errors.append(f"fin de script : {msg.script_finished}")
            tally.runs += 1
            return url, widget_id


async def _check(base_url: str, url: str | None, tally: Tally) -> None:
    if url is None:
        tally.errors.append("aucune URL de données de marqueurs dans la page")
        return
    tally.urls.add(url)
    status = await asyncio.to_thread(_status, base_url + url)
    if status != 200:
        tally.missing.append(f"{status} {url}")


async def _visitor(base_url: str, views: list[list[str]], tally: Tally) -> None:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from websockets.asyncio.client import connect

    port = urlsplit(base_url).port
    async with connect(
        f"ws://127.0.0.1:{port}/_stcore/stream",
        subprotocols=["streamlit"],  # type: ignore[list-item]
        max_size=None,
        open_timeout=RUN_TIMEOUT_S,
    ) as ws:
        first = BackMsg()
        first.rerun_script.query_string = ""
        await ws.send(first.SerializeToString())
        url, widget_id = await _finish(ws, tally)
        await _check(base_url, url, tally)
        assert widget_id is not None, "communes multiselect not found in the page"
        for number, codes in enumerate(views, start=1):
            selections = [codes, []] if number % DEFAULT_EVERY == 0 else [codes]
            for selection in selections:
                change = BackMsg()
                change.rerun_script.query_string = ""
                state = change.rerun_script.widget_states.widgets.add()
                state.id = widget_id
                state.string_array_value.data.extend(selection)
                await ws.send(change.SerializeToString())
                url, _ = await _finish(ws, tally)
                await _check(base_url, url, tally)


def drive_views(base_url: str, views: list[list[str]]) -> Tally:
    tally = Tally()

    async def main() -> None:
        shares = [views[i::WORKERS] for i in range(WORKERS)]
        await asyncio.wait_for(
            asyncio.gather(*(_visitor(base_url, share, tally) for share in shares)),
            timeout=TOTAL_TIMEOUT_S,
        )

    # Playwright's sync API runs an event loop in this thread: use another one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, main()).result()
    return tally


def test_default_view_keeps_its_markers_after_300_views(page, network, streamlit_server) -> None:
    app = streamlit_server(ENV)
    placed, total = expected_counts()
    page.goto(app.base_url)
    expect(page.get_by_text(re.compile(rf"^{total} affichées sur {total}$"))).to_be_visible()
    wait_drawn(page.frame_locator(MAP_IFRAME), placed)

    views = commune_views(VIEWS)
    tally = drive_views(app.base_url, views)
    print(
        f"{tally.runs} exécutions, {len(tally.urls)} URL de données distinctes, "
        f"{len(tally.missing)} manquante(s) (404), {len(tally.errors)} erreur(s)"
    )
    # A newcomer opens the default view: every marker is drawn, no data file is missing.
    fresh = page.context.new_page()
    fresh.on(
        "response",
        lambda r: network.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    fresh.goto(app.base_url)
    expect(fresh.get_by_text(re.compile(rf"^{total} affichées sur {total}$"))).to_be_visible()
    drawn = fresh.frame_locator(MAP_IFRAME)
    try:
        wait_drawn(drawn, placed)
    finally:
        print(f"vue par défaut ensuite : {drawn_count(drawn)} marqueur(s) sur {placed}")
    assert network.bad_responses == [], network.report()
    assert network.page_errors == [], network.report()
    assert tally.errors == [], tally.errors[:5]
    assert tally.missing == [], f"{len(tally.missing)} : {tally.missing[:5]}"
    # The views really gave distinct data files: one per distinct set of initiatives shown
    # (areas covering several communes make some selections show the same set).
    distinct = distinct_results(views)
    assert distinct > VIEWS / 2
    assert len(tally.urls) >= distinct * 0.9
