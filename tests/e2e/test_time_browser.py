"""Time on the public map in a real browser: the « Nouveau » badge of what the latest
publication added (marker, list, fiche), ended initiatives hidden until « Afficher aussi les
initiatives terminées » is ticked, and « Nouveautés »."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from carto.config import PROJECT_ROOT
from carto.intake import pipeline
from carto.map.markers import MARKER_CLASS
from carto.publishing.storage import Store

from .conftest import MAP_IFRAME
from .initiatives import reveal_by_pointer, wait_drawn

pytestmark = pytest.mark.browser

DATA = PROJECT_ROOT / "data" / "initiatives.csv"
NEW_ID = "pdc-2026-12-01-01"
NEW_NAME = "Épicerie solidaire du Ternois"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pd.DataFrame]:
    """A store with the seed (version 1) and a communiqué adding one initiative and ending one."""
    seed = pipeline.load(DATA).table
    url = f"sqlite:///{tmp_path_factory.mktemp('time') / 'carto.sqlite'}"
    with Store.open(url) as store:
        store.bootstrap_from(seed)
        new = seed.iloc[[0]].copy()
        new["id"], new["nom"], new["date_debut"] = NEW_ID, NEW_NAME, "2026-12-01"
        table = pd.concat([seed, new], ignore_index=True)
        table.loc[1, "statut"] = "terminee"
        store.publish(table, author="Marie", note="Communiqué du 1er décembre", base_version=1)
    return url, table


def test_new_is_badged_and_ended_ones_come_back_on_request(
    page, network, streamlit_server, published, tmp_path: Path
) -> None:
    url, table = published
    app = streamlit_server({"CARTO_DATABASE_URL": url})
    total = len(table)
    placed = int((table["latitude"].notna() & table["longitude"].notna()).sum())
    ended_name = str(table.loc[1, "nom"])
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(app.base_url)

    expect(page.get_by_text(re.compile(rf"^{total - 1} affichées sur {total}$"))).to_be_visible()
    expect(
        page.get_by_text("1 initiative terminée n'est pas affichée", exact=False)
    ).to_be_visible()
    frame = page.frame_locator(MAP_IFRAME)
    wait_drawn(frame, placed - (1 if pd.notna(table.loc[1, "latitude"]) else 0))
    # The new initiative's marker carries the badge, for the eye and for screen readers.
    marker = reveal_by_pointer(frame, NEW_ID)
    expect(marker).to_have_class(re.compile(rf"{MARKER_CLASS}--new"))
    expect(marker).to_have_attribute("aria-label", re.compile(r"— Nouveau$"))
    marker.hover()
    expect(frame.locator(".carto-new-badge")).to_have_text("Nouveau")
    # The list says it too, and « Nouveautés » tells what the publication did.
    row = page.get_by_role("row").filter(has_text=NEW_NAME)
    expect(row).to_contain_text("Nouveau")
    expect(page.get_by_role("heading", name="Nouveautés")).to_be_visible()
    expect(page.get_by_text("Communiqué du 1er décembre")).to_be_visible()
    expect(page.get_by_text(re.compile(r"1 initiative terminée : "))).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=ended_name)).to_have_count(0)
    # The period's fields say their format in French.
    start = page.get_by_role("textbox", name="Actives à partir du")
    expect(start).to_have_attribute("placeholder", "jj/mm/aaaa")
    expect(page.get_by_role("textbox", name="Actives jusqu'au")).to_have_attribute(
        "placeholder", "jj/mm/aaaa"
    )
    expect(page.get_by_role("button", name="Aide : Actives à partir du")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "time-desktop.png"), full_page=True)

    # Ticking the checkbox (by its label, as with the keyboard) shows the ended one.
    box = page.get_by_role("checkbox", name="Afficher aussi les initiatives terminées")
    expect(box).not_to_be_checked()
    box.focus()
    page.keyboard.press("Space")
    expect(page.get_by_text(re.compile(rf"^{total} affichées sur {total}$"))).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=ended_name)).to_have_count(1)
    page.wait_for_url(re.compile(r"terminees=1"))

    # Typing a period's end with the keyboard, then Enter (the field keeps the focus): the new
    # initiative (from 1 December) goes away, and the link says so.
    end = page.get_by_label("Actives jusqu'au", exact=True)
    end.click()
    page.keyboard.type("30/11/2026")
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(rf"^{total - 1} affichées sur {total}$"))).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=NEW_NAME)).to_have_count(0)
    page.wait_for_url(re.compile(r"au=2026-11-30"))
    expect(end).to_be_focused()

    # On a phone, the same page (the filters are behind « Filtres »).
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{app.base_url}?id={NEW_ID}")
    expect(page.get_by_text("Nouveau", exact=True).first).to_be_visible()
    page.screenshot(path=str(tmp_path / "time-phone.png"), full_page=True)
    assert network.blocked == [] and network.page_errors == []
