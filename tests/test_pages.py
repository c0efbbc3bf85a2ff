"""The pages as served: navigation, the selected initiative, errors no page caught, the route of
the map's data files (under CARTO_STATE_DIR), and settings as the only source of configuration."""

from __future__ import annotations

import json
import logging
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path

import aio
import pytest
import streamlit as st
from apptest import NAVIGATION, TIMEOUT, map_page, shown_count
from starlette.requests import Request
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
from streamlit.testing.v1 import AppTest

from carto.config import PROJECT_ROOT, Settings
from carto.intake.reading import DEFAULT_MAX_BYTES
from carto.publishing.storage import Store
from carto.ui import caches
from carto.ui.errors import UNEXPECTED, on_script_error
from carto.ui.routes import IMMUTABLE, MARKERS_URL, serve_marker_file
from carto.ui.selection import TABLE_KEY, Selection

GUINES = "pdc-2020-04-06-14"  # the Guînes town hall line, category « isoles »


def test_navigation_opens_the_map_then_the_publier_page(db: str) -> None:
    at = AppTest.from_file(str(NAVIGATION), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Initiatives solidaires"]
    shown, total = shown_count(at)
    assert shown == total > 0
    at.switch_page("pages/publier.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Publier une mise à jour"]
    assert not at.get("file_uploader")  # nobody signed in


# --- the selected initiative ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("made", "expected"),
    [
        (lambda: Selection.from_url({"id": GUINES}), GUINES),
        (lambda: Selection.from_url({"id": [GUINES, "autre"]}), GUINES),
        (lambda: Selection.from_url({"id": "  "}), None),
        (lambda: Selection.from_url({}), None),
        (lambda: Selection.from_click({"last_active_drawing": {"properties": {"id": "a"}}}), "a"),
        (lambda: Selection.from_click({"last_active_drawing": None}), "nothing"),
        (lambda: Selection.from_click("{pas un dict"), "nothing"),
        (lambda: Selection.from_pick("b", ["a", "b"]), "b"),
        (lambda: Selection.from_pick("c", ["a", "b"]), "nothing"),
        (lambda: Selection.from_pick(True, ["a", "b"]), "nothing"),
        (lambda: Selection.from_pick(0, ["a", "b"]), "nothing"),
        (lambda: Selection.from_pick(None, ["a", "b"]), "nothing"),
    ],
)
def test_selection_sources(made, expected) -> None:
    selection = made()
    if expected == "nothing":
        assert selection is None  # keeps the current selection
    else:
        assert selection == Selection(expected)


def test_selection_is_cleared_when_hidden() -> None:
    assert Selection("a").within({"a", "b"}) == Selection("a")
    assert Selection("a").within({"b"}) == Selection()
    assert Selection("a").to_query() == {"id": "a"} and Selection().to_query() == {}


def run_with_widget_value(at: AppTest, widget_id: str, value: object, *, kind: str) -> AppTest:
    """Rerun as a browser does when the widget `widget_id` sends `value` as JSON, in the
    field `kind` of its state (as each widget's front end does)."""
    states = WidgetStates()
    states.CopyFrom(at._tree.get_widget_states())
    state = states.widgets.add()
    state.id = widget_id
    setattr(state, kind, json.dumps(value))
    at._run(states)
    return at


def detail_heading(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader]


def test_a_map_click_selects_and_goes_into_the_link(db: str) -> None:
    at = map_page()
    (component,) = at.get("component_instance")
    clicked = {"last_active_drawing": {"type": "Feature", "properties": {"id": GUINES}}}
    run_with_widget_value(at, component.proto.id, clicked, kind="json_value")
    assert not at.exception
    assert any("Guînes" in s for s in detail_heading(at)), detail_heading(at)
    assert at.query_params["id"] in (GUINES, [GUINES])


def test_a_table_pick_selects_and_a_filter_that_hides_it_clears_it(db: str) -> None:
    at = map_page()
    table = next(t for t in at.table if "Nom" in t.value.columns)
    assert any("Guînes" in name for name in table.value["Nom"])
    picker = at.selectbox(key=TABLE_KEY)
    assert any("Guînes" in option for option in picker.options)
    picker.set_value(GUINES).run()
    assert not at.exception
    assert any("Guînes" in s for s in detail_heading(at)), detail_heading(at)
    assert at.query_params["id"] in (GUINES, [GUINES])

    at.sidebar.multiselect(key="f_categories").set_value(["protection"]).run()
    assert not at.exception
    assert not any("Guînes" in s for s in detail_heading(at))
    assert "id" not in at.query_params
    at.sidebar.multiselect(key="f_categories").set_value([]).run()
    assert not any("Guînes" in s for s in detail_heading(at))  # cleared, not hidden


