"""Every initiative can be reached (issue 10 §2, §5): grouped markers opened by pointer and by
keyboard on the Streamlit page, French accessible names, and the `window.cartoInitiatives` API
that the static site drives (show, select, onSelect, zoom to results, area outlines)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from carto.config import PROJECT_ROOT, Settings
from carto.intake import pipeline as dataset
from carto.map.basemap import build_base_map, build_map, initiatives_layer
from carto.map.markers import SELECTED_CLASS, ZONE_PANE

from .conftest import DEFAULT_ENV, MAP_IFRAME
from .initiatives import (
    clusters,
    drawn_count,
    markers,
    open_by_pointer,
    wait_drawn,
    wait_still,
)

pytestmark = pytest.mark.browser

CLUSTER_NAME = re.compile(r"^Groupe de (\d+) initiatives, Entrée pour les afficher$")
VENDOR = f"file://{PROJECT_ROOT}/static/vendor"


def seed() -> pd.DataFrame:
    """The located initiatives of the dataset the app serves."""
    settings = Settings.from_env(dict(DEFAULT_ENV))
    return dataset.load(settings.data_path, departement=settings.departement).placed


def accessible_name(row: pd.Series) -> str:
    """« Nom — Commune », or « Nom — Zone : … » for an initiative covering an area."""
    zone = str(row.get("zone_label") or "").strip()
    where = f"Zone : {zone}" if zone else str(row["commune"] or "").strip()
    return f"{row['nom']} — {where}" if where else str(row["nom"])


def open_app(page: Any, base_url: str, placed: int) -> Any:
    page.goto(base_url)
    frame = page.frame_locator(MAP_IFRAME)
    expect(frame.locator(".leaflet-container")).to_be_visible()
    wait_drawn(frame, placed)
    # The first run of the page is over: a click now reaches it.
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    return frame


def heading(page: Any, name: str) -> Any:
    return page.get_by_role("heading", name=name, exact=True)


# --- the Streamlit page ---------------------------------------------------------------------


def _labels(locator: Any) -> list[str | None]:
    return locator.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")


def _active(frame: Any) -> dict[str, Any]:
    return frame.locator("body").evaluate(
        """() => {
            const el = document.activeElement, c = el ? el.classList : null;
            const kind = !document.hasFocus() || !el || el === document.body ? "outside"
                : c.contains("carto-initiative") ? "marker"
                : c.contains("carto-cluster") ? "cluster"
                : c.contains("leaflet-control-zoom-in") ? "zoom-in"
                : c.contains("leaflet-container") ? "map" : "other";
            return {kind: kind, label: el && el.getAttribute("aria-label"),
                    role: el && el.getAttribute("role")};
        }"""
    )


def _zoom(frame: Any) -> float:
    script = "() => window.__cartoInitiativesState.map.getZoom()"
    return float(frame.locator("body").evaluate(script))


def _wait_focus_on_marker(frame: Any) -> None:
    frame.locator("body").evaluate(
        """() => new Promise((resolve) => {
            const start = Date.now();
            (function check() {
                const el = document.activeElement;
                const onMarker = el && el.classList.contains("carto-initiative");
                if (onMarker || Date.now() - start > 5000) {
                    resolve();
                } else { setTimeout(check, 50); }
            })();
        })"""
    )


def _place(frame: Any) -> tuple[float, float]:
    """Where the focused group is on the map (not on the screen: the view pans as groups open)."""
    where = frame.locator("body").evaluate(
        "() => { const p = document.activeElement._cartoLayer.getLatLng(); return [p.lat, p.lng]; }"
    )
    return round(where[0], 5), round(where[1], 5)


def test_every_initiative_opens_by_keyboard(page, network, streamlit_app) -> None:
    table = seed()
    names = {accessible_name(row): row["nom"] for _, row in table.iterrows()}
    assert len(names) == len(table)
    frame = open_app(page, streamlit_app.base_url, len(table))
    # Grouped: fewer elements than initiatives, each cluster saying how many it holds. (Every
    # initiative opening by pointer, at the first click, is test_click_reach_browser's.)
    shown = markers(frame).count()
    held = [int(CLUSTER_NAME.match(c or "")[1]) for c in _labels(clusters(frame))]
    assert held and shown + sum(held) == len(table), (shown, held)
    frame.locator(".leaflet-container").focus()
    opened: list[str] = []
    entered: set[tuple[Any, ...]] = set()
    clusters_opened = 0
    progress = False
    for _ in range(1500):
        if len(opened) == len(names):
            break
        page.keyboard.press("Tab")
        active = _active(frame)
        if active["kind"] == "cluster":
            assert CLUSTER_NAME.match(active["label"] or ""), active
            where = (round(_zoom(frame), 1), active["label"], *_place(frame))
            if where not in entered:  # a group not opened yet at this zoom level
                entered.add(where)
                page.keyboard.press("Enter")
                wait_still(frame)
                _wait_focus_on_marker(frame)
                active = _active(frame)
                # Focus moved to the first initiative of the group.
                assert active["kind"] == "marker", (active, where, len(opened), _zoom(frame))
                clusters_opened += 1
                progress = True
        if active["kind"] == "marker":
            assert active["role"] == "button" and active["label"] in names, active
            if active["label"] not in opened:
                page.keyboard.press("Enter")
                expect(heading(page, names[active["label"]])).to_be_visible()
                opened.append(active["label"])
                progress = True
                # The page ran again: the focus is still on the marker.
                assert _active(frame)["label"] == active["label"]
        elif active["kind"] != "cluster":
            # Past the last marker: back to the map itself with Shift+Tab; zoom out with the
            # "-" key when this pass found nothing new.
            for _ in range(60):
                if _active(frame)["kind"] == "map":
                    break
                page.keyboard.press("Shift+Tab")
            assert _active(frame)["kind"] == "map"
            if not progress:
                page.keyboard.press("Minus")
                wait_still(frame)
            progress = False
    print(f"ouvertes au clavier : {len(opened)} sur {len(names)} ({clusters_opened} groupes)")
    assert sorted(opened) == sorted(names)
    assert clusters_opened > 0
    assert network.blocked == [] and network.page_errors == [], network.report()


def test_markers_stay_on_the_map_when_one_is_opened(page, network, streamlit_app) -> None:
    table = seed()
    frame = open_app(page, streamlit_app.base_url, len(table))
    # Counts the moments when the map shows no initiative at all (markers and clusters gone).
    frame.locator("body").evaluate(
        """() => {
            window.__emptied = 0;
            const pane = document.querySelector(".leaflet-marker-pane");
            new MutationObserver(() => {
                if (!pane.querySelector(".carto-initiative, .carto-cluster")) {
                    window.__emptied += 1;
                }
            }).observe(pane, {childList: true});
        }"""
    )
    for row in table.head(3).itertuples():
        open_by_pointer(frame, row.id)
        expect(heading(page, row.nom)).to_be_visible()
    assert frame.locator("body").evaluate("() => window.__emptied") == 0


# --- the inline map (what the static site uses, opened from file://) -----------------------


def inline_map(tmp_path: Path, table: pd.DataFrame, name: str = "map.html", **layer: Any) -> str:
    """A folium map of `table` written to an HTML file; returns its file:// URL."""
    if layer:
        departement = Settings.from_env(dict(DEFAULT_ENV)).departement
        geo = PROJECT_ROOT / "static" / "geo" / departement
        fmap = build_base_map(
            arrondissements=json.loads((geo / "arrondissements.geojson").read_text()),
            base_url=VENDOR,
        )
        group, _ = initiatives_layer(table, **layer)
        group.add_to(fmap)
    else:
        fmap = build_map(table, arrondissements=None, base_url=VENDOR)
    path = tmp_path / name
    fmap.save(str(path))
    return path.as_uri()


