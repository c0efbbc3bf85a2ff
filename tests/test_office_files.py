"""Files as an editor's office suite saves them: ODS, XLSX and a Windows-1252 CSV (issue 17, §1).

Each file is written by LibreOffice (tests/office.py) from a CSV the test writes, without our
conventions: no id column, two extra columns, a title line, blank lines, accents (Béthune, Guînes),
a misspelt commune and an unknown category. An ODS gets the same report as an XLSX: the sheet
read, hidden sheets left aside, formulas without a value, `--feuille`, and refusals in French
naming the line, the column and the value. Hostile ODS (inflating archives, repeated cells) are
refused before they are spelt out.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from apptest import signed_in_publish_page
from apptest import upload as upload_file
from office import Office
from openpyxl import Workbook
from streamlit.testing.v1 import AppTest

from carto.cli import main
from carto.errors import ReadError
from carto.intake.reading import read_path, read_table

EDITOR_CSV = (
    "Initiatives solidaires du Pas-de-Calais, avril 2020\n"
    "\n"
    "nom;commune;categorie;Remarque interne;Contact référent\n"
    "Atelier couture de Béthune;Béthune;protection;à rappeler;Mme Lefèvre\n"
    "Colis pour les aînés;Guînes;isoles;;M. Duquesne\n"
    "\n"
    "Masques en tissu;Lievin;inconnue;doublon ?;\n"
)
COLUMNS = ["nom", "commune", "categorie", "Remarque interne", "Contact référent"]
ROWS = [
    ["Atelier couture de Béthune", "Béthune", "protection", "à rappeler", "Mme Lefèvre"],
    ["Colis pour les aînés", "Guînes", "isoles", "", "M. Duquesne"],
    ["Masques en tissu", "Lievin", "inconnue", "doublon ?", ""],
]
ODS_MIME = "application/vnd.oasis.opendocument.spreadsheet"


@pytest.fixture(scope="session")
def saved(office: Office, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The files LibreOffice wrote, by name."""
    work = tmp_path_factory.mktemp("office-files")
    source = work / "editeur.csv"
    source.write_text(EDITOR_CSV, encoding="utf-8")
    files = {
        "ods": office.convert(source, "ods", work / "ods"),
        "xlsx": office.convert(source, "xlsx", work / "xlsx"),
    }
    # « Enregistrer sous… CSV » from the workbook, in Windows-1252 (Excel's French default).
    files["csv"] = office.convert(files["ods"], "csv", work / "csv", charset="cp1252")

    book = Workbook()
    sheet = book.active
    sheet.title = "Initiatives"
    for row in [["nom", "commune", "categorie", "nombre"], ["Atelier", "Béthune", "protection", 3]]:
        sheet.append(row)
    sheet.append(["Colis", "Guînes", "isoles", "=D2*2"])
    archive = book.create_sheet("Archive 2019")
    for row in [["nom", "commune", "categorie"], ["Ancienne collecte", "Arras", "isoles"]]:
        archive.append(row)
    archive.sheet_state = "hidden"
    book.save(work / "masquee.xlsx")
    files["hidden"] = office.convert(work / "masquee.xlsx", "ods", work / "ods")
    archive.sheet_state = "visible"
    book.save(work / "deux-feuilles.xlsx")
    files["two"] = office.convert(work / "deux-feuilles.xlsx", "ods", work / "ods")

    letter = work / "lettre.txt"
    letter.write_text("Communiqué : la collecte de Béthune continue.\n", encoding="utf-8")
    files["odt"] = office.convert(letter, "odt", work / "odt")
    return files


def test_office_files_are_what_the_test_meant(saved: dict[str, Path]) -> None:
    assert saved["csv"].read_bytes().decode("cp1252").count("Guînes") == 1
    with pytest.raises(UnicodeDecodeError):
        saved["csv"].read_bytes().decode("utf-8")
    with zipfile.ZipFile(saved["ods"]) as archive:
        assert archive.read("mimetype").decode() == ODS_MIME


@pytest.mark.parametrize("kind", ["ods", "xlsx", "csv"])
def test_the_editor_file_reads_the_same_in_every_format(saved, kind: str) -> None:
    table = read_path(saved[kind])
    assert table.format == kind
    assert list(table.frame.columns) == COLUMNS
    assert table.frame.to_numpy().tolist() == ROWS
    assert table.row_numbers == (4, 5, 7)  # the lines the editor sees in the spreadsheet
    if kind == "csv":
        assert (table.encoding, table.sheet) == ("cp1252", None)
    else:
        assert table.sheet == "editeur"


@pytest.mark.parametrize(
    ("kind", "how"),
    [
        ("ods", "ods, feuille « editeur »"),
        ("xlsx", "xlsx, feuille « editeur »"),
        ("csv", "csv, encodage cp1252, séparateur point-virgule"),
    ],
)
def test_validate_reports_the_same_for_every_format(saved, capsys, kind: str, how: str) -> None:
    assert main(["validate", str(saved[kind])]) == 1
    out = capsys.readouterr().out
    assert f"editeur.{kind} : 3 initiatives lues ({how}), 3 placées sur la carte" in out
    assert (
        "Erreur (ligne 7, colonne « categorie », valeur « inconnue ») : catégorie inconnue" in out
    )
    assert "(ligne 7, colonne « commune », valeur « Lievin ») : Lievin → Liévin" in out
    assert "colonne « Contact référent »" in out and "colonne ignorée" in out


