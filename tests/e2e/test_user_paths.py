"""Every user path in a real browser cut off from the internet: filter, click, publish, roll back,
download."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from carto.auth import hash_password
from carto.config import PROJECT_ROOT
from carto.gazetteer import load_gazetteer
from carto.intake import pipeline as dataset
from carto.map.basemap import MARKER_CLASS
from carto.map.markers import CANVAS_THRESHOLD

from .conftest import MAP_IFRAME

pytestmark = pytest.mark.browser

DATA = PROJECT_ROOT / "data" / "initiatives.csv"
EXCEL_EXPORT = PROJECT_ROOT / "tests" / "data" / "messy" / "export-excel-cp1252-pointvirgule.csv"
PASSWORD = "Solidarité-62!"


def counts(path: Path, **where: str) -> tuple[int, int]:
    """(markers expected, rows) for a data file, optionally restricted by column values."""
    table = dataset.load(path).table
    for column, value in where.items():
        table = table[table[column] == value]
    placed = table[table["latitude"].notna() & table["longitude"].notna()]
    return len(placed), len(table)


def caption(page, shown: int, total: int):
    return page.get_by_text(re.compile(rf"^{shown} affichées sur {total}$"))


def pick(page, index: int, option: str) -> None:
    """Choose `option` in the sidebar multiselect number `index` (categories, arrondissements…)."""
    page.locator('[data-testid="stMultiSelect"]').nth(index).locator("input").click()
    page.get_by_role("option", name=re.compile(re.escape(option))).click()
    page.keyboard.press("Escape")


def markers(page):
    return page.frame_locator(MAP_IFRAME).locator(f"path.{MARKER_CLASS}")


def test_filters_change_markers_and_counts(page, network, streamlit_app) -> None:
    placed, total = counts(DATA)
    page.goto(streamlit_app.base_url)
    expect(caption(page, total, total)).to_be_visible()
    expect(markers(page)).to_have_count(placed)

    protection, protection_rows = counts(DATA, categorie="protection")
    pick(page, 0, "Mesures de protection")
    expect(caption(page, protection_rows, total)).to_be_visible()
    expect(markers(page)).to_have_count(protection)

    table = dataset.load(DATA).table
    both = table[(table["categorie"] == "protection") & (table["arrondissement_code"] == "626")]
    pick(page, 1, "Calais")
    expect(caption(page, len(both), total)).to_be_visible()
    expect(markers(page)).to_have_count(len(both))
    page.wait_for_url(re.compile(r"categorie=protection.*arrondissement=626"))

    # The link reproduces the view in a new tab.
    other = page.context.new_page()
    other.goto(page.url)
    expect(caption(other, len(both), total)).to_be_visible()
    expect(markers(other)).to_have_count(len(both))
    other.close()
    print(
        f"navigateur : {placed} marqueurs, filtres {protection} puis {len(both)}, "
        f"requêtes bloquées {len(network.blocked)}, dialogues {len(network.dialogs)}"
    )
    assert network.blocked == [] and network.dialogs == [] and network.page_errors == []


def test_clicking_a_marker_opens_its_detail_panel(page, network, streamlit_app) -> None:
    page.goto(streamlit_app.base_url)
    frame = page.frame_locator(MAP_IFRAME)
    names = set(dataset.load(DATA).table["nom"])
    expect(markers(page).first).to_be_visible()
    for index in (0, 5):
        marker = markers(page).nth(index)
        marker.hover(force=True)
        tooltip = frame.locator(".leaflet-tooltip").last
        expect(tooltip).to_be_visible()
        name = next(n for n in names if n in tooltip.inner_text())
        marker.click(force=True)
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        # The selected marker is redrawn last, with the thick dark outline.
        expect(markers(page).last).to_have_attribute("stroke-width", "4")
        expect(markers(page).last).to_have_attribute("stroke", "#000000")
        expect(page.get_by_text("Arrondissement :", exact=False).first).to_be_visible()
        page.wait_for_url(re.compile(r"[?&]id="))
    assert network.blocked == [] and network.dialogs == [] and network.page_errors == []


def test_table_row_opens_detail_with_clickable_contacts(page, streamlit_app) -> None:
    # The Guînes town hall line, reached through a shared link.
    page.goto(streamlit_app.base_url + "/?id=pdc-2020-04-06-14")
    heading = page.get_by_role("heading", name=re.compile("Guînes"))
    expect(heading).to_be_visible()
    phone = page.locator('a[href^="tel:"]').first
    expect(phone).to_have_attribute("href", "tel:0321855370")
    site = page.locator('a[href="http://www.mairie-guines.fr/"]').first
    expect(site).to_be_visible()


@pytest.fixture(scope="module")
def editor_app(streamlit_server):
    secrets = (
        '[editors.marie]\nname = "Marie Dupont"\n'
        f'password_hash = "{hash_password(PASSWORD, n=2**14)}"\n'
    )
    return streamlit_server({"CARTO_EDITOR_TEST": "1"}, secrets=secrets)


def sign_in(page, base_url: str) -> None:
    page.goto(base_url + "/publier")
    page.get_by_label("Identifiant").fill("marie")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Connecté :")).to_be_visible()


def test_editor_publishes_then_rolls_back(page, network, editor_app) -> None:
    base = editor_app.base_url
    placed_before, total_before = counts(DATA)
    placed_after, total_after = counts(EXCEL_EXPORT)
    assert total_after != total_before  # otherwise the map could not show the change

    # Anonymous visitors see no editor controls.
    page.goto(base + "/publier")
    expect(page.get_by_label("Identifiant")).to_be_visible()
    expect(page.locator('[data-testid="stFileUploader"]')).to_have_count(0)

    sign_in(page, base)
    page.locator('input[type="file"]').set_input_files(str(EXCEL_EXPORT))
    expect(page.get_by_text(re.compile("séparateur point-virgule"))).to_be_visible()
    expect(page.get_by_text("Revue des changements")).to_be_visible()
    publish = page.get_by_role("button", name="Publier", exact=True)
    expect(publish).to_be_disabled()
    page.get_by_text(re.compile("^Je confirme la publication")).click()
    expect(publish).to_be_enabled()
    publish.click()
    expect(page.get_by_text(re.compile("Version 2 publiée"))).to_be_visible()

    page.goto(base)
    expect(caption(page, total_after, total_after)).to_be_visible()
    expect(markers(page)).to_have_count(placed_after)

    sign_in(page, base)
    page.get_by_role("tab", name="Versions publiées").click()
    page.get_by_text(re.compile("^Je confirme remettre en ligne")).click()
    page.get_by_role("button", name="Revenir à cette version").click()
    expect(page.get_by_text(re.compile("Version 3 publiée"))).to_be_visible()

    page.goto(base)
    expect(caption(page, total_before, total_before)).to_be_visible()
    expect(markers(page)).to_have_count(placed_before)
    assert network.blocked == [] and network.dialogs == [] and network.page_errors == []


def test_download_the_filtered_view(page, streamlit_app) -> None:
    page.goto(streamlit_app.base_url + "/?categorie=isoles")
    _, rows = counts(DATA, categorie="isoles")
    expect(caption(page, rows, counts(DATA)[1])).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("button", name="CSV", exact=True).click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the accents
    text = data.decode("utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(text), delimiter=";"))  # French Excel's separator
    assert len(exported) == rows and {r["categorie"] for r in exported} == {"isoles"}


def test_many_markers_are_drawn_on_a_canvas_and_stay_clickable(
    page, network, streamlit_server, tmp_path_factory
) -> None:
    communes = load_gazetteer("62").communes
    rows = CANVAS_THRESHOLD + 200
    path = tmp_path_factory.mktemp("big") / "beaucoup.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "nom", "categorie", "commune", "code_insee"])
        for i in range(rows):
            commune = communes[(i * 7) % len(communes)]
            category = ("protection", "soignants", "confines", "isoles", "routiers")[i % 5]
            writer.writerow([f"b{i}", f"Initiative {i}", category, commune.nom, commune.code_insee])
    app = streamlit_server({"CARTO_DATA": str(path)})
    page.goto(app.base_url)
    expect(caption(page, rows, rows)).to_be_visible()
    frame_element = page.locator(MAP_IFRAME)
    frame = frame_element.element_handle().content_frame()
    frame.wait_for_function(f"() => window.cartoMarkerCount === {rows}")
    expect(page.frame_locator(MAP_IFRAME).locator("canvas").first).to_be_visible()
    expect(markers(page)).to_have_count(0)  # no SVG paths: one canvas instead

    # A click on the dense middle of the map selects one of them.
    box = frame_element.bounding_box()
    assert box is not None
    for dx, dy in ((0, 0), (12, 8), (-15, 10), (20, -12), (-8, -20), (30, 25)):
        page.mouse.click(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy)
        try:
            page.wait_for_url(re.compile(r"[?&]id=b\d+"), timeout=3000)
            break
        except PlaywrightTimeout:
            continue
    else:
        pytest.fail("aucun marqueur n'a répondu au clic sur le canevas")
    expect(page.get_by_role("heading", name=re.compile(r"^Initiative \d+$"))).to_be_visible()
    assert network.blocked == [] and network.page_errors == []