def open_inline(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => window.cartoInitiatives && window.cartoMarkerCount >= 0")


def map_view(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
            const m = window.__cartoInitiativesState.map, b = m.getBounds();
            return {zoom: m.getZoom(), south: b.getSouth(), west: b.getWest(),
                    north: b.getNorth(), east: b.getEast()};
        }"""
    )


def inside(view: dict[str, Any], lat: float, lon: float) -> bool:
    return view["south"] <= lat <= view["north"] and view["west"] <= lon <= view["east"]


def test_inline_map_api_show_select_on_select(page, network, tmp_path) -> None:
    table = seed()
    open_inline(page, inline_map(tmp_path, table))
    api_ids = page.evaluate("() => window.cartoInitiatives.ids()")
    assert api_ids == table["id"].tolist()
    start = map_view(page)

    # show(): only these, grouped again, and the map zooms to them.
    arras = table[table["commune"].isin(["Arras", "Saint-Laurent-Blangy"])]
    assert len(arras) >= 2
    page.evaluate("(ids) => window.cartoInitiatives.show(ids)", arras["id"].tolist())
    assert drawn_count(page) == len(arras)
    view = map_view(page)
    assert view["zoom"] > start["zoom"]
    assert all(inside(view, r.latitude, r.longitude) for r in arras.itertuples())
    # show(null, {fit: false}): all of them again, the view kept.
    page.evaluate("() => window.cartoInitiatives.show(null, {fit: false})")
    assert drawn_count(page) == len(table)
    assert map_view(page) == view

    # select(): highlighted and brought into view (out of its cluster), no callback.
    page.evaluate(
        "() => { window.__got = [];"
        " window.cartoInitiatives.onSelect(id => window.__got.push(id)); }"
    )
    guines = table[table["commune"] == "Guînes"].iloc[0]
    page.evaluate("(id) => window.cartoInitiatives.select(id)", guines["id"])
    selected = page.locator(f".{SELECTED_CLASS}")
    expect(selected).to_have_count(1)
    expect(selected).to_have_attribute("aria-label", accessible_name(guines))
    expect(selected).to_be_visible()
    assert page.evaluate("() => window.__got") == []

    # onSelect(): a visitor opens one by pointer, another by keyboard (Enter, then Space).
    first, second, third = table.iloc[0], table.iloc[5], table.iloc[9]
    open_by_pointer(page, first["id"])
    page.evaluate("(id) => window.cartoInitiatives.select(null)", None)
    from .initiatives import reveal_by_pointer

    reveal_by_pointer(page, second["id"]).focus()
    page.keyboard.press("Enter")
    reveal_by_pointer(page, third["id"]).focus()
    page.keyboard.press(" ")
    assert page.evaluate("() => window.__got") == [first["id"], second["id"], third["id"]]
    assert network.blocked == [] and network.page_errors == [], network.report()


def test_zoom_to_results_fits_the_drawn_initiatives(page, network, tmp_path) -> None:
    table = seed()
    calais = table[table["commune"].isin(["Calais", "Guînes"])]
    open_inline(page, inline_map(tmp_path, calais, "kept.html", fit=False))
    kept = map_view(page)
    open_inline(page, inline_map(tmp_path, calais, "fit.html", fit=True))
    fitted = map_view(page)
    assert fitted["zoom"] > kept["zoom"]  # zoomed in from the département view
    assert all(inside(fitted, r.latitude, r.longitude) for r in calais.itertuples())
    # A single result: its neighbourhood, not the maximum zoom.
    open_inline(page, inline_map(tmp_path, calais.head(1), "one.html", fit=True))
    one = map_view(page)
    assert inside(one, calais.iloc[0]["latitude"], calais.iloc[0]["longitude"])
    assert kept["zoom"] < one["zoom"] < 18
    # A selected initiative wins over the fit: the map shows it.
    target = calais.iloc[-1]
    open_inline(
        page, inline_map(tmp_path, table, "sel.html", fit=True, selected_id=str(target["id"]))
    )
    expect(page.locator(f".{SELECTED_CLASS}")).to_be_visible()
    assert network.page_errors == [], network.report()


def square(lat: float, lon: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_area_outlines_are_drawn_under_the_markers_and_never_catch_clicks(
    page, network, tmp_path
) -> None:
    table = seed().head(4).copy()
    table["zone_key"] = ["epci:1", "epci:1", "", "epci:2"]
    table["zone_label"] = ["CA Test", "CA Test", "", "CC Autre"]
    big = square(50.2, 1.6, 0.8)  # covers most of the view, as a département would
    geometries = {"epci:1": big, "epci:2": square(50.3, 2.0, 0.2)}
    asked: list[str] = []

    def geometry(key: str) -> dict[str, Any] | None:
        asked.append(key)
        return geometries.get(key)

    open_inline(page, inline_map(tmp_path, table, fit=True, zone_geometry=geometry))
    assert sorted(asked) == ["epci:1", "epci:2"]  # each distinct area once
    zones = page.locator(f".leaflet-{ZONE_PANE}-pane path")
    expect(zones).to_have_count(2)
    assert zones.first.get_attribute("stroke-dasharray") == "6 5"
    # The name says the area, not a commune.
    labels = _labels(page.locator(".carto-initiative, .carto-cluster"))
    first = table.iloc[0]
    page.evaluate("(id) => window.cartoInitiatives.select(id)", first["id"])
    expect(page.locator(f".{SELECTED_CLASS}")).to_have_attribute(
        "aria-label", f"{first['nom']} — Zone : CA Test"
    )
    widths = zones.evaluate_all("ps => ps.map(p => p.getAttribute('stroke-width'))")
    assert sorted(widths) == ["2", "3.5"]  # the selected initiative's area stands out
    # A click inside the area, away from markers, reaches the map, not the outline.
    box = page.locator(".leaflet-container").bounding_box()
    hit = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).className.baseVal ?? ''",
        [box["x"] + 5, box["y"] + box["height"] / 2],
    )
    assert "leaflet-interactive" not in str(hit)
    assert labels and all(label for label in labels)
    assert network.page_errors == [], network.report()


def test_enter_on_a_group_at_the_last_zoom_spreads_it(page, network, tmp_path) -> None:
    """Three initiatives a few metres apart stay grouped at the last zoom level: there, Enter
    spreads the group out (no zoom left) and the focus goes to its first initiative."""
    table = seed().head(3).copy()
    table["latitude"] = [50.95, 50.95003, 50.95]
    table["longitude"] = [1.85, 1.85002, 1.85004]
    names = {accessible_name(row) for _, row in table.iterrows()}
    open_inline(page, inline_map(tmp_path, table, fit=True))
    page.locator(".leaflet-container").focus()
    for _ in range(20):  # the "+" key, until the map zooms no further
        before = map_view(page)["zoom"]
        page.keyboard.press("+")
        wait_still(page)
        if map_view(page)["zoom"] == before:
            break
    top = map_view(page)["zoom"]
    assert top == page.evaluate("() => window.__cartoInitiativesState.map.getMaxZoom()")
    expect(clusters(page)).to_have_count(1)
    expect(clusters(page)).to_have_attribute("aria-label", CLUSTER_NAME)
    for _ in range(10):
        page.keyboard.press("Tab")
        if _active(page)["kind"] == "cluster":
            break
    assert _active(page)["kind"] == "cluster"
    page.keyboard.press("Enter")
    wait_still(page)
    _wait_focus_on_marker(page)
    active = _active(page)
    assert active["kind"] == "marker" and active["label"] in names, active
    expect(markers(page)).to_have_count(3)
    assert map_view(page)["zoom"] == top
    # Enter on the focused initiative opens it like a click.
    page.evaluate(
        "() => { window.__got = [];"
        " window.cartoInitiatives.onSelect(id => window.__got.push(id)); }"
    )
    page.keyboard.press("Enter")
    assert len(page.evaluate("() => window.__got")) == 1
    assert network.page_errors == [], network.report()


def test_tooltips_stay_inside_the_map(page, network, tmp_path) -> None:
    table = seed()
    open_inline(page, inline_map(tmp_path, table, fit=True))
    page.evaluate("() => window.cartoInitiatives.show(null, {fit: false})")
    box = page.locator(".leaflet-container").bounding_box()
    outside = []
    for index in range(markers(page).count()):
        markers(page).nth(index).hover()
        tip = page.locator(".leaflet-tooltip")
        expect(tip).to_have_count(1)
        t = tip.bounding_box()
        if not (
            t["x"] >= box["x"]
            and t["y"] >= box["y"]
            and t["x"] + t["width"] <= box["x"] + box["width"]
            and t["y"] + t["height"] <= box["y"] + box["height"]
        ):
            outside.append(tip.inner_text())
        page.mouse.move(box["x"] + 2, box["y"] + box["height"] - 2)
        expect(tip).to_have_count(0)
    assert outside == []
    assert network.page_errors == [], network.report()


def test_ten_thousand_initiatives_draw(page, network, tmp_path) -> None:
    rng = np.random.default_rng(10)
    count = 10_000
    base = seed()
    table = pd.DataFrame(
        {
            "id": [f"n{i:05d}" for i in range(count)],
            "nom": [f"Initiative {i}" for i in range(count)],
            "categorie": rng.choice(base["categorie"].unique(), count),
            "commune": rng.choice(base["commune"].unique(), count),
            "portee": rng.choice(["commune", "secteur"], count),
            "latitude": rng.uniform(50.0, 51.0, count),
            "longitude": rng.uniform(1.6, 3.1, count),
        }
    )
    url = inline_map(tmp_path, table)
    started = time.perf_counter()
    page.goto(url)
    wait_drawn(page, count, timeout_ms=60_000)
    expect(clusters(page).first).to_be_visible()
    page.wait_for_function(
        f"() => window.__cartoInitiativesState.mcg.getLayers().length === {count}"
    )
    elapsed = time.perf_counter() - started
    held = sum(int(CLUSTER_NAME.match(c or "")[1]) for c in _labels(clusters(page)))
    print(f"10 000 initiatives : dessinées en {elapsed:.2f} s (chargement de la page compris)")
    assert held + markers(page).count() <= count
    assert held > 0
    assert network.page_errors == [], network.report()


def test_a_filtered_view_zooms_to_its_results_and_draws_its_areas(
    page, network, streamlit_app
) -> None:
    """« guines » on the dashboard: the map zooms to Guînes; the whole set keeps the département
    in view, with the outlines of the area initiatives (Méloko's four EPCI, JeVeuxAider's
    département...) drawn under the markers."""
    table = seed()
    frame = open_app(page, streamlit_app.base_url, len(table))
    wait_still(frame)
    whole = _view(frame)
    areas = table.loc[table["zone_key"] != "", "zone_key"].nunique()
    assert areas >= 7  # each distinct area is drawn once, even when several initiatives share it
    expect(frame.locator(".leaflet-cartoZones-pane path")).to_have_count(areas)

    page.goto(streamlit_app.base_url + "/?q=guines")
    frame = page.frame_locator(MAP_IFRAME)
    wait_drawn(frame, 2)
    wait_still(frame)
    view = _view(frame)
    lat, lon = 50.8389, 1.8711  # Guînes
    assert view["zoom"] >= whole["zoom"] + 3, (whole, view)
    assert view["south"] < lat < view["north"] and view["west"] < lon < view["east"], view
    assert network.blocked == [] and network.page_errors == [], network.report()


def _view(frame: Any) -> dict[str, float]:
    return frame.locator("body").evaluate(
        """() => { const m = window.__cartoInitiativesState.map, b = m.getBounds();
            return {zoom: m.getZoom(), south: b.getSouth(), north: b.getNorth(),
                    west: b.getWest(), east: b.getEast()}; }"""
    )
