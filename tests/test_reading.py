"""Reader: every encoding x separator x quirk reads back the same table; xlsx; broken files."""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pytest
from openpyxl import Workbook

from carto.errors import ReadError, SheetError
from carto.intake import reading
from carto.intake.reading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    MAX_COLUMNS,
    RawTable,
    read_path,
    read_table,
)
from carto.intake.validation import validate_table
from carto.text import cell_text

ROOT = Path(__file__).resolve().parents[1]
MESSY = Path(__file__).resolve().parent / "data" / "messy"

HEADER = ["id", "nom", "catégorie", "commune", "latitude", "longitude", "description"]
ROWS = [
    ["g-01", "Paniers de Guînes", "isoles", "Guînes", "50.8389", "1.8711", "Pâtes, œufs; soupes"],
    [
        "b-02",
        "Méloko à Béthune",
        "confines",
        "Béthune",
        "50.5303",
        "2.6408",
        "Livraison « locale »",
    ],
    ["l-03", "Plants pour l’EHPAD", "isoles", "Loos-en-Gohelle", "", "", "Don à l’EHPAD Montgré"],
    ["s-04", 'Aire "routiers"', "routiers", "Saint-Laurent-Blangy", "50.30", "2.81", ""],
]

ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "utf-16"]
SEPARATORS = [";", ",", "\t"]
QUIRKS = [
    "plain",
    "decimal_comma",
    "multiline",
    "blank_lines",
    "trailing_columns",
    "crlf",
    "padded_spaces",
]


def make_file(
    encoding: str, separator: str, quirk: str
) -> tuple[bytes, list[list[str]], list[int]]:
    """Return (file bytes, expected cells, expected spreadsheet line of each row)."""
    rows = [list(r) for r in ROWS]
    if quirk == "decimal_comma":
        for row in rows:
            row[4], row[5] = row[4].replace(".", ","), row[5].replace(".", ",")
    if quirk == "multiline":
        rows[1][6] = "Livraison « locale »\nà domicile\npour les confinés"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\n")
    writer.writerow(HEADER)
    numbers = []
    line = 1
    for row in rows:
        if quirk == "blank_lines":
            buffer.write("\n\n" if line == 1 else "\n")
            line += 2 if line == 1 else 1
        written = [f"  {c} " if quirk == "padded_spaces" and c else c for c in row]
        writer.writerow(written)
        line += 1
        numbers.append(line)
    text = buffer.getvalue()
    if quirk == "trailing_columns":
        text = "\n".join(ln + separator * 3 if ln else ln for ln in text.split("\n"))
    if quirk == "crlf":
        text = text.replace("\n", "\r\n")
    return text.encode(encoding), rows, numbers


CASES = list(itertools.product(ENCODINGS, SEPARATORS, QUIRKS))


@pytest.mark.parametrize(("encoding", "separator", "quirk"), CASES)
def test_reads_back_what_was_written(encoding: str, separator: str, quirk: str) -> None:
    data, expected, numbers = make_file(encoding, separator, quirk)
    table = read_table(data, filename="export.csv")
    assert table.format == "csv"
    assert table.separator == separator
    assert table.encoding is not None
    assert data.decode(table.encoding).lstrip("\ufeff")  # the encoding found decodes the file
    assert list(table.frame.columns) == HEADER
    assert table.frame.values.tolist() == expected
    assert table.row_numbers == tuple(numbers)
    assert table.first_row == numbers[0]
    assert table.rows_read == len(ROWS)
    # The whole pipeline sees the same coordinates whatever the quirk.
    result = validate_table(table.frame, row_numbers=table.row_numbers)
    assert result.ok, [str(i) for i in result.issues]
    assert result.table["latitude"].round(4).tolist()[:2] == [50.8389, 50.5303]
    assert result.table.at[0, "description"] == "Pâtes, œufs; soupes"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252"), ("utf-16", "utf-16")],
)
def test_encoding_is_reported(encoding: str, expected: str) -> None:
    data, _, _ = make_file(encoding, ";", "plain")
    assert read_table(data).encoding == expected


