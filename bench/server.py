"""Server-side measurements: offline geocoding, page runs (AppTest), map payload, naive map."""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import os
import pstats
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import folium
import pandas as pd
from datasets import BenchDataset, read_csv
from measure import Sample, repeat, timed
from naive_map import build_naive_map
from streamlit_folium import (
    _get_feature_group_string,
    _get_header,
    _get_html,
    _get_map_string,
)

from carto.config import PROJECT_ROOT
from carto.gazetteer import Gazetteer
from carto.geocoding import ONLINE_PROVIDERS, OfflineGeocoder, geocode_table
from carto.geocoding.offline import place_text
from carto.intake.validation import validate_table
from carto.map import basemap as mapping
from carto.map.assets import GAZETTEER_DATA, outlines_url
from carto.map.markers import marker_payload, script_json
from carto.ui.routes import marker_url

APP = PROJECT_ROOT / "pages" / "carte.py"
# The filter changes of the benchmark: narrow to one category, then back to all.
NARROW = ["soignants"]


# --------------------------------------------------------------------------- (a) geocoding


@dataclass(frozen=True)
class GeocodingResult:
    rows: int
    offline: Sample
    whole_pipeline: Sample
    distinct_queries: int
    rows_to_geocode: int
    online_s: dict[str, tuple[float, float]]  # provider -> (distinct queries, per row) seconds


