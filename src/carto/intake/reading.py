"""Turn an uploaded file (CSV in any common encoding and separator, XLSX, ODS) into a table.

Files come from spreadsheets as people really save them: Excel's "CSV (séparateur: point-virgule)"
in Windows-1252, "Texte Unicode" in UTF-16 with tabs, UTF-8 with or without BOM, blank lines,
trailing empty columns, quoted multi-line cells. Workbooks are Excel's .xlsx (openpyxl) or
OpenDocument's .ods (LibreOffice, OnlyOffice…; pandas' odf engine), with the same report: the sheet
read, hidden sheets left aside, formulas without a calculated value. Every failure is a ReadError
with a French message.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Literal
from xml.sax.saxutils import unescape

import pandas as pd

from carto.errors import ReadError, SheetError
from carto.intake.sniffing import DEFAULT_MAX_BYTES
from carto.intake.sniffing import bomless_utf16 as _bomless_utf16
from carto.models import Issue
from carto.text import cell_text, nfc

# The upload limits, here and only here (the byte limit in carto.intake.sniffing): the pages and
# .streamlit/config.toml's maxUploadSize (in MiB) follow them.
DEFAULT_MAX_ROWS = 20_000
MAX_COLUMNS = 256
SEPARATORS: tuple[str, ...] = (";", ",", "\t")
# How the pages and the command line name each separator.
SEPARATOR_LABELS: dict[str, str] = {";": "point-virgule", ",": "virgule", "\t": "tabulation"}
# An XLSX or ODS is a zip; refuse archives that would inflate far beyond the upload limit (zip
# bombs).
XLSX_MAX_UNCOMPRESSED_FACTOR = 10
XLSX_MAX_RATIO = 200
# pandas' odf engine (odfpy) holds the whole content.xml as a tree, about 25 times its size in
# memory (a 20,000-row sheet saved by LibreOffice: 34 Mo of XML, 0.8 Go): a tighter bound.
ODS_MAX_CONTENT_FACTOR = 2
# ODS repeats a row or a cell with a count (table:number-rows-repeated): a few bytes may stand for
# millions of cells, which pandas spells out. Lines spanned by a sheet (blank ones between data
# included), and lines x columns, at most.
ODS_MAX_LINES = 2 * DEFAULT_MAX_ROWS
ODS_MAX_CELLS = DEFAULT_MAX_ROWS * MAX_COLUMNS
ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
_SNIFF_CHARS = 64 * 1024

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_BINARY_MAGICS: tuple[bytes, ...] = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\x1f\x8b",
    b"7z\xbc\xaf",
    b"Rar!",
    b"\x7fELF",
    b"MZ",
)
# The extensions taken as tables where an upload is checked by its name (the editors' page);
# an old .xls is taken too, to be refused by read_table with a French word on what to do.
TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".ods", ".xls")
_EXTENSION = re.compile(r"^\.(?=[0-9]*[a-z])[a-z0-9]{1,6}$")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_C0_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Letters and punctuation of French text (Latin-1, Latin Extended-A, typographic marks): a few
# of them decoded from UTF-8 show that a file is really UTF-8.
_UTF8_ACCENTS = re.compile("[\u00a0-\u017f\u2010-\u2026\u20ac]")
_HEADER_JUNK = re.compile("[\ufeff\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SEP_HINT = re.compile(r"^sep=(.)\s*$", re.IGNORECASE)
# Beyond this many formula cells without a value, one summary warning instead of one each.
MAX_FORMULA_WARNINGS = 20
_PLAIN_SHEET_NAME = re.compile(r"^\w+$")


@dataclass(frozen=True)
class RawTable:
    """A file read as strings. `row_numbers[i]` is the spreadsheet line of `frame.iloc[i]`."""

    frame: pd.DataFrame
    encoding: str | None
    separator: str | None
    format: Literal["csv", "xlsx", "ods"]
    rows_read: int
    first_row: int
    row_numbers: tuple[int, ...]
    sheet: str | None = None
    # What reading itself has to say (sheet chosen among hidden ones, uncalculated formulas).
    issues: tuple[Issue, ...] = ()


def refusal_by_name(filename: str) -> str | None:
    """The French refusal of a file whose extension is not a table's (« x.pdf »), else None.

    A name without a real extension (« liste v2.1 finale ») is left to its content."""
    suffix = Path(filename).suffix.lower()
    if not _EXTENSION.match(suffix) or suffix in TABLE_SUFFIXES:
        return None
    return f"Le fichier « {filename} » n’est pas un tableau : déposez un CSV, XLSX ou ODS."


def read_path(path: Path, **options: Any) -> RawTable:
    """Read a CSV, XLSX or ODS file from disk (same options as `read_table`)."""
    return read_table(Path(path), **options)


def read_table(
    source: bytes | Path,
    *,
    filename: str | None = None,
    sheet: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> RawTable:
    """Read bytes or a file as a table of strings ("" for empty cells).

    `filename` is only used in messages and to spot an old `.xls`. `sheet` names the workbook
    sheet to read; without it the only visible sheet holding data is read, and SheetError says
    which sheets to choose from when there are several. Raises ReadError, never anything else,
    for unreadable, empty, oversized or non-tabular content.
    """
    name = filename
    if isinstance(source, Path):
        name = name or source.name
        data = _read_file(source, max_bytes=max_bytes)
    else:
        data = bytes(source)
    shown = f"« {name} »" if name else "envoyé"
    if len(data) > max_bytes:
        raise ReadError(
            f"Le fichier {shown} est trop gros ({_size(len(data))}) : "
            f"la limite est de {_size(max_bytes)}."
        )
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise ReadError(f"Le fichier {shown} est vide.")
    suffix = Path(name).suffix.lower() if name else ""
    if data.startswith(_OLE_MAGIC):
        raise ReadError(
            f"Le fichier {shown} est au format Excel 97-2003 (.xls), qui n’est pas accepté : "
            "ouvrez-le dans votre tableur et enregistrez-le au format .xlsx ou CSV."
        )
    try:
        if data.startswith(_ZIP_MAGIC) or suffix in (".xlsx", ".xlsm", ".ods"):
            kind = _check_zip(data, shown=shown, max_bytes=max_bytes)
            reader = _read_ods if kind == "ods" else _read_xlsx
            return reader(data, shown=shown, sheet=sheet, max_bytes=max_bytes, max_rows=max_rows)
        if sheet is not None:
            raise SheetError(
                f"Le fichier {shown} est un fichier CSV : il n’a pas de feuille « {sheet} » "
                "(seuls les classeurs .xlsx et .ods ont des feuilles)."
            )
        return _read_csv(data, shown=shown, max_rows=max_rows)
    except ReadError:
        raise
    except Exception as exc:  # parsers raise many types on bad input
        raise ReadError(
            f"Le fichier {shown} n’a pas pu être lu ({type(exc).__name__}) : "
            "vérifiez qu’il s’agit bien d’un tableau CSV, Excel (.xlsx) ou OpenDocument (.ods)."
        ) from exc


def _read_file(path: Path, *, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ReadError(
                f"Le fichier « {path.name} » est trop gros ({_size(size)}) : "
                f"la limite est de {_size(max_bytes)}."
            )
        with path.open("rb") as handle:
            return handle.read(max_bytes + 1)
    except OSError as exc:
        raise ReadError(f"Impossible de lire le fichier « {path.name} » : {exc.strerror}.") from exc


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} Mo" if n >= 2**20 else f"{n} octets"


def _not_a_table(shown: str) -> ReadError:
    return ReadError(
        f"Le fichier {shown} ne semble pas être un tableau CSV, Excel ou OpenDocument : "
        "enregistrez-le depuis votre tableur au format CSV, .xlsx ou .ods."
    )


# --- CSV -----------------------------------------------------------------------------------------


def _decode(data: bytes, *, shown: str) -> tuple[str, str]:
    """Return (text, encoding name)."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        candidates = ["utf-32"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    elif data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif utf16 := _bomless_utf16(data):
        candidates = [utf16]
    else:
        if any(data.startswith(m) for m in _BINARY_MAGICS) or b"\x00" in data:
            raise _not_a_table(shown)
        if _looks_like_text(data):
            _refuse_mixed_utf8(data, shown=shown)
        candidates = ["utf-8", "cp1252", "latin-1"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # Binary junk decodes as latin-1; real tables have (almost) no control characters.
        controls = _CONTROL.findall(text)
        if len(controls) > max(8, len(text) // 200):
            if _looks_like_text(data):
                line = text.count("\n", 0, text.index(controls[0])) + 1
                raise ReadError(
                    f"Le fichier {shown} n’est pas dans un encodage reconnu (UTF-8, UTF-16, "
                    f"Windows-1252) : caractères illisibles dès la ligne {line}. Dans votre "
                    "tableur, enregistrez-le au format « CSV UTF-8 »."
                )
            raise _not_a_table(shown)
        return text.lstrip("\ufeff"), encoding
    raise _not_a_table(shown)


def _looks_like_text(data: bytes) -> bool:
    """Lines and separators but no C0 control byte: text in an encoding we do not read."""
    return (
        b"\n" in data
        and any(sep.encode() in data for sep in SEPARATORS)
        and not _C0_BYTES.search(data)
    )


def _refuse_mixed_utf8(data: bytes, *, shown: str) -> None:
    """Refuse UTF-8 text with a few bytes in another encoding (two files pasted together).

    Read as Windows-1252, every accent of the UTF-8 part would turn into "Ã©" silently.
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        sample = data.decode("utf-8", errors="replace")
        if not _UTF8_ACCENTS.search(sample):
            return  # no real UTF-8 accent: a Windows-1252 or Latin-1 file
        line = data.count(b"\n", 0, exc.start) + 1
        raise ReadError(
            f"Le fichier {shown} mélange deux encodages : il est en UTF-8, sauf ligne {line} "
            f"(octet 0x{data[exc.start]:02X} invalide). Dans votre tableur, enregistrez-le de "
            "nouveau au format « CSV UTF-8 »."
        ) from exc


def _records(text: str, separator: str) -> Iterator[list[str]]:
    return csv.reader(
        io.StringIO(text, newline=""),
        delimiter=separator,
        quotechar='"',
        doublequote=True,
        skipinitialspace=True,
        strict=False,
    )


def _is_blank(record: list[str]) -> bool:
    return not any(field.strip() for field in record)


def _score_separator(sample: str, separator: str, *, truncated: bool) -> tuple[int, float, int]:
    """(has >= 2 header columns, share of rows as wide as the header, header width)."""
    try:
        records = [r for r in _records(sample, separator) if not _is_blank(r)]
    except csv.Error:
        return (0, 0.0, 0)
    if truncated and len(records) > 1:
        records = records[:-1]  # the sample may cut the last record in half
    # The header is the first line with two filled cells (skips a title line above it).
    header_at = next(
        (i for i, r in enumerate(records) if sum(1 for f in r if f.strip()) >= 2), None
    )
    if header_at is None:
        return (0, 0.0, 0)
    header = records[header_at]
    width = len(_trim(header))
    body = records[header_at + 1 :]
    if not body:
        return (1, 1.0, width)
    fitting = sum(1 for r in body if len(r) == len(header) or len(_trim(r)) <= width)
    return (1, round(fitting / len(body), 2), width)


def _trim(record: list[str]) -> list[str]:
    end = len(record)
    while end and not record[end - 1].strip():
        end -= 1
    return record[:end]


def _detect_separator(text: str) -> str:
    sample = text[:_SNIFF_CHARS]
    truncated = len(text) > _SNIFF_CHARS
    scores = {s: _score_separator(sample, s, truncated=truncated) for s in SEPARATORS}
    return max(SEPARATORS, key=lambda s: scores[s])  # ties keep the SEPARATORS order


def _read_csv(data: bytes, *, shown: str, max_rows: int) -> RawTable:
    text, encoding = _decode(data, shown=shown)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    line_offset = 0
    first_line, _, rest = text.partition("\n")
    if hint := _SEP_HINT.match(first_line):
        # Excel's "sep=;" first line: Excel hides it, so the header is still line 1.
        separator = hint.group(1)
        text = rest
    else:
        separator = _detect_separator(text)
    records: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    header_line = 0
    try:
        for line_offset, record in enumerate(_records(text, separator), start=1):
            if _is_blank(record):
                continue
            if header is None:
                if _is_title(record):
                    continue  # a title line above the header
                header, header_line = record, line_offset
                continue
            if len(records) >= max_rows:
                raise _too_many_rows(shown, max_rows)
            records.append((line_offset, record))
    except csv.Error as exc:
        raise ReadError(
            f"Le fichier {shown} n’a pas pu être lu comme CSV (ligne {line_offset}) : {exc}."
        ) from exc
    if header is None:
        raise ReadError(
            f"Le fichier {shown} ne contient pas de ligne d’en-tête : la première ligne doit "
            "donner les noms des colonnes (nom, categorie, commune…)."
        )
    return _build(
        header,
        records,
        header_line=header_line,
        encoding=encoding,
        separator=separator,
        fmt="csv",
        sheet=None,
    )


def _is_title(record: list[str]) -> bool:
    """A lone sentence above the header ("Initiatives solidaires, avril 2020"), not a header."""
    filled = [f.strip() for f in record if f.strip()]
    return len(filled) == 1 and (len(filled[0]) > 30 or " " in filled[0])


def _too_many_rows(shown: str, max_rows: int) -> ReadError:
    return ReadError(
        f"Le fichier {shown} a plus de {max_rows} lignes de données : c’est la limite "
        "acceptée. Découpez-le en plusieurs fichiers."
    )


# --- common --------------------------------------------------------------------------------------


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _clean_header(name: str) -> str:
    name = nfc(_HEADER_JUNK.sub("", name))
    return " ".join(name.split()).strip('"').strip()


def _build(
    header: list[str],
    records: Iterable[tuple[int, list[str]]],
    *,
    header_line: int,
    encoding: str | None,
    separator: str | None,
    fmt: Literal["csv", "xlsx", "ods"],
    sheet: str | None,
) -> RawTable:
    rows = [(n, [f.strip() for f in r]) for n, r in records]
    width = max([len(header), *(len(r) for _, r in rows)])
    if width > MAX_COLUMNS:
        raise ReadError(
            f"Le tableau a {width} colonnes : la limite est de {MAX_COLUMNS}. "
            "Supprimez les colonnes inutiles."
        )
    names = [_clean_header(h) for h in header] + [""] * (width - len(header))
    padded = [r + [""] * (width - len(r)) for _, r in rows]
    # Excel pads every line with ";;;": drop columns with neither a header nor a value.
    keep = [i for i in range(width) if names[i] or any(r[i] for r in padded)]
    final_names: list[str] = []
    seen: dict[str, int] = {}
    for i in keep:
        label = names[i] or f"(colonne {_column_letter(i)})"
        key = label.casefold()
        seen[key] = seen.get(key, 0) + 1
        final_names.append(label if seen[key] == 1 else f"{label} ({seen[key]})")
    frame = pd.DataFrame([[r[i] for i in keep] for r in padded], columns=final_names, dtype=object)
    if not rows:
        frame = pd.DataFrame({n: pd.Series([], dtype=object) for n in final_names})
    numbers = tuple(n for n, _ in rows)
    return RawTable(
        frame=frame,
        encoding=encoding,
        separator=separator,
        format=fmt,
        rows_read=len(rows),
        first_row=numbers[0] if numbers else header_line + 1,
        row_numbers=numbers,
        sheet=sheet,
    )


# --- XLSX ----------------------------------------------------------------------------------------


def _check_zip(data: bytes, *, shown: str, max_bytes: int) -> Literal["xlsx", "ods"]:
    """The kind of workbook in the zip, once its sizes are known to be reasonable."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
            mimetype = b""
            if "mimetype" in names and archive.getinfo("mimetype").file_size <= 200:
                mimetype = archive.read("mimetype").strip()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ReadError(
            f"Le fichier {shown} est un classeur endommagé ou incomplet : "
            "ouvrez-le dans votre tableur et enregistrez-le de nouveau."
        ) from exc
    kind: Literal["xlsx", "ods"]
    if "xl/workbook.xml" in names:
        kind = "xlsx"
    elif "content.xml" in names and mimetype.startswith(b"application/vnd.oasis.opendocument"):
        if mimetype.decode("ascii", "replace") != ODS_MIMETYPE:
            raise ReadError(
                f"Le fichier {shown} est un document OpenDocument mais pas un classeur "
                f"({mimetype.decode('ascii', 'replace')}) : ouvrez-le dans votre tableur "
                "(LibreOffice Calc…) et enregistrez le tableau au format .ods, .xlsx ou CSV."
            )
        kind = "ods"
    elif "content.xml" in names:
        kind = "ods"  # an OpenDocument spreadsheet without its mimetype member
    else:
        raise _not_a_table(shown)
    # Declared sizes are trustworthy upper bounds: zipfile stops at them and checks the CRC.
    total = sum(i.file_size for i in infos)
    limit = max(XLSX_MAX_UNCOMPRESSED_FACTOR * max_bytes, 50 * 2**20)
    worst = max((i.file_size / max(i.compress_size, 1) for i in infos), default=0.0)
    if total > limit:
        raise ReadError(
            f"Le classeur {shown} occuperait {_size(total)} une fois décompressé : "
            f"c’est au-delà de la limite ({_size(limit)}). Enregistrez-le au format CSV."
        )
    if worst > XLSX_MAX_RATIO and total > 10 * 2**20:
        raise ReadError(
            f"Le classeur {shown} occuperait {_size(total)} une fois décompressé, soit "
            f"{worst:.0f} fois sa taille compressée : aucun vrai classeur n’est aussi répétitif "
            f"(limite : {XLSX_MAX_RATIO} fois). Enregistrez-le au format CSV."
        )
    if kind == "ods":
        content = next(i.file_size for i in infos if i.filename == "content.xml")
        ods_limit = ODS_MAX_CONTENT_FACTOR * max_bytes
        if content > ods_limit:
            raise ReadError(
                f"Le classeur {shown} occuperait {_size(content)} une fois décompressé : "
                f"c’est au-delà de la limite des classeurs .ods ({_size(ods_limit)}). "
                "Enregistrez-le au format CSV ou .xlsx."
            )
    return kind


def _read_xlsx(
    data: bytes, *, shown: str, sheet: str | None, max_bytes: int, max_rows: int
) -> RawTable:
    from openpyxl import load_workbook  # imported here: CSV-only use never pays for it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on damaged files
        raise ReadError(
            f"Le fichier {shown} est un classeur Excel endommagé ou illisible : "
            "ouvrez-le dans votre tableur et enregistrez-le de nouveau."
        ) from exc
    try:
        chosen, notes = _pick_sheet(list(workbook.worksheets), wanted=sheet, shown=shown)
        title = str(chosen.title)
        header, header_line, records = _sheet_records(chosen, shown=shown, max_rows=max_rows)
        # The sheet's part in the archive (openpyxl keeps it privately): only its XML tells a
        # formula without a calculated value from an empty cell.
        member = getattr(chosen, "_worksheet_path", None)
    finally:
        workbook.close()
    if header is None:
        raise ReadError(f"La feuille « {title} » du fichier {shown} est vide.")
    table = _build(
        header,
        records,
        header_line=header_line,
        encoding=None,
        separator=None,
        fmt="xlsx",
        sheet=title,
    )
    formulas = (
        _formula_issues(
            _uncalculated_formulas(data, member),
            title=title,
            header=header,
            header_line=header_line,
        )
        if isinstance(member, str)
        else []
    )
    return replace(table, issues=(*notes, *formulas))


def _sheet_rows(sheet: Any) -> Generator[list[str], None, None]:
    if isinstance(sheet, _OdsSheet):
        yield from sheet.rows()
        return
    if hasattr(sheet, "reset_dimensions"):
        # The stored dimension may claim XFD1048576; compute it from the cells instead.
        sheet.reset_dimensions()
    for values in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
        # One cell-to-text rule for the file and the review: a boolean reads « oui »/« non ».
        yield [cell_text(v) for v in values]


def _holds_data(sheet: Any) -> bool:
    """A header of two cells or more (after an optional title line), then a filled row."""
    rows = _sheet_rows(sheet)
    try:
        for record in rows:
            if _is_blank(record) or _is_title(record):
                continue
            if sum(1 for f in record if f.strip()) < 2:
                return False
            return any(not _is_blank(r) for r in rows)
        return False
    finally:
        rows.close()


def _listing(names: Iterable[str]) -> str:
    return ", ".join(f"« {n} »" for n in names)


def _pick_sheet(sheets: list[Any], *, wanted: str | None, shown: str) -> tuple[Any, list[Issue]]:
    """The sheet to read, and warnings naming the hidden sheets left aside.

    Visible sheets come first: a hidden sheet is usually an archive or a lookup list. When no
    visible sheet holds data, the only hidden one that does is read, and the report says so.
    """
    if not sheets:
        raise _not_a_table(shown)
    if wanted is not None:
        return _named_sheet(sheets, wanted, shown=shown), []
    visible = [s for s in sheets if s.sheet_state == "visible"]
    hidden_data = [s for s in sheets if s.sheet_state != "visible" and _holds_data(s)]
    candidates = [s for s in visible if _holds_data(s)] or hidden_data
    if len(candidates) > 1:
        names = tuple(str(s.title) for s in candidates)
        raise SheetError(
            f"Le classeur {shown} a {len(names)} feuilles de données : {_listing(names)}. "
            "Indiquez laquelle lire.",
            choices=names,
        )
    chosen = candidates[0] if candidates else (visible or sheets)[0]
    notes: list[Issue] = []
    if chosen in hidden_data:
        notes.append(
            Issue(
                "warning",
                f"Aucune feuille visible ne contient de données : la feuille masquée "
                f"« {chosen.title} » a été lue.",
                hint="Vérifiez que c’est bien la liste à publier.",
            )
        )
    notes.extend(
        Issue(
            "warning",
            f"La feuille masquée « {s.title} » n’a pas été lue ; seule la feuille "
            f"« {chosen.title} » l’a été.",
            hint="Pour publier la feuille masquée, affichez-la dans votre tableur, puis "
            "choisissez-la.",
        )
        for s in hidden_data
        if s is not chosen
    )
    return chosen, notes


def _named_sheet(sheets: list[Any], wanted: str, *, shown: str) -> Any:
    """The sheet called `wanted`, as written or ignoring case and surrounding spaces."""
    exact = [s for s in sheets if s.title == wanted]
    folded = [s for s in sheets if str(s.title).strip().casefold() == wanted.strip().casefold()]
    if exact or folded:
        return (exact or folded)[0]
    names = tuple(str(s.title) for s in sheets)
    shown_names = _listing(
        f"{s.title} (masquée)" if s.sheet_state != "visible" else s.title for s in sheets
    )
    raise SheetError(
        f"Le classeur {shown} n’a pas de feuille « {wanted} » : ses feuilles sont {shown_names}.",
        choices=names,
    )


def _sheet_records(
    sheet: Any, *, shown: str, max_rows: int
) -> tuple[list[str] | None, int, list[tuple[int, list[str]]]]:
    """(header, its line, data records with their line) of one sheet."""
    header: list[str] | None = None
    header_line = 0
    records: list[tuple[int, list[str]]] = []
    for line, record in enumerate(_sheet_rows(sheet), start=1):
        if _is_blank(record):
            continue
        if header is None:
            if _is_title(record):
                continue
            header, header_line = _trim(record), line
            continue
        if len(records) >= max_rows:
            raise _too_many_rows(shown, max_rows)
        records.append((line, _trim(record)))
    return header, header_line, records


# --- XLSX formulas -------------------------------------------------------------------------------
# openpyxl reads a formula without a stored result as an empty cell; only the sheet's XML tells
# the two apart. The XML is scanned as bytes, a block of whole rows at a time: a search for the
# formula tag skips the (usual) blocks without formulas at memory speed, where an XML parser
# would call Python for each of the ~1.5 million elements of a 20,000-row sheet.

_FORMULA_HINT = (
    "Le fichier a sans doute été produit par un programme qui ne calcule pas les formules : "
    "ouvrez-le dans votre tableur et enregistrez-le, ou remplacez la formule par sa valeur."
)
_SCAN_BLOCK = 1 << 20
_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
_FORMULA_TAG = re.compile(rb"<(" + _PREFIX + rb")f[\s/>]")
_ROW_END = re.compile(rb"</" + _PREFIX + rb"row>")
_CELL_REF = re.compile(rb'\sr="([A-Z]{1,3})([0-9]+)"')
_ROW_REF = re.compile(rb'\sr="([0-9]+)"')
_TYPE = re.compile(rb'\st="([^"]*)"')
_XML_ENTITIES = {"&quot;": '"', "&apos;": "'"}


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1


def _sheet_reference(title: str) -> str:
    """`Feuil1`, or `'Initiatives 2019'` quoted as Excel writes names with spaces."""
    if _PLAIN_SHEET_NAME.match(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def _row_blocks(stream: IO[bytes]) -> Iterator[bytes]:
    """The XML in blocks that end after a `</row>`, so that no cell is cut in two."""
    pending = b""
    while chunk := stream.read(_SCAN_BLOCK):
        pending += chunk
        ends = [m.end() for m in _ROW_END.finditer(pending, max(0, len(pending) - len(chunk) - 16))]
        if ends:
            yield pending[: ends[-1]]
            pending = pending[ends[-1] :]
    if pending:
        yield pending


def _formula_cells(block: bytes) -> Iterator[tuple[int | None, int | None, str]]:
    """(line, column index, formula) of the cells of `block` with a formula and no result."""
    position = 0
    while found := _FORMULA_TAG.search(block, position):
        prefix = found.group(1)
        # The cell opens after the previous formula cell: searching no further back keeps the
        # scan linear when every cell has a formula.
        start = max(
            block.rfind(b"<" + prefix + b"c ", position, found.start()),
            block.rfind(b"<" + prefix + b"c>", position, found.start()),
        )
        end = block.find(b"</" + prefix + b"c>", found.end())
        if start < 0 or end < 0:
            return
        position = end
        cell = block[start:end]
        opening = cell[: cell.find(b">") + 1]
        value = re.search(b"<" + re.escape(prefix) + rb"v(?:\s[^>]*)?>([^<]*)<", cell)
        kind = _TYPE.search(opening)
        if value is not None and (value.group(1) or (kind and kind.group(1) == b"str")):
            continue  # a stored result (an empty text result is one too)
        text = re.search(b"<" + re.escape(prefix) + rb"f(?:\s[^>]*)?>([^<]*)<", cell)
        formula = unescape(text.group(1).decode("utf-8", "replace"), _XML_ENTITIES) if text else ""
        if ref := _CELL_REF.search(opening):
            yield int(ref.group(2)), _column_index(ref.group(1)), formula
            continue
        # No cell reference (rare writers): name the row only.
        row_start = block.rfind(b"<" + prefix + b"row", 0, start)
        row_tag = block[row_start : block.find(b">", row_start) + 1] if row_start >= 0 else b""
        row_ref = _ROW_REF.search(row_tag)
        yield (int(row_ref.group(1)) if row_ref else None), None, formula


def _uncalculated_formulas(
    data: bytes, member: str
) -> Iterator[tuple[int | None, int | None, str]]:
    """(line, column index, formula) of each cell of a sheet with a formula and no result.

    An empty `<v>` of a text formula (t="str") is a calculated empty string, not a missing value.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if member not in archive.namelist():
            return
        with archive.open(member) as stream:
            for block in _row_blocks(stream):
                if _FORMULA_TAG.search(block):
                    yield from _formula_cells(block)


def _formula_issues(
    found: Iterable[tuple[int | None, int | None, str]],
    *,
    title: str,
    header: list[str],
    header_line: int,
) -> list[Issue]:
    """One warning per formula cell without a value (up to a cap), naming the cell."""
    cells = [
        (line, column, formula)
        for line, column, formula in found
        if (line is None or line >= header_line) and (column is None or column < MAX_COLUMNS)
    ]
    issues: list[Issue] = []
    for line, column, formula in cells[:MAX_FORMULA_WARNINGS]:
        where = _sheet_reference(title)
        name: str | None = None
        if column is None:
            where += f", ligne {line}" if line is not None else ""
        else:
            letter = _column_letter(column)
            where += f"!{letter}{line}"
            if line is not None and line > header_line:
                label = header[column] if column < len(header) else ""
                name = _clean_header(label) or f"(colonne {letter})"
        issues.append(
            Issue(
                "warning",
                f"{where} : formule sans valeur calculée, lue comme une cellule vide.",
                row=line,
                column=name,
                value=f"={formula}" if formula else None,
                hint=_FORMULA_HINT,
            )
        )
    if len(cells) > MAX_FORMULA_WARNINGS:
        issues.append(
            Issue(
                "warning",
                f"… et {len(cells) - MAX_FORMULA_WARNINGS} autres cellules de la feuille "
                f"« {title} » ont une formule sans valeur calculée ({len(cells)} en tout), "
                "lues comme des cellules vides.",
                hint=_FORMULA_HINT,
            )
        )
    return issues


# --- ODS -----------------------------------------------------------------------------------------
# pandas' odf engine reads the cells. Before it does, one streaming pass over content.xml (expat,
# no tree) finds what pandas does not say or would pay dearly for: the hidden sheets (a table
# style with table:display="false"), how far each sheet spans once its repeat counts are spelt out
# (refused beyond ODS_MAX_CELLS, before pandas spells them out), and the formula cells without a
# calculated value (table:formula without office:value-type, as programs that do not calculate
# write them; pandas reads them as empty cells).

_ODS_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODS_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_ODS_STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
# Formula blocks kept per sheet (a block: one cell, or one cell repeated over rows and columns).
_ODS_MAX_FORMULA_BLOCKS = 10_000
_ODS_FORMULA_PREFIX = re.compile(r"^[a-z]+:=?|^=")


@dataclass
class _OdsTableScan:
    """What the streaming pass learnt of one sheet."""

    title: str
    style: str
    lines: int = 0  # spreadsheet line of the last row with a value
    width: int = 0  # columns up to the last cell with a value, in any row
    # (first line, rows, first column, columns, formula) of formula cells without a value.
    formulas: list[tuple[int, int, int, int, str]] = field(default_factory=list)


def _repeat(attrs: dict[str, str], name: str) -> int:
    try:
        return max(1, int(attrs.get(f"{_ODS_TABLE} {name}", "1")))
    except ValueError:
        return 1


def _scan_ods(data: bytes, *, shown: str) -> tuple[list[_OdsTableScan], set[str]]:
    """(the sheets in order, the names of the table styles that hide a sheet)."""
    import pyexpat

    tables: list[_OdsTableScan] = []
    hidden_styles: set[str] = set()
    state: dict[str, Any] = {"style": None, "line": 0, "col": 0, "rows": 1, "width": 0}

    def refuse_dtd(*_: object) -> None:
        raise ReadError(
            f"Le classeur {shown} contient des déclarations XML (DTD) qu’aucun tableur "
            "n’écrit : il n’est pas lu. Enregistrez-le de nouveau depuis votre tableur."
        )

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == f"{_ODS_STYLE} style":
            family = attrs.get(f"{_ODS_STYLE} family")
            state["style"] = attrs.get(f"{_ODS_STYLE} name") if family == "table" else None
        elif name == f"{_ODS_STYLE} table-properties":
            if state["style"] and attrs.get(f"{_ODS_TABLE} display") == "false":
                hidden_styles.add(state["style"])
        elif name == f"{_ODS_TABLE} table":
            tables.append(
                _OdsTableScan(
                    attrs.get(f"{_ODS_TABLE} name", f"Feuille{len(tables) + 1}"),
                    attrs.get(f"{_ODS_TABLE} style-name", ""),
                )
            )
            state["line"] = 0
        elif name == f"{_ODS_TABLE} table-row" and tables:
            state["rows"] = _repeat(attrs, "number-rows-repeated")
            state["col"] = state["width"] = 0
        elif name in (f"{_ODS_TABLE} table-cell", f"{_ODS_TABLE} covered-table-cell") and tables:
            columns = _repeat(attrs, "number-columns-repeated")
            col = state["col"]
            valued = f"{_ODS_OFFICE} value-type" in attrs
            if valued:
                state["width"] = col + columns
            formula = attrs.get(f"{_ODS_TABLE} formula")
            table = tables[-1]
            if formula is not None and not valued and len(table.formulas) < _ODS_MAX_FORMULA_BLOCKS:
                text = _ODS_FORMULA_PREFIX.sub("", formula, count=1)
                table.formulas.append((state["line"] + 1, state["rows"], col, columns, text))
            state["col"] = col + columns

    def end(name: str) -> None:
        if name == f"{_ODS_TABLE} table-row" and tables:
            table = tables[-1]
            rows = state["rows"]
            if state["width"]:
                table.lines = state["line"] + rows
                table.width = max(table.width, state["width"])
                if table.lines > ODS_MAX_LINES or table.lines * table.width > ODS_MAX_CELLS:
                    raise _ods_too_large(shown, table)
            state["line"] += rows
        elif name == f"{_ODS_STYLE} style":
            state["style"] = None

    parser = pyexpat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("content.xml") as stream:
            parser.ParseFile(stream)
    except (pyexpat.ExpatError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ReadError(
            f"Le classeur {shown} est endommagé ou illisible : ouvrez-le dans votre tableur et "
            "enregistrez-le de nouveau."
        ) from exc
    return tables, hidden_styles


def _ods_too_large(shown: str, table: _OdsTableScan) -> ReadError:
    return ReadError(
        f"La feuille « {table.title} » du classeur {shown} s’étend sur au moins "
        f"{table.lines} lignes et {table.width} colonnes : c’est au-delà de ce qui peut être "
        f"lu ({ODS_MAX_LINES} lignes, {ODS_MAX_CELLS} cellules). Supprimez les lignes et "
        "colonnes inutiles (souvent une valeur recopiée jusqu’en bas de la feuille), ou "
        "enregistrez la feuille au format CSV."
    )


class _OdsSheet:
    """A sheet of an ODS as _pick_sheet sees a sheet of openpyxl: title, sheet_state, rows."""

    def __init__(self, book: Any, scan: _OdsTableScan, *, hidden: bool) -> None:
        self._book = book
        self.scan = scan
        self.title = scan.title
        self.sheet_state = "hidden" if hidden else "visible"
        self._rows: list[list[str]] | None = None

    def rows(self) -> list[list[str]]:
        """The sheet's lines as text, line 1 first, up to its last line with a value."""
        if self._rows is None:
            if self.scan.lines == 0:
                self._rows = []
            else:
                frame = pd.read_excel(
                    self._book,
                    sheet_name=self.title,
                    header=None,
                    dtype=object,
                    na_filter=False,
                    nrows=self.scan.lines,
                )
                # One cell-to-text rule for the file and the review (cell_text).
                self._rows = [
                    [cell_text(v) for v in values[:MAX_COLUMNS]]
                    for values in frame.itertuples(index=False, name=None)
                ]
        return self._rows


def _ods_formulas(scan: _OdsTableScan) -> Iterator[tuple[int | None, int | None, str]]:
    for line, rows, column, columns, formula in scan.formulas:
        for row in range(line, line + min(rows, MAX_FORMULA_WARNINGS + 1)):
            for col in range(column, column + min(columns, MAX_FORMULA_WARNINGS + 1)):
                yield row, col, formula


def _read_ods(
    data: bytes, *, shown: str, sheet: str | None, max_bytes: int, max_rows: int
) -> RawTable:
    tables, hidden_styles = _scan_ods(data, shown=shown)
    if not tables:
        raise _not_a_table(shown)
    try:
        book = pd.ExcelFile(io.BytesIO(data), engine="odf")
    except Exception as exc:  # odfpy raises whatever its XML or zip layer raises
        raise ReadError(
            f"Le fichier {shown} est un classeur OpenDocument endommagé ou illisible : "
            "ouvrez-le dans votre tableur et enregistrez-le de nouveau."
        ) from exc
    try:
        sheets = [_OdsSheet(book, t, hidden=t.style in hidden_styles) for t in tables]
        chosen, notes = _pick_sheet(sheets, wanted=sheet, shown=shown)
        header, header_line, records = _sheet_records(chosen, shown=shown, max_rows=max_rows)
    finally:
        book.close()
    title = chosen.title
    if header is None:
        raise ReadError(f"La feuille « {title} » du fichier {shown} est vide.")
    table = _build(
        header,
        records,
        header_line=header_line,
        encoding=None,
        separator=None,
        fmt="ods",
        sheet=title,
    )
    formulas = _formula_issues(
        _ods_formulas(chosen.scan), title=title, header=header, header_line=header_line
    )
    return replace(table, issues=(*notes, *formulas))
