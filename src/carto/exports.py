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
convention: CR LF and lone CR come back as LF) and drops the characters XML cannot hold
(U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, lone surrogates, U+FFFE, U+FFFF). GeoJSON is not
for spreadsheets: no apostrophes. `carto geocode -o` writes its CSV with the same rule.

CSV: `;` by default (what French Excel splits into columns), or `,`; both with a UTF-8 BOM unless
asked otherwise, the header is the column names (`nom`, `code_insee`…) and values are stored
values (category slugs). Numbers keep every digit and no digit grouping; in the `;` form their
decimal separator is the comma (`50,2910`, what French Excel reads as a number, and what import
reads back), in the `,` form the point (`50.291`).

XLSX is for people: the header row holds the French labels of the columns (carto.fields.label:
« Code INSEE »), a category its label (« Personnes isolées ») and a portée its label
(« Département »). Import accepts labels as header names and as category and portée values, so
re-importing our own XLSX export changes nothing.

GeoJSON: an area initiative (a `zone_key`, see carto.zones) gets the (Multi)Polygon of its zone;
the others a Point. Rows without both coordinates cannot be Points; they are skipped (area ones
too: they are the rows geocoding could not place) and their number is written in the top-level
member "skipped_without_coordinates" (also `count_without_coordinates`).

XLSX is written directly as SpreadsheetML (a zip of XML parts), one row after the other: time
and memory are linear in rows and the file is built in about the time of the CSV. It has one
sheet « Initiatives », a bold frozen header, column widths, and wrapped text (aligned top) on
exactly the cells holding a line break. Text is inline (no shared strings, as openpyxl writes
it), numbers are numbers, and no cell is ever a formula.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from carto.fields import EXPORT_COLUMNS, NUMBER_COLUMNS, label
from carto.models import CATEGORY_BY_SLUG, SCOPE_LABELS
from carto.text import cell_number, cell_text
from carto.zones import zone_geometry

if TYPE_CHECKING:
    from carto.gazetteer import Gazetteer

ExportFormat = Literal["csv", "geojson", "xlsx"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "geojson", "xlsx")
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "geojson": "application/geo+json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSIONS: dict[str, str] = {"csv": "csv", "geojson": "geojson", "xlsx": "xlsx"}
# CSV column separators; the first is the default (French Excel).
CSV_SEPARATORS: tuple[str, ...] = (";", ",")
DEFAULT_SEPARATOR = CSV_SEPARATORS[0]

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


def sheet_csv(frame: pd.DataFrame) -> bytes:
    """A table the editors' pages offer as CSV (reports, previews, candidates): as French
    spreadsheets open it (`;`, UTF-8 with BOM), every text cell neutralised."""
    safe = frame.map(lambda v: neutralise(v) if isinstance(v, str) else v)
    return safe.to_csv(sep=";", index=False).encode("utf-8-sig")


def _cell(column: str, value: object) -> str | float | None:
    """Export value: number columns as numbers (None when missing), the rest as neutralised text."""
    if column in NUMBER_COLUMNS:
        try:
            return cell_number(value)
        except ValueError:
            pass  # not a number: export it as (neutralised) text rather than lose it
    return neutralise(cell_text(value))


def _rows(table: pd.DataFrame, columns: Sequence[str] = EXPORT_COLUMNS) -> list[list[object]]:
    present = [c for c in columns if c in table.columns]
    records = table[present].to_dict(orient="records")
    return [[record.get(column) for column in columns] for record in records]


def _csv_number(number: float, separator: str) -> str:
    """Every digit (repr), with a decimal comma in the `;` form: 50.291 -> "50,291"."""
    text = repr(number)
    return text.replace(".", ",") if separator == ";" else text


def _csv(
    table: pd.DataFrame,
    *,
    bom: bool,
    separator: str = DEFAULT_SEPARATOR,
    columns: Sequence[str] = EXPORT_COLUMNS,
) -> bytes:
    if separator not in CSV_SEPARATORS:
        raise ValueError(f"séparateur CSV inconnu « {separator} » : {' '.join(CSV_SEPARATORS)}")
    buffer = io.StringIO(newline="")
    # QUOTE_MINIMAL quotes cells holding the separator, quotes or line breaks, as Excel expects.
    writer = csv.writer(
        buffer, delimiter=separator, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
    )
    writer.writerow(columns)
    for row in _rows(table, columns):
        cells = [_cell(column, value) for column, value in zip(columns, row, strict=True)]
        writer.writerow(
            [
                "" if c is None else _csv_number(c, separator) if isinstance(c, float) else c
                for c in cells
            ]
        )
    return ((_BOM if bom else "") + buffer.getvalue()).encode("utf-8")


