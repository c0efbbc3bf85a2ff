"""The whole input path in one call: bytes -> table -> validated rows -> geocoded initiatives."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from carto.config import Settings
from carto.errors import ReadError
from carto.exports import restore_text
from carto.fields import TABLE_COLUMNS
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.geocoding import (
    ChainGeocoder,
    Geocoder,
    OfflineGeocoder,
    geocode_table,
    online_geocoder,
)
from carto.intake.reading import RawTable, read_table
from carto.intake.validation import validate_table
from carto.models import Issue, IssueSummary
from carto.text import cell_text

# Every column of a loaded table: the file's, then geocoding's (carto.fields).
ALL_COLUMNS: tuple[str, ...] = TABLE_COLUMNS
# Issue.code of the note that tells which commune the editor chose for a line.
EDITOR_CHOICE = "commune_choisie"


@dataclass(frozen=True)
class LoadedTable(IssueSummary):
    """A file read, validated and geocoded, with everything worth telling the user."""

    table: pd.DataFrame
    issues: tuple[Issue, ...]
    row_numbers: tuple[int, ...]
    encoding: str | None = None
    separator: str | None = None
    format: str | None = None
    rows_read: int = 0
    sheet: str | None = None
    # Canonical columns the file really had (the table has them all); None when unknown.
    file_columns: frozenset[str] | None = None
    # Spreadsheet lines the editor left out of the import (not validated, not published).
    excluded: tuple[int, ...] = ()

    def clean_rows(self) -> pd.DataFrame:
        """Rows without any error (what may be published from a file that has some)."""
        bad = self.error_rows
        keep = [line not in bad for line in self.row_numbers]
        return self.table[keep] if len(keep) == len(self.table) else self.table.iloc[0:0]

    @property
    def placed(self) -> pd.DataFrame:
        """Rows that have coordinates, i.e. that the map can draw."""
        return self.table[self.table["latitude"].notna() & self.table["longitude"].notna()]


def prepare(
    raw: RawTable,
    gazetteer: Gazetteer,
    *,
    corrections: Mapping[int, str] | None = None,
    accept_outside: Collection[int] = frozenset(),
    excluded: Collection[int] = frozenset(),
    settings: Settings | None = None,
) -> LoadedTable:
    """Validate and geocode a table that was read already (`settings`: see default_geocoder).

    `corrections` maps a spreadsheet line to the INSEE code an editor picked for it; those rows
    are geocoded from that code and marked "manual". `accept_outside` holds the lines whose
    point outside the département the editor confirmed (see geocoding.outside_departement_rows).
    `excluded` holds the lines the editor left out: they are dropped before any check.
    """
    dropped = tuple(sorted(set(excluded) & set(raw.row_numbers)))
    if dropped:
        keep = [line not in excluded for line in raw.row_numbers]
        raw = dataclasses.replace(
            raw,
            frame=raw.frame[keep].reset_index(drop=True),
            row_numbers=tuple(line for line in raw.row_numbers if line not in excluded),
            issues=tuple(i for i in raw.issues if i.row not in excluded),
        )
    # Undo our own export's formula neutralisation, so that export -> import is lossless.
    frame = raw.frame.map(lambda v: restore_text(v) if isinstance(v, str) else v)
    checked = validate_table(frame, row_numbers=raw.row_numbers)
    issues = [*raw.issues, *checked.issues]
    table = checked.table.reset_index(drop=True)
    row_numbers = tuple(checked.row_numbers)
    if not checked.table_usable or table.empty:
        table, row_numbers = empty_table(), ()
    else:
        corrected = [i for i, line in enumerate(row_numbers) if line in (corrections or {})]
        written = {i: cell_text(table.loc[i, "commune"]) for i in corrected}
        for i in corrected:
            table.loc[i, "code_insee"] = (corrections or {})[row_numbers[i]]
            table.loc[i, "commune"] = ""
        table, geo_issues = geocode_table(
            table,
            default_geocoder(gazetteer, settings),
            row_numbers=row_numbers,
            accept_outside=accept_outside,
        )
        if corrected:
            table.loc[table.index[corrected], "geocode_status"] = "manual"
        issues.extend(geo_issues)
        # The editor's choice stays visible in the report, as a note on its line.
        issues.extend(
            Issue(
                severity="warning",
                message=f"{written[i] or '(vide)'} → {cell_text(table.loc[i, 'commune'])} "
                "(commune choisie par l'éditeur)",
                row=row_numbers[i],
                column="commune",
                value=written[i] or None,
                code=EDITOR_CHOICE,
            )
            for i in corrected
        )
    issues.sort(key=lambda i: i.row if i.row is not None else 0)
    return LoadedTable(
        table=table.reset_index(drop=True),
        issues=tuple(issues),
        row_numbers=row_numbers,
        encoding=raw.encoding,
        separator=raw.separator,
        format=raw.format,
        rows_read=raw.rows_read,
        sheet=raw.sheet,
        file_columns=frozenset(checked.columns_found.values()),
        excluded=dropped,
    )


def default_geocoder(gazetteer: Gazetteer, settings: Settings | None = None) -> Geocoder:
    """Offline; when settings.online_geocoder names a provider (CARTO_ONLINE_GEOCODER), street
    addresses are tried online too. `settings` None: Settings.from_env()."""
    offline = OfflineGeocoder(gazetteer)
    online = online_geocoder(settings or Settings.from_env())
    return ChainGeocoder(offline, online) if online is not None else offline


def load(
    source: Path | bytes,
    *,
    filename: str | None = None,
    sheet: str | None = None,
    departement: str = "62",
    gazetteer: Gazetteer | None = None,
    accept_outside: Collection[int] = frozenset(),
    excluded: Collection[int] = frozenset(),
    settings: Settings | None = None,
) -> LoadedTable:
    """Read, validate and geocode a CSV/XLSX file (`sheet`: see `read_table`).

    Raises ReadError when it is not a table, SheetError when the workbook sheet must be named.
    """
    if isinstance(source, Path):
        if not source.is_file():
            raise ReadError(f"Fichier introuvable : « {source} ».")
        filename = filename or source.name
    raw = read_table(source, filename=filename, sheet=sheet)
    return prepare(
        raw,
        gazetteer or load_gazetteer(departement),
        accept_outside=accept_outside,
        excluded=excluded,
        settings=settings,
    )


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in ALL_COLUMNS})