def test_bomless_utf16_and_latin1_fallback() -> None:
    data, expected, _ = make_file("utf-16", ";", "plain")
    bomless = read_table(data[2:])  # "utf-16" wrote a little-endian BOM
    assert bomless.encoding == "utf-16-le"
    assert bomless.frame.values.tolist() == expected
    # 0x81 is undefined in cp1252: only latin-1 can decode it.
    odd = read_table("nom;categorie;commune\nA\x81b;isoles;Arras\n".encode("latin-1"))
    assert odd.encoding == "latin-1"
    assert odd.frame.at[0, "nom"] == "A\x81b"


@pytest.mark.parametrize(
    ("text", "columns", "values"),
    [
        # Excel's hint line is hidden by Excel itself, so the header stays line 1.
        ("sep=,\nnom,commune\nA;B,Arras\n", ["nom", "commune"], [["A;B", "Arras"]]),
        # A title line above the header is skipped.
        (
            "Mes initiatives (avril 2020);;\nnom;commune\nA;Arras\n",
            ["nom", "commune"],
            [["A", "Arras"]],
        ),
        # Repeated header names are kept apart for the schema to report.
        ("nom;nom;commune\nA;B;Arras\n", ["nom", "nom (2)", "commune"], [["A", "B", "Arras"]]),
        # A cell under no header is kept under a spreadsheet-style name, not dropped.
        (
            "nom;commune\nA;Arras;en trop\n",
            ["nom", "commune", "(colonne C)"],
            [["A", "Arras", "en trop"]],
        ),
        # Header cells are tidied; empty columns at the end disappear.
        (
            "\ufeff Nom \u200b;  Code   INSEE ;;\nA;62041;;\n",
            ["Nom", "Code INSEE"],
            [["A", "62041"]],
        ),
        # Short rows are padded.
        ("nom;commune;zone\nA\n", ["nom", "commune", "zone"], [["A", "", ""]]),
    ],
)
def test_csv_shapes(text: str, columns: list[str], values: list[list[str]]) -> None:
    table = read_table(text.encode("utf-8"))
    assert list(table.frame.columns) == columns
    assert table.frame.values.tolist() == values


def test_sep_hint_and_title_keep_spreadsheet_numbers() -> None:
    assert read_table(b"sep=;\nnom;commune\nA;Arras\n").row_numbers == (2,)
    assert read_table(b"Titre de mon tableau;\nnom;commune\nA;Arras\n").row_numbers == (3,)


def test_header_only_gives_an_empty_table() -> None:
    table = read_table(b"nom;categorie;commune\n")
    assert list(table.frame.columns) == ["nom", "categorie", "commune"]
    assert len(table.frame) == 0
    assert table.first_row == 2


def write_xlsx(path: Path, rows: list[list[object]], *, sheets: tuple[str, ...] = ()) -> Path:
    book = Workbook()
    first = book.active
    for title in sheets:
        book.create_sheet(title)
    target = book[sheets[-1]] if sheets else first
    for row in rows:
        target.append(row)
    book.save(path)
    return path


