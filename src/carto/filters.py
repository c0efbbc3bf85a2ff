"""Filtering the initiatives table: a declarative spec, vectorised masks, facets, shareable URLs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from carto.models import CATEGORIES
from carto.text import fold
from carto.timeline import ended_mask, local_today, parse_day, period_mask

SEARCHED_COLUMNS = (
    "nom",
    "description",
    "commune",
    "zone",
    "zone_label",
    "adresse",
    "arrondissement",
)
MAX_QUERY_TEXT = 200

# URL query parameter names, kept short because people paste these links in e-mails.
PARAM_CATEGORIES = "categorie"
PARAM_ARRONDISSEMENTS = "arrondissement"
PARAM_COMMUNES = "commune"
PARAM_TEXT = "q"
PARAM_SELECTED = "id"
# The period (ISO days) and « afficher aussi les initiatives terminées » (`terminees=1`).
PARAM_START = "du"
PARAM_END = "au"
PARAM_ENDED = "terminees"
_YES = ("1", "oui", "true")


def clean_search_text(text: str, *, limit: int = MAX_QUERY_TEXT) -> str:
    """The search text with duplicate words dropped (case and accents ignored), capped.

    Words are kept in their first spelling and order, joined by single spaces; the result is at
    most `limit` characters, cut at a word boundary (a first word longer than that is cut). The
    work stops at `limit`, so 100 KB of pasted text costs no more than 200 characters.
    """
    kept: list[str] = []
    seen: set[str] = set()
    seen_raw: set[str] = set()  # skips folding a word already met as typed
    length = -1
    for word in text.split():
        if word in seen_raw:
            continue
        seen_raw.add(word)
        folded = fold(word)
        if folded in seen:
            continue
        if length + 1 + len(word) > limit:
            if not kept:
                kept.append(word[:limit])
            break
        seen.add(folded)
        kept.append(word)
        length += 1 + len(word)
    return " ".join(kept)


def search_terms(text: str) -> tuple[str, ...]:
    """The folded terms a row must all contain, sorted, without redundant ones.

    A term contained in another term is dropped (« arr arras » finds what « arras » finds), so
    equivalent searches give the same terms, whatever their order, case or accents.
    """
    unique = sorted(set(fold(clean_search_text(text)).split()))
    return tuple(t for t in unique if not any(t != other and t in other for other in unique))


@dataclass(frozen=True)
class FilterSpec:
    """What the visitor asked to see. Empty tuples mean "no constraint".

    `text` is stored cleaned (clean_search_text): capped and without duplicate words, for the
    search as for the shareable link.

    Time (carto.timeline): `start`/`end` keep the initiatives active in that period (None:
    unbounded; swapped when given in the wrong order); ended initiatives are left out unless
    `show_ended`. `today` is the day « ended » is judged on (None: today in France); it is
    not part of the link.
    """

    categories: tuple[str, ...] = ()
    arrondissements: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    text: str = ""
    start: date | None = None
    end: date | None = None
    show_ended: bool = False
    today: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", clean_search_text(self.text))
        if self.start is not None and self.end is not None and self.start > self.end:
            start, end = self.end, self.start
            object.__setattr__(self, "start", start)
            object.__setattr__(self, "end", end)

    @property
    def is_empty(self) -> bool:
        """The visitor chose nothing: the default view (ended initiatives hidden)."""
        return not (
            self.categories
            or self.arrondissements
            or self.communes
            or self.text
            or self.start
            or self.end
            or self.show_ended
        )

    @property
    def day(self) -> date:
        """The day « ended » is judged on."""
        return self.today or local_today()

    @property
    def view_key(self) -> tuple[tuple[str, ...], ...]:
        """Equal for views that show the same rows: values sorted, search terms normalised."""
        return (
            tuple(sorted(set(self.categories))),
            tuple(sorted(set(self.arrondissements))),
            tuple(sorted(set(self.communes))),
            search_terms(self.text),
            (
                self.start.isoformat() if self.start else "",
                self.end.isoformat() if self.end else "",
            ),
            ("terminees",) if self.show_ended else ("", self.day.isoformat()),
        )

    def to_query(self) -> dict[str, list[str] | str]:
        """Query parameters that reproduce this view (for a shareable link)."""
        params: dict[str, list[str] | str] = {}
        if self.categories:
            params[PARAM_CATEGORIES] = list(self.categories)
        if self.arrondissements:
            params[PARAM_ARRONDISSEMENTS] = list(self.arrondissements)
        if self.communes:
            params[PARAM_COMMUNES] = list(self.communes)
        if self.text:
            params[PARAM_TEXT] = self.text
        if self.start:
            params[PARAM_START] = self.start.isoformat()
        if self.end:
            params[PARAM_END] = self.end.isoformat()
        if self.show_ended:
            params[PARAM_ENDED] = "1"
        return params

    @classmethod
    def from_query(
        cls,
        params: Mapping[str, str | list[str]],
        *,
        known_categories: Iterable[str] = tuple(c.slug for c in CATEGORIES),
        known_arrondissements: Iterable[str] = (),
        known_communes: Iterable[str] = (),
    ) -> FilterSpec:
        """Parse query parameters, dropping values that are not known (a link may be stale)."""

        def values(name: str, known: Iterable[str]) -> tuple[str, ...]:
            raw = params.get(name, [])
            items = [raw] if isinstance(raw, str) else list(raw)
            allowed = set(known)
            split = [part for item in items for part in str(item).split(",") if part]
            return tuple(dict.fromkeys(v for v in split if not allowed or v in allowed))

        def first(name: str) -> str:
            raw = params.get(name, "")
            return str(raw if isinstance(raw, str) else (raw[0] if raw else ""))

        return cls(
            categories=values(PARAM_CATEGORIES, known_categories),
            arrondissements=values(PARAM_ARRONDISSEMENTS, known_arrondissements),
            communes=values(PARAM_COMMUNES, known_communes),
            text=first(PARAM_TEXT),
            start=query_day(first(PARAM_START)),
            end=query_day(first(PARAM_END)),
            show_ended=first(PARAM_ENDED).strip().lower() in _YES,
        )


def query_day(text: str) -> date | None:
    """A day from a link (`2020-04-06`), None when absent or not a real day so written."""
    return parse_day(text)


# --- the period as a visitor types it ---------------------------------------------------------

# The days a visitor can type (the page's period fields, which are text fields: Enter applies
# them, which st.date_input 1.67 does not do).
DAY_HINT = "jj/mm/aaaa"
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2200, 1, 1)
_TYPED_DAY = re.compile(r"(\d{1,2})\s*[/.\-\s]\s*(\d{1,2})\s*[/.\-\s]\s*(\d{4})")
_TYPED_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def typed_day(text: str) -> date | None:
    """The day a visitor typed: « 06/04/2020 », « 6/4/2020 », « 06.04.2020 », « 06-04-2020 »
    or « 2020-04-06 »; None when the field is empty.

    Raises ValueError, with a French message for the visitor, for anything else (not a day,
    a day that does not exist, or outside FIRST_DAY–LAST_DAY).
    """
    cleaned = " ".join(str(text).split())
    if not cleaned:
        return None
    french = _TYPED_DAY.fullmatch(cleaned)
    iso = _TYPED_ISO_DAY.fullmatch(cleaned)
    try:
        if french:
            day = date(int(french[3]), int(french[2]), int(french[1]))
        elif iso:
            day = date(int(iso[1]), int(iso[2]), int(iso[3]))
        else:
            raise ValueError(cleaned)
    except ValueError:
        raise ValueError(
            f"« {cleaned[:40]} » n'est pas une date : écrivez-la {DAY_HINT}, par exemple "
            "06/04/2020."
        ) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(
            f"« {cleaned[:40]} » : choisissez une date entre {FIRST_DAY:%d/%m/%Y} et "
            f"{LAST_DAY:%d/%m/%Y}."
        )
    return day


def day_text(day: date | None) -> str:
    """A day as the period fields show it (« 06/04/2020 »), "" for none."""
    return "" if day is None else day.strftime("%d/%m/%Y")


def _folded_cells(column: pd.Series) -> np.ndarray:
    """`fold` of each cell as text ("" when missing); each distinct value is folded once."""
    codes, distinct = pd.factorize(column.fillna("").astype("str"))
    return np.array([fold(value) for value in distinct], dtype=object)[codes]


def search_index(table: pd.DataFrame) -> pd.Series:
    """One folded string per row over the searched columns; build it once per dataset.

    Folded by `carto.text.fold`, the rule the query goes through too, so that « oeufs » finds
    « œufs » and the reverse. The strings are kept in one Arrow buffer rather than as 50,000
    Python objects.
    """
    present = [c for c in SEARCHED_COLUMNS if c in table.columns]
    if not present or table.empty:
        return pd.Series([""] * len(table), index=table.index, dtype="object")
    # Folding "a b" gives the folds of "a" and "b" joined by a space, so cells are folded apart.
    joined = _folded_cells(table[present[0]])
    for column in present[1:]:
        joined = joined + " " + _folded_cells(table[column])
    return pd.Series(joined, index=table.index, dtype=pd.ArrowDtype(pa.string()))


# The table column each list filter of FilterSpec constrains.
FILTER_COLUMNS = {
    "categories": "categorie",
    "arrondissements": "arrondissement_code",
    "communes": "code_insee",
}


# Columns whose values an area initiative holds besides its own (its commune's): the
# arrondissements and communes of its zone (carto.zones), space-separated.
ZONE_MEMBERS = {
    "arrondissement_code": "zone_arrondissements",
    "code_insee": "zone_communes",
}


def memberships(table: pd.DataFrame, column: str) -> pd.Series:
    """The values of `column` each row counts in, as tuples: its own value, and for an area
    initiative every arrondissement (`arrondissement_code`) or commune (`code_insee`) its zone
    covers. Other columns: the own value alone. Missing values are left out."""
    own = table[column].fillna("").astype(str) if column in table.columns else None
    if own is None:
        return pd.Series([()] * len(table), index=table.index, dtype=object)
    extra = ZONE_MEMBERS.get(column)
    zones = (
        table[extra].fillna("").astype(str)
        if extra and extra in table.columns
        else pd.Series("", index=table.index)
    )
    return pd.Series(
        [
            tuple(dict.fromkeys(v for v in (mine, *zone.split()) if v))
            for mine, zone in zip(own.tolist(), zones.tolist(), strict=True)
        ],
        index=table.index,
        dtype=object,
    )


def _member_mask(table: pd.DataFrame, column: str, values: Iterable[str]) -> pd.Series:
    """Rows that count in any of `values` of `column` (see memberships)."""
    chosen = set(values)
    mask = table[column].isin(chosen)
    extra = ZONE_MEMBERS.get(column)
    if not extra or extra not in table.columns:
        return mask
    zones = table[extra].fillna("").astype(str)
    areas = zones != ""
    if areas.any():
        # Only the few area initiatives go through Python; points stay vectorised.
        covered = zones[areas].map(lambda text: not chosen.isdisjoint(text.split()))
        mask = mask | covered.reindex(table.index, fill_value=False).astype(bool)
    return mask


def _masks(
    table: pd.DataFrame, spec: FilterSpec, *, index: pd.Series | None
) -> dict[str, pd.Series]:
    """One boolean mask per active filter of `spec`, by the column it constrains ("" for text)."""
    masks: dict[str, pd.Series] = {}
    for field, column in FILTER_COLUMNS.items():
        values = getattr(spec, field)
        if values:
            masks[column] = _member_mask(table, column, values)
    if spec.start is not None or spec.end is not None:
        masks["période"] = period_mask(table, spec.start, spec.end)
    if not spec.show_ended:
        ended = ended_mask(table, spec.day)
        if ended.any():
            masks["terminées"] = ~ended
    terms = search_terms(spec.text)
    if terms:
        haystack = search_index(table) if index is None else index
        text = pd.Series(True, index=table.index)
        for term in terms:
            text &= haystack.str.contains(term, regex=False).astype(bool)
        masks[""] = text
    return masks


def _combined(table: pd.DataFrame, masks: Iterable[pd.Series]) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for part in masks:
        mask &= part
    return mask


def filter_mask(
    table: pd.DataFrame, spec: FilterSpec, *, index: pd.Series | None = None
) -> pd.Series:
    """Boolean mask of the rows matching `spec`. All terms of the free text must appear."""
    return _combined(table, _masks(table, spec, index=index).values())


def apply_filters(
    table: pd.DataFrame, spec: FilterSpec, *, index: pd.Series | None = None
) -> pd.DataFrame:
    """The rows of `table` that match `spec`, in their original order (the table itself when
    nothing is left out)."""
    masks = _masks(table, spec, index=index)
    if not masks:
        return table
    return table[_combined(table, masks.values())]


def facet_counts(
    table: pd.DataFrame,
    column: str,
    spec: FilterSpec | None = None,
    *,
    index: pd.Series | None = None,
) -> dict[str, int]:
    """How many rows carry each value of `column` (for labels such as "Arras (4)").

    Faceted: only the rows matching every filter of `spec` but the one on `column` itself are
    counted, so each count is what choosing that value would add to the current view (the
    categories are counted within the chosen arrondissements and search, and the reverse).
    """
    return facets(table, spec or FilterSpec(), (column,), index=index)[column]


def facets(
    table: pd.DataFrame,
    spec: FilterSpec,
    columns: Iterable[str],
    *,
    index: pd.Series | None = None,
) -> dict[str, dict[str, int]]:
    """facet_counts of several columns, each filter (the search above all) evaluated once."""
    masks = _masks(table, spec, index=index) if not table.empty else {}
    counted: dict[str, dict[str, int]] = {}
    for column in columns:
        if column not in table.columns or table.empty:
            counted[column] = {}
            continue
        others = [mask for on, mask in masks.items() if on != column]
        rows = table[_combined(table, others)] if others else table
        counts = rows[column].fillna("").astype(str).value_counts()
        found = {str(k): int(v) for k, v in counts.items() if k}
        extra = ZONE_MEMBERS.get(column)
        if extra and extra in rows.columns:
            # An area initiative counts once in each arrondissement or commune it covers; only
            # the area rows go through Python.
            areas = rows[rows[extra].fillna("").astype(str) != ""]
            for own, covered in zip(
                areas[column].fillna("").astype(str), memberships(areas, column), strict=True
            ):
                for value in covered:
                    if value != own:
                        found[value] = found.get(value, 0) + 1
        counted[column] = found
    return counted


# --- what a commune filter says -----------------------------------------------------------------

NEAREST_SHOWN = 3
_KM_PER_DEGREE_LAT = 110.574
_KM_PER_DEGREE_LON = 111.32


@dataclass(frozen=True)
class Nearby:
    """An initiative near a commune that has none: its id, name, commune and distance."""

    id: str
    nom: str
    commune: str
    km: float

    @property
    def text(self) -> str:
        """« Nom (Commune), à 12 km »."""
        where = f" ({self.commune})" if self.commune else ""
        distance = "à moins de 1 km" if self.km < 1 else f"à {round(self.km)} km"
        return f"{self.nom}{where}, {distance}"


@dataclass(frozen=True)
class CommuneNote:
    """What the view says about a chosen commune that has no initiative of its own.

    `zones`: the area initiatives covering it (carto.zones) that the view shows for it;
    `nearest`: when it has none at all, the closest initiatives, by distance from its centre.
    """

    code: str
    name: str
    zones: int
    nearest: tuple[Nearby, ...] = ()

    @property
    def text(self) -> str:
        if self.zones:
            if self.zones == 1:
                return f"1 initiative couvre {self.name} (zone)"
            return f"{self.zones} initiatives couvrent {self.name} (zones)"
        return f"Aucune initiative à {self.name} pour l'instant"


def commune_notes(
    table: pd.DataFrame,
    spec: FilterSpec,
    names: Mapping[str, str],
    centres: Mapping[str, tuple[float, float]],
    *,
    index: pd.Series | None = None,
    nearest: int = NEAREST_SHOWN,
) -> list[CommuneNote]:
    """A note for each commune of `spec` that no initiative is placed in, in the spec's order.

    The other filters apply (category, period, search…): a commune covered by area
    initiatives only gets their count; one with none at all gets the `nearest` closest
    initiatives that the other filters keep, with their distance from the commune's centre
    (`centres`: code → (latitude, longitude)) in km. `names` gives the communes' names.
    """
    if not spec.communes:
        return []
    rows = apply_filters(table, replace(spec, communes=()), index=index)
    own = rows["code_insee"].fillna("").astype(str) if "code_insee" in rows.columns else None
    covered = memberships(rows, "code_insee")
    notes: list[CommuneNote] = []
    for code in spec.communes:
        if own is not None and bool((own == code).any()):
            continue
        zones = int(sum(1 for values in covered if code in values))
        name = names.get(code, code)
        close: tuple[Nearby, ...] = ()
        if not zones and code in centres:
            close = _nearest(rows, centres[code], nearest)
        notes.append(CommuneNote(code, name, zones, close))
    return notes


def _nearest(rows: pd.DataFrame, centre: tuple[float, float], count: int) -> tuple[Nearby, ...]:
    """The `count` placed rows closest to `centre` (equirectangular km, as carto.gazetteer)."""
    if count <= 0 or rows.empty or "latitude" not in rows.columns:
        return ()
    placed = rows[rows["latitude"].notna() & rows["longitude"].notna()]
    if placed.empty:
        return ()
    lat, lon = centre
    kx = _KM_PER_DEGREE_LON * np.cos(np.radians(lat))
    dx = (placed["longitude"].astype(float).to_numpy() - lon) * kx
    dy = (placed["latitude"].astype(float).to_numpy() - lat) * _KM_PER_DEGREE_LAT
    km = np.hypot(dx, dy)
    order = np.argsort(km, kind="stable")[:count]
    return tuple(
        Nearby(
            id=str(placed["id"].iloc[i]),
            nom=str(placed["nom"].iloc[i]),
            commune=str(placed["commune"].iloc[i]) if pd.notna(placed["commune"].iloc[i]) else "",
            km=float(km[i]),
        )
        for i in order
    )
