"""CSV / XLSX / GeoJSON exports: spreadsheet-safe, lossless round trips."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date

import openpyxl
import pandas as pd
import pytest

from carto import fields
from carto.exports import (
    EXPORT_COLUMNS,
    count_without_coordinates,
    export_filename,
    export_table,
    neutralise,
    restore_text,
    sheet_csv,
)

NAN = float("nan")

TABLE = pd.DataFrame(
    [
        {
            "id": "p62-001",
            "nom": "Gel hydro-alcoolique de Tereos",
            "categorie": "protection",
            "description": "Production réorientée.\nDons aux soignants « du secteur ».",
            "commune": "Lillers",
            "code_insee": "62516",
            "latitude": 50.5626,
            "longitude": 2.4826,
            "telephone": "+33 3 21 00 00 00",
            "arrondissement_code": "627",
            "arrondissement": "Béthune",
            "geocode_status": "exact",
            "geocode_score": 1.0,
        },
        {
            "id": "p62-002",
            "nom": '=HYPERLINK("http://evil.example","Cliquez")',
            "categorie": "isoles",
            "description": '- appels quotidiens\r\n- courses, pharmacie; "urgent"',
            "commune": "Saint-Omer",
            "code_insee": "62765",
            "latitude": 50.75,
            "longitude": -1.5,
            "telephone": "@SUM(1+1)",
            "geocode_score": NAN,
        },
        {
            "id": "p62-003",
            "nom": "Courses pour les aînés d'Hénin-Beaumont",
            "categorie": "confines",
            "description": "",
            "commune": "Hénin-Beaumont",
            "code_insee": "62427",
            "latitude": NAN,
            "longitude": NAN,
            "telephone": "\tcmd",
        },
    ]
)


def read_csv_export(data: bytes, separator: str = ";") -> list[dict[str, str]]:
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=separator))


def read_xlsx_export(data: bytes) -> list[tuple[object, ...]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return [tuple(cell.value for cell in row) for row in sheet.iter_rows()]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+33 3 21 00 00 00", "'+33 3 21 00 00 00"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("'=déjà protégé", "''=déjà protégé"),
        ("Arras", "Arras"),
        ("l'épicerie", "l'épicerie"),
        ("'quoted", "'quoted"),
        ("50-60 bénévoles", "50-60 bénévoles"),
        ("", ""),
    ],
)
def test_neutralise_and_restore_are_inverse(value: str, written: str) -> None:
    assert neutralise(value) == written
    assert restore_text(written) == value


@pytest.mark.parametrize(
    ("row", "column", "expected"),
    [
        (1, "nom", '\'=HYPERLINK("http://evil.example","Cliquez")'),
        (1, "telephone", "'@SUM(1+1)"),
        (1, "description", '\'- appels quotidiens\r\n- courses, pharmacie; "urgent"'),
        (2, "telephone", "'\tcmd"),
        (0, "telephone", "'+33 3 21 00 00 00"),
        (0, "nom", "Gel hydro-alcoolique de Tereos"),
        (1, "longitude", "-1,5"),
        (0, "geocode_score", "1,0"),
        (1, "geocode_score", ""),
        (2, "latitude", ""),
        (0, "description", "Production réorientée.\nDons aux soignants « du secteur »."),
    ],
)
def test_csv_cells(row: int, column: str, expected: str) -> None:
    records = read_csv_export(export_table(TABLE, fmt="csv"))
    assert len(records) == 3
    assert records[row][column] == expected


@pytest.mark.parametrize("separator", [";", ","])
def test_csv_header_separator_and_bom(separator: str) -> None:
    with_bom = export_table(TABLE, fmt="csv", separator=separator)
    without = export_table(TABLE, fmt="csv", bom=False, separator=separator)
    assert with_bom.startswith(f"\ufeffid{separator}nom{separator}categorie{separator}".encode())
    assert without.startswith(f"id{separator}nom{separator}categorie{separator}".encode())
    assert with_bom[3:] == without
    header = next(csv.reader(io.StringIO(without.decode()), delimiter=separator))
    assert tuple(header) == EXPORT_COLUMNS
    assert "arrondissement_code" not in header


def test_csv_default_is_semicolon_with_a_bom() -> None:
    assert export_table(TABLE, fmt="csv") == export_table(TABLE, fmt="csv", bom=True, separator=";")


@pytest.mark.parametrize(
    ("separator", "latitude", "longitude", "score"),
    [(";", "50,5626", "2,4826", "1,0"), (",", "50.5626", "2.4826", "1.0")],
)
def test_csv_decimal_separator_follows_the_column_separator(
    separator: str, latitude: str, longitude: str, score: str
) -> None:
    first = read_csv_export(export_table(TABLE, fmt="csv", separator=separator), separator)[0]
    assert (first["latitude"], first["longitude"], first["geocode_score"]) == (
        latitude,
        longitude,
        score,
    )
    # Every digit kept, no digit grouping: 1e-07 and 123456.789 read back exactly.
    table = pd.DataFrame([{"nom": "Aire", "latitude": 1e-07, "longitude": 123456.789}])
    (record,) = read_csv_export(export_table(table, fmt="csv", separator=separator), separator)
    assert float(record["latitude"].replace(",", ".")) == 1e-07
    assert float(record["longitude"].replace(",", ".")) == 123456.789


def test_csv_refuses_an_unknown_separator() -> None:
    with pytest.raises(ValueError, match="séparateur CSV inconnu"):
        export_table(TABLE, fmt="csv", separator="\t")


def test_csv_round_trip_with_restore_text_gives_the_same_data() -> None:
    records = read_csv_export(export_table(TABLE, fmt="csv"))
    for record, (_, original) in zip(records, TABLE.iterrows(), strict=True):
        for column in ("nom", "description", "telephone", "commune", "code_insee"):
            assert restore_text(record[column]) == original[column]
        for column in ("latitude", "longitude"):
            if math.isnan(original[column]):
                assert record[column] == ""
            else:
                assert float(record[column].replace(",", ".")) == original[column]


def test_csv_of_an_empty_table_is_just_the_header() -> None:
    data = export_table(pd.DataFrame(columns=["nom"]), fmt="csv", bom=False)
    assert data.decode() == ";".join(EXPORT_COLUMNS) + "\r\n"


@pytest.mark.parametrize(
    ("line", "column", "value", "data_type"),
    [
        (3, "nom", '\'=HYPERLINK("http://evil.example","Cliquez")', "s"),
        (3, "telephone", "'@SUM(1+1)", "s"),
        (3, "description", '\'- appels quotidiens\n- courses, pharmacie; "urgent"', "s"),
        (4, "telephone", "'\tcmd", "s"),
        (3, "longitude", -1.5, "n"),
        (3, "latitude", 50.75, "n"),
        (4, "latitude", None, "n"),
        (3, "code_insee", "62765", "s"),
        (2, "description", "Production réorientée.\nDons aux soignants « du secteur ».", "s"),
        (2, "arrondissement", "Béthune", "s"),
    ],
)
def test_xlsx_cells(line: int, column: str, value: object, data_type: str) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(export_table(TABLE, fmt="xlsx"))).active
    assert sheet is not None
    cell = sheet.cell(row=line, column=EXPORT_COLUMNS.index(column) + 1)
    assert cell.value == value
    assert cell.data_type == data_type
    # No cell of the export is a formula.
    assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)


def test_xlsx_header_row_and_round_trip() -> None:
    rows = read_xlsx_export(export_table(TABLE, fmt="xlsx"))
    assert rows[0] == tuple(fields.label(c) for c in EXPORT_COLUMNS)
    assert rows[0][:3] == ("Identifiant", "Nom", "Catégorie")
    assert "Code INSEE" in rows[0] and "code_insee" not in rows[0]
    assert len(rows) == 4
    for values, (_, original) in zip(rows[1:], TABLE.iterrows(), strict=True):
        record = dict(zip(EXPORT_COLUMNS, values, strict=True))
        assert restore_text(record["nom"]) == original["nom"]  # type: ignore[arg-type]
        # XLSX keeps line breaks as LF (documented): compare with CR LF folded.
        restored = restore_text(record["description"] or "")  # type: ignore[arg-type]
        assert restored == original["description"].replace("\r\n", "\n")


def test_xlsx_shows_category_and_scope_labels_and_keeps_unknown_values() -> None:
    table = pd.DataFrame(
        [
            {"nom": "A", "categorie": "isoles", "portee": "departement"},
            {"nom": "B", "categorie": "soignants", "portee": "secteur"},
            {"nom": "C", "categorie": "autre chose", "portee": ""},
        ]
    )
    rows = read_xlsx_export(export_table(table, fmt="xlsx"))
    category, scope = EXPORT_COLUMNS.index("categorie"), EXPORT_COLUMNS.index("portee")
    assert [(r[category], r[scope]) for r in rows[1:]] == [
        ("Personnes isolées", "Département"),
        ("Personnels soignants", "Secteur"),
        ("autre chose", None),
    ]
    # The CSV keeps the stored values (slugs), for programs.
    records = read_csv_export(export_table(table, fmt="csv"))
    assert [(r["categorie"], r["portee"]) for r in records] == [
        ("isoles", "departement"),
        ("soignants", "secteur"),
        ("autre chose", ""),
    ]


def test_xlsx_drops_control_characters_xml_cannot_hold() -> None:
    table = pd.DataFrame([{"nom": "Bip\x07 solidaire\x00", "latitude": 50.0}])
    rows = read_xlsx_export(export_table(table, fmt="xlsx"))
    assert rows[1][EXPORT_COLUMNS.index("nom")] == "Bip solidaire"


def test_geojson_points_coordinates_accents_and_skipped_rows() -> None:
    data = export_table(TABLE, fmt="geojson")
    assert "Hénin" not in data.decode("utf-8")  # that row has no coordinates: skipped
    assert "Béthune".encode() in data  # ensure_ascii=False: accents written as is
    collection = json.loads(data)
    assert collection["type"] == "FeatureCollection"
    assert collection["skipped_without_coordinates"] == 1 == count_without_coordinates(TABLE)
    features = collection["features"]
    assert [f["geometry"] for f in features] == [
        {"type": "Point", "coordinates": [2.4826, 50.5626]},
        {"type": "Point", "coordinates": [-1.5, 50.75]},
    ]
    first, second = (f["properties"] for f in features)
    assert set(first) == set(EXPORT_COLUMNS)
    assert first["description"] == TABLE.loc[0, "description"]
    assert first["arrondissement"] == "Béthune"
    # GeoJSON is not for spreadsheets: values are not neutralised; missing ones are null.
    assert second["nom"] == TABLE.loc[1, "nom"]
    assert second["geocode_score"] is None
    assert second["arrondissement"] is None


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("csv", "initiatives-2026-11-25.csv"),
        ("xlsx", "initiatives-2026-11-25.xlsx"),
        ("geojson", "initiatives-2026-11-25.geojson"),
    ],
)
def test_export_filename(fmt: str, name: str) -> None:
    assert export_filename(fmt, when=date(2026, 11, 25)) == name


@pytest.mark.parametrize("fmt", ["pdf", "CSV", ""])
def test_unknown_format_is_refused(fmt: str) -> None:
    with pytest.raises(ValueError, match="format d'export inconnu"):
        export_table(TABLE, fmt=fmt)
    with pytest.raises(ValueError, match="format d'export inconnu"):
        export_filename(fmt)


def test_a_number_column_holding_text_keeps_it_as_text() -> None:
    table = pd.DataFrame(
        [{"nom": "Aire", "latitude": "50,3", "longitude": 2.8, "geocode_score": "n/a"}]
    )
    (record,) = read_csv_export(export_table(table, fmt="csv"))
    assert (record["latitude"], record["geocode_score"]) == ("50,3", "n/a")
    (record,) = read_csv_export(export_table(table, fmt="csv", separator=","), ",")
    assert (record["latitude"], record["geocode_score"]) == ("50.3", "n/a")
    rows = read_xlsx_export(export_table(table, fmt="xlsx"))
    assert rows[1][EXPORT_COLUMNS.index("latitude")] == 50.3
    assert rows[1][EXPORT_COLUMNS.index("geocode_score")] == "n/a"
    (feature,) = json.loads(export_table(table, fmt="geojson"))["features"]
    assert feature["geometry"]["coordinates"] == [2.8, 50.3]
    assert feature["properties"]["geocode_score"] == "n/a"


def test_geojson_skips_a_point_at_infinity_instead_of_failing() -> None:
    table = pd.DataFrame([{"nom": "Aire", "latitude": math.inf, "longitude": 2.8}])
    collection = json.loads(export_table(table, fmt="geojson"))
    assert collection["features"] == []
    assert collection["skipped_without_coordinates"] == 1
    (record,) = read_csv_export(export_table(table, fmt="csv"))
    assert record["latitude"] == "inf"


def test_the_tables_editors_download_from_their_pages_hold_no_formula() -> None:
    """Reports, previews and communiqué candidates downloaded as CSV: an outsider's sentence
    opens as text in a spreadsheet, numbers stay numbers."""
    frame = pd.DataFrame(
        {
            "Phrase du communiqué": ['=HYPERLINK("http://evil.example";"x") À Lens…', "Repas"],
            "Description": ["@SUM(1+1)", "+33 3 21 00 00 00"],
            "Confiance": [0.75, 0.5],
        }
    )
    data = sheet_csv(frame)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[1][:2] == ['\'=HYPERLINK("http://evil.example";"x") À Lens…', "'@SUM(1+1)"]
    assert rows[2] == ["Repas", "'+33 3 21 00 00 00", "0.5"]
