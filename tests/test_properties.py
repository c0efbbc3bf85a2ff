"""Property tests (hypothesis): the reader and the validator never crash; exports round-trip.

(i)  `read_table` on any bytes, or any text in several encodings, under any of our file names,
     returns a table or raises a CartoError subclass, never anything else.
(ii) `validate_table` on any string table, with any headers, returns a result and never raises.
(iii) export -> import keeps every field of every valid initiative, in CSV (with and without
     BOM) and XLSX. The one normalisation: line breaks come back as LF. The schema turns CR LF and
     lone CR into LF on every import (XLSX would do it anyway), so CR LF in a description is
     compared as LF; nothing else is normalised.
"""

from __future__ import annotations

import io
import math
import zipfile

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carto.errors import CartoError
from carto.exports import export_table
from carto.fields import FIELDS
from carto.gazetteer import load_gazetteer
from carto.intake import pipeline as dataset
from carto.intake.reading import RawTable, read_table
from carto.intake.validation import validate_table
from carto.models import CATEGORIES, COLUMNS, SCOPES

# No example database: the suite must not write .hypothesis/ into the working tree.
FAST = settings(max_examples=100, deadline=None, database=None)
SLOW = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FILENAMES = st.sampled_from(["a.csv", "b.CSV", "c.txt", "d.xlsx", "e.tsv", "f", "g.XLSX"])
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1", "shift_jis")


def _reads_or_refuses(data: bytes, filename: str | None) -> RawTable | None:
    try:
        raw = read_table(data, filename=filename, max_rows=500)
    except CartoError:
        return None
    assert list(raw.frame.columns) and len(raw.row_numbers) == len(raw.frame)
    assert all(isinstance(v, str) for v in raw.frame.to_numpy().ravel())
    return raw


@FAST
@given(data=st.binary(max_size=4096), filename=FILENAMES)
def test_read_table_on_any_bytes(data: bytes, filename: str) -> None:
    _reads_or_refuses(data, filename)


# Text that looks like a table: separators, quotes, line breaks, BOMs, controls, any letters.
TABLE_TEXT = st.lists(
    st.lists(
        st.text(
            alphabet=st.one_of(
                st.sampled_from(list(";,\t\"\r\n \ufeff\u202e=+-@'")),
                st.characters(codec="utf-8", exclude_categories=["Cs"]),
            ),
            max_size=12,
        ),
        min_size=1,
        max_size=6,
    ).map(lambda cells: ";".join(cells)),
    max_size=12,
).map("\n".join)


@FAST
@given(text=TABLE_TEXT, encoding=st.sampled_from(ENCODINGS), filename=FILENAMES)
def test_read_table_on_any_text_in_any_encoding(text: str, encoding: str, filename: str) -> None:
    data = text.encode(encoding, errors="replace")
    raw = _reads_or_refuses(data, filename)
    if raw is not None and encoding in ("utf-8", "utf-8-sig", "utf-16") and raw.format == "csv":
        assert raw.encoding is not None


@st.composite
def workbook_like_zips(draw: st.DrawFn) -> bytes:
    """Zip archives with an xl/workbook.xml and random members: openpyxl's hard cases."""
    members = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "[Content_Types].xml",
                    "xl/worksheets/sheet1.xml",
                    "xl/_rels/workbook.xml.rels",
                    "xl/sharedStrings.xml",
                    "xl/styles.xml",
                    "docProps/app.xml",
                ]
            ),
            st.binary(max_size=200),
            max_size=4,
        )
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", draw(st.binary(max_size=200)))
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@FAST
@given(data=workbook_like_zips(), filename=FILENAMES)
def test_read_table_on_broken_workbooks(data: bytes, filename: str) -> None:
    _reads_or_refuses(data, filename)


# --- (ii) validate_table never raises -----------------------------------------------------------

KNOWN_HEADERS = sorted({name for f in FIELDS if not f.derived for name in f.spellings})
HEADERS = st.one_of(
    st.sampled_from(KNOWN_HEADERS),
    st.sampled_from(KNOWN_HEADERS).map(lambda h: f" {h.upper()} (2)"),
    st.text(max_size=15),
)
CELLS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", "nan", "NaN", "inf", "-inf", "1e308", "50,29", "2.78", "protection", "Arras", "62041"]
    ),
    st.sampled_from(["javascript:alert(1)", "https://x.fr@evil.example/", "=1+1", "\u202e"]),
)


@st.composite
def string_frames(draw: st.DrawFn) -> pd.DataFrame:
    headers = draw(st.lists(HEADERS, max_size=8))
    rows = draw(st.lists(st.lists(CELLS, min_size=len(headers), max_size=len(headers)), max_size=6))
    return pd.DataFrame(rows, columns=headers, dtype=object)


@FAST
@given(frame=string_frames(), first_row=st.integers(min_value=1, max_value=10))
def test_validate_table_never_raises(frame: pd.DataFrame, first_row: int) -> None:
    result = validate_table(frame, first_row=first_row)
    assert list(result.table.columns) == list(COLUMNS)
    assert len(result.table) == len(result.row_numbers)
    numbers = set(range(first_row, first_row + len(frame)))
    assert all(i.row is None or i.row in numbers for i in result.issues)
    assert all(isinstance(i.message, str) and i.message for i in result.issues)


