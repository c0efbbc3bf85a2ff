"""XLSX export at scale: work linear in rows, built once per data version and view, still safe.

No timing here (timings are in bench/, `make bench`): linearity is checked by counting the
Python function calls an export makes, which is exact and does not depend on the machine.
"""

from __future__ import annotations

import cProfile
import csv
import io
import pstats
import re
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from apptest import map_page
from apptest import shown_count as shown_and_total
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from carto import exports, fields
from carto.cli import main
from carto.exports import EXPORT_COLUMNS, FORMULA_TRIGGERS, ExportCache, export_table
from carto.models import CATEGORIES, SCOPE_LABELS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "initiatives.csv"


def synthetic_table(rows: int) -> pd.DataFrame:
    """Rows like the published table: text, multi-line descriptions, formulas, numbers, gaps."""
    records = []
    for i in range(rows):
        records.append(
            {
                "id": f"p62-{i:06d}",
                "nom": f'=HYPERLINK("http://evil.example/{i}")' if i % 5 == 0 else f"Épicerie {i}",
                "categorie": "isoles",
                "description": f"Ligne un {i}\nLigne deux" if i % 3 == 0 else f"Une ligne {i}",
                "commune": "Arras",
                "code_insee": "62041",
                "latitude": 50.29 + i * 1e-6 if i % 4 else float("nan"),
                "longitude": 2.77 + i * 1e-6 if i % 4 else float("nan"),
                "telephone": "+33 3 21 00 00 00" if i % 2 else "",
                "arrondissement": "Arras",
                "geocode_status": "exact",
                "geocode_score": 1.0,
            }
        )
    return pd.DataFrame(records)


def python_calls(fn: Callable[[], object]) -> int:
    """Number of Python and built-in function calls (generator resumptions included)."""
    profile = cProfile.Profile()
    profile.runcall(fn)
    return pstats.Stats(profile).total_calls


def test_xlsx_export_work_grows_linearly_with_rows() -> None:
    small, large = synthetic_table(100), synthetic_table(400)
    export_table(small, fmt="xlsx")  # imports and one-time setup are not per-row work
    calls_small = python_calls(lambda: export_table(small, fmt="xlsx"))
    calls_large = python_calls(lambda: export_table(large, fmt="xlsx"))
    # Linear: 4x the rows costs at most 4x the calls (fixed costs make it less). The old
    # export rescanned every cell of the sheet after each row: ~16x here.
    assert calls_large <= 4 * calls_small, (calls_small, calls_large)
    per_row = (calls_large - calls_small) / 300
    assert per_row < 40 * len(EXPORT_COLUMNS), per_row


