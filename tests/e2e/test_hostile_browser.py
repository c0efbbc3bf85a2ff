"""Markup and Markdown in a published file, seen in a real browser: text, never code.

The server publishes tests/data/hostile/balisage-valide.csv (script tags, event handlers,
Markdown links and images in every free-text column, formulas, bidi overrides). Tooltips, the
detail panel (opened by a click and by a shared ?id= link) and the table must show those strings
literally: no dialog, no script run, no element created by the markup, no remote request, and
links only to http(s), mailto: and tel:.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from carto.config import PROJECT_ROOT
from carto.intake import pipeline as dataset

from .conftest import MAP_IFRAME, NetworkLog, StreamlitServer
from .initiatives import reveal_by_pointer, wait_drawn

pytestmark = pytest.mark.browser

HOSTILE_CSV = PROJECT_ROOT / "tests" / "data" / "hostile" / "balisage-valide.csv"
SAFE_PROTOCOLS = ("http:", "https:", "mailto:", "tel:")

# Any dialog function called by injected code also leaves a console error we can count, even in a
# sandboxed frame that may not raise dialogs.
SPY = """
(() => {
    for (const name of ["alert", "confirm", "prompt", "print"]) {
        const original = window[name];
        window[name] = function (...args) {
            console.error("carto-injected " + name + "(" + args.join(",") + ")");
            return original ? original.apply(window, args) : undefined;
        };
    }
})();
"""
# Elements the corpus would create if any layer parsed it as HTML or Markdown.
INJECTED = ", ".join(
    (
        'img[src="x"]',
        'img[src*="evil.example"]',
        "svg[onload]",
        "[onerror]",
        "[onload]",
        'a[href^="javascript:" i]',
        'a[href^="data:" i]',
    )
)
FIND_INJECTED = """
selector => {
    const found = Array.from(document.querySelectorAll(selector)).map(e => e.outerHTML);
    for (const s of document.scripts) {
        if (s.textContent.trim() === "alert(1)") found.push(s.outerHTML);
    }
    return found.map(h => h.slice(0, 200));
}
"""
LINKS = "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, Any]]:
    """The published rows, as carto's pipeline cleans them (bidi controls removed)."""
    loaded = dataset.load(HOSTILE_CSV)
    assert loaded.ok and len(loaded.placed) == len(loaded.table) == 9
    return {str(r["id"]): r for r in loaded.table.to_dict("records")}


@pytest.fixture(scope="module")
def app(streamlit_server: Any) -> StreamlitServer:
    return streamlit_server({"CARTO_DATA": str(HOSTILE_CSV)})


def open_page(page: Any, url: str, total: int) -> Any:
    page.context.add_init_script(SPY)
    page.goto(url)
    expect(page.get_by_text(f"{total} affichées sur {total}")).to_be_visible()
    frame = page.frame_locator(MAP_IFRAME)
    wait_drawn(frame, total)
    return frame


def assert_nothing_ran(page: Any, network: NetworkLog) -> None:
    """No dialog, no injected element or script, no remote request, safe links, in every frame."""
    for frame in page.frames:
        assert frame.evaluate(FIND_INJECTED, INJECTED) == [], frame.url
        for href in frame.evaluate(LINKS):
            assert href.lower().startswith(SAFE_PROTOCOLS), (frame.url, href)
    assert network.dialogs == [], network.report()
    assert network.blocked == [], network.report()
    assert network.page_errors == [], network.report()
    assert network.console_errors == [], network.report()


def detail_panel(page: Any) -> Any:
    return page.locator('[data-testid="stColumn"]:has(h3)').last


def assert_panel_shows(page: Any, row: dict[str, Any]) -> None:
    panel = detail_panel(page)
    expect(panel.locator("h3")).to_have_text(row["nom"])
    text = panel.inner_text()
    expected = [*str(row["description"]).split("\n"), row["adresse"], row["telephone"]]
    expected += [row["source"]] + ([row["zone"]] if row["portee"] != "commune" else [])
    for value in filter(None, expected):
        assert value in text, (value, text)
    assert "\u202e" not in text
    # Links: the site (when any) and the e-mail, with safe schemes; never the phone "number".
    hrefs = panel.evaluate("p => Array.from(p.querySelectorAll('a[href]')).map(a => a.href)")
    if row["site_web"]:
        assert any(h.startswith("https://www.exemple.fr/?q=") for h in hrefs), hrefs
    if row["email"]:
        assert f"mailto:{row['email']}" in hrefs, hrefs
    assert not any(h.startswith("tel:") for h in hrefs), hrefs


def test_tooltips_show_hostile_names_as_text(page, network, app, rows) -> None:
    frame = open_page(page, app.base_url, len(rows))
    tooltip = frame.locator(".leaflet-tooltip")
    seen = []
    for ident in rows:
        reveal_by_pointer(frame, ident).hover()
        expect(tooltip).to_have_count(1)
        seen.append(tooltip.inner_text())
        assert tooltip.locator("img, svg, script, a, iframe").count() == 0
        page.mouse.move(1, 1)  # leave the marker: its tooltip closes before the next one opens
        expect(tooltip).to_have_count(0)
    for row in rows.values():
        assert sum(text.startswith(row["nom"]) for text in seen) == 1, (row["nom"], seen)
    assert_nothing_ran(page, network)


@pytest.mark.parametrize(
    "ident",
    [f"hostile-{i:02d}" for i in range(1, 8)] + ["hostile-formules", "hostile-bidi"],
)
def test_shared_link_detail_panel_shows_text_literally(page, network, app, rows, ident) -> None:
    open_page(page, f"{app.base_url}/?id={ident}", len(rows))
    assert_panel_shows(page, rows[ident])
    assert_nothing_ran(page, network)


def test_clicking_a_marker_opens_its_panel_as_text(page, network, app, rows) -> None:
    target = rows["hostile-04"]  # "[clic](javascript:alert(1))" everywhere
    frame = open_page(page, app.base_url, len(rows))
    tooltip = frame.locator(".leaflet-tooltip")
    marker = reveal_by_pointer(frame, "hostile-04")
    marker.hover()
    expect(tooltip).to_have_count(1)
    assert tooltip.inner_text().startswith(target["nom"])
    marker.click()
    expect(page).to_have_url(re.compile(r"[?&]id=hostile-04(&|$)"))
    assert_panel_shows(page, target)
    assert_nothing_ran(page, network)


def test_table_shows_hostile_names_as_text(page, network, app, rows) -> None:
    open_page(page, app.base_url, len(rows))
    # The table is plain HTML (st.table): names are its cells' text.
    grid = page.locator('[data-testid="stTable"] table')
    for row in rows.values():
        expect(grid).to_contain_text(row["nom"])
    assert_nothing_ran(page, network)
