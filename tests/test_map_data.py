"""Map data and visitor input (issue 8, items 2, 5 and 6): the public map never goes blank,
disk use is bounded, equivalent views share one file, search text is capped, and values a
visitor crafts give a French message, never a traceback."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from apptest import map_page, shown_count
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from streamlit.testing.v1 import AppTest

from carto.config import Settings
from carto.filters import MAX_QUERY_TEXT, FilterSpec, apply_filters, clean_search_text
from carto.intake import pipeline as dataset
from carto.map.markers import MarkerFiles, write_payload_file
from carto.ui import map_view
from carto.ui.routes import MARKERS_URL

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "initiatives.csv"
HUNDRED_KB = "a " * 50_000


@pytest.fixture(scope="module")
def initiatives() -> pd.DataFrame:
    table = dataset.load(DATA).table
    return table[table["latitude"].notna() & table["longitude"].notna()]


# --- search text: capped, duplicate words dropped, equivalent views share one key -----------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Arras", "Arras"),
        ("  Arras   arras ARRAS  ", "Arras"),
        ("Béthune bethune BÉTHUNE gel", "Béthune gel"),
        ("l'entraide l’entraide", "l'entraide l’entraide"),
        (HUNDRED_KB, "a"),
        ("x" * 100_000, "x" * MAX_QUERY_TEXT),
        (" ".join(f"mot{i}" for i in range(1000)), " ".join(f"mot{i}" for i in range(35))),
        ("", ""),
    ],
)
def test_search_text_is_capped_without_repeated_words(typed: str, kept: str) -> None:
    assert clean_search_text(typed) == kept
    spec = FilterSpec(text=typed)
    assert spec.text == kept and len(spec.text) <= MAX_QUERY_TEXT
    assert spec.to_query().get("q", "") == kept
    assert FilterSpec.from_query({"q": typed}).text == kept


def test_a_100_kb_search_finds_what_its_words_find(initiatives: pd.DataFrame) -> None:
    pasted = apply_filters(initiatives, FilterSpec(text=HUNDRED_KB + "Arras " * 1000))
    typed = apply_filters(initiatives, FilterSpec(text="a arras"))
    assert list(pasted["id"]) == list(typed["id"]) and 0 < len(typed) < len(initiatives)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (FilterSpec(text="Arras"), FilterSpec(text=" arras ")),
        (FilterSpec(text="Béthune gel"), FilterSpec(text="GEL bethune béthune")),
        (FilterSpec(text="arr arras"), FilterSpec(text="Arras")),
        (FilterSpec(communes=("62041", "62193")), FilterSpec(communes=("62193", "62041"))),
        (
            FilterSpec(categories=("isoles", "protection")),
            FilterSpec(categories=("protection", "isoles")),
        ),
    ],
)
def test_equivalent_views_share_one_key(one: FilterSpec, other: FilterSpec) -> None:
    assert one.view_key == other.view_key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (FilterSpec(text="Arras"), FilterSpec(text="Arras gel")),
        (FilterSpec(communes=("62041",)), FilterSpec(arrondissements=("62041",))),
        (FilterSpec(), FilterSpec(categories=("isoles",))),
    ],
)
def test_different_views_have_different_keys(one: FilterSpec, other: FilterSpec) -> None:
    assert one.view_key != other.view_key


# --- marker files: atomic writes, bounded bytes, never missing while handed out ------------


def payload(number: int, size: int = 1_000) -> str:
    return json.dumps({"n": number, "pad": "x" * size})


def on_disk(files: MarkerFiles) -> int:
    return sum(f.stat().st_size for f in files.directory.glob("*.json"))


def test_concurrent_writers_of_one_payload_never_fail(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    rounds, writers = 40, 8
    barrier = threading.Barrier(writers)

    def write() -> None:
        for number in range(rounds):
            barrier.wait()  # all writers start the same new file together
            try:
                write_payload_file(payload(number, 20_000), tmp_path)
            except BaseException as error:  # noqa: BLE001 (collected and asserted below)
                errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(list(tmp_path.glob("*.json"))) == rounds
    assert list(tmp_path.glob(".*")) == []  # no temporary file left behind
    for number in range(rounds):
        name = write_payload_file(payload(number, 20_000), tmp_path)
        assert (tmp_path / name).read_text(encoding="utf-8") == payload(number, 20_000)


def test_a_popular_view_outlives_300_other_views_within_the_byte_budget(tmp_path: Path) -> None:
    files = MarkerFiles(tmp_path, max_bytes=50_000)
    default = files.path_for("default", lambda: payload(-1))
    for number in range(300):
        path = files.path_for(("view", number), lambda n=number: payload(n))
        assert (tmp_path / path).is_file()
        if number % 10 == 0:
            assert files.path_for("default", lambda: payload(-1)) == default
        assert on_disk(files) <= 50_000
    assert (tmp_path / default).read_text(encoding="utf-8") == payload(-1)
    assert on_disk(files) == files.total_bytes
    files.close()
    assert not files.directory.exists()


def test_one_view_larger_than_the_budget_is_still_served(tmp_path: Path) -> None:
    files = MarkerFiles(tmp_path, max_bytes=500)
    small = files.path_for("small", lambda: payload(1, 100))
    big = files.path_for("big", lambda: payload(2, 5_000))
    assert (tmp_path / big).is_file() and not (tmp_path / small).exists()


def test_a_shared_file_stays_until_its_last_view_goes(tmp_path: Path) -> None:
    files = MarkerFiles(tmp_path, max_bytes=3_500)  # three 1 KB files
    first = files.path_for("Arras", lambda: payload(0))
    assert files.path_for("arras (old link)", lambda: payload(0)) == first
    assert on_disk(files) == files.total_bytes == len(payload(0))
    files.path_for("other 1", lambda: payload(1))
    files.path_for("other 2", lambda: payload(2))
    files.path_for("Arras", lambda: payload(0))  # still popular
    files.path_for("other 3", lambda: payload(3))  # evicts the old link's key, not the file
    assert (tmp_path / first).is_file()


def test_views_sharing_one_file_are_bounded_in_number(tmp_path: Path) -> None:
    # 1,000 searches that all find nothing: one small file, but 1,000 keys held in memory.
    files = MarkerFiles(tmp_path, max_views=100)
    paths = {files.path_for(("search", n), lambda: payload(0)) for n in range(1_000)}
    assert len(paths) == 1 and (tmp_path / paths.pop()).is_file()
    assert len(files) == 100


def test_a_vanished_file_is_written_again(tmp_path: Path) -> None:
    files = MarkerFiles(tmp_path)
    path = files.path_for("default", lambda: payload(0))
    (tmp_path / path).unlink()  # e.g. an operator emptied the folder
    assert files.path_for("default", lambda: payload(0)) == path
    assert (tmp_path / path).read_text(encoding="utf-8") == payload(0)


def test_concurrent_views_keep_every_kept_file_on_disk(tmp_path: Path) -> None:
    files = MarkerFiles(tmp_path, max_bytes=20_000)
    errors: list[BaseException] = []

    def browse(offset: int) -> None:
        for number in range(200):
            view = (number * 7 + offset) % 60  # overlapping views, with evictions
            try:
                path = files.path_for(view, lambda v=view: payload(v, 2_000))
                files.path_for("default", lambda: payload(-1, 2_000))
                assert path.endswith(".json")
            except BaseException as error:  # noqa: BLE001 (collected and asserted below)
                errors.append(error)

    threads = [threading.Thread(target=browse, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (tmp_path / files.path_for("default", lambda: payload(-1, 2_000))).is_file()
    assert on_disk(files) == files.total_bytes <= 20_000
    assert list(files.directory.glob(".*")) == []


def test_each_process_owns_its_folder_and_stale_ones_are_removed(tmp_path: Path) -> None:
    alive = MarkerFiles(tmp_path)
    alive_path = alive.path_for("v", lambda: payload(1))
    stale = tmp_path / "4242-0123456789ab"  # a crashed process: lock file present, not held
    stale.mkdir()
    (stale / "x.json").write_text("{}")
    (tmp_path / "4242-0123456789ab.lock").write_text("")
    orphan = tmp_path / "4343-0123456789ab"  # a folder whose lock file is already gone
    orphan.mkdir()
    newcomer = MarkerFiles(tmp_path)
    newcomer.path_for("v", lambda: payload(1))
    assert not stale.exists() and not orphan.exists()
    assert not (tmp_path / "4242-0123456789ab.lock").exists()
    assert (tmp_path / alive_path).is_file()  # another live instance's files are left alone
    newcomer.close()
    alive.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --- through the page's own functions ------------------------------------------------------


@pytest.fixture
def markers_dir(db: str) -> Iterator[Path]:
    st.cache_resource.clear()
    yield Settings.from_env().markers_dir
    st.cache_resource.clear()


def served_file(url: str, folder: Path) -> Path:
    prefix = f"{MARKERS_URL}/"
    assert url.startswith(prefix), url
    return folder / url.removeprefix(prefix)


def test_default_view_file_survives_300_commune_selections(
    initiatives: pd.DataFrame, markers_dir: Path
) -> None:
    codes = sorted(initiatives["code_insee"].unique())
    selections = list(
        itertools.islice(
            itertools.chain(itertools.combinations(codes, 2), itertools.combinations(codes, 3)),
            300,
        )
    )

    cfg = Settings.from_env()

    def hand_out(spec: FilterSpec) -> str:
        url = map_view.markers_url(
            apply_filters(initiatives, spec), cfg=cfg, data_key="test:v1", spec=spec
        )
        assert url is not None and served_file(url, markers_dir).is_file(), url
        return url

    default = hand_out(FilterSpec())
    for number, communes in enumerate(selections, start=1):
        hand_out(FilterSpec(communes=communes))
        if number % 10 == 0:  # the default view is the popular one
            assert hand_out(FilterSpec()) == default
    data = json.loads(served_file(default, markers_dir).read_text(encoding="utf-8"))
    assert len(data["id"]) == len(initiatives)
    # « Arras » and « arras » are one view: one key, one file.
    arras = FilterSpec(text="Arras")
    shown = apply_filters(initiatives, arras)
    same = FilterSpec(text=" arras ARRAS")
    assert map_view.markers_url(shown, cfg=cfg, data_key="test:v1", spec=arras) == (
        map_view.markers_url(shown, cfg=cfg, data_key="test:v1", spec=same)
    )


# --- AppTest: what a visitor sees -----------------------------------------------------------


@pytest.fixture
def app(markers_dir: Path) -> AppTest:
    at = map_page()
    assert not at.exception
    return at


def crafted_run(at: AppTest, key: str, craft: Callable[[WidgetState], object]) -> WidgetStates:
    """Rerun with the value of widget `key` replaced, as a hand-written websocket message would;
    returns the genuine widget states, which a browser sends with its next message."""
    genuine = at._tree.get_widget_states()
    states = WidgetStates()
    states.CopyFrom(genuine)
    (state,) = [w for w in states.widgets if w.id.endswith(f"-{key}")]
    craft(state)
    at._run(states)
    return genuine


# Values Streamlit decodes, that the page then refuses: a French message, the filter reset.
CRAFTED = {
    "categories as a string": ("f_categories", lambda w: setattr(w, "string_value", "isoles")),
    "communes as JSON": ("f_communes", lambda w: setattr(w, "json_value", '{"a": 1}')),
    "arrondissements as ints": (
        "f_arrondissements",
        lambda w: w.int_array_value.data.extend([1, 2]),
    ),
    "search text as bytes": ("f_text", lambda w: setattr(w, "bytes_value", b"Arras")),
}
# Values Streamlit itself fails to decode, before any page code runs (its deserialisers, e.g.
# `value[:max_chars]` on an int): page code cannot catch these; the visitor must see no details.
UNDECODABLE = {
    "search text as an int": ("f_text", lambda w: setattr(w, "int_value", 123)),
    "search text as a float": ("f_text", lambda w: setattr(w, "double_value", 1.5)),
    "categories as an int": ("f_categories", lambda w: setattr(w, "int_value", 3)),
}


@pytest.mark.parametrize("case", CRAFTED, ids=list(CRAFTED))
def test_crafted_widget_values_show_french_not_a_traceback(
    app: AppTest, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    key, craft = CRAFTED[case]
    shown, total = shown_count(app)
    with caplog.at_level(logging.WARNING, logger="carto"):
        crafted_run(app, key, craft)
    assert not app.exception, [e.message for e in app.exception]
    assert any("invalide" in e.value and "réinitialisé" in e.value for e in app.error), [
        e.value for e in app.error
    ]
    assert shown_count(app) == (total, total)  # the filter was reset, the page is whole
    assert any(r.name == "carto" for r in caplog.records)
    app.run()  # and the next run is clean
    assert not app.exception and not app.error


@pytest.mark.parametrize("case", UNDECODABLE, ids=list(UNDECODABLE))
def test_undecodable_widget_values_show_no_details(app: AppTest, case: str) -> None:
    key, craft = UNDECODABLE[case]
    total = shown_count(app)[1]
    crafted_run(app, key, craft)
    for shown in app.exception:  # client.showErrorDetails = "none": Streamlit's generic notice
        assert not shown.stack_trace and "redacted" in shown.message, shown
        assert "object" not in shown.message and ".py" not in shown.message
    # Only the crafting session is affected: the next visitor's page is whole.
    other = map_page()
    assert not other.exception and shown_count(other) == (total, total)


@pytest.mark.parametrize("crafted", ["{pas du JSON", "inconnu", "", "x" * 100_000])
def test_a_crafted_value_of_the_initiatives_list_is_ignored(app: AppTest, crafted: str) -> None:
    """The list under the table only ever opens a listed initiative: any other value a
    browser sends is dropped, and the page stays whole with no initiative opened."""
    picker = app.selectbox(key="table")
    states = WidgetStates()
    states.CopyFrom(app._tree.get_widget_states())
    state = states.widgets.add()
    state.id = picker.proto.id
    state.string_value = crafted
    app._run(states)
    assert not app.exception, [e.message for e in app.exception]
    assert app.selectbox(key="table").value is None
    assert [s.value for s in app.subheader] == []
    assert shown_count(app)[0] > 0


def test_search_box_caps_the_text_and_the_shared_link(app: AppTest) -> None:
    box = app.sidebar.text_input(key="f_text")
    assert box.proto.max_chars == MAX_QUERY_TEXT
    box.set_value("Arras " * 20_000).run()
    assert not app.exception
    query = app.query_params["q"]
    query = query[0] if isinstance(query, list) else query
    words = query.split()
    assert len(query) <= MAX_QUERY_TEXT and len(words) == len({w.casefold() for w in words})
    searched = shown_count(app)[0]
    box.set_value("arras").run()
    assert shown_count(app)[0] == searched > 0


def test_unwritable_marker_folder_still_draws_every_marker(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # a file where the folder should be: unwritable even for root
    monkeypatch.setenv("CARTO_STATE_DIR", str(blocker))
    st.cache_resource.clear()
    with caplog.at_level(logging.ERROR, logger="carto"):
        at = map_page()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error  # visitors have nothing to do about it: the map is whole
    (component,) = at.get("component_instance")
    args = component.proto.json_args
    assert "pdc-2020-04-06-14" in args and MARKERS_URL not in args  # data inlined
    assert any(r.name == "carto" and r.exc_info for r in caplog.records)
    st.cache_resource.clear()