@pytest.fixture
def store_env(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    monkeypatch.setenv("CARTO_DATA", str(DATA))
    monkeypatch.setenv("CARTO_TILES", "none")
    return tmp_path


HOSTILE = [
    {
        "nom": '=HYPERLINK("http://evil.example","Cliquez")',
        "categorie": "isoles",
        "description": "- appels quotidiens\r\n- courses",
        "commune": "Arras",
        "zone": "@SUM(A1)",
    },
    {
        "nom": "Épicerie solidaire",
        "categorie": "protection",
        "description": "Une seule ligne",
        "commune": "Guînes",
        "zone": "+33",
    },
    {
        "nom": "-5 degrés : soupe chaude",
        "categorie": "routiers",
        "description": "Première ligne\nseconde ligne\ntroisième",
        "commune": "Saint-Omer",
        "zone": "",
    },
]


def test_cli_xlsx_export_is_safe_and_laid_out(store_env: Path, capsys) -> None:
    src = store_env / "hostile.csv"
    with src.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(HOSTILE[0]))
        writer.writeheader()
        writer.writerows(HOSTILE)
    replace = ["--mode", "replace", "--confirmer-suppressions", "18"]  # the 18 seed rows go
    assert main(["import", str(src), "--author", "test", *replace]) == 0
    xlsx = store_env / "out.xlsx"
    assert main(["export", "--format", "xlsx", "-o", str(xlsx)]) == 0
    assert "3 initiatives exportées" in capsys.readouterr().err

    workbook = openpyxl.load_workbook(xlsx)
    assert workbook.sheetnames == ["Initiatives"]
    sheet = workbook["Initiatives"]
    rows = list(sheet.iter_rows())
    assert tuple(c.value for c in rows[0]) == tuple(fields.label(c) for c in EXPORT_COLUMNS)
    assert all(c.font.b for c in rows[0])  # bold header
    assert sheet.freeze_panes == "A2"  # the header stays visible
    widths = {
        c: sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width
        for i, c in enumerate(EXPORT_COLUMNS, start=1)
    }
    assert widths["description"] == 60
    assert widths["latitude"] == widths["longitude"] == widths["geocode_score"] == 14
    assert widths["nom"] == widths["commune"] == 24

    column = {name: i for i, name in enumerate(EXPORT_COLUMNS)}
    by_name = {str(r[column["nom"]].value): r for r in rows[1:]}
    assert set(by_name) == {
        '\'=HYPERLINK("http://evil.example","Cliquez")',
        "Épicerie solidaire",
        "'-5 degrés : soupe chaude",
    }
    hyperlink = by_name['\'=HYPERLINK("http://evil.example","Cliquez")']
    assert hyperlink[column["description"]].value == "'- appels quotidiens\n- courses"
    assert hyperlink[column["zone"]].value == "'@SUM(A1)"
    assert by_name["Épicerie solidaire"][column["zone"]].value == "'+33"
    assert isinstance(hyperlink[column["latitude"]].value, float)
    cells = [c for r in rows[1:] for c in r]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # never a formula
    assert not [
        c.coordinate
        for c in cells
        if isinstance(c.value, str) and c.value.startswith(FORMULA_TRIGGERS)
    ]
    # Wrapped text on exactly the multi-line cells.
    multi_line = {c.coordinate for c in cells if isinstance(c.value, str) and "\n" in c.value}
    wrapped = {c.coordinate for c in cells if c.alignment.wrap_text}
    assert multi_line == wrapped
    assert len(multi_line) == 2
    assert all(sheet[c].alignment.vertical == "top" for c in wrapped)


def _review_counts(out: str) -> tuple[int, int, int, int]:
    found = re.search(
        r"(\d+) ajoutée\(s\), (\d+) modifiée\(s\), (\d+) retirée\(s\), (\d+) inchangée\(s\)", out
    )
    assert found, out
    added, changed, removed, unchanged = (int(n) for n in found.groups())
    return added, changed, removed, unchanged


