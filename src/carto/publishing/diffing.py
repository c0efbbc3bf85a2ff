"""Review an incoming table against the published one: added, removed and changed rows; merge.

Rows are matched by `id` when both rows have one, else by their folded (nom, commune) key
(the rule of `carto.identity`). Cells are compared as `carto.text.cell_text` and `stored_float` give
them, which is also what storage checksums and stores, so "unchanged" in a review means "same
checksum" once published.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from carto import fields
from carto.fields import NUMBER_COLUMNS, TABLE_COLUMNS
from carto.identity import name_key as _name_key
from carto.identity import row_id as _row_id
from carto.identity import row_key
from carto.models import Issue
from carto.text import cell_number, cell_text, fold_key, is_missing

# Where an initiative is: the columns a file may give, then all of them with what geocoding
# derives from those (code, point, arrondissement, status). Merged as one block.
PLACE_SOURCES: tuple[str, ...] = fields.PLACE_COLUMNS
PLACE_COLUMNS: frozenset[str] = frozenset(PLACE_SOURCES + fields.DERIVED_COLUMNS)
COORDINATES: tuple[str, ...] = ("latitude", "longitude")
# Geocode statuses of a point taken from the commune (the others: "manual", a point given).
_FROM_COMMUNE = frozenset({"exact", "fuzzy"})
# Coordinates are compared at 6 decimals (~0.1 m): finer differences are float noise.
FLOAT_DECIMALS = 6


def stored_float(value: object) -> float | None:
    """A number cell as storage keeps it and the review compares it: rounded to FLOAT_DECIMALS,
    None when missing; raises ValueError when it is not a number (see carto.text.cell_number)."""
    number = cell_number(value)
    return None if number is None else round(number, FLOAT_DECIMALS) + 0.0


def _folded(value: object) -> str:
    """Comparison key of a nom or commune cell: "Saint-Omer " and "saint omer" are equal."""
    return fold_key(cell_text(value))


@dataclass(frozen=True)
class FieldChange:
    column: str
    old: object
    new: object


@dataclass(frozen=True)
class RowChange:
    """A published row changed by the incoming table; `line` is the incoming spreadsheet line."""

    key: str
    nom: str
    fields: tuple[FieldChange, ...]
    line: int


@dataclass(frozen=True)
class TableDiff:
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[RowChange]
    unchanged: int

    @property
    def added_count(self) -> int:
        return len(self.added)

    @property
    def removed_count(self) -> int:
        return len(self.removed)

    @property
    def changed_count(self) -> int:
        return len(self.changed)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        """French one-liner, e.g. « 2 ajoutées, 1 supprimée, 0 modifiée, 40 inchangées »."""
        parts = (
            (self.added_count, "ajoutée"),
            (self.removed_count, "supprimée"),
            (self.changed_count, "modifiée"),
            (self.unchanged, "inchangée"),
        )
        return ", ".join(f"{n} {word}{'s' if n > 1 else ''}" for n, word in parts)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in table.to_dict(orient="records")]


def _comparable(column: str, value: object) -> object:
    if column in NUMBER_COLUMNS:
        try:
            return stored_float(value)
        except (TypeError, ValueError):
            return cell_text(value)
    return cell_text(value)


def _clean(value: object) -> object:
    """Cell value as shown in a review: None for missing, else unchanged."""
    return None if is_missing(value) else value


def _match(
    published: list[dict[str, Any]], incoming: list[dict[str, Any]]
) -> tuple[dict[int, int], list[int], list[int]]:
    """Pair incoming rows with published rows: {incoming index: published index}, leftovers."""
    pairs: dict[int, int] = {}
    by_id: dict[str, deque[int]] = defaultdict(deque)
    for p, row in enumerate(published):
        if rid := _row_id(row):
            by_id[rid].append(p)
    taken: set[int] = set()
    for i, row in enumerate(incoming):
        rid = _row_id(row)
        if rid and by_id.get(rid):
            p = by_id[rid].popleft()
            pairs[i] = p
            taken.add(p)

    by_name: dict[tuple[str, str], list[int]] = defaultdict(list)
    for p, row in enumerate(published):
        if p not in taken and _name_key(row)[0]:
            by_name[_name_key(row)].append(p)
    for i, row in enumerate(incoming):
        if i in pairs or not _name_key(row)[0]:
            continue
        rid = _row_id(row)
        candidates = by_name.get(_name_key(row), [])
        # Two rows that both carry an id are the same initiative only if the ids are equal.
        for p in candidates:
            if not (rid and _row_id(published[p])):
                pairs[i] = p
                candidates.remove(p)
                taken.add(p)
                break
    unmatched_incoming = [i for i in range(len(incoming)) if i not in pairs]
    unmatched_published = [p for p in range(len(published)) if p not in taken]
    return pairs, unmatched_incoming, unmatched_published


def _columns(*tables: pd.DataFrame) -> list[str]:
    present = {str(c) for t in tables for c in t.columns}
    extras: list[str] = []
    for t in tables:
        extras += [str(c) for c in t.columns if str(c) not in TABLE_COLUMNS and c not in extras]
    return [c for c in TABLE_COLUMNS if c in present] + extras


def diff_tables(published: pd.DataFrame, incoming: pd.DataFrame) -> TableDiff:
    """Compare the canonical columns of both tables (a column absent from one counts as empty).

    This is what a "replace" publish changes; for "merge", diff against `merge_tables(...)`.
    """
    old_rows, new_rows = _records(published), _records(incoming)
    pairs, added, removed = _match(old_rows, new_rows)
    compared = [c for c in _columns(published, incoming) if c in TABLE_COLUMNS]
    changed: list[RowChange] = []
    unchanged = 0
    for i, p in sorted(pairs.items()):
        new, old = new_rows[i], old_rows[p]
        fields = tuple(
            FieldChange(column, _clean(old.get(column)), _clean(new.get(column)))
            for column in compared
            if _comparable(column, old.get(column)) != _comparable(column, new.get(column))
        )
        if not fields:
            unchanged += 1
            continue
        nom = cell_text(new.get("nom")) or cell_text(old.get("nom"))
        changed.append(RowChange(key=row_key(new), nom=nom, fields=fields, line=i + 2))
    return TableDiff(
        added=[new_rows[i] for i in added],
        removed=[old_rows[p] for p in removed],
        changed=changed,
        unchanged=unchanged,
    )


def _same_commune(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Same INSEE code when both rows have one, else the same commune name (normalised)."""
    old_code = cell_text(old.get("code_insee")).strip().upper()
    new_code = cell_text(new.get("code_insee")).strip().upper()
    if old_code and new_code:
        return old_code == new_code
    return _folded(old.get("commune")) == _folded(new.get("commune"))