# --- (iii) export -> import keeps every field ---------------------------------------------------

GAZETTEER = load_gazetteer("62")
# Letters and signs of real French entries; every character is its own NFC form and none is a
# space the schema would collapse (no-break spaces are, by design).
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éèêëàâäîïôöùûüçœæÉÈÀÇŒ"
SIGNS = "'’\"«»;,.:!?()[]/&%*#=+-@_<>"
WORD = st.text(alphabet=LETTERS + SIGNS, min_size=1, max_size=12)
# Leading = + - @ and apostrophes: what export neutralises and import restores.
LEADS = st.sampled_from(["", "=", "+", "-", "@", "'", "'=", "''+", "-2+3 ", '=HYPERLINK("x") '])


def line_text(max_words: int) -> st.SearchStrategy[str]:
    """One line as the schema leaves it: single spaces, no outer spaces."""
    return st.builds(
        lambda lead, words: (lead + " ".join(words)).strip(),
        LEADS,
        st.lists(WORD, min_size=1, max_size=max_words),
    )


def description_text() -> st.SearchStrategy[str]:
    return st.lists(line_text(6), min_size=1, max_size=4).flatmap(
        lambda lines: st.sampled_from(["\n", "\r\n"]).map(lambda eol: eol.join(lines))
    )


PHONES = st.one_of(
    st.builds(
        lambda d: "0" + " ".join([d[0], *(d[i : i + 2] for i in range(1, 9, 2))]),
        st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda d: d[0] != "0"),
    ),
    st.sampled_from(["115", "3919", "-2+3", "@SUM(1)"]),
)


@st.composite
def initiatives(draw: st.DrawFn) -> pd.DataFrame:
    count = draw(st.integers(min_value=1, max_value=4))
    rows = []
    for index in range(count):
        commune = draw(st.sampled_from(GAZETTEER.communes))
        scope = draw(st.sampled_from(SCOPES))
        prefix = draw(st.text(alphabet="abcXYZ019_.-é", max_size=8))
        rows.append(
            {
                "id": f"{prefix}{index}",
                "nom": draw(line_text(8)),
                "categorie": draw(st.sampled_from(CATEGORIES)).slug,
                "description": draw(st.one_of(st.just(""), description_text())),
                "commune": commune.nom,
                "code_insee": commune.code_insee,
                "portee": scope,
                "zone": draw(line_text(3)) if scope != "commune" else "",
                "adresse": draw(st.one_of(st.just(""), line_text(5))),
                "latitude": commune.point.latitude,
                "longitude": commune.point.longitude,
                "site_web": draw(
                    st.one_of(
                        st.just(""),
                        st.text(alphabet="abc019-_/?=&%", max_size=20).map(
                            lambda path: f"https://www.exemple.fr/{path}"
                        ),
                    )
                ),
                "email": draw(
                    st.one_of(
                        st.just(""),
                        st.sampled_from(["contact", "-x", "+y", "o'neil", "a.b%c"]).map(
                            lambda local: f"{local}@exemple.fr"
                        ),
                    )
                ),
                "telephone": draw(st.one_of(st.just(""), PHONES)),
                "date_publication": draw(st.sampled_from(["", "2020-04-06", "2021-12-31"])),
                "source": draw(st.one_of(st.just(""), line_text(6))),
                "date_debut": draw(st.sampled_from(["", "2020-03-23"])),
                "date_fin": draw(st.sampled_from(["", "2020-05-11", "2031-01-31"])),
                "statut": draw(st.sampled_from(["", "en_cours", "terminee", "a_verifier"])),
                "verifie_le": draw(st.sampled_from(["", "2026-11-30"])),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def expected_value(column: str, value: object) -> object:
    if column == "description":
        return str(value).replace("\r\n", "\n")
    return value


@SLOW
@pytest.mark.parametrize(
    ("fmt", "bom", "filename"),
    [("csv", True, "export.csv"), ("csv", False, "export.csv"), ("xlsx", True, "export.xlsx")],
)
@given(table=initiatives())
def test_export_then_import_keeps_every_field(
    fmt: str, bom: bool, filename: str, table: pd.DataFrame
) -> None:
    data = export_table(table, fmt=fmt, bom=bom)
    loaded = dataset.load(data, filename=filename, gazetteer=GAZETTEER)
    assert loaded.ok, [str(i) for i in loaded.errors]
    assert len(loaded.table) == len(table)
    for i, (before, after) in enumerate(
        zip(table.to_dict("records"), loaded.table.to_dict("records"), strict=True)
    ):
        for column in COLUMNS:
            want, got = expected_value(column, before[column]), after[column]
            if column in ("latitude", "longitude"):
                assert math.isclose(float(got), float(want), rel_tol=0, abs_tol=0), (i, column)
            else:
                assert got == want, (i, column, want, got)