def bench_geocoding(gaz: Gazetteer, data: BenchDataset, *, repeats: int) -> GeocodingResult:
    raw = read_csv(data.csv)
    checked = validate_table(raw.frame, row_numbers=raw.row_numbers)
    table, lines = checked.table, checked.row_numbers

    def offline() -> None:
        # A new geocoder each time: its memo must not carry over between runs.
        geocode_table(table, OfflineGeocoder(gaz), row_numbers=lines)

    def whole() -> None:
        from carto.intake.pipeline import prepare

        prepare(read_csv(data.csv), gaz)

    needs = table[table["latitude"].isna() | table["longitude"].isna()]
    keys = {
        (place_text(name), place_text(code))
        for name, code in zip(needs["commune"], needs["code_insee"], strict=True)
    }
    online = {
        provider: (len(keys) * delay, len(needs) * delay)
        for provider, delay in ONLINE_PROVIDERS.items()
    }
    return GeocodingResult(
        rows=len(table),
        offline=repeat(offline, times=repeats),
        whole_pipeline=repeat(whole, times=max(1, repeats // 2)),
        distinct_queries=len(keys),
        rows_to_geocode=len(needs),
        online_s=online,
    )


# --------------------------------------------------------------------------- (b) AppTest


@contextlib.contextmanager
def app_env(data: BenchDataset) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("CARTO_")}
    for key in saved:
        del os.environ[key]
    os.environ["CARTO_DATABASE_URL"] = data.database_url
    os.environ["CARTO_TILES"] = "none"
    # Marker files and caches go to a throwaway state folder, never into the checkout.
    state = tempfile.TemporaryDirectory(prefix="carto-bench-state-")
    os.environ["CARTO_STATE_DIR"] = state.name
    try:
        yield
    finally:
        state.cleanup()
        for key in [k for k in os.environ if k.startswith("CARTO_")]:
            del os.environ[key]
        os.environ.update(saved)


def _clear_streamlit_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def _shown_count(at: Any) -> str:
    for md in at.markdown:
        if "affichées sur" in str(md.value):
            return str(md.value)
    return ""


def _check(at: Any, expected: int, total: int) -> None:
    if at.exception:
        raise RuntimeError(f"la page a levé une exception : {at.exception[0].value}")
    shown = _shown_count(at)
    if f"**{expected} affichées sur {total}**" != shown:
        raise RuntimeError(f"compte affiché inattendu : {shown!r}, attendu {expected}/{total}")


@dataclass(frozen=True)
class PageResult:
    size: int
    cold_first_run: Sample
    warm_first_run: Sample
    filter_narrow: Sample
    filter_all: Sample
    narrow_count: int


def bench_page(data: BenchDataset, *, repeats: int, timeout_s: float) -> PageResult:
    from streamlit.testing.v1 import AppTest

    total = len(data.table)
    narrow = int(data.table["categorie"].isin(NARROW).sum())
    cold: list[float] = []
    warm: list[float] = []
    narrow_times: list[float] = []
    all_times: list[float] = []
    with app_env(data):
        # Cold: Streamlit's caches empty (first visitor after a start or a publish).
        for _ in range(max(1, repeats // 2)):
            _clear_streamlit_caches()
            at = AppTest.from_file(str(APP), default_timeout=timeout_s)
            elapsed, _ = timed(at.run)
            _check(at, total, total)
            cold.append(elapsed)
        # Warm: a new visitor of a running server.
        for _ in range(repeats):
            at = AppTest.from_file(str(APP), default_timeout=timeout_s)
            elapsed, _ = timed(at.run)
            _check(at, total, total)
            warm.append(elapsed)
        for _ in range(repeats):
            elapsed, _ = timed(at.multiselect(key="f_categories").set_value(NARROW).run)
            _check(at, narrow, total)
            narrow_times.append(elapsed)
            elapsed, _ = timed(at.multiselect(key="f_categories").set_value([]).run)
            _check(at, total, total)
            all_times.append(elapsed)
    return PageResult(
        size=total,
        cold_first_run=Sample(tuple(cold)),
        warm_first_run=Sample(tuple(warm)),
        filter_narrow=Sample(tuple(narrow_times)),
        filter_all=Sample(tuple(all_times)),
        narrow_count=narrow,
    )


@dataclass(frozen=True)
class ProfileLine:
    function: str
    cumulative_s: float
    own_s: float
    calls: int


def profile_filter_change(
    data: BenchDataset, *, timeout_s: float, top: int = 18
) -> tuple[float, list[ProfileLine]]:
    """cProfile of one filter change (narrow) of the page: (total seconds, top functions)."""
    import streamlit.testing.v1.local_script_runner as lsr
    from streamlit.testing.v1 import AppTest

    profiler = cProfile.Profile()
    original = lsr.LocalScriptRunner._run_script_thread

    def profiled(self: Any) -> None:
        profiler.enable()
        try:
            original(self)
        finally:
            profiler.disable()

    with app_env(data):
        at = AppTest.from_file(str(APP), default_timeout=timeout_s)
        at.run()
        lsr.LocalScriptRunner._run_script_thread = profiled  # type: ignore[method-assign]
        try:
            at.multiselect(key="f_categories").set_value(NARROW).run()
        finally:
            lsr.LocalScriptRunner._run_script_thread = original  # type: ignore[method-assign]
    stats = pstats.Stats(profiler, stream=io.StringIO())
    entries = stats.stats  # type: ignore[attr-defined]
    total = max((v[3] for v in entries.values()), default=0.0)
    lines = []
    for (path, line, name), (_cc, calls, own, cumulative, _callers) in entries.items():
        short = _short_path(path)
        if short is None:
            continue
        lines.append(ProfileLine(f"{short}:{line} {name}", cumulative, own, calls))
    lines.sort(key=lambda p: p.cumulative_s, reverse=True)
    return total, lines[:top]


def _short_path(path: str) -> str | None:
    """Project and map-library frames only: they are what the lead can act on."""
    for marker in ("/src/carto/", "/site-packages/streamlit_folium/", "/site-packages/folium/"):
        if marker in path:
            return marker.rsplit("/", 2)[-2] + "/" + path.split(marker, 1)[1]
    if path == str(APP):
        return "pages/carte.py"
    if "/site-packages/branca/" in path:
        return "branca/" + path.split("/site-packages/branca/", 1)[1]
    return None


# --------------------------------------------------------------------------- (c) payload


@dataclass(frozen=True)
class PayloadResult:
    size: int
    base_bytes: int  # leaflet script + header + html of the base map
    markers_bytes: int  # feature group string
    total_json_bytes: int  # st_folium's arguments as JSON
    total_deflate_bytes: int  # the same compressed (what permessage-deflate would send)
    styler_bytes: int  # outline files fetched by the browser (static, cached across views)
    data_bytes: int  # the view's marker data file fetched by the browser
    times: dict[str, Sample]
    files_deflate_bytes: int = 0  # those files compressed

    @property
    def total_bytes(self) -> int:
        """Everything the browser receives for the map of one view (uncompressed)."""
        return self.total_json_bytes + self.styler_bytes + self.data_bytes


def st_folium_strings(base: folium.Map, group: folium.FeatureGroup) -> dict[str, str]:
    """What st_folium computes from its arguments, in the order it computes it."""
    html = _get_html(base)
    header = _get_header(base)
    leaflet = _get_map_string(base)
    feature_group = _get_feature_group_string(group, base)
    return {"script": leaflet, "header": header, "html": html, "feature_group": feature_group}


def bench_payload(gaz: Gazetteer, data: BenchDataset, *, repeats: int) -> PayloadResult:
    """What the page sends for the map, built as carto.ui does: st_folium's arguments (base map
    with outline URLs + a marker layer pointing at a file) plus the static files the browser
    fetches (outlines, cached across views; the view's marker data file)."""
    placed = data.placed
    dep = gaz.departement
    outline_files = [
        GAZETTEER_DATA / dep / "arrondissements.geojson",
        GAZETTEER_DATA / dep / "communes.geojson",
    ]

    def base_map() -> folium.Map:
        return mapping.build_base_map(
            arrondissements=outlines_url(dep, "arrondissements.geojson"),
            communes=outlines_url(dep, "communes.geojson"),
            tiles="none",
            bounds=gaz.bounds,
        )

    def marker_file() -> str:
        return script_json(marker_payload(placed))

    markers_text = marker_file()
    layer = mapping.initiatives_layer(url=marker_url("0-000000000000/x.json"))[0]
    strings = st_folium_strings(base_map(), layer)
    body = json.dumps(strings).encode()
    files = markers_text.encode() + b"".join(f.read_bytes() for f in outline_files)

    def base_string() -> None:
        fmap = base_map()
        _get_html(fmap), _get_header(fmap), _get_map_string(fmap)

    def layer_string() -> None:
        fmap = base_map()
        _get_feature_group_string(mapping.initiatives_layer(url="/x.json")[0], fmap)

    times = {
        "marker data file (payload + JSON)": repeat(marker_file, times=repeats),
        "base map (build + strings)": repeat(base_string, times=repeats),
        "base map + layer string": repeat(layer_string, times=repeats),
    }
    base_bytes = sum(len(strings[k].encode()) for k in ("script", "header", "html"))
    return PayloadResult(
        size=len(placed),
        base_bytes=base_bytes,
        markers_bytes=len(strings["feature_group"].encode()),
        total_json_bytes=len(body),
        total_deflate_bytes=len(zlib.compress(body, 6)),
        styler_bytes=sum(f.stat().st_size for f in outline_files),
        data_bytes=len(markers_text.encode()),
        times=times,
        files_deflate_bytes=len(zlib.compress(files, 6)),
    )


# --------------------------------------------------------------------------- (e) naive map


@dataclass(frozen=True)
class NaiveResult:
    size: int
    ours: Sample
    ours_bytes: int
    naive: Sample
    naive_bytes: int


def _render(fmap: folium.Map) -> str:
    return str(fmap.get_root().render())


def bench_naive(
    table: pd.DataFrame,
    *,
    repeats: int,
    slow_repeats: int,
    naive_cap_s: float,
    naive_estimate_s: float | None,
) -> NaiveResult:
    """Like for like: markers only (no outlines, OSM tiles layer) — ours vs one Marker per row."""
    ours_html = _render(mapping.build_map(table, arrondissements=None, tiles="osm"))
    ours = repeat(
        lambda: _render(mapping.build_map(table, arrondissements=None, tiles="osm")),
        times=repeats,
    )
    if naive_estimate_s is not None and naive_estimate_s > naive_cap_s:
        note = f"non mesuré : estimé à {naive_estimate_s:.0f} s (> {naive_cap_s:.0f} s)"
        return NaiveResult(len(table), ours, len(ours_html.encode()), Sample((), note=note), 0)
    first, naive_html = timed(lambda: _render(build_naive_map(table)))
    values = [first]
    if first * slow_repeats <= naive_cap_s:
        more = repeat(lambda: _render(build_naive_map(table)), times=slow_repeats - 1)
        values.extend(more.values)
    note = "" if len(values) > 1 or slow_repeats == 1 else "une seule mesure (lent)"
    return NaiveResult(
        len(table),
        ours,
        len(ours_html.encode()),
        Sample(tuple(values), note=note),
        len(naive_html.encode()),
    )
