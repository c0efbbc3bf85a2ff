"""Exports of the initiatives table as CSV, GeoJSON or XLSX, safe to open in a spreadsheet.

Formula neutralisation (OWASP "CSV injection"): in CSV and XLSX, a text cell whose first character
is one of = + - @ TAB CR, possibly after leading apostrophes, is written with ONE more leading
apostrophe, so a spreadsheet shows it as text and never runs it. This includes phone numbers
written "+33 3 21 …" and descriptions starting with "- ": safety first. Numbers (latitude,
longitude, geocode_score) are written as numbers and never touched.

Round trip: `restore_text` undoes exactly that (it removes one leading apostrophe when what follows
is apostrophes then one of those characters), so reading our own CSV or XLSX export back and
applying `restore_text` to every text cell gives the original values; the rule is a bijection, so
a value that really started with "'=" survives too. XLSX keeps line breaks as LF only (Excel's
convention: CR LF and lone CR come back as LF) and drops control characters XML cannot hold
(U+0000-U+0008, U+000B, U+000C, U+000E-U+001F). GeoJSON is not for spreadsheets: no apostrophes.

GeoJSON: rows without both coordinates cannot be Points; they are skipped and their number is
written in the top-level member "skipped_without_coordinates" (also `count_without_coordinates`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from typing import Any, Literal

import pandas as pd

from carto.diffing import FLOAT_COLUMNS, canonical_float, canonical_text
from carto.models import COLUMNS

ExportFormat = Literal["csv", "geojson", "xlsx"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "geojson", "xlsx")
# Exported columns: the schema's, then what geocoding found that users care about.
EXPORT_COLUMNS: tuple[str, ...] = COLUMNS + ("arrondissement", "geocode_status", "geocode_score")
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "geojson": "application/geo+json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSIONS: dict[str, str] = {"csv": "csv", "geojson": "geojson", "xlsx": "xlsx"}

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEUTRALISED = re.compile(r"'*[=+\-@\t\r]")
_RESTORABLE = re.compile(r"'+[=+\-@\t\r]")
_BOM = "\ufeff"
SHEET_TITLE = "Initiatives"


def neutralise(value: str) -> str:
    """Prefix one apostrophe to text a spreadsheet could read as a formula."""
    return "'" + value if _NEUTRALISED.match(value) else value


def restore_text(value: str) -> str:
    """Undo `neutralise` (for readers of our CSV/XLSX exports): restore_text(neutralise(v)) == v."""
    return value[1:] if _RESTORABLE.match(value) else value


def _cell(column: str, value: object) -> str | float | None:
    """Export value: float columns as numbers (None when missing), the rest as neutralised text."""
    if column in FLOAT_COLUMNS:
        try:
            return canonical_float(value)
        except (TypeError, ValueError):
            pass  # not a number: export it as (neutralised) text rather than lose it
    return neutralise(canonical_text(value))


def _rows(table: pd.DataFrame) -> list[list[object]]:
    present = [c for c in EXPORT_COLUMNS if c in table.columns]
    records = table[present].to_dict(orient="records")
    return [[record.get(column) for column in EXPORT_COLUMNS] for record in records]


def _csv(table: pd.DataFrame, *, bom: bool) -> bytes:
    buffer = io.StringIO(newline="")
    # QUOTE_MINIMAL quotes cells holding the separator, quotes or line breaks, as Excel expects.
    writer = csv.writer(buffer, delimiter=",", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in _rows(table):
        cells = [_cell(column, value) for column, value in zip(EXPORT_COLUMNS, row, strict=True)]
        writer.writerow(
            ["" if c is None else repr(c) if isinstance(c, float) else c for c in cells]
        )
    return ((_BOM if bom else "") + buffer.getvalue()).encode("utf-8")


# What XML 1.0 cannot hold (the same set openpyxl refuses); openpyxl itself is imported only
# when a workbook is written, so the public map never pays its memory.
ILLEGAL_CHARACTERS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_text(value: str) -> str:
    # XML reads a bare CR back as LF, and cannot hold other control characters at all. Line
    # breaks become LF (Excel's own) before neutralising, so a leading CR cannot slip through.
    value = restore_text(value).replace("\r\n", "\n").replace("\r", "\n")
    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))


def _xlsx(table: pd.DataFrame) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.create_sheet(SHEET_TITLE, 0)
    workbook.remove(workbook.worksheets[1])  # the default empty sheet
    sheet.append(list(EXPORT_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in _rows(table):
        values: list[Any] = []
        for column, value in zip(EXPORT_COLUMNS, row, strict=True):
            cell = _cell(column, value)
            values.append(_xlsx_text(cell) if isinstance(cell, str) else cell)
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and "\n" in cell.value:
                cell.alignment = wrap
    for index, column in enumerate(EXPORT_COLUMNS, start=1):
        width = 60 if column == "description" else 14 if column in FLOAT_COLUMNS else 24
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _point(row: list[object]) -> tuple[float, float] | None:
    values = dict(zip(EXPORT_COLUMNS, row, strict=True))
    try:
        latitude = canonical_float(values["latitude"])
        longitude = canonical_float(values["longitude"])
    except (TypeError, ValueError):
        return None
    if latitude is None or longitude is None:
        return None
    return latitude, longitude


def count_without_coordinates(table: pd.DataFrame) -> int:
    """Rows a GeoJSON export skips because they lack a latitude or a longitude."""
    return sum(1 for row in _rows(table) if _point(row) is None)


def _geojson(table: pd.DataFrame) -> bytes:
    features: list[dict[str, Any]] = []
    skipped = 0
    for row in _rows(table):
        point = _point(row)
        if point is None:
            skipped += 1
            continue
        properties: dict[str, Any] = {}
        for column, value in zip(EXPORT_COLUMNS, row, strict=True):
            if column in FLOAT_COLUMNS:
                try:
                    properties[column] = canonical_float(value)
                    continue
                except (TypeError, ValueError):
                    pass
            properties[column] = canonical_text(value) or None
        latitude, longitude = point
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [longitude, latitude]},
                "properties": properties,
            }
        )
    collection = {
        "type": "FeatureCollection",
        "features": features,
        "skipped_without_coordinates": skipped,
    }
    return json.dumps(collection, ensure_ascii=False, allow_nan=False, indent=1).encode("utf-8")


def export_table(table: pd.DataFrame, *, fmt: str, bom: bool = True) -> bytes:
    """The table as a file's bytes in `fmt` ("csv", "geojson" or "xlsx").

    Columns are EXPORT_COLUMNS (missing ones exported empty, others left out). `bom` only
    concerns CSV: Excel needs it to read UTF-8 accents; GeoJSON never has one (RFC 8259).
    """
    if fmt == "csv":
        return _csv(table, bom=bom)
    if fmt == "xlsx":
        return _xlsx(table)
    if fmt == "geojson":
        return _geojson(table)
    raise ValueError(f"format d'export inconnu « {fmt} » : {', '.join(EXPORT_FORMATS)}")


def export_filename(fmt: str, *, when: date | None = None) -> str:
    """Download name, e.g. « initiatives-2026-11-25.csv » (today when `when` is None)."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"format d'export inconnu « {fmt} » : {', '.join(EXPORT_FORMATS)}")
    day = (when or date.today()).isoformat()
    return f"initiatives-{day}.{EXTENSIONS[fmt]}"