# --- errors no page caught -----------------------------------------------------------------


@pytest.fixture
def served_by_app_py(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest runs a page without st.App: give its script runner app.py's error handler."""
    original = ScriptRunner.__init__

    def init(self: ScriptRunner, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("on_script_error", on_script_error)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ScriptRunner, "__init__", init)


def test_a_value_streamlit_cannot_decode_gets_a_french_message(
    db: str, served_by_app_py: None, caplog: pytest.LogCaptureFixture
) -> None:
    at = map_page()
    states = WidgetStates()
    states.CopyFrom(at._tree.get_widget_states())
    (search,) = [w for w in states.widgets if w.id.endswith("-f_text")]
    search.int_value = 123  # Streamlit slices it as text before any page code runs
    with caplog.at_level(logging.ERROR, logger="carto"):
        at._run(states)
    assert not at.exception, [e.message for e in at.exception]
    assert [e.value for e in at.error] == [UNEXPECTED]
    assert any(r.name == "carto" and r.exc_info for r in caplog.records)


# --- the route of the map's data files -----------------------------------------------------


@pytest.fixture
def markers_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CARTO_STATE_DIR", str(tmp_path / "state"))
    folder = Settings.from_env().markers_dir
    (folder / "1-abc").mkdir(parents=True)
    (folder / "1-abc" / "0123.json").write_text('{"id": []}', encoding="utf-8")
    (folder / "1-abc" / "notes.txt").write_text("x", encoding="utf-8")
    (folder / "1-abc.lock").write_text("", encoding="utf-8")
    (tmp_path / "secret.json").write_text('{"mot de passe": 1}', encoding="utf-8")
    os.symlink(tmp_path / "secret.json", folder / "1-abc" / "lien.json")
    yield folder


def get(path: str) -> tuple[int, bytes, dict[str, str]]:
    request = Request({"type": "http", "method": "GET", "path_params": {"path": path}})
    response = aio.run(serve_marker_file(request))
    return response.status_code, bytes(response.body), dict(response.headers)


def test_marker_route_serves_the_data_files_for_good(markers_dir: Path) -> None:
    status, body, headers = get("1-abc/0123.json")
    assert status == 200 and json.loads(body) == {"id": []}
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize(
    "path",
    [
        "1-abc/absent.json",
        "1-abc/notes.txt",
        "1-abc.lock",
        "../secret.json",
        "1-abc/../../secret.json",
        "1-abc/lien.json",  # a link out of the folder
        "{outside}",  # an absolute path
        "1-abc",
    ],
)
def test_marker_route_serves_nothing_else(markers_dir: Path, path: str) -> None:
    outside = markers_dir.parent.parent / "secret.json"
    status, body, _ = get(path.format(outside=outside))
    assert status == 404 and b"mot de passe" not in body


def test_map_page_hands_out_urls_of_the_route_and_writes_under_the_state_dir(db: str) -> None:
    at = map_page()
    (component,) = at.get("component_instance")
    args = component.proto.json_args
    assert MARKERS_URL + "/" in args and "/app/static/markers" not in args
    url = args.split(MARKERS_URL + "/", 1)[1].split(".json", 1)[0] + ".json"
    status, body, _ = get(url)
    assert status == 200 and GUINES in body.decode()
    assert (Settings.from_env().markers_dir / url).is_file()


# --- configuration only from Settings ------------------------------------------------------


def test_store_is_the_one_of_the_settings_given(tmp_path: Path, db: str) -> None:
    other = Settings.from_env({"CARTO_DATABASE_URL": f"sqlite:///{tmp_path / 'autre.sqlite'}"})
    st.cache_resource.clear()
    try:
        assert caches.store(other).url == other.database_url != db
        assert caches.store(Settings.from_env()).url == db
    finally:
        st.cache_resource.clear()
    with Store.open(other.database_url) as store:
        assert store.current() is not None  # filled from data/initiatives.csv on first open


def test_upload_limit_has_one_source() -> None:
    with (PROJECT_ROOT / ".streamlit" / "config.toml").open("rb") as config:
        megabytes = tomllib.load(config)["server"]["maxUploadSize"]
    assert megabytes * 2**20 == DEFAULT_MAX_BYTES


def test_missing_seed_file_is_explained_on_the_map(db, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CARTO_DATA", str(tmp_path / "absent.csv"))
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "carte.py"), default_timeout=60).run()
    assert not at.exception
    notice = " ".join(w.value for w in at.warning)
    assert "absent" in notice and "introuvable" in notice and "CARTO_DATA" in notice
