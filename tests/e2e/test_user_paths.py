"""Every user path in a real browser cut off from the internet: filter, click, publish, roll back,
download."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from carto.auth import hash_password
from carto.config import PROJECT_ROOT
from carto.gazetteer import load_gazetteer
from carto.intake import pipeline as dataset
from carto.map.basemap import MARKER_CLASS

from .conftest import IMPORT_FILE_INPUT, MAP_IFRAME, sign_in
from .initiatives import open_by_pointer, reveal_by_pointer, wait_drawn

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
    """Markers and clusters on screen (initiatives at the same place are grouped)."""
    return page.frame_locator(MAP_IFRAME).locator(f".{MARKER_CLASS}, .carto-cluster")


def test_filters_change_markers_and_counts(page, network, streamlit_app) -> None:
    placed, total = counts(DATA)
    page.goto(streamlit_app.base_url)
    expect(caption(page, total, total)).to_be_visible()
    wait_drawn(page.frame_locator(MAP_IFRAME), placed)

    protection, protection_rows = counts(DATA, categorie="protection")
    pick(page, 0, "Mesures de protection")
    expect(caption(page, protection_rows, total)).to_be_visible()
    wait_drawn(page.frame_locator(MAP_IFRAME), protection)

    table = dataset.load(DATA).table
    both = table[(table["categorie"] == "protection") & (table["arrondissement_code"] == "626")]
    pick(page, 1, "Calais")
    expect(caption(page, len(both), total)).to_be_visible()
    wait_drawn(page.frame_locator(MAP_IFRAME), len(both))
    page.wait_for_url(re.compile(r"categorie=protection.*arrondissement=626"))

    # The link reproduces the view in a new tab.
    other = page.context.new_page()
    other.goto(page.url)
    expect(caption(other, len(both), total)).to_be_visible()
    wait_drawn(other.frame_locator(MAP_IFRAME), len(both))
    other.close()
    print(
        f"navigateur : {placed} marqueurs, filtres {protection} puis {len(both)}, "
        f"requêtes bloquées {len(network.blocked)}, dialogues {len(network.dialogs)}"
    )
    assert network.blocked == [] and network.dialogs == [] and network.page_errors == []


def test_clicking_a_marker_opens_its_detail_panel(page, network, streamlit_app) -> None:
    page.goto(streamlit_app.base_url)
    frame = page.frame_locator(MAP_IFRAME)
    placed = dataset.load(DATA).placed
    expect(markers(page).first).to_be_visible()
    for index in (0, 5):
        ident, name = placed.iloc[index]["id"], placed.iloc[index]["nom"]
        marker = reveal_by_pointer(frame, ident)
        marker.hover()
        tooltip = frame.locator(".leaflet-tooltip").last
        expect(tooltip).to_be_visible()
        assert name in tooltip.inner_text()
        marker.click()
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        # The selected marker gets the thick dark ring.
        expect(frame.locator(".carto-selected")).to_have_count(1)
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


def test_editor_publishes_then_rolls_back(page, network, editor_app) -> None:
    base = editor_app.base_url
    placed_before, total_before = counts(DATA)
    # Merge is the default: the file's initiatives are added to the published ones.
    placed_new, total_new = counts(EXCEL_EXPORT)
    placed_after, total_after = placed_before + placed_new, total_before + total_new
    assert total_after != total_before  # otherwise the map could not show the change

    # Anonymous visitors see no editor controls.
    page.goto(base + "/publier")
    expect(page.get_by_label("Identifiant")).to_be_visible()
    expect(page.locator('[data-testid="stFileUploader"]')).to_have_count(0)

    sign_in(page, base)
    page.locator(IMPORT_FILE_INPUT).set_input_files(str(EXCEL_EXPORT))
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
    wait_drawn(page.frame_locator(MAP_IFRAME), placed_after)

    sign_in(page, base)
    page.get_by_role("tab", name="Versions publiées").click()
    page.get_by_text(re.compile("^Je confirme remettre en ligne")).click()
    page.get_by_role("button", name="Revenir à cette version").click()
    expect(page.get_by_text(re.compile("Version 3 publiée"))).to_be_visible()

    page.goto(base)
    expect(caption(page, total_before, total_before)).to_be_visible()
    wait_drawn(page.frame_locator(MAP_IFRAME), placed_before)
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


def test_many_markers_are_grouped_and_stay_clickable(
    page, network, streamlit_server, tmp_path_factory
) -> None:
    communes = load_gazetteer("62").communes
    rows = 1200
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
    # Grouped in clusters: far fewer elements than initiatives.
    expect(page.frame_locator(MAP_IFRAME).locator(".carto-cluster").first).to_be_visible()
    assert markers(page).count() < rows / 4
    # One of them, reached through its clusters, opens on click.
    open_by_pointer(page.frame_locator(MAP_IFRAME), "b600")
    page.wait_for_url(re.compile(r"[?&]id=b600(&|$)"))
    expect(page.get_by_role("heading", name=re.compile(r"^Initiative \d+$"))).to_be_visible()
    assert network.blocked == [] and network.page_errors == []