def test_geocode_and_import_read_an_ods(saved, db, tmp_path, capsys) -> None:
    out = tmp_path / "geocode.csv"
    assert main(["geocode", str(saved["ods"]), "-o", str(out)]) == 0
    written = out.read_text(encoding="utf-8-sig")
    assert "Béthune" in written and "Guînes" in written
    assert "editeur.ods : lu (ods, feuille « editeur »)." in capsys.readouterr().err
    code = main(["import", str(saved["ods"]), "--exclure-ligne", "7", "--dry-run"])
    streams = capsys.readouterr()
    assert code == 0, streams
    assert "feuille « editeur »" in streams.out + streams.err


def test_hidden_ods_sheet_is_named_and_left_aside(saved, capsys) -> None:
    assert main(["validate", str(saved["hidden"])]) in (0, 1)
    out = capsys.readouterr().out
    assert "feuille « Initiatives »" in out
    assert "feuille masquée « Archive 2019 » n’a pas été lue" in out
    table = read_path(saved["hidden"], sheet="Archive 2019")
    assert table.frame["nom"].tolist() == ["Ancienne collecte"]


def test_several_ods_sheets_ask_which_one(saved, capsys) -> None:
    assert main(["validate", str(saved["two"])]) == 2
    err = capsys.readouterr().err
    assert "« Initiatives », « Archive 2019 »" in err and "--feuille" in err
    assert main(["validate", str(saved["two"]), "--feuille", "Archive 2019"]) in (0, 1)
    assert "feuille « Archive 2019 »" in capsys.readouterr().out


def test_office_calculates_formulas_and_an_uncalculated_one_is_named(saved) -> None:
    # LibreOffice stores the value of the formula it read from the XLSX.
    calculated = read_path(saved["hidden"])
    assert calculated.frame["nombre"].tolist() == ["3", "6"]
    assert not [i for i in calculated.issues if "formule" in i.message]
    # A program that does not calculate writes the formula alone.
    bare = _rewrite(
        saved["hidden"],
        lambda xml: re.sub(
            rb'(table:formula="[^"]*")[^>]*office:value-type="float"[^>]*>\s*<text:p>6</text:p>',
            rb"\1>",
            xml,
        ),
    )
    table = read_table(bare, filename="sans-calcul.ods")
    assert table.frame["nombre"].tolist() == ["3", ""]
    (issue,) = [i for i in table.issues if "formule" in i.message]
    assert (issue.row, issue.column, issue.value) == (3, "nombre", "=[.D2]*2")
    assert issue.message.startswith("Initiatives!D3 : formule sans valeur calculée")


def _rewrite(path: Path, change: Callable[[bytes], bytes], *, stored: bool = False) -> bytes:
    """The ODS at `path` with its content.xml changed (the other members as they were)."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "content.xml":
                data = change(data)
            method = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            target.writestr(info.filename, data, compress_type=method)
    return out.getvalue()


def _first(tag: bytes, attribute: bytes) -> Callable[[bytes], bytes]:
    return lambda xml: xml.replace(b"<" + tag + b" ", b"<" + tag + b" " + attribute + b" ", 1)


@pytest.mark.parametrize(
    ("name", "change", "options", "message"),
    [
        # content.xml inflating to 25 times the upload limit (here 200 kB), compressed to nothing.
        (
            "bombe.ods",
            lambda xml: xml.replace(b"<office:body>", b"<!--" + b" " * 5_000_000 + b"-->", 1),
            {"max_bytes": 200_000},
            "occuperait .* une fois décompressé : c’est au-delà de la limite des classeurs .ods",
        ),
        # One row repeated a million times, one cell a thousand times: a billion cells.
        (
            "repetee.ods",
            lambda xml: _first(b"table:table-cell", b'table:number-columns-repeated="1000"')(
                _first(b"table:table-row", b'table:number-rows-repeated="1000000"')(xml)
            ),
            {},
            "s’étend sur au moins 1000000 lignes et 1000 colonnes",
        ),
        (
            "entites.ods",
            lambda xml: xml.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "aaaa">]>', 1),
            {},
            "DTD",
        ),
        ("coupe.ods", lambda xml: xml[: len(xml) // 2], {}, "endommagé"),
    ],
)
def test_hostile_ods_is_refused_in_french(saved, name, change, options, message) -> None:
    data = _rewrite(saved["ods"], change)
    with pytest.raises(ReadError, match=message) as caught:
        read_table(data, filename=name, **options)
    assert f"« {name} »" in str(caught.value)


def test_a_writer_document_is_not_a_spreadsheet(saved) -> None:
    with pytest.raises(ReadError, match="pas un classeur") as caught:
        read_table(saved["odt"].read_bytes(), filename="lettre.ods")
    assert "opendocument.text" in str(caught.value)


def test_import_page_reads_an_ods_and_names_row_column_value(saved, db) -> None:
    at: AppTest = signed_in_publish_page()
    at = upload_file(at, "editeur.ods", saved["ods"].read_bytes(), ODS_MIME)
    assert not at.exception
    assert [s.value for s in at.success] == [
        "« editeur\\.ods » lu : format ODS, feuille « editeur », 3 ligne(s) de données."
    ]
    cards = html.unescape(" ".join(m.value for m in at.markdown if "carto-report" in m.value))
    assert "Ligne 7" in cards and "colonne « Catégorie »" in cards
    assert "valeur « inconnue »" in cards
