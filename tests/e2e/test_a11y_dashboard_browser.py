"""The Streamlit map page as RGAA asks, as far as Streamlit allows (issue 10, §5).

French page and map frame, French names on Streamlit's and Leaflet's controls, a real HTML table
with a keyboard way to open an initiative, and axe-core (npm, node_modules/axe-core) run in
Chromium on the page and inside the map's frame: no critical or serious violation.
docs/accessibility.md lists what the checks cover and what remains.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from carto.config import PROJECT_ROOT
from carto.intake import pipeline as dataset
from carto.map.basemap import MAP_TITLE, MARKER_CLASS, ZOOM_IN_TITLE, ZOOM_OUT_TITLE

from .conftest import ARTIFACTS, MAP_IFRAME, pick_from_list

pytestmark = pytest.mark.browser

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
DATA = PROJECT_ROOT / "data" / "initiatives.csv"
GUINES = "pdc-2020-04-06-14"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
PICKER = "Voir le détail de l'initiative"
# Rule ids that may remain, by impact, and why (docs/accessibility.md): none at these levels.
ALLOWED: dict[str, frozenset[str]] = {"critical": frozenset(), "serious": frozenset()}
# English words Streamlit or Leaflet put on their controls, which a French page must not show.
# Whether the focused element is at least partly on screen (RGAA 10.7, WCAG 2.4.11).
FOCUS_ON_SCREEN = """() => {
    const box = document.activeElement.getBoundingClientRect();
    return document.activeElement !== document.body && box.bottom > 0
        && box.top < window.innerHeight;
}"""
ENGLISH = ("Skip to main content", "Select all", "Download as CSV", "Zoom in", "Zoom out")


def open_map(page: Any, url: str) -> Any:
    page.goto(url)
    frame = page.frame_locator(MAP_IFRAME)
    expect(frame.locator(f".{MARKER_CLASS}").first).to_be_visible()
    expect(page.locator(f'iframe[title="{MAP_TITLE}"]')).to_have_count(1)
    return frame


def map_frame(page: Any) -> Any:
    return next(
        f for f in page.frames if f != page.main_frame and f.locator(".leaflet-container").count()
    )


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations for the page and its map frame (axe loaded in both, run from the
    page, so that page-level rules judge the whole page)."""
    source = AXE.read_text(encoding="utf-8")
    map_frame(page).add_script_tag(content=source)
    page.add_script_tag(content=source)
    return page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
                targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )


def names_of(path: Path) -> list[str]:
    return list(dataset.load(path).table["nom"].astype(str))


def test_the_page_and_the_map_frame_are_in_french(page, network, streamlit_app) -> None:
    page.set_viewport_size(DESKTOP)
    frame = open_map(page, streamlit_app.base_url)
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert map_frame(page).evaluate("document.documentElement.lang") == "fr"
    expect(frame.locator(".leaflet-control-zoom-in")).to_have_attribute("title", ZOOM_IN_TITLE)
    expect(frame.locator(".leaflet-control-zoom-out")).to_have_attribute("title", ZOOM_OUT_TITLE)
    collapse = page.get_by_test_id("stSidebarCollapseButton").locator("button")
    expect(collapse).to_have_attribute("aria-label", "Masquer les filtres")
    expect(page.get_by_test_id("stSkipToContent")).to_have_text("Aller au contenu principal")
    # The categories list offers no English « Select all ».
    page.get_by_role("combobox", name=re.compile("Catégories")).click()
    expect(page.get_by_role("option").first).to_be_visible()
    text = page.locator("body").inner_text() + map_frame(page).locator("body").inner_text()
    assert [word for word in ENGLISH if word in text] == []
    # Nor in the names screen readers give to the controls (Streamlit's and BaseWeb's).
    names = page.locator("body").aria_snapshot()
    assert re.findall(r'"(Open|Clear[^"]*|Remove[^"]*|Sidebar|Link to heading)"', names) == []
    page.keyboard.press("Escape")
    assert network.blocked == [] and network.page_errors == [], network.report()


def test_the_filters_button_says_filtres_on_a_phone(page, streamlit_app) -> None:
    page.set_viewport_size(PHONE)
    open_map(page, streamlit_app.base_url)
    button = page.get_by_test_id("stExpandSidebarButton")
    expect(button).to_have_attribute("aria-label", "Filtres")
    # Written beside the « » » icon, for those who see it.
    after = button.evaluate("el => getComputedStyle(el, '::after').content")
    assert after == '"Filtres"'
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("textbox", name="Rechercher")).to_be_visible()


def test_the_table_is_html_and_the_keyboard_opens_an_initiative(page, streamlit_app) -> None:
    page.set_viewport_size(DESKTOP)
    open_map(page, streamlit_app.base_url)
    table = page.get_by_test_id("stTable").locator("table")
    expect(table).to_be_visible()
    for name in names_of(DATA):
        expect(table.get_by_role("cell", name=name, exact=True)).to_have_count(1)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)  # no canvas grid
    pick_from_list(page, PICKER, "Guînes")
    expect(page.locator(".st-key-carto_detail h3")).to_contain_text("Guînes")
    page.wait_for_url(re.compile(rf"[?&]id={GUINES}(&|$)"))


def test_the_keyboard_opens_every_initiative_from_the_list(page, streamlit_app) -> None:
    """Keyboard only, from the list under the table: each of the initiatives opens its detail
    (the map's markers are Tab stops too, see tests/e2e/test_reach_browser.py).

    The page scrolls up to the detail, which hides the list: the focus then goes to the
    initiative's name, never left off screen (RGAA 10.7), and Tab leads back to the list."""
    page.set_viewport_size(DESKTOP)
    open_map(page, streamlit_app.base_url)
    picker = page.get_by_role("combobox", name=PICKER)
    panel = page.locator(".st-key-carto_detail")
    detail = panel.locator("h3")
    names = names_of(DATA)
    assert len(names) == 18
    picker.focus()
    for name in names:
        tabs = 0
        while not picker.evaluate("e => e === document.activeElement"):
            assert tabs < 12, "Tab ne ramène pas à la liste"
            page.keyboard.press("Tab")
            tabs += 1
        pick_from_list(page, PICKER, name)
        expect(detail).to_have_text(name)
        expect(detail).to_be_in_viewport()
        assert page.evaluate(FOCUS_ON_SCREEN), name
        # As a person would, the next pick waits for the page to have finished this one (a
        # pick typed in the middle of a run is reset by it).
        expect(page.get_by_test_id("stApp")).to_have_attribute(
            "data-test-script-state", "notRunning"
        )


@pytest.mark.parametrize(
    ("viewport", "query"),
    [("desktop", ""), ("phone", ""), ("desktop", f"?id={GUINES}"), ("phone", f"?id={GUINES}")],
)
def test_axe_finds_no_critical_or_serious_violation(
    page, network, streamlit_app, viewport, query
) -> None:
    size = DESKTOP if viewport == "desktop" else PHONE
    page.set_viewport_size(size)
    open_map(page, streamlit_app.base_url + "/" + query)
    if query:
        expect(page.locator(".st-key-carto_detail h3")).to_contain_text("Guînes")
    violations = run_axe(page)
    found = {impact: {v["id"] for v in violations if v["impact"] == impact} for impact in ALLOWED}
    by_impact = {
        impact: sorted(v["id"] for v in violations if v["impact"] == impact)
        for impact in ("critical", "serious", "moderate", "minor")
    }
    print(f"axe {viewport}{query}: {by_impact}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"a11y-{viewport}{'-fiche' if query else ''}.png"))
    assert found == ALLOWED, violations
    assert network.blocked == [], network.report()