def _same_point(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return all(_comparable(c, old.get(c)) == _comparable(c, new.get(c)) for c in COORDINATES)


def _coordinates_given(row: Mapping[str, Any], supplied: Collection[str]) -> bool:
    """Whether an incoming row brings its own point rather than its commune's."""
    if not set(COORDINATES) & set(supplied):
        return False
    # Geocoded rows: a point taken from the file is "manual"; raw tables: any coordinate given.
    status = cell_text(row.get("geocode_status"))
    if status:
        return status == "manual"
    return any(not is_missing(row.get(c)) for c in COORDINATES)


def _keeps_place(old: Mapping[str, Any], new: Mapping[str, Any], supplied: Collection[str]) -> bool:
    """Whether a merged row keeps its published place rather than the incoming one."""
    if not set(PLACE_SOURCES) & set(supplied):
        return True
    if not _same_commune(old, new):
        return False
    if _coordinates_given(new, supplied):
        return _same_point(old, new)  # the same point: keep how it was found (status, score)
    # No point in the file: a point given earlier ("manual") stays; one geocoding took from the
    # commune is taken again from the file's commune (its status may go from fuzzy to exact).
    return cell_text(old.get("geocode_status")) not in _FROM_COMMUNE


def merge_tables(
    published: pd.DataFrame, incoming: pd.DataFrame, *, supplied: Collection[str] | None = None
) -> pd.DataFrame:
    """The "merge" mode: incoming rows update their published match, new rows are appended,
    and published rows absent from incoming are kept. ("replace" mode is the incoming table.)

    `supplied`: the columns the file really had (default: every incoming column). The others
    keep their published values, and so does the id of a row matched by nom + commune whose id
    cell is empty. The place (commune, code, point, arrondissement, geocoding) is taken as a
    whole: the published one stays while the commune is the same and no other point is given.
    """
    old_rows, new_rows = _records(published), _records(incoming)
    pairs, added, _ = _match(old_rows, new_rows)
    by_published = {p: i for i, p in pairs.items()}
    incoming_columns = {str(c) for c in incoming.columns}
    given = incoming_columns if supplied is None else set(supplied) & incoming_columns
    merged: list[dict[str, Any]] = []
    for p, old in enumerate(old_rows):
        row = dict(old)
        if p in by_published:
            new = new_rows[by_published[p]]
            row.update(
                {
                    k: v
                    for k, v in new.items()
                    if k in given and k not in PLACE_COLUMNS and (k != "id" or _row_id(new))
                }
            )
            if not _keeps_place(old, new, given):
                row.update({k: v for k, v in new.items() if k in PLACE_COLUMNS})
        merged.append(row)
    merged += [dict(new_rows[i]) for i in added]
    columns = _columns(published, incoming)
    return pd.DataFrame(merged, columns=columns).reset_index(drop=True)


def keep_published_geocoding(published: pd.DataFrame, incoming: pd.DataFrame) -> pd.DataFrame:
    """A copy of `incoming` where rows giving their published match's point, in its commune,
    keep its geocode status and score. Our own export gives back the points geocoding found:
    without this, re-importing it would turn every "exact" into "manual" (a point from a file).
    """
    old_rows, new_rows = _records(published), _records(incoming)
    pairs, _, _ = _match(old_rows, new_rows)
    result = incoming.copy()
    names = [str(c) for c in result.columns]
    kept = [c for c in ("geocode_status", "geocode_score") if c in published and c in names]
    for i, p in pairs.items():
        old, new = old_rows[p], new_rows[i]
        given = cell_text(new.get("geocode_status")) == "manual"
        if given and _same_commune(old, new) and _same_point(old, new):
            for column in kept:
                result.iat[i, names.index(column)] = old[column]
    return result


def find_id_conflicts(
    published: pd.DataFrame, incoming: pd.DataFrame, *, row_numbers: Sequence[int] | None = None
) -> list[Issue]:
    """Incoming rows whose id is that of a published initiative with another nom AND commune.

    Matching them would silently overwrite that initiative. `row_numbers[i]` is the spreadsheet
    line of incoming row i (default: i + 2).
    """
    by_id: dict[str, dict[str, Any]] = {}
    for row in _records(published):
        if rid := _row_id(row):
            by_id.setdefault(rid, row)
    issues: list[Issue] = []
    for i, new in enumerate(_records(incoming)):
        old = by_id.get(_row_id(new))
        if old is None or _same_commune(old, new):
            continue
        if _folded(old.get("nom")) == _folded(new.get("nom")):
            continue
        rid = _row_id(new)
        issues.append(
            Issue(
                "error",
                f"l'identifiant « {rid} » est celui de « {_place_label(old)} » dans la version "
                f"en ligne, pas de « {_place_label(new)} » : rien n'a été publié",
                row=row_numbers[i] if row_numbers is not None else i + 2,
                column="id",
                value=rid,
                hint="donnez-lui un autre identifiant, ou videz sa case id pour l'ajouter ; "
                "si c'est bien la même initiative, renommée et déplacée, changez le nom et la "
                "commune en deux imports",
            )
        )
    return issues


def _place_label(row: Mapping[str, Any]) -> str:
    nom, commune = cell_text(row.get("nom")), cell_text(row.get("commune"))
    return f"{nom} ({commune})" if commune else nom


def _row_tokens(table: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One token per row: its content's hash and how many identical rows come before it."""
    hashes = pd.util.hash_pandas_object(table[columns], index=False)
    return hashes.astype(str) + ":" + hashes.groupby(hashes).cumcount().astype(str)


def without_identical_rows(
    previous: pd.DataFrame, table: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables without the rows found identical in the other (one for one): most rows of
    a publication are unchanged, and diff_tables compares cell by cell in Python (at 20,000
    rows, seconds per version). What remains diffs as the whole tables do."""
    columns = [c for c in TABLE_COLUMNS if c in previous.columns and c in table.columns]
    if not columns or previous.empty or table.empty:
        return previous, table
    old, new = _row_tokens(previous, columns), _row_tokens(table, columns)
    return previous[~old.isin(set(new))], table[~new.isin(set(old))]


def inherit_ids(
    published: pd.DataFrame,
    table: pd.DataFrame,
    *,
    row_numbers: Sequence[int] | None = None,
    strict: bool = True,
) -> tuple[pd.DataFrame, list[Issue]]:
    """`table` where each row without id takes the id of the published initiative it matches
    (same folded nom and commune: the merge's rule), and the errors for rows that match two
    (`strict`; otherwise such a row takes the first, as the merge pairs it).

    Rows left without id are new initiatives: the store gives them one as they enter it.
    `row_numbers[i]` is the spreadsheet line of row i (default: i + 2).
    """
    old_rows, new_rows = _records(published), _records(table)
    if not new_rows or all(_row_id(row) for row in new_rows):
        return table, []
    pairs, _, _ = _match(old_rows, new_rows)
    by_name: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in old_rows:
        if _name_key(row)[0]:
            by_name[_name_key(row)].append(row)
    result = table.copy()
    if "id" not in result.columns:
        result["id"] = ""
    column = list(result.columns).index("id")
    issues: list[Issue] = []
    for i, new in enumerate(new_rows):
        if _row_id(new):
            continue
        same = by_name.get(_name_key(new), [])
        if strict and len(same) > 1:
            both = " et ".join(f"« {_row_id(r) or _place_label(r)} »" for r in same[:2])
            issues.append(
                Issue(
                    "error",
                    f"« {_place_label(new)} » n'a pas d'identifiant et correspond à "
                    f"{len(same)} initiatives publiées ({both}) : rien n'a été publié",
                    row=row_numbers[i] if row_numbers is not None else i + 2,
                    column="id",
                    value="",
                    hint="indiquez dans sa case id l'identifiant de celle que cette ligne met "
                    "à jour",
                )
            )
        elif i in pairs:
            result.iat[i, column] = _row_id(old_rows[pairs[i]])
    return result, issues
