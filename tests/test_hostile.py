"""Hostile files (tests/data/hostile) through the CLI, the core and the import page.

Every case ends one of two ways: (a) accepted, and then every text is shown as text (escaped
tooltip, escaped Markdown, links only http(s)/mailto/tel, neutralised exports); or (b) refused
with a French message naming the row, the column and the value, and the published data unchanged.
The browser side is tests/e2e/test_hostile_browser.py.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from apptest import signed_in_publish_page, upload
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from carto.cli import main
from carto.display import SAFE_SCHEMES, detail_lines, detail_markdown, md_escape
from carto.exports import FORMULA_TRIGGERS, export_table
from carto.fields import field_for_header
from carto.intake import pipeline as dataset
from carto.map import basemap as mapping
from carto.publishing.storage import Store

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "data" / "hostile"
DATA = ROOT / "data" / "initiatives.csv"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_hostile", HOSTILE / "make_hostile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hostile = _generator()


def test_committed_corpus_is_what_the_generator_writes() -> None:
    valid = hostile.csv_bytes(hostile.VALID_HEADER, hostile.valid_rows())
    refused = hostile.csv_bytes(hostile.REFUSED_HEADER, hostile.refused_rows())
    assert (HOSTILE / "balisage-valide.csv").read_bytes() == valid
    assert (HOSTILE / "champs-refuses.csv").read_bytes() == refused


# --- the corpus: (file name, how to make it in tmp_path, exit code, message fragments) ---------

Maker = Callable[[Path], Path]


def committed(name: str) -> Maker:
    return lambda _tmp: HOSTILE / name


def generated(name: str, build: Callable[[], bytes]) -> Maker:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(build())
        return path

    return make


def big_csv(tmp: Path) -> Path:
    return hostile.make_big_csv(tmp / "enorme.csv")


# Files refused as a whole (ReadError): nothing about rows can be said.
UNREADABLE: list[tuple[str, Maker, str]] = [
    ("enorme.csv", big_csv, "trop gros"),
    ("image.csv", generated("image.csv", hostile.make_binary_junk), "ne semble pas"),
    ("coupe.xlsx", generated("coupe.xlsx", hostile.make_truncated_xlsx), "endommagé"),
    ("bombe.xlsx", generated("bombe.xlsx", hostile.make_zip_bomb_xlsx), "décompressé"),
    (
        "entites.xlsx",
        generated("entites.xlsx", hostile.make_entity_bomb_xlsx),
        "endommagé ou illisible",
    ),  # defusedxml forbids entities
    ("japonais.csv", generated("japonais.csv", hostile.make_shift_jis), "encodage reconnu"),
    (
        "utf8-invalide.csv",
        generated("utf8-invalide.csv", hostile.make_invalid_utf8),
        "mélange deux encodages : il est en UTF-8, sauf ligne 4 (octet 0xE9",
    ),
]
LONG_COLUMNS = ("nom", "description", "zone", "adresse", "source", "site_web", "telephone")


def long_fields(tmp: Path) -> Path:
    return generated("champs-100k.csv", hostile.make_long_fields)(tmp)


def refusals_of(name: str) -> list[tuple[int, str, str, str]]:
    """(line, column, value, fragment) every refused file must report."""
    if name == "champs-refuses.csv":
        return hostile.expected_refusals()
    assert name == "champs-100k.csv"
    return [(line, column, "", "texte trop long") for line, column in enumerate(LONG_COLUMNS, 2)]


# Files read, but with refused values.
INVALID_ROWS: list[tuple[str, Maker]] = [
    ("champs-refuses.csv", committed("champs-refuses.csv")),
    ("champs-100k.csv", long_fields),
]
# Files accepted: their text must then be shown as text.
ACCEPTED: list[tuple[str, Maker]] = [
    ("balisage-valide.csv", committed("balisage-valide.csv")),
    ("utf16-sans-bom.csv", generated("utf16-sans-bom.csv", hostile.make_utf16_without_bom)),
]


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Erreur")]


def names_row_column_value(lines: list[str], line: int, column: str, value: str) -> bool:
    value = " ".join(value.split())  # as the schema cleans it: no tab, no outer spaces
    shown = value if len(value) <= 80 else value[:77] + "…"
    return any(
        f"ligne {line}," in text
        and f"colonne « {column} »" in text
        and (not value or f"valeur « {shown} »" in text)
        for text in lines
    )


# --- CLI: carto validate -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "make", "fragment"), UNREADABLE, ids=[c[0] for c in UNREADABLE])
def test_validate_refuses_unreadable_files_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, make: Maker, fragment: str
) -> None:
    assert main(["validate", str(make(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Erreur : Le ") and f"« {name} »" in err and fragment in err, err


@pytest.mark.parametrize(("name", "make"), INVALID_ROWS, ids=[c[0] for c in INVALID_ROWS])
def test_validate_names_row_column_and_value_of_each_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, make: Maker
) -> None:
    assert main(["validate", str(make(tmp_path))]) == 1
    errors = error_lines(capsys.readouterr().out)
    expected = refusals_of(name)
    for line, column, value, fragment in expected:
        assert names_row_column_value(errors, line, column, value), (line, column, value)
        assert any(f"ligne {line}," in e and fragment in e for e in errors), (line, fragment)
    # Every row has exactly its one refused value (two for a pair of bad coordinates).
    assert {int(re.search(r"ligne (\d+),", e)[1]) for e in errors} == {  # type: ignore[index]
        line for line, *_ in expected
    }


@pytest.mark.parametrize(("name", "make"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_validate_accepts_hostile_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, make: Maker
) -> None:
    assert main(["validate", str(make(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "0 erreur(s)" in out and not error_lines(out)


def test_control_characters_are_named_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    # A raw U+202E in a message would reverse the rest of the message in the terminal.
    assert main(["validate", str(HOSTILE / "balisage-valide.csv")]) == 0
    out = capsys.readouterr().out
    assert hostile.RLO not in out and "\u2066" not in out and "\u200b" not in out
    assert "ligne 10, colonne « nom », valeur « Facture <U+202E>fdp.exe »" in out
    assert "ligne 10, colonne « commune », valeur « Bruay-la-Buissi<U+202E>ère »" in out


# --- CLI: carto import ----------------------------------------------------------------------------


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private SQLite store, filled from the shipped data (version 1) by a first command."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    monkeypatch.setenv("CARTO_DATABASE_URL", url)
    monkeypatch.setenv("CARTO_DATA", str(DATA))
    assert main(["versions"]) == 0
    return url


def published(url: str) -> tuple[int, str]:
    with Store.open(url) as store:
        current = store.current()
        assert current is not None
        return current.number, current.checksum


REFUSED_IMPORTS = [(name, make) for name, make, _ in UNREADABLE] + INVALID_ROWS


@pytest.mark.parametrize(
    ("name", "make"), REFUSED_IMPORTS, ids=[name for name, _ in REFUSED_IMPORTS]
)
def test_import_of_a_refused_file_changes_nothing(
    tmp_path: Path, cli_store: str, capsys: pytest.CaptureFixture[str], name: str, make: Maker
) -> None:
    before = published(cli_store)
    assert main(["import", str(make(tmp_path)), "--author", "Test"]) == 1
    err = capsys.readouterr().err
    assert "Erreur" in err or "rien n'a été publié" in err
    assert published(cli_store) == before


def test_import_publishes_hostile_text_verbatim(
    cli_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    number, _ = published(cli_store)
    assert main(["import", str(HOSTILE / "balisage-valide.csv"), "--author", "Test"]) == 0
    assert f"Version {number + 1} publiée" in capsys.readouterr().out
    with Store.open(cli_store) as store:
        table = store.load().set_index("id")
    for row in hostile.valid_rows()[: len(hostile.PAYLOADS)]:
        stored = table.loc[row["id"]]
        for column in ("nom", "description", "zone", "adresse", "telephone", "source"):
            assert stored[column] == row[column], column
    formulas = table.loc["hostile-formules"]
    assert formulas["nom"] == hostile.FORMULAS[0]  # stored as written, neutralised on export
    assert table.loc["hostile-bidi", "nom"] == "Facture fdp.exe"  # U+202E removed


# --- core: what the map, the panel and the exports make of accepted text -------------------------


@pytest.fixture(scope="module")
def hostile_table():
    loaded = dataset.load(HOSTILE / "balisage-valide.csv")
    assert loaded.ok
    return loaded.table


def test_rendered_map_has_no_live_markup(hostile_table) -> None:
    # Tooltips are checked in a real browser (tests/e2e/test_hostile_browser.py); here: no
    # payload reaches the generated page as markup.
    fmap = mapping.build_map(hostile_table, arrondissements=None, tiles="none")
    page = fmap.get_root().render()
    for payload in hostile.PAYLOADS:
        if "<" in payload:
            assert payload not in page, payload
    assert "<img src=x" not in page and "<svg onload" not in page


def test_detail_panel_links_are_safe_and_text_is_escaped(hostile_table) -> None:
    for row in hostile_table.to_dict("records"):
        for line in detail_lines(row):
            if line.href is not None:
                assert line.href.split(":", 1)[0] in SAFE_SCHEMES, line
                assert "@" not in line.href.split("//", 1)[-1].split("/", 1)[0] or (
                    line.href.startswith("mailto:")
                )
            markdown = detail_markdown(line)
            shown = md_escape(line.text)
            assert shown in markdown
            # Unescaping the Markdown gives back the value: nothing in it was interpreted.
            assert re.sub(r"\\(.)", r"\1", shown) == line.text
    telephones = {
        line.text: line.href
        for r in hostile_table.to_dict("records")
        for line in detail_lines(r)
        if line.label == "Téléphone"
    }
    assert telephones and all(href is None for text, href in telephones.items() if "<" in text)


def _csv_cells(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def _xlsx_cells(data: bytes) -> list[dict[str, str]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [["" if v is None else v for v in r] for r in sheet.iter_rows(values_only=True)]
    names = [field.name for field in map(field_for_header, rows[0]) if field]  # French labels
    return [dict(zip(names, r, strict=True)) for r in rows[1:]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_never_start_a_cell_with_a_formula(hostile_table, fmt: str) -> None:
    data = export_table(hostile_table, fmt=fmt)
    rows = _csv_cells(data) if fmt == "csv" else _xlsx_cells(data)
    assert len(rows) == len(hostile_table)
    for row in rows:
        for column, value in row.items():
            if isinstance(value, str) and column not in ("latitude", "longitude"):
                assert not value.startswith(FORMULA_TRIGGERS), (column, value)
    formulas = next(r for r in rows if r["id"] == "hostile-formules")
    assert formulas["nom"] == "'" + hostile.FORMULAS[0]
    assert formulas["description"] == "'" + hostile.FORMULAS[1]
    assert formulas["adresse"] == "'" + hostile.FORMULAS[2]
    assert formulas["telephone"] == "'" + hostile.FORMULAS[3]


# --- the import page (AppTest) --------------------------------------------------------------------


def plain(markdown: str) -> str:
    """Text as Streamlit shows it once Markdown escapes are removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def assert_nothing_publishable(at: AppTest) -> None:
    assert all(b.disabled for b in at.button if b.label == "Publier")


