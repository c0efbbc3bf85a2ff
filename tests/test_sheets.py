"""Workbooks as people and scripts save them: hidden sheets, several data sheets, formulas.

The sheet read is named in every report; a hidden sheet is never read in place of a visible one;
several visible data sheets make the CLI (`--feuille`) and the page (a choice) ask which one; a
formula without a calculated value is a warning naming its cell.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from apptest import signed_in_publish_page
from apptest import upload as upload_file
from openpyxl import Workbook
from streamlit.testing.v1 import AppTest

from carto.cli import main
from carto.intake.pipeline import load
from carto.intake.reading import SheetError, read_table

ROOT = Path(__file__).resolve().parents[1]
HEADER = ["nom", "categorie", "commune", "description"]
CURRENT = [
    ["Atelier couture de masques", "protection", "Arras", "Des bénévoles cousent des masques."],
    ["Repas offerts aux soignants", "soignants", "Béthune", "Un restaurateur cuisine."],
]
ARCHIVE = [
    ["Banque alimentaire 2019", "confines", "Lens", "Archive."],
    ["Douches pour les routiers 2019", "routiers", "Calais", "Archive."],
    ["Prêt de véhicules 2019", "isoles", "Liévin", "Archive."],
]
OTHER = [["Épicerie solidaire d'Hénin", "confines", "Hénin-Beaumont", "Une épicerie."]]


def workbook(
    path: Path, sheets: dict[str, list[list[object]]], *, hidden: tuple[str, ...] = ()
) -> Path:
    """A real .xlsx: one sheet per entry, in order, the `hidden` ones hidden."""
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if title in hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return path


@pytest.fixture
def hidden_archive(tmp_path: Path) -> Path:
    return workbook(
        tmp_path / "initiatives.xlsx",
        {"Feuil1": [HEADER, *CURRENT], "Initiatives 2019 (archive)": [HEADER, *ARCHIVE]},
        hidden=("Initiatives 2019 (archive)",),
    )


@pytest.fixture
def two_sheets(tmp_path: Path) -> Path:
    return workbook(
        tmp_path / "deux-feuilles.xlsx",
        {"Feuil1": [HEADER, *CURRENT], "Feuil2": [HEADER, *OTHER], "Vide": []},
    )


# --- CLI -----------------------------------------------------------------------------------------


def test_visible_sheet_is_read_and_named_not_the_hidden_archive(hidden_archive, capsys) -> None:
    code = main(["validate", str(hidden_archive)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 initiatives lues" in out
    assert "feuille « Feuil1 »" in out
    # The skipped hidden sheet is named too, so that nobody wonders where it went.
    assert "feuille masquée « Initiatives 2019 (archive) »" in out


def test_import_names_the_sheet_it_read(hidden_archive, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{tmp_path / 'carto.sqlite'}")
    monkeypatch.delenv("CARTO_DATA", raising=False)
    code = main(["import", str(hidden_archive), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "feuille « Feuil1 »" in out
    assert "2 ajoutée(s)" in out


def test_geocode_writes_the_visible_sheet(hidden_archive, tmp_path, capsys) -> None:
    out_csv = tmp_path / "geocode.csv"
    code = main(["geocode", str(hidden_archive), "-o", str(out_csv)])
    streams = capsys.readouterr()
    assert code == 0, streams.err
    assert "feuille « Feuil1 »" in streams.out + streams.err
    written = out_csv.read_text(encoding="utf-8")
    assert "Atelier couture de masques" in written and "2019" not in written


def test_several_data_sheets_is_a_usage_error_listing_them(two_sheets, capsys) -> None:
    code = main(["validate", str(two_sheets)])
    err = capsys.readouterr().err
    # Exit 2 (usage): the file is fine, the command must say which sheet to read.
    assert code == 2
    assert "« Feuil1 »" in err and "« Feuil2 »" in err and "Vide" not in err
    assert "--feuille" in err


@pytest.mark.parametrize("command", ["validate", "geocode", "import"])
def test_feuille_option_picks_the_sheet(command, two_sheets, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{tmp_path / 'carto.sqlite'}")
    monkeypatch.delenv("CARTO_DATA", raising=False)
    extra = {"validate": [], "geocode": ["-o", str(tmp_path / "g.csv")], "import": ["--dry-run"]}
    code = main([command, str(two_sheets), "--feuille", "Feuil2", *extra[command]])
    streams = capsys.readouterr()
    assert code == 0, streams.err
    assert "feuille « Feuil2 »" in streams.out + streams.err


@pytest.mark.parametrize(
    ("sheet", "expected"),
    [
        ("Feuil3", ["n’a pas de feuille « Feuil3 »", "« Feuil1 »", "« Feuil2 »"]),
        ("Feuil2", ["CSV", "pas de feuille"]),
    ],
    ids=["unknown-sheet", "csv-has-no-sheet"],
)
def test_bad_feuille_is_a_usage_error(sheet, expected, two_sheets, tmp_path, capsys) -> None:
    target = two_sheets
    if "CSV" in expected:
        target = tmp_path / "initiatives.csv"
        target.write_text("nom;categorie;commune\nA;protection;Arras\n", encoding="utf-8")
    code = main(["validate", str(target), "--feuille", sheet])
    err = capsys.readouterr().err
    assert code == 2
    for text in expected:
        assert text in err


# --- formulas ------------------------------------------------------------------------------------


def formula_workbook(path: Path) -> Path:
    """Written by a script (openpyxl): the formula of D4 has no calculated value."""
    return workbook(
        path,
        {"Feuil1": [HEADER, *CURRENT, ["Collecte de denrées", "confines", "Lens", "=A4&C4"]]},
    )


def test_formula_without_value_is_a_warning_naming_the_cell(tmp_path, capsys) -> None:
    path = formula_workbook(tmp_path / "script.xlsx")
    code = main(["validate", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out  # a warning, not an error
    assert "Feuil1!D4 : formule sans valeur calculée" in out
    loaded = load(path)
    [issue] = [i for i in loaded.warnings if "formule" in i.message]
    assert (issue.row, issue.column, issue.value) == (4, "description", "=A4&C4")
    assert loaded.table["description"].tolist()[2] in ("", None)


def _with_cached(data: bytes, cell: str) -> bytes:
    """Rewrite the workbook so that `cell` holds `cell`'s calculation, as Excel saves it."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename.startswith("xl/worksheets/"):
                content = re.sub(
                    rb'(<c r="D4"[^>]*)>(<f>[^<]*</f>)<v\s*/?>(</v>)?',
                    rb'\1 t="str">\2<v>' + cell.encode() + b"</v>",
                    content,
                )
            dst.writestr(info, content)
    return out.getvalue()