# What XML 1.0 cannot hold: C0 controls but TAB, LF, CR (the set openpyxl refuses too), lone
# surrogates and the two non-characters U+FFFE and U+FFFF.
ILLEGAL_CHARACTERS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Rows of the sheet encoded and compressed at a time (the sheet is never one whole string).
_XLSX_CHUNK_ROWS = 500
# Fixed zip timestamps: the same table always gives the same bytes.
_ZIP_DATE = (2020, 4, 6, 0, 0, 0)
# Cell styles of styles.xml: 0 default, 1 bold header, 2 wrapped text aligned top.
_STYLE_HEADER, _STYLE_WRAP = 1, 2


def _xlsx_text(value: str) -> str:
    # XML reads a bare CR back as LF, and cannot hold other control characters at all. Line
    # breaks become LF (Excel's own) before neutralising, so a leading CR cannot slip through.
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))


def _readable(column: str, text: str) -> str:
    """A category slug or a portée code as its French label; other values (unknown ones too)
    unchanged. Import parses both labels back to the stored values."""
    if column == "categorie" and text in CATEGORY_BY_SLUG:
        return CATEGORY_BY_SLUG[text].label
    if column == "portee" and text in SCOPE_LABELS:
        return SCOPE_LABELS[text]
    return text


def _xlsx_value(column: str, value: object) -> str | float | None:
    """The cell of `_cell` for people (labels, see `_readable`), made fit for XML; None for an
    empty cell (not written)."""
    if column in NUMBER_COLUMNS:
        try:
            return cell_number(value)
        except ValueError:
            pass  # not a number (inf included): written as (neutralised) text, like the CSV
    return _xlsx_text(_readable(column, cell_text(value))) or None


def _column_letter(number: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _column_width(column: str) -> int:
    return 60 if column == "description" else 14 if column in NUMBER_COLUMNS else 24


def _xml_cell(reference: str, value: str | float, *, style: int = 0) -> str:
    """One <c> element: a number, or inline text (with its whitespace kept)."""
    if isinstance(value, float):
        return f'<c r="{reference}"><v>{value!r}</v></c>'
    if style == 0 and "\n" in value:
        style = _STYLE_WRAP
    styled = f' s="{style}"' if style else ""
    space = ' xml:space="preserve"' if value != value.strip() or "\n" in value else ""
    text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<c r="{reference}"{styled} t="inlineStr"><is><t{space}>{text}</t></is></c>'


_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_XLSX_PARTS: dict[str, str] = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/app.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_NS_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{_NS_REL}/extended-properties" '
        'Target="docProps/app.xml"/>'
        "</Relationships>"
    ),
    "docProps/app.xml": (
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'extended-properties"><Application>Carto solidaire</Application></Properties>'
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
        "<bookViews><workbookView/></bookViews>"
        f'<sheets><sheet name="{SHEET_TITLE}" sheetId="1" r:id="rId1"/></sheets>'
        "</workbook>"
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_NS_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_NS_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_NS_REL}/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_NS_MAIN}">'
        '<fonts count="2">'
        '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        "</fonts>"
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="3">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
        '<alignment vertical="top" wrapText="1"/></xf>'
        "</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}


def _sheet_xml(table: pd.DataFrame, columns: Sequence[str]) -> Iterator[str]:
    """xl/worksheets/sheet1.xml in pieces of a few hundred rows; every row costs the same."""
    letters = [_column_letter(i) for i in range(1, len(columns) + 1)]
    rows = _rows(table, columns)
    last = f"{letters[-1]}{len(rows) + 1}"
    widths = "".join(
        f'<col min="{i}" max="{i}" width="{_column_width(c)}" customWidth="1"/>'
        for i, c in enumerate(columns, start=1)
    )
    header = "".join(
        _xml_cell(f"{letter}1", _xlsx_text(label(column)), style=_STYLE_HEADER)
        for letter, column in zip(letters, columns, strict=True)
    )
    yield (
        f'{_XML_HEAD}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
        f'<dimension ref="A1:{last}"/>'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        "</sheetView></sheetViews>"
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{widths}</cols>'
        f'<sheetData><row r="1">{header}</row>'
    )
    chunk: list[str] = []
    for number, row in enumerate(rows, start=2):
        chunk.append(f'<row r="{number}">')
        for letter, column, value in zip(letters, columns, row, strict=True):
            cell = _xlsx_value(column, value)
            if cell is not None:
                chunk.append(_xml_cell(f"{letter}{number}", cell))
        chunk.append("</row>")
        if number % _XLSX_CHUNK_ROWS == 0:
            yield "".join(chunk)
            chunk.clear()
    chunk.append("</sheetData></worksheet>")
    yield "".join(chunk)


