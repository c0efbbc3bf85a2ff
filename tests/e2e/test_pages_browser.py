"""The pages as `streamlit run app.py` serves them: menu, the map's data files from the state
directory (never from the code tree), and a French message for what no page caught."""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import expect

from carto.config import Settings
from carto.intake import pipeline as dataset
from carto.map.basemap import MARKER_CLASS
from carto.ui.errors import UNEXPECTED
from carto.ui.routes import IMMUTABLE, MARKERS_URL

from .conftest import DEFAULT_ENV, MAP_IFRAME, pick_from_list
from .initiatives import wait_drawn

pytestmark = pytest.mark.browser

RUN_TIMEOUT_S = 60.0


def _get(url: str) -> tuple[int, dict[str, str]]:
    """Status and headers (names in lower case) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (localhost)
            response.read()
            status, headers = response.status, response.headers
    except urllib.error.HTTPError as error:
        status, headers = error.code, error.headers
    return int(status), {name.lower(): value for name, value in headers.items()}


def test_map_data_comes_from_the_state_dir(page, network, streamlit_app) -> None:
    settings = Settings.from_env({**DEFAULT_ENV, **streamlit_app.env})
    placed = len(dataset.load(settings.data_path, departement=settings.departement).placed)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(streamlit_app.base_url)
    wait_drawn(page.frame_locator(MAP_IFRAME), placed)

    data_urls = [url for url in requested if MARKERS_URL + "/" in url]
    assert data_urls, requested
    assert not [url for url in requested if "/app/static/markers" in url]
    status, headers = _get(data_urls[0])
    assert status == 200 and headers["cache-control"] == IMMUTABLE
    served = data_urls[0].split(MARKERS_URL + "/", 1)[1]
    assert (streamlit_app.state_dir / "markers" / served).is_file()
    # Refused by Streamlit's own path checks (400) or by the route (404).
    for outside in ("..%2F..%2Fapp.py", "..%2Fcarto.sqlite", "x.json", "../../app.py"):
        assert _get(f"{streamlit_app.base_url}{MARKERS_URL}/{outside}")[0] in (400, 404), outside
    assert network.blocked == [] and network.page_errors == [], network.report()
    assert network.bad_responses == [], network.report()


def test_menu_leads_to_the_publier_page(page, network, streamlit_app) -> None:
    page.goto(streamlit_app.base_url)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("link", name="Carte des initiatives")).to_be_visible()
    sidebar.get_by_role("link", name="Publier (éditeurs)").click()
    expect(page.get_by_role("heading", name="Publier une mise à jour")).to_be_visible()
    page.wait_for_url(re.compile(r"/publier$"))
    assert network.blocked == [] and network.page_errors == [], network.report()
    assert network.bad_responses == [], network.report()
    # A link to the page works too (Streamlit first probes /publier/_stcore/… as a base path:
    # two 404s of its own, not counted here).
    page.goto(streamlit_app.base_url + "/publier")
    expect(page.get_by_role("heading", name="Publier une mise à jour")).to_be_visible()
    assert network.blocked == [] and network.page_errors == [], network.report()


def test_a_table_row_selects_its_initiative(page, network, streamlit_app) -> None:
    settings = Settings.from_env({**DEFAULT_ENV, **streamlit_app.env})
    names = dict(
        dataset.load(settings.data_path, departement=settings.departement)
        .table[["id", "nom"]]
        .itertuples(index=False)
    )
    page.goto(streamlit_app.base_url)
    markers = page.frame_locator(MAP_IFRAME).locator(f".{MARKER_CLASS}, .carto-cluster")
    expect(markers.first).to_be_visible()
    # The table is plain HTML; the list under it opens an initiative (by pointer or keyboard).
    third = page.get_by_test_id("stTable").locator("tbody tr").nth(2).locator("td").first
    name = third.inner_text()
    pick_from_list(page, "Voir le détail de l'initiative", name)
    page.wait_for_url(re.compile(r"[?&]id="))
    picked = page.url.split("id=", 1)[1].split("&", 1)[0]
    assert names[picked] == name
    expect(page.get_by_role("heading", name=names[picked], exact=True)).to_be_visible()
    assert network.blocked == [] and network.page_errors == [], network.report()


async def _run(ws: Any, change: Any = None) -> list[Any]:
    """Send one rerun (with `change`, a widget state, if given); return its new elements."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    message = BackMsg()
    message.rerun_script.query_string = ""
    if change is not None:
        message.rerun_script.widget_states.widgets.append(change)
    await ws.send(message.SerializeToString())
    elements = []
    while True:
        received = ForwardMsg()
        received.ParseFromString(await asyncio.wait_for(ws.recv(), timeout=RUN_TIMEOUT_S))
        kind = received.WhichOneof("type")
        if kind == "delta" and received.delta.WhichOneof("type") == "new_element":
            elements.append(received.delta.new_element)
        elif kind == "script_finished":
            return elements


async def _crafted_search_value(port: int) -> list[Any]:
    """What a visitor gets back for a search value Streamlit cannot decode (an int)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from websockets.asyncio.client import connect

    async with connect(
        f"ws://127.0.0.1:{port}/_stcore/stream",
        subprotocols=["streamlit"],  # type: ignore[list-item]
        max_size=None,
        open_timeout=RUN_TIMEOUT_S,
    ) as ws:
        first = await _run(ws)
        (search_id,) = [
            e.text_input.id
            for e in first
            if e.WhichOneof("type") == "text_input" and "f_text" in e.text_input.id
        ]
        crafted = WidgetState(id=search_id, int_value=123)
        return await _run(ws, crafted)


def test_a_value_streamlit_cannot_decode_gets_a_french_message(streamlit_app) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:  # Playwright may own this thread's loop
        elements = pool.submit(asyncio.run, _crafted_search_value(streamlit_app.port)).result()
    kinds = [e.WhichOneof("type") for e in elements]
    assert "exception" not in kinds, kinds
    alerts = [e.alert.body for e in elements if e.WhichOneof("type") == "alert"]
    assert UNEXPECTED in alerts, alerts
    assert "Erreur inattendue d'une page : TypeError" in streamlit_app.log_tail(200)  # logged