def test_cli_csv_export_is_for_french_spreadsheets(store_env: Path, capsys) -> None:
    out = store_env / "out.csv"
    assert main(["export", "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM: Excel reads the accents
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == 1 + len(list(csv.DictReader(DATA.open(encoding="utf-8"))))
    assert all(len(row) == len(EXPORT_COLUMNS) for row in rows)
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    # Decimal comma (what French Excel reads as a number), every digit kept.
    latitudes = [r["latitude"] for r in records if r["latitude"]]
    assert latitudes and all("," in v and "." not in v for v in latitudes)
    assert all(-90 <= float(v.replace(",", ".")) <= 90 for v in latitudes)

    comma = store_env / "comma.csv"
    assert main(["export", "--separateur", ",", "--no-bom", "-o", str(comma)]) == 0
    data = comma.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    commas = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert tuple(commas[0]) == EXPORT_COLUMNS
    assert [r["nom"] for r in commas] == [r["nom"] for r in records]
    assert [r["latitude"] for r in commas if r["latitude"]] == [
        v.replace(",", ".") for v in latitudes
    ]


def test_cli_refuses_another_separator(store_env: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--separateur", "|", "-o", str(store_env / "x.csv")])
    assert "--separateur" in capsys.readouterr().err


def test_cli_xlsx_export_shows_french_labels(store_env: Path) -> None:
    xlsx = store_env / "out.xlsx"
    assert main(["export", "--format", "xlsx", "-o", str(xlsx)]) == 0
    sheet = openpyxl.load_workbook(xlsx)["Initiatives"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = rows[0]
    assert header[:4] == ["Identifiant", "Nom", "Catégorie", "Description"]
    assert {"Code INSEE", "Portée", "Latitude", "Score de géocodage"} <= set(header)
    assert not set(header) & {"categorie", "code_insee", "portee", "geocode_score"}
    categories = {r[header.index("Catégorie")] for r in rows[1:]}
    assert "Personnes isolées" in categories
    assert categories <= {c.label for c in CATEGORIES}
    scopes = {r[header.index("Portée")] for r in rows[1:]}
    assert {"Commune", "Secteur", "Département"} <= scopes
    assert scopes <= set(SCOPE_LABELS.values())


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("csv", []), ("csv", ["--separateur", ","]), ("csv", ["--no-bom"]), ("xlsx", [])],
)
def test_cli_reimporting_our_export_changes_nothing(
    store_env: Path, capsys, fmt: str, options: list[str]
) -> None:
    out = store_env / f"export.{fmt}"
    assert main(["export", "--format", fmt, *options, "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["import", str(out), "--mode", "replace", "--dry-run"]) == 0
    added, changed, removed, unchanged = _review_counts(capsys.readouterr().out)
    assert (added, changed, removed) == (0, 0, 0)
    assert unchanged == len(list(csv.DictReader(DATA.open(encoding="utf-8"))))


def test_export_cache_builds_once_and_is_bounded_in_bytes() -> None:
    cache = ExportCache(max_bytes=100)
    built: list[str] = []

    def build(key: str, size: int) -> Callable[[], bytes]:
        def run() -> bytes:
            built.append(key)
            return key.encode() * size

        return run

    assert cache.get("a", build("a", 40)) == b"a" * 40
    assert cache.get("a", build("a", 40)) == b"a" * 40
    assert built == ["a"]
    cache.get("b", build("b", 40))
    cache.get("a", build("a", 40))  # "a" is now the most recently used
    cache.get("c", build("c", 40))  # over 100 bytes: "b" goes
    assert built == ["a", "b", "c"]
    cache.get("a", build("a", 40))
    cache.get("b", build("b", 40))
    assert built == ["a", "b", "c", "b"]
    assert cache.size_bytes <= 100
    cache.get("huge", build("h", 1000))  # larger than the budget: returned, not kept
    assert cache.size_bytes <= 100


@pytest.fixture
def downloads(monkeypatch) -> dict[str, Callable[[], object]]:
    """The data callables of the page's download buttons, by file extension (latest run)."""
    captured: dict[str, Callable[[], object]] = {}
    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, **kwargs):
        captured[str(kwargs.get("file_name", "")).rsplit(".", 1)[-1]] = data_callable
        return original(self, data_callable, mimetype, coordinates, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return captured


@pytest.fixture
def xlsx_builds(monkeypatch) -> list[int]:
    """Rows of every XLSX workbook built, in order."""
    builds: list[int] = []
    original = exports._xlsx

    def counted(table: pd.DataFrame, *args: object, **kwargs: object) -> bytes:
        builds.append(len(table))
        return original(table, *args, **kwargs)

    monkeypatch.setattr(exports, "_xlsx", counted)
    return builds


def shown_count(at: AppTest) -> int:
    return shown_and_total(at)[0]


def test_download_builds_each_view_once(db, downloads, xlsx_builds) -> None:
    at = map_page()
    assert not at.exception
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["CSV", "GeoJSON", "Excel (.xlsx)"]
    total = shown_count(at)

    first = downloads["xlsx"]()
    again = downloads["xlsx"]()
    assert first == again
    assert xlsx_builds == [total]  # two clicks, one build
    sheet = openpyxl.load_workbook(io.BytesIO(first)).active
    assert sheet is not None and sheet.max_row == total + 1

    # Another visitor, same view: served from the cache.
    other = map_page()
    assert downloads["xlsx"]() == first
    assert xlsx_builds == [total]

    # A narrower view is another file...
    other.sidebar.multiselect(key="f_categories").set_value(["protection", "isoles"]).run()
    narrow = shown_count(other)
    assert 0 < narrow < total
    downloads["xlsx"]()
    assert xlsx_builds == [total, narrow]
    # ...and the same view asked differently (order, case, accents, spaces) is the same file.
    at.sidebar.multiselect(key="f_categories").set_value(["isoles", "protection"]).run()
    downloads["xlsx"]()
    assert xlsx_builds == [total, narrow]
    at.sidebar.text_input(key="f_text").set_value("  LES ").run()
    with_text = shown_count(at)
    downloads["xlsx"]()
    other.sidebar.text_input(key="f_text").set_value("les").run()
    assert shown_count(other) == with_text
    downloads["xlsx"]()
    assert xlsx_builds == [total, narrow, with_text]