def test_xlsx_values_become_faithful_strings(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "export.xlsx",
        [
            ["nom", "categorie", "latitude", "longitude", "telephone", None, "date", "n"],
            [
                "Mairie de Guînes",
                "isoles",
                50.83891234,
                1.8711,
                321855370,
                None,
                date(2020, 4, 6),
                3,
            ],
            [None] * 8,
            ["Balsan", "protection", 50.95, 1.85, None, None, datetime(2020, 4, 6, 14, 30), 2.0],
        ],
    )
    table = read_path(path)
    assert table.format == "xlsx"
    assert table.separator is None
    assert table.encoding is None
    assert list(table.frame.columns) == [
        "nom",
        "categorie",
        "latitude",
        "longitude",
        "telephone",
        "date",
        "n",
    ]
    assert table.frame.values.tolist() == [
        ["Mairie de Guînes", "isoles", "50.83891234", "1.8711", "321855370", "2020-04-06", "3"],
        ["Balsan", "protection", "50.95", "1.85", "", "2020-04-06T14:30:00", "2"],
    ]
    assert table.row_numbers == (2, 4)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "oui"),
        (False, "non"),
        (date(2020, 4, 6), "2020-04-06"),
        (datetime(2020, 4, 6), "2020-04-06"),
        (datetime(2020, 4, 6, 9, 30), "2020-04-06T09:30:00"),
        (time(9, 30), "09:30:00"),
        (62041, "62041"),
        (62041.0, "62041"),
        (50.2910, "50.291"),
        ("Guînes", "Guînes"),
    ],
)
def test_xlsx_cell_reads_as_the_review_shows_it(tmp_path: Path, value: object, shown: str) -> None:
    # A boolean cell used to read "VRAI" on import and « oui » in the review of the same file.
    path = write_xlsx(tmp_path / "cases.xlsx", [["nom", "valeur"], ["Paniers", value]])
    cell = read_path(path).frame.at[0, "valeur"]
    assert cell == shown
    assert cell == cell_text(value)


def test_xlsx_prefers_the_initiatives_sheet(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "classeur.xlsx",
        [["nom", "commune"], ["Indelab", "Bruay-la-Buissière"]],
        sheets=("Notes", "Liste des initiatives"),
    )
    table = read_table(path.read_bytes(), filename="classeur.xlsx")
    assert table.sheet == "Liste des initiatives"
    assert table.frame.values.tolist() == [["Indelab", "Bruay-la-Buissière"]]


def test_xlsx_row_limit(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", [["nom", "commune"]] + [["A", "Arras"]] * 5)
    with pytest.raises(ReadError, match="plus de 3 lignes"):
        read_path(path, max_rows=3)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def valid_xlsx_bytes(tmp_path: Path) -> bytes:
    return write_xlsx(tmp_path / "ok.xlsx", [["nom", "commune"], ["A", "Arras"]]).read_bytes()


@pytest.mark.parametrize(
    ("make", "filename", "message"),
    [
        (lambda tmp: b"", "vide.csv", "est vide"),
        (lambda tmp: b"\xef\xbb\xbf\r\n \n", "vide.csv", "est vide"),
        (lambda tmp: b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "photo.csv", "ne semble pas"),
        (lambda tmp: bytes(range(256)) * 8, "junk.csv", "ne semble pas"),
        (lambda tmp: b"nom;commune\nA\x00B;Arras\n", "nul.csv", "ne semble pas"),
        (lambda tmp: bytes(range(128, 256)) * 40, "latin.csv", "ne semble pas"),
        (lambda tmp: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "vieux.xls", r"\.xls"),
        (lambda tmp: valid_xlsx_bytes(tmp)[:300], "coupe.xlsx", "endommagé"),
        (lambda tmp: b"PK\x03\x04" + b"\x00" * 40, "faux.xlsx", "endommagé"),
        (lambda tmp: b"nom;commune\n", "nom.xlsx", "endommagé"),
        (lambda tmp: zip_bytes({"a.txt": b"bonjour"}), "archive.csv", "ne semble pas"),
        (
            lambda tmp: zip_bytes({"mimetype": b"application/vnd.oasis", "content.xml": b"<x/>"}),
            "calc.ods",
            "ne semble pas",
        ),
        (
            lambda tmp: zip_bytes(
                {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"}
            ),
            "lettre.ods",
            "pas un classeur",
        ),
        (
            lambda tmp: zip_bytes(
                {"xl/workbook.xml": b"<w/>", "xl/worksheets/sheet1.xml": b"\x00" * (11 * 2**20)}
            ),
            "bombe.xlsx",
            "décompressé",
        ),
        (lambda tmp: b'nom;description\nA;"' + b"a" * 200_000 + b'"\n', "long.csv", "CSV"),
        (lambda tmp: b"Titre seul du document\n", "titre.csv", "en-tête"),
    ],
)
def test_broken_input_raises_read_error_in_french(
    tmp_path: Path, make: object, filename: str, message: str
) -> None:
    data = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ReadError, match=message) as caught:
        read_table(data, filename=filename)
    assert filename in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"max_bytes": 20}, "trop gros"), ({"max_rows": 2}, "plus de 2 lignes")],
)
def test_limits(tmp_path: Path, options: dict[str, int], message: str) -> None:
    path = tmp_path / "grand.csv"
    path.write_text("nom;commune\n" + "A;Arras\n" * 3, encoding="utf-8")
    with pytest.raises(ReadError, match=message):
        read_path(path, **options)
    with pytest.raises(ReadError, match=message):
        read_table(path.read_bytes(), **options)


