"""Browser harness: the real app served by Streamlit, seen by a Chromium cut off from the internet.

Fixtures:
- `streamlit_server` (session): a function `start(env=None) -> StreamlitServer`; each distinct
  env (e.g. {"CARTO_DATA": path}) gets its own server, started once and killed at the end, with
  its own CARTO_STATE_DIR and secrets file (the shared harness: tests/streamlit_server.py).
- `streamlit_app` (session): the default server (CARTO_TILES=none, the project's dataset).
- `browser` (session): headless Debian Chromium; skipped when absent unless
  CARTO_REQUIRE_BROWSER=1.
- `network` + `page` (per test): a fresh context whose non-local requests are aborted and
  counted, with dialogs, console errors and failed local requests recorded; a screenshot and
  the log go to $CARTO_TEST_ARTIFACTS (default: a folder in the system temp dir) when the test
  fails; never into the checkout.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from apptest import PASSWORD
from playwright.sync_api import expect
from streamlit_server import StreamlitServer, start_streamlit

from carto.config import PROJECT_ROOT
from carto.map.assets import check_assets

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(
    os.environ.get("CARTO_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "carto-test-artifacts"
)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
# streamlit-folium's component iframe: Streamlit titles it after the component's name, then the
# map page gives it its French title (carto.map.basemap.MAP_TITLE).
MAP_IFRAME = (
    'iframe[title="streamlit_folium.st_folium"], iframe[title="Carte des initiatives solidaires"]'
)
DEFAULT_TIMEOUT_MS = 30_000
# The file inputs of the Publier page's two uploaders, by their label: they take every type
# (no `accept` attribute to tell them apart).
IMPORT_FILE_INPUT = (
    '[data-testid="stFileUploader"]:has-text("Fichier d\'initiatives") input[type="file"]'
)
COMMUNIQUE_FILE_INPUT = (
    '[data-testid="stFileUploader"]:has-text("Communiqué de presse") input[type="file"]'
)
DEFAULT_ENV = {"CARTO_TILES": "none"}


def _python() -> str:
    venv_python = PROJECT_ROOT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"navigateur absent : {CHROMIUM} (paquet Debian chromium)"
    if os.environ.get("CARTO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, alors que CARTO_REQUIRE_BROWSER=1")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def streamlit_server(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., StreamlitServer]]:
    missing = check_assets(PROJECT_ROOT / "static")
    if missing:
        pytest.fail(f"static/vendor incomplet ({', '.join(missing[:3])}…) : lancez « make assets »")
    log_dir = tmp_path_factory.mktemp("streamlit-logs")
    servers: dict[tuple[tuple[str, str], ...], StreamlitServer] = {}

    def start(
        env: dict[str, str] | None = None, *, script: str = "app.py", secrets: str | None = None
    ) -> StreamlitServer:
        key = (("script", script), ("secrets", secrets or ""), *sorted((env or {}).items()))
        if key not in servers:
            servers[key] = start_streamlit(
                cwd=PROJECT_ROOT,
                env={**DEFAULT_ENV, **(env or {})},
                script=script,
                secrets=secrets,
                log_dir=log_dir,
                streamlit=(_python(), "-m", "streamlit"),
            )
        return servers[key]

    try:
        yield start
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="session")
def streamlit_app(streamlit_server: Callable[..., StreamlitServer]) -> StreamlitServer:
    return streamlit_server()


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class NetworkLog:
    """What the page tried to do that a user on a closed network would notice."""

    blocked: list[str] = field(default_factory=list)
    failed_local: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def report(self) -> str:
        parts = []
        for name in (
            "blocked",
            "failed_local",
            "bad_responses",
            "dialogs",
            "console_errors",
            "page_errors",
        ):
            values = getattr(self, name)
            parts.append(f"{name} ({len(values)}):")
            parts.extend(f"  {value}" for value in values)
        return "\n".join(parts)


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True  # data:, blob:, about: never leave the machine
    return (parts.hostname or "") in LOCAL_HOSTS


def wait_until(page: Any, condition: Callable[[], bool], *, timeout_ms: int = 10_000) -> None:
    """Wait for a Python-side condition (e.g. on NetworkLog), letting Playwright deliver events."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition non remplie après {timeout_ms} ms")
        page.wait_for_timeout(50)  # pumps Playwright's event loop between checks


def sign_in(page: Any, base_url: str, username: str = "marie", password: str = PASSWORD) -> None:
    """Sign in on the Publier page with the form, as an editor does."""
    page.goto(base_url + "/publier")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Connecté :")).to_be_visible()


def pick_from_list(page: Any, label: str, text: str) -> None:
    """Open an initiative from the list under the table with the keyboard, as a person does:
    select what the field holds, type, wait until the list marks an option as the active one
    (the combobox's aria-activedescendant, which a screen reader announces), then Enter.

    Enter pressed before the list has settled on an option selects nothing: a person would see
    it and press again; the test waits, as that person reads, instead."""
    picker = page.get_by_role("combobox", name=label)
    picker.focus()
    page.keyboard.press("ControlOrMeta+a")  # the previous choice's name, replaced by typing
    page.keyboard.type(text)
    first = page.get_by_role("option").first
    expect(first).to_contain_text(text)
    expect(first).to_have_attribute("id", re.compile(".+"))
    expect(picker).to_have_attribute("aria-activedescendant", first.get_attribute("id") or "")
    page.keyboard.press("Enter")


@pytest.fixture
def network() -> NetworkLog:
    return NetworkLog()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def page(browser: Any, network: NetworkLog, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")

    def route(route: Any) -> None:
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            network.blocked.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(DEFAULT_TIMEOUT_MS)
    # expect() has its own 5 s default; the first Streamlit render can take longer.
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)

    def on_dialog(dialog: Any) -> None:
        network.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_request_failed(req: Any) -> None:
        if is_local(req.url):
            network.failed_local.append(f"{req.url} ({req.failure})")

    def on_response(response: Any) -> None:
        if response.status >= 400 and is_local(response.url):
            network.bad_responses.append(f"{response.status} {response.url}")

    page.on("dialog", on_dialog)
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    page.on(
        "console",
        lambda msg: network.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda error: network.page_errors.append(str(error)))
    try:
        yield page
    finally:
        call_report = getattr(request.node, "rep_call", None)
        if call_report is not None and call_report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{stem}.png"), full_page=True)
            except Exception as error:  # a crashed page must not hide the test's own failure
                network.page_errors.append(f"screenshot impossible : {error}")
            (ARTIFACTS / f"{stem}.network.txt").write_text(network.report())
        context.close()