def _xlsx(table: pd.DataFrame, columns: Sequence[str] = EXPORT_COLUMNS) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, xml in _XLSX_PARTS.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            archive.writestr(info, _XML_HEAD + xml, compress_type=zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", date_time=_ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as sheet:
            for piece in _sheet_xml(table, columns):
                sheet.write(piece.encode("utf-8"))
    return buffer.getvalue()


def _point(row: list[object]) -> tuple[float, float] | None:
    values = dict(zip(EXPORT_COLUMNS, row, strict=True))
    try:
        latitude = cell_number(values["latitude"])
        longitude = cell_number(values["longitude"])
    except ValueError:
        return None
    if latitude is None or longitude is None:
        return None
    return latitude, longitude


def count_without_coordinates(table: pd.DataFrame) -> int:
    """Rows a GeoJSON export skips because they lack a latitude or a longitude."""
    return sum(1 for row in _rows(table) if _point(row) is None)


def _zone_keys(table: pd.DataFrame) -> list[str]:
    if "zone_key" not in table.columns:
        return [""] * len(table)
    return [cell_text(v) for v in table["zone_key"].tolist()]


def _geojson(table: pd.DataFrame, gazetteer: Gazetteer | None) -> bytes:
    features: list[dict[str, Any]] = []
    skipped = 0
    zone_keys = _zone_keys(table)
    if gazetteer is None and any(zone_keys):
        from carto.config import Settings
        from carto.gazetteer import load_gazetteer

        gazetteer = load_gazetteer(Settings.from_env().departement)
    for row, zone_key in zip(_rows(table), zone_keys, strict=True):
        point = _point(row)
        if point is None:
            skipped += 1
            continue
        properties: dict[str, Any] = {}
        for column, value in zip(EXPORT_COLUMNS, row, strict=True):
            if column in NUMBER_COLUMNS:
                try:
                    properties[column] = cell_number(value)
                    continue
                except ValueError:
                    pass
            properties[column] = cell_text(value) or None
        latitude, longitude = point
        area = zone_geometry(zone_key, gazetteer) if zone_key and gazetteer else None
        features.append(
            {
                "type": "Feature",
                "geometry": area or {"type": "Point", "coordinates": [longitude, latitude]},
                "properties": properties,
            }
        )
    collection = {
        "type": "FeatureCollection",
        "features": features,
        "skipped_without_coordinates": skipped,
    }
    return json.dumps(collection, ensure_ascii=False, allow_nan=False, indent=1).encode("utf-8")


def export_table(
    table: pd.DataFrame,
    *,
    fmt: str,
    bom: bool = True,
    separator: str = DEFAULT_SEPARATOR,
    columns: Sequence[str] = EXPORT_COLUMNS,
    gazetteer: Gazetteer | None = None,
) -> bytes:
    """The table as a file's bytes in `fmt` ("csv", "geojson" or "xlsx").

    Columns are `columns` (missing ones exported empty, others left out; GeoJSON always has
    EXPORT_COLUMNS). `bom` and `separator` (";" with decimal commas, or ",") only concern CSV:
    Excel needs the BOM to read UTF-8 accents; GeoJSON never has one (RFC 8259). `gazetteer`
    gives GeoJSON the outlines of the zones (default: the one of CARTO_DEPARTEMENT).
    """
    if fmt == "csv":
        return _csv(table, bom=bom, separator=separator, columns=columns)
    if fmt == "xlsx":
        return _xlsx(table, columns)
    if fmt == "geojson":
        return _geojson(table, gazetteer)
    raise ValueError(f"format d'export inconnu « {fmt} » : {', '.join(EXPORT_FORMATS)}")


class ExportCache:
    """Built export files by key (data version, view, format), bounded in bytes.

    The least recently used files go first once the total passes `max_bytes`; a file larger than
    that is returned but not kept. Visitors asking for the same key at the same time wait for
    one build instead of each building it. Thread-safe (downloads are built off the page thread).
    """

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._files: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    @property
    def size_bytes(self) -> int:
        return self._size

    def _cached(self, key: Hashable) -> bytes | None:
        with self._lock:
            data = self._files.get(key)
            if data is not None:
                self._files.move_to_end(key)
            return data

    def get(self, key: Hashable, build: Callable[[], bytes]) -> bytes:
        """The file of `key`, built by `build()` only when it is not kept already."""
        data = self._cached(key)
        if data is not None:
            return data
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            data = self._cached(key)
            if data is not None:
                return data
            try:
                data = build()
                self._keep(key, data)
            finally:
                with self._lock:
                    self._building.pop(key, None)
        return data

    def _keep(self, key: Hashable, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            self._files[key] = data
            self._size += len(data)
            while self._size > self.max_bytes:
                _, dropped = self._files.popitem(last=False)
                self._size -= len(dropped)


def export_filename(fmt: str, *, when: date | None = None) -> str:
    """Download name, e.g. « initiatives-2026-11-25.csv » (today when `when` is None)."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"format d'export inconnu « {fmt} » : {', '.join(EXPORT_FORMATS)}")
    day = (when or date.today()).isoformat()
    return f"initiatives-{day}.{EXTENSIONS[fmt]}"
