"""Data without our conventions, seen by the public (issue 17 §2): a map first filled from a file
without an id column, then updated by a spreadsheet that has none either. Every initiative opens
by a click on the map, from the keyboard list and by its shared link, on the dashboard and on the
static site; « Nouveau » marks exactly what the update added; a filter keeps every marker it
should show. Real SQLite store, real Streamlit server, real Chromium without network."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import expect

from carto.config import PROJECT_ROOT, Settings
from carto.gazetteer import load_gazetteer
from carto.intake.pipeline import load
from carto.publishing.plan import open_store, plan_import, publish_plan
from carto.site.build import build_published_site

from .conftest import MAP_IFRAME, pick_from_list
from .initiatives import open_by_pointer, reveal_by_pointer, wait_drawn
from .test_site_browser import open_site, serve

pytestmark = pytest.mark.browser

SEED = PROJECT_ROOT / "data" / "initiatives.csv"
ADDED = {
    "Épicerie solidaire du Trait d'Union": ("isoles", "Guînes"),
    "Couturières de Béthune": ("protection", "Béthune"),
    "Collecte de l'Entraide": ("isoles", "Lens"),
}
NEW_ID = re.compile(r"^62-[2-9a-z]{6}$")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], pd.DataFrame, Path]:
    """The app's environment, the published table and the built site: the seed without its id
    column seeds version 1, a file of three new rows without ids is merged as version 2."""
    root = tmp_path_factory.mktemp("sans-id")
    seed = pd.read_csv(SEED, dtype=str).fillna("").drop(columns=["id"])
    seed_file = root / "initiatives-sans-id.csv"
    seed.to_csv(seed_file, sep=";", index=False, encoding="cp1252", errors="replace")
    env = {
        "CARTO_DATA": str(seed_file),
        "CARTO_DATABASE_URL": f"sqlite:///{root / 'carto.sqlite'}",
    }
    cfg = Settings.from_env({**env, "CARTO_STATE_DIR": str(root / "state")})
    update = root / "ajouts.csv"
    update.write_text(
        "Nom;Thème;Commune;Observations\n"
        + "".join(
            f"{nom};{theme};{commune};à rappeler\n" for nom, (theme, commune) in ADDED.items()
        ),
        encoding="utf-8",
    )
    gazetteer = load_gazetteer(cfg.departement)
    with open_store(cfg, gazetteer) as store:
        plan = plan_import(load(update, gazetteer=gazetteer, settings=cfg), store)
        publish_plan(plan, store, author="Marie", note="Ajouts")
        table = store.load()
        build_published_site(root / "public", store, departement=cfg.departement)
    return env, table, root / "public"


def _placed(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["latitude"].notna() & table["longitude"].notna()]


def test_the_store_gave_every_initiative_its_own_id(world) -> None:
    _, table, _ = world
    assert len(table) == 18 + len(ADDED)
    assert table["id"].is_unique and table["id"].map(bool).all()
    assert table.loc[table["nom"].isin(list(ADDED)), "id"].map(NEW_ID.match).all()


def test_dashboard_opens_each_by_click_list_and_link(page, network, streamlit_server, world):
    env, table, _ = world
    app = streamlit_server(env)
    placed = _placed(table)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(app.base_url)
    frame = page.frame_locator(MAP_IFRAME)
    wait_drawn(frame, len(placed))
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    # The rows that came without id (every seed row opening at the first click is
    # test_click_reach_browser's), and one seed row beside them.
    opened = placed[placed["nom"].isin(list(ADDED))]
    assert len(opened) == len(ADDED)
    for row in pd.concat([opened, placed.head(1)]).itertuples():
        open_by_pointer(frame, row.id)
        expect(page.get_by_role("heading", name=row.nom, exact=True)).to_be_visible()
    print(f"ouvertes d'un clic : {len(opened)} sur {len(ADDED)} ajoutées sans id")
    # « Nouveau » on the markers: exactly the three added, not every row that came without id.
    new = frame.locator(".carto-initiative--new")
    for nom in ADDED:
        ident = table.loc[table["nom"] == nom, "id"].item()
        marker = reveal_by_pointer(frame, ident)
        expect(marker).to_have_attribute("aria-label", re.compile(r"— Nouveau$"))
    assert new.count() <= len(ADDED)
    for nom in ADDED:
        pick_from_list(page, "Voir le détail de l'initiative", nom)
        expect(page.get_by_role("heading", name=nom, exact=True)).to_be_visible()
    for row in table[table["nom"].isin(list(ADDED))].itertuples():
        page.goto(f"{app.base_url}?id={row.id}")
        expect(page.get_by_role("heading", name=row.nom, exact=True)).to_be_visible()
    assert network.blocked == [] and network.page_errors == [], network.report()


def test_dashboard_filter_keeps_every_marker_it_shows(page, network, streamlit_server, world):
    env, table, _ = world
    app = streamlit_server(env)
    isoles = _placed(table[table["categorie"].str.contains("isoles")])
    page.goto(f"{app.base_url}?categorie=isoles")
    wait_drawn(page.frame_locator(MAP_IFRAME), len(isoles))
    assert network.page_errors == [], network.report()


@pytest.fixture(scope="module")
def site_url(world) -> Iterator[str]:
    yield from serve(world[2])


def test_site_opens_each_by_list_click_and_link(page, network, site_url, world) -> None:
    _, table, _ = world
    open_site(page, site_url)
    badged = page.locator("#liste-initiatives li", has=page.locator(".badge-new"))
    assert sorted(badged.locator("h3 button").all_inner_texts()) == sorted(ADDED)
    for row in table.itertuples():
        page.locator("#liste-initiatives h3 button", has_text=row.nom).first.click()
        expect(page.locator("#detail-nom")).to_have_text(row.nom)
    for row in table[table["nom"].isin(list(ADDED))].itertuples():
        open_site(page, f"{site_url}?id={row.id}")
        expect(page.locator("#detail-nom")).to_have_text(row.nom)
        open_site(page, site_url)
        open_by_pointer(page, row.id)
        expect(page.locator("#detail-nom")).to_have_text(row.nom)
    assert network.page_errors == [], network.report()


def test_site_filter_keeps_every_marker_it_shows(page, network, site_url, world) -> None:
    _, table, _ = world
    isoles = _placed(table[table["categorie"].str.contains("isoles")])
    open_site(page, f"{site_url}?categorie=isoles")
    visible: Any = page.evaluate("window.__cartoInitiativesState.visible.size")
    assert visible == len(isoles)
    expect(page.locator("#liste-initiatives li")).to_have_count(
        len(table[table["categorie"].str.contains("isoles")])
    )