def test_schema_doc_states_the_reader_limits() -> None:
    doc = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    (line,) = [ln for ln in doc.splitlines() if ln.startswith("| limites |")]
    assert f"{DEFAULT_MAX_BYTES // 2**20} Mo" in line
    assert f"{DEFAULT_MAX_ROWS:,} lignes".replace(",", " ") in line
    assert f"{MAX_COLUMNS} colonnes" in line


def test_sheet_error_is_a_read_error_from_the_one_hierarchy() -> None:
    with pytest.raises(SheetError) as caught:
        read_table(b"nom;commune\nA;Arras\n", filename="f.csv", sheet="Feuil1")
    assert reading.SheetError is SheetError  # `from carto.intake.reading import SheetError` works
    assert "« Feuil1 »" in str(caught.value)


def test_missing_file_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="absent.csv"):
        read_path(tmp_path / "absent.csv")


# --- the committed messy samples (tests/data/messy, see tests/data/README.md) ---


def read_messy(name: str) -> RawTable:
    return read_path(MESSY / name)


def test_messy_excel_cp1252_semicolon() -> None:
    table = read_messy("export-excel-cp1252-pointvirgule.csv")
    assert (table.encoding, table.separator) == ("cp1252", ";")
    assert table.row_numbers == (2, 4, 5)
    assert table.frame.at[0, "nom"] == "Épicerie solidaire « Le Panier »"
    assert table.frame.at[2, "nom"] == "Visières 3D ; lycée"
    result = validate_table(table.frame, row_numbers=table.row_numbers)
    assert result.ok
    assert result.table["categorie"].tolist() == ["isoles", "routiers", "protection"]
    assert result.table.at[0, "latitude"] == pytest.approx(50.8389)
    assert result.table["telephone"].tolist() == ["03 21 85 53 70", "", "03 21 00 00 00"]


def test_messy_excel_unicode_text() -> None:
    table = read_messy("excel-texte-unicode-utf16.txt")
    assert (table.encoding, table.separator) == ("utf-16", "\t")
    assert table.frame.at[1, "Description"] == "Pâtes, œufs,\nsoupes…"


def test_messy_utf8_bom_english_headers_with_title() -> None:
    table = read_messy("utf8-bom-anglais-titre.csv")
    assert (table.encoding, table.separator) == ("utf-8-sig", ",")
    assert table.row_numbers == (3, 5)
    result = validate_table(table.frame, row_numbers=table.row_numbers)
    assert result.ok
    assert [(w.row, w.column) for w in result.warnings] == [(3, "site_web")]
    assert result.table.at[0, "site_web"] == "https://www.meloko.fr/"
    assert result.table.at[0, "description"] == "Livraison à domicile.\nZone étendue à l’Arrageois."


def test_messy_workbook() -> None:
    table = read_messy("initiatives.xlsx")
    assert table.sheet == "Initiatives"
    assert table.row_numbers == (2, 4)
    result = validate_table(table.frame, row_numbers=table.row_numbers)
    assert result.ok
    assert result.table["date_publication"].tolist() == ["2020-04-06", "2020-04-06"]
    assert result.table.at[0, "telephone"] == "03 21 85 53 70"


@pytest.mark.parametrize(
    ("name", "message"),
    [("image-renommee.csv", "ne semble pas"), ("ancien-format.xls", "enregistrez-le au format")],
)
def test_messy_junk(name: str, message: str) -> None:
    with pytest.raises(ReadError, match=message):
        read_messy(name)
