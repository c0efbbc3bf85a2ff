"""The public map on a phone (390×844, touch): the page scrolls, the legend is folded, the detail
opens on screen (issue 10, §5).

Chromium emulates a touch phone (has_touch, is_mobile); swipes are touch events sent through the
DevTools protocol (Input.dispatchTouchEvent), so they go through the same touch-action and
scroll-chaining rules (from the map's frame to the page) as a finger on a phone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from carto.map.basemap import (
    LEGEND_FOLD_WIDTH,
    LEGEND_OPEN_MAP_WIDTH,
    MARKER_CLASS,
    TWO_FINGERS_HINT,
)

from .conftest import (
    ARTIFACTS,
    DEFAULT_TIMEOUT_MS,
    MAP_IFRAME,
    NetworkLog,
    is_local,
    pick_from_list,
)
from .initiatives import reveal_by_pointer, wait_still

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
# Streamlit scrolls its main area (section.stMain), not the document.
SCROLLER = "section.stMain, .stMain"
GUINES = "pdc-2020-04-06-14"  # the Guînes town hall line


@pytest.fixture
def phone(browser: Any, network: NetworkLog) -> Iterator[Any]:
    """A page in a touch phone's browser, cut off from the internet like `page`."""
    context = browser.new_context(
        viewport=PHONE, locale="fr-FR", has_touch=True, is_mobile=True, device_scale_factor=2
    )

    def route(route: Any) -> None:
        if is_local(route.request.url):
            route.continue_()
        else:
            network.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(DEFAULT_TIMEOUT_MS)
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    page.on("pageerror", lambda error: network.page_errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


def open_map(page: Any, url: str) -> Any:
    page.goto(url)
    frame = page.frame_locator(MAP_IFRAME)
    expect(frame.locator(f".{MARKER_CLASS}").first).to_be_visible()
    expect(frame.locator(".carto-legend")).to_be_visible()
    return frame


def scroll_top(page: Any) -> float:
    return float(page.locator(SCROLLER).first.evaluate("el => el.scrollTop"))


def map_pane_offset(frame: Any) -> str:
    """Where Leaflet has moved the map (its map pane's transform): changes when the map pans."""
    return str(frame.locator(".leaflet-map-pane").evaluate("el => el.style.transform"))


def swipe(page: Any, x: float, y: float, *, distance: int, steps: int = 15) -> None:
    """A one-finger touch swipe starting at (x, y) moving up by `distance` px."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]}
        )
        for i in range(1, steps + 1):
            point = {"x": x, "y": y - distance * i / steps}
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
            page.wait_for_timeout(16)  # one frame between moves, as a finger gives them
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def wait_on_screen(page: Any, locator: Any) -> None:
    """Wait until the element is wholly within the screen (it may be scrolling there)."""
    page.wait_for_function(
        "e => {const b = e.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight}",
        arg=locator.element_handle(),
    )


def test_one_finger_swipe_on_the_map_scrolls_the_page_not_the_map(
    phone, network, streamlit_app
) -> None:
    frame = open_map(phone, streamlit_app.base_url)
    box = phone.locator(MAP_IFRAME).bounding_box()
    assert box is not None
    # The map fills most of the screen: bring its middle into view, as a visitor would see it.
    x, y = box["x"] + box["width"] / 2, min(box["y"] + box["height"] / 2, PHONE["height"] - 150)
    before_scroll, before_map = scroll_top(phone), map_pane_offset(frame)

    swipe(phone, x, y, distance=300)

    after_scroll, after_map = scroll_top(phone), map_pane_offset(frame)
    print(f"défilement {before_scroll} → {after_scroll}, carte {before_map!r} → {after_map!r}")
    assert after_scroll >= before_scroll + 150, (before_scroll, after_scroll)
    assert after_map == before_map  # one finger does not drag the map
    # …and the map tells how to move it.
    hint = frame.locator(".carto-touch-hint")
    expect(hint).to_have_text(TWO_FINGERS_HINT)
    assert network.blocked == [] and network.page_errors == [], network.report()


def test_the_legend_is_folded_on_a_phone_and_opens_by_keyboard(phone, streamlit_app) -> None:
    frame = open_map(phone, streamlit_app.base_url)
    legend = frame.locator(".carto-legend details")
    button = frame.locator(".carto-legend summary")
    expect(button).to_have_text("Légende")
    expect(legend).not_to_have_attribute("open", "")
    expect(frame.locator(".carto-legend-row").first).to_be_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "phone-legend-folded.png"))

    button.focus()
    phone.keyboard.press("Enter")
    expect(legend).to_have_attribute("open", "")
    expect(frame.locator(".carto-legend-row").first).to_be_visible()


def test_the_legend_hides_no_initiative_on_a_desktop(page, streamlit_app) -> None:
    page.set_viewport_size(DESKTOP)
    frame = open_map(page, streamlit_app.base_url)
    assert DESKTOP["width"] > LEGEND_FOLD_WIDTH
    wait_still(frame)
    # The dashboard's map column is narrower than LEGEND_OPEN_MAP_WIDTH: the legend starts
    # folded there, and nothing it covers can be an initiative or a group.
    width = frame.locator(".leaflet-container").evaluate("el => el.clientWidth")
    assert width < LEGEND_OPEN_MAP_WIDTH
    expect(frame.locator(".carto-legend details")).not_to_have_attribute("open", "")
    covered = frame.locator("body").evaluate(
        """() => {
            const r = document.querySelector(".carto-legend").getBoundingClientRect();
            return Array.from(document.querySelectorAll(".carto-initiative, .carto-cluster"))
                .map(el => el.getBoundingClientRect())
                .filter(b => b.right > r.left && b.left < r.right
                          && b.bottom > r.top && b.top < r.bottom).length;
        }"""
    )
    assert covered == 0
    # Opened by the visitor, it shows the categories.
    frame.locator(".carto-legend summary").click()
    expect(frame.locator(".carto-legend-row").first).to_be_visible()


def test_a_tapped_marker_opens_its_detail_on_screen(phone, network, streamlit_app) -> None:
    frame = open_map(phone, streamlit_app.base_url)
    wait_still(frame)
    # Guînes has two initiatives at one place: its group is opened first, then one is tapped.
    marker = reveal_by_pointer(frame, GUINES)
    marker.tap()
    heading = phone.locator(".st-key-carto_detail h3")
    expect(heading).to_contain_text("Guînes")
    # The panel, below the map on a phone, is brought on screen.
    wait_on_screen(phone, heading)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "phone-detail-after-tap.png"))
    assert network.blocked == [] and network.page_errors == [], network.report()


def test_an_initiative_picked_in_the_list_opens_its_detail_on_screen(
    phone, network, streamlit_app
) -> None:
    """The keyboard path: the list under the table (a combobox), then the detail, on screen,
    with the focus on the initiative's name (the list is off screen by then); a second pick
    from the list brings the detail back on screen too."""
    open_map(phone, streamlit_app.base_url)
    picker = phone.get_by_role("combobox", name="Voir le détail de l'initiative")
    heading = phone.locator(".st-key-carto_detail h3")
    for wanted in ("Guînes", "Eurotunnel"):
        picker.scroll_into_view_if_needed()
        pick_from_list(phone, "Voir le détail de l'initiative", wanted)
        expect(heading).to_contain_text(wanted)
        wait_on_screen(phone, heading)
        expect(heading).to_be_focused()
        expect(phone.get_by_test_id("stApp")).to_have_attribute(
            "data-test-script-state", "notRunning"
        )
    assert network.blocked == [] and network.page_errors == [], network.report()


def test_a_shared_link_opens_with_its_detail_on_screen(phone, network, streamlit_app) -> None:
    open_map(phone, streamlit_app.base_url + f"/?id={GUINES}")
    heading = phone.locator(".st-key-carto_detail h3")
    expect(heading).to_contain_text("Guînes")
    wait_on_screen(phone, heading)
    assert network.blocked == [] and network.page_errors == [], network.report()