@pytest.mark.parametrize(("name", "make", "fragment"), UNREADABLE, ids=[c[0] for c in UNREADABLE])
def test_import_page_refuses_unreadable_files(
    db: str, tmp_path: Path, name: str, make: Maker, fragment: str
) -> None:
    at = signed_in_publish_page()
    before = published(db)
    at = upload(at, name, make(tmp_path).read_bytes())
    assert not at.exception
    errors = [plain(e.value) for e in at.error]
    if name == "enorme.csv":  # refused by the page before reading: the limit is named
        fragment = "la limite est de 20 Mo"
    assert any(fragment in e and "Rien n'a été modifié" in e for e in errors), errors
    assert not any(b.label == "Publier" for b in at.button)
    assert published(db) == before


@pytest.mark.parametrize(("name", "make"), INVALID_ROWS, ids=[c[0] for c in INVALID_ROWS])
def test_import_page_reports_each_refused_value(
    db: str, tmp_path: Path, name: str, make: Maker
) -> None:
    at = signed_in_publish_page()
    before = published(db)
    at = upload(at, name, make(tmp_path).read_bytes())
    assert not at.exception
    assert any("rien ne peut être publié" in e.value for e in at.error)
    assert_nothing_publishable(at)
    report = at.dataframe[0].value
    refused = report[report["Gravité"] == "Erreur"]
    for line, column, value, fragment in refusals_of(name):
        match = refused[(refused["Ligne"] == str(line)) & (refused["Colonne"] == column)]
        assert len(match) >= 1, (line, column)
        assert not value or match["Valeur"].iloc[0] == " ".join(value.split())[:200], value
        assert any(fragment in m for m in match["Problème"]), (line, fragment)
    assert published(db) == before