@pytest.mark.parametrize("cached", ["Collecte de denrées à Lens", ""], ids=["text", "empty-text"])
def test_formula_with_a_calculated_value_is_read_silently(tmp_path, cached) -> None:
    data = _with_cached(formula_workbook(tmp_path / "excel.xlsx").read_bytes(), cached)
    raw = read_table(data, filename="excel.xlsx")
    assert raw.frame["description"].tolist()[2] == cached
    assert not [i for i in raw.issues if "formule" in i.message]


def test_many_uncalculated_formulas_are_summarised(tmp_path) -> None:
    rows = [[f"Initiative {n}", "protection", "Arras", f"=A{n + 1}"] for n in range(1, 61)]
    path = workbook(tmp_path / "beaucoup.xlsx", {"Feuil1": [HEADER, *rows]})
    raw = read_table(path)
    formulas = [i for i in raw.issues if "formule" in i.message]
    assert 10 <= len(formulas) <= 30  # each named up to a cap, then one summary line
    assert "autres cellules" in formulas[-1].message and "60" in formulas[-1].message


# --- core sheet choice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sheets", "hidden", "expected"),
    [
        ({"Feuil1": [HEADER, *CURRENT], "Archive": [HEADER, *ARCHIVE]}, ("Archive",), "Feuil1"),
        # Only a hidden sheet holds data: it is read, and the report says it is hidden.
        ({"Feuil1": [], "Données": [HEADER, *ARCHIVE]}, ("Données",), "Données"),
        # Empty and title-only visible sheets do not count as data sheets.
        ({"Notes": [["Classeur préparé en avril 2020"]], "Liste": [HEADER, *OTHER]}, (), "Liste"),
    ],
    ids=["hidden-archive", "only-hidden-has-data", "notes-and-list"],
)
def test_sheet_choice(tmp_path, sheets, hidden, expected) -> None:
    raw = read_table(workbook(tmp_path / "c.xlsx", sheets, hidden=hidden))
    assert raw.sheet == expected
    if expected in hidden:
        assert any("masquée" in i.message and expected in i.message for i in raw.issues)


def test_sheet_choice_error_lists_the_choices(two_sheets) -> None:
    with pytest.raises(SheetError) as caught:
        read_table(two_sheets)
    assert caught.value.choices == ("Feuil1", "Feuil2")
    assert read_table(two_sheets, sheet="Feuil2").sheet == "Feuil2"
    assert read_table(two_sheets, sheet="feuil2").sheet == "Feuil2"  # case as typed


# --- page ----------------------------------------------------------------------------------------


@pytest.fixture
def publish_page(db) -> AppTest:
    return signed_in_publish_page()


def upload(at: AppTest, path: Path) -> AppTest:
    return upload_file(at, path.name, path.read_bytes())


def read_line(at: AppTest) -> str:
    return " ".join(s.value for s in at.success if " lu : " in s.value)


def test_page_names_the_visible_sheet_it_read(publish_page, hidden_archive) -> None:
    at = upload(publish_page, hidden_archive)
    assert not at.exception
    assert "feuille « Feuil1 »" in read_line(at)
    assert "2 ligne(s)" in read_line(at)


def test_page_asks_which_sheet_to_read(publish_page, two_sheets) -> None:
    at = upload(publish_page, two_sheets)
    assert not at.exception
    choice = next(s for s in at.selectbox if s.label.startswith("Feuille à lire"))
    assert list(choice.options) == ["Feuil1", "Feuil2"]
    assert read_line(at) == ""  # nothing is read before the editor chooses
    assert not any(b.label == "Publier" for b in at.button)

    choice.select("Feuil2").run()
    assert not at.exception
    assert "feuille « Feuil2 »" in read_line(at)
    assert "1 ligne(s)" in read_line(at)
    # Merge is the default: the one row of Feuil2 is added to the published ones.
    assert any(e.label == "1 initiative(s) ajoutée(s)" for e in at.expander)
