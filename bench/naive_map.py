"""The slow baseline of the benchmark: one folium Marker and Popup per initiative.

Not product code: `carto.map.basemap.build_map` draws the page's map. This is what a first
folium map would do, measured against it in (e) of `make bench`. Run it alone for a smoke check:
`python bench/naive_map.py` draws the sample file and prints the page size.
"""

from __future__ import annotations

import html

import folium
import pandas as pd
from folium.map import FitBounds

from carto.config import PROJECT_ROOT
from carto.map.assets import DEFAULT_BASE_URL, local_js_css
from carto.text import cell_text, parse_coordinate


def build_naive_map(table: pd.DataFrame, *, base_url: str = DEFAULT_BASE_URL) -> folium.Map:
    """One folium Marker and Popup per row with coordinates, on a tile-less map."""
    fmap = folium.Map(
        location=[46.6, 2.4], zoom_start=6, tiles=None, control_scale=True, zoom_snap=0.5
    )
    # The same local scripts and stylesheets as the product map, so that only markers differ.
    fmap.default_js, fmap.default_css = local_js_css(base_url)
    points = []
    for record in table.to_dict("records"):
        lat = parse_coordinate(record.get("latitude"), limit=90.0)
        lon = parse_coordinate(record.get("longitude"), limit=180.0)
        if lat is None or lon is None:
            continue
        name = cell_text(record.get("nom")).strip()
        commune = cell_text(record.get("commune")).strip()
        folium.Marker([lat, lon], popup=folium.Popup(html.escape(f"{name} — {commune}"))).add_to(
            fmap
        )
        points.append((lat, lon))
    if points:
        lats, lons = zip(*points, strict=True)
        fit = FitBounds(
            [[min(lats), min(lons)], [max(lats), max(lons)]], padding=(20, 20), max_zoom=13
        )
        fit.options["animate"] = False
        fmap.add_child(fit)
    return fmap


def main() -> None:
    from carto.intake.pipeline import load

    table = load(PROJECT_ROOT / "data" / "initiatives.csv").table
    fmap = build_naive_map(table)
    markers = [c for c in fmap._children.values() if isinstance(c, folium.Marker)]
    located = int((table["latitude"].notna() & table["longitude"].notna()).sum())
    assert markers and len(markers) == located, (len(markers), located)
    page = fmap.get_root().render()
    print(f"{len(markers)} marqueurs, page de {len(page.encode()) / 1000:.0f} Ko")


if __name__ == "__main__":
    main()