def test_import_page_accepts_hostile_text_and_publishes_it_verbatim(db: str) -> None:
    at = signed_in_publish_page()
    number, _ = published(db)
    at = upload(at, "balisage-valide.csv", (HOSTILE / "balisage-valide.csv").read_bytes())
    assert not at.exception
    assert not at.error
    assert all(b.disabled for b in at.button if b.label == "Publier")  # not before confirming
    next(c for c in at.checkbox if c.label.startswith("Je confirme la publication")).check().run()
    next(b for b in at.button if b.label == "Publier").click().run()
    assert not at.exception
    assert published(db)[0] == number + 1
    with Store.open(db) as store:
        noms = set(store.load()["nom"])
    assert {row["nom"] for row in hostile.valid_rows()[: len(hostile.PAYLOADS)]} <= noms


def test_import_page_quotes_file_text_literally(db: str) -> None:
    """Streamlit renders Markdown in messages and widget labels: text from the file must be
    escaped there, or a file name or a commune could load a remote image or show a fake link."""
    at = signed_in_publish_page()
    data = (
        "nom;categorie;commune\n"
        f"Masques;protection;{hostile.MD_IMAGE}\n"
        f"Visières;protection;{hostile.MD_JS_LINK}\n"
    ).encode()
    name = f"{hostile.MD_IMAGE}.csv"
    at = upload(at, name, data)
    assert not at.exception
    texts = [s.value for s in at.success] + [e.value for e in at.error]
    texts += [s.label for s in at.selectbox]
    assert any(md_escape(name) in t for t in texts), texts  # the file name, escaped
    labels = [s.label for s in at.selectbox]
    assert len(labels) == 2, labels  # one commune correction per row
    for text in texts:
        assert "![x](" not in text and "[clic](" not in text, text
