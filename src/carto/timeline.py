"""Initiatives over time: ended, active in a period, « Nouveau », « Nouveautés », « à vérifier ».

The rules (also in docs/schema.md, « Le temps des initiatives », and mirrored by the static
site, carto.site):

- **ended** on day `today`: `statut` is « terminée », or `date_fin` is before `today` (an
  initiative still runs on its `date_fin`, its last day).
- **active in a period** [start, end] (either bound may be None, unbounded): the initiative's
  [date_debut, date_fin] overlaps it. A missing date is open-ended: no `date_debut` means
  « since always », no `date_fin` « still running ».
- **Nouveau**: in the current version, and never in any earlier version (matched as
  carto.publishing.diffing matches rows: by `id`, else by folded nom + commune). A visitor
  reads « Nouveau » as « I could not see this before »: a rollback, or putting back a removed
  initiative, brings nothing new, and the first version (nothing before it) has nothing new.
- **Nouveautés**: for each publication, what it added (first seen), put back (seen before),
  changed, ended (its `statut` became « terminée » or its `date_fin` became past on the day of
  the publication) and removed, compared with the version before it (diffing.diff_tables).
  A rollback to version N withdraws the publications after N: they leave the list, and the
  rollback's own entry lists what they had added as « retirée ».
- **à vérifier** (editors): `date_fin` past while `statut` is not « terminée »; `statut` « à
  vérifier »; or the last check (`verifie_le`, else `date_publication`) older than N weeks, or
  unknown.

Dates are stored as ISO text (`YYYY-MM-DD`, see intake.validation), so they compare as text.
No streamlit here: the pages, the CLI and the tests call the same functions.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from carto.fields import (
    DERIVED_COLUMNS,
    STATUT_A_VERIFIER,
    STATUT_LABELS,
    STATUT_TERMINEE,
)
from carto.identity import name_key, row_id, row_key
from carto.publishing.diffing import diff_tables, without_identical_rows
from carto.publishing.modes import PublishMode
from carto.publishing.storage import LOCAL_TZ
from carto.text import cell_text, fold_key

if TYPE_CHECKING:
    from carto.publishing.storage import Store, VersionInfo

# The préfecture's day: « today » and publication times are read in France.
# Columns whose change is not news for visitors: computed by geocoding, or editors' own.
_NOT_NEWS = frozenset(DERIVED_COLUMNS) | {"verifie_le"}
# How many names a Nouveautés line lists before « et N autres ».
NEWS_NAMES_SHOWN = 8


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def local_today() -> date:
    """Today in France (the reference day of the public map)."""
    return datetime.now(LOCAL_TZ).date()


def parse_day(value: object) -> date | None:
    """A day written `2020-04-06` as a date, None when missing or anything else (site.js
    `fromIsoDay` reads days the same way)."""
    text = cell_text(value).strip()
    if not _ISO_DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _text(table: pd.DataFrame, column: str) -> pd.Series:
    """A column as stripped text ("" when missing; all "" when the table lacks it)."""
    if column not in table.columns:
        return pd.Series("", index=table.index, dtype=object)
    values = table[column]
    if not pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        values = values.map(cell_text)  # numbers, dates: as cell_text writes them
    return values.fillna("").astype(str).str.strip()


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in table.to_dict(orient="records")]


# --- one initiative ------------------------------------------------------------------------------


def is_ended(row: Mapping[str, Any], today: date) -> bool:
    """Whether the initiative is over on `today` (statut « terminée », or date_fin before)."""
    if cell_text(row.get("statut")).strip() == STATUT_TERMINEE:
        return True
    end = cell_text(row.get("date_fin")).strip()
    return bool(end) and end < today.isoformat()


def is_active_in(row: Mapping[str, Any], start: date | None, end: date | None) -> bool:
    """Whether [date_debut, date_fin] overlaps [start, end]; missing dates are open-ended."""
    begins = cell_text(row.get("date_debut")).strip()
    ends = cell_text(row.get("date_fin")).strip()
    if begins and end is not None and begins > end.isoformat():
        return False
    return not (ends and start is not None and ends < start.isoformat())


def ended_mask(table: pd.DataFrame, today: date) -> pd.Series:
    """`is_ended` of every row, vectorised."""
    if "statut" not in table.columns and "date_fin" not in table.columns:
        return pd.Series(False, index=table.index, dtype=bool)
    end = _text(table, "date_fin")
    return (
        (_text(table, "statut") == STATUT_TERMINEE) | ((end != "") & (end < today.isoformat()))
    ).astype(bool)


def period_mask(table: pd.DataFrame, start: date | None, end: date | None) -> pd.Series:
    """`is_active_in` of every row, vectorised."""
    mask = pd.Series(True, index=table.index, dtype=bool)
    if end is not None and "date_debut" in table.columns:
        begins = _text(table, "date_debut")
        mask &= (begins == "") | (begins <= end.isoformat())
    if start is not None and "date_fin" in table.columns:
        ends = _text(table, "date_fin")
        mask &= (ends == "") | (ends >= start.isoformat())
    return mask.astype(bool)


def statut_label(row: Mapping[str, Any], today: date) -> str:
    """What the detail panel says of the initiative's state (« Terminée », « En cours »...)."""
    statut = cell_text(row.get("statut")).strip()
    if is_ended(row, today):
        return STATUT_LABELS[STATUT_TERMINEE]
    return STATUT_LABELS.get(statut, "")


def _french_day(text: str) -> str:
    day = parse_day(text)
    return f"{day:%d/%m/%Y}" if day else text


def period_text(row: Mapping[str, Any]) -> str:
    """« du 23/03/2020 au 11/05/2020 », « depuis le 23/03/2020 », « jusqu'au … » or ""."""
    begins = _french_day(cell_text(row.get("date_debut")).strip())
    ends = _french_day(cell_text(row.get("date_fin")).strip())
    if begins and ends:
        return f"du {begins} au {ends}"
    if begins:
        return f"depuis le {begins}"
    if ends:
        return f"jusqu’au {ends}"
    return ""


# --- Nouveau and Nouveautés ----------------------------------------------------------------------


class _Seen:
    """The initiatives of every version met so far, matched as diffing matches rows: by id, or
    by folded nom + commune unless both rows carry different ids."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.names: dict[tuple[str, str], set[str]] = {}

    @staticmethod
    def _keys(row: Mapping[str, Any]) -> tuple[str, tuple[str, str]]:
        return row_id(row), name_key(row)

    def knows(self, row: Mapping[str, Any]) -> bool:
        rid, name = self._keys(row)
        if rid and rid in self.ids:
            return True
        ids = self.names.get(name)
        return ids is not None and (not rid or "" in ids)

    def add(self, table: pd.DataFrame) -> None:
        ids = _text(table, "id").tolist()
        noms = table["nom"].map(cell_text).map(fold_key).tolist() if "nom" in table else []
        communes = _text(table, "commune").map(fold_key).tolist()
        for rid, nom, commune in zip(ids, noms, communes, strict=False):
            if rid:
                self.ids.add(rid)
            self.names.setdefault((nom, commune), set()).add(rid)


def _name(row: Mapping[str, Any]) -> str:
    nom = cell_text(row.get("nom")).strip()
    commune = cell_text(row.get("commune")).strip()
    return f"{nom} ({commune})" if commune else nom


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


@dataclass(frozen=True)
class VersionNews:
    """What one publication brought, compared with the version before it (names in French)."""

    number: int
    created_at: datetime
    author: str
    note: str
    mode: PublishMode
    rolled_back_from: int | None = None
    added: tuple[str, ...] = ()
    # diffing.row_key of each added row (its id, else « nom — commune »): see nouveau_mask.
    added_keys: frozenset[str] = field(default=frozenset())
    back: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    ended: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.back or self.changed or self.ended or self.removed)

    def title_fr(self) -> str:
        """« Publication du 06/12/2026 à 21:05 », in French time."""
        local = self.created_at.astimezone(LOCAL_TZ)
        return f"Publication du {local:%d/%m/%Y} à {local:%H:%M}"

    def lines_fr(self) -> list[str]:
        """One French line per kind of change, e.g. « 2 initiatives ajoutées : A (Arras), … »."""
        lines = []
        if self.mode == PublishMode.ROLLBACK and self.rolled_back_from is not None:
            lines.append(f"Retour au contenu de la version {self.rolled_back_from}.")
        for names, one, many in (
            (self.added, "initiative ajoutée", "initiatives ajoutées"),
            (self.back, "initiative remise en ligne", "initiatives remises en ligne"),
            (self.changed, "initiative modifiée", "initiatives modifiées"),
            (self.ended, "initiative terminée", "initiatives terminées"),
            (self.removed, "initiative retirée", "initiatives retirées"),
        ):
            if not names:
                continue
            shown = ", ".join(names[:NEWS_NAMES_SHOWN])
            more = len(names) - NEWS_NAMES_SHOWN
            if more > 0:
                shown += f" et {_plural(more, 'autre')}"
            lines.append(f"{len(names)} {one if len(names) == 1 else many} : {shown}.")
        if self.mode == PublishMode.INITIAL:
            lines.insert(0, "Première publication de la carte.")
        elif not lines:
            lines.append("Aucun changement visible sur la carte.")
        return lines


def _news_of(
    info: VersionInfo, previous: pd.DataFrame | None, table: pd.DataFrame, seen: _Seen
) -> VersionNews:
    """The news of version `info` (rows `table`), after `previous`; adds its rows to `seen`."""
    news, fresh = _compare(info, previous, table, seen)
    seen.add(fresh)
    return news


def _compare(
    info: VersionInfo, previous: pd.DataFrame | None, table: pd.DataFrame, seen: _Seen
) -> tuple[VersionNews, pd.DataFrame]:
    """The news, and the rows of `table` that are not identical to a row of `previous`."""
    base = VersionNews(
        number=info.number,
        created_at=info.created_at,
        author=info.author,
        note=info.note,
        mode=info.mode,
        rolled_back_from=info.rolled_back_from,
    )
    if previous is None:
        # The first version: the map starts here, nothing in it is « new ».
        return base, table
    day = info.created_at.astimezone(LOCAL_TZ).date()
    previous, table = without_identical_rows(previous, table)
    diff = diff_tables(previous, table)
    added = [row for row in diff.added if not seen.knows(row)]
    back = [row for row in diff.added if seen.knows(row)]
    rows_by_key = {row_key(r): r for r in _records(table)}
    changed: list[str] = []
    ended: list[str] = []
    for change in diff.changed:
        row = rows_by_key.get(change.key, {})
        before = dict(row)
        for f in change.fields:
            before[f.column] = f.old
        if is_ended(row, day) and not is_ended(before, day):
            ended.append(_name(row))
        elif any(f.column not in _NOT_NEWS for f in change.fields):
            changed.append(_name(row))
    news = replace(
        base,
        added=tuple(_name(r) for r in added),
        added_keys=frozenset(row_key(r) for r in added),
        back=tuple(_name(r) for r in back),
        changed=tuple(changed),
        ended=tuple(ended),
        removed=tuple(_name(r) for r in diff.removed),
    )
    return news, table


class NewsHistory:
    """The Nouveautés of one store, computed once per version (versions are immutable).

    Keep one per store (the dashboard keeps one per process): each new publication costs one
    `Store.load` and one diff, older versions are never read again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._news: list[VersionNews] = []  # oldest first
        self._checksums: list[str] = []
        self._seen = _Seen()
        self._last: pd.DataFrame | None = None

    def news(self, store: Store) -> list[VersionNews]:
        """Every publication's news, newest first."""
        versions = list(reversed(store.versions()))  # oldest first
        with self._lock:
            known = [v.checksum for v in versions[: len(self._checksums)]]
            if known != self._checksums:  # another store behind the same key: start again
                self.__init__()  # type: ignore[misc]
            for info in versions[len(self._news) :]:
                table = store.load(info.number)
                self._news.append(_news_of(info, self._last, table, self._seen))
                self._checksums.append(info.checksum)
                self._last = table
            withdrawn = withdrawn_versions(versions)
            return [news for news in reversed(self._news) if news.number not in withdrawn]


def withdrawn_versions(versions: Iterable[VersionInfo]) -> frozenset[int]:
    """The versions a later rollback withdrew: a rollback to N withdraws N+1 up to itself.
    Their news is no longer the map's: what they added is gone (the rollback's own news says
    « retirée »), so the public « Nouveautés » leave them out."""
    withdrawn: set[int] = set()
    for info in versions:
        if info.mode == PublishMode.ROLLBACK and info.rolled_back_from is not None:
            withdrawn.update(range(info.rolled_back_from + 1, info.number))
    return frozenset(withdrawn)


def publication_news(store: Store, *, history: NewsHistory | None = None) -> list[VersionNews]:
    """Nouveautés of every publication, newest first (give `history` to reuse earlier work)."""
    return (history or NewsHistory()).news(store)


def nouveau_mask(
    table: pd.DataFrame, news: Iterable[VersionNews] | VersionNews | None
) -> pd.Series:
    """Rows of `table` (the current version) that its publication added (« Nouveau »).

    `news`: the current version's VersionNews, or the list publication_news gives (newest
    first).
    """
    latest = news if isinstance(news, VersionNews) or news is None else next(iter(news), None)
    if latest is None or not latest.added_keys or table.empty:
        return pd.Series(False, index=table.index, dtype=bool)
    # diffing.row_key, vectorised: the id, else « nom — commune » (or the nom alone).
    ids = _text(table, "id")
    nom, commune = _text(table, "nom"), _text(table, "commune")  # stored text is stripped
    named = nom.where(commune == "", nom + " — " + commune)
    keys = ids.where(ids != "", named)
    return keys.isin(latest.added_keys).astype(bool)


def new_ids(
    table: pd.DataFrame, news: Iterable[VersionNews], version: VersionInfo | None
) -> frozenset[str]:
    """Ids of the initiatives of `table` (version `version`; None: the latest news) that its
    publication added: what « Nouveau » marks on the dashboard, the markers and the site."""
    listed = list(news)
    if version is None:
        latest = listed[0] if listed else None
    else:
        latest = next((n for n in listed if n.number == version.number), None)
    if latest is None or not latest.added_keys:
        return frozenset()
    ids = _text(table, "id")[nouveau_mask(table, latest)]
    return frozenset(rid for rid in ids if rid)


# --- à vérifier ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewItem:
    """One initiative editors should check, and why (French)."""

    id: str
    nom: str
    commune: str
    statut: str
    date_fin: str
    last_checked: str
    reasons: tuple[str, ...]


def review_due(table: pd.DataFrame, *, today: date, weeks: int) -> list[ReviewItem]:
    """Initiatives to check: date_fin past while not « terminée », statut « à vérifier », or
    last checked (verifie_le, else date_publication) more than `weeks` weeks before `today`
    or never. Oldest check first."""
    limit = today - timedelta(weeks=weeks)
    found: list[tuple[date, ReviewItem]] = []
    for row in _records(table):
        statut = cell_text(row.get("statut")).strip()
        end = cell_text(row.get("date_fin")).strip()
        checked = cell_text(row.get("verifie_le")).strip()
        published = cell_text(row.get("date_publication")).strip()
        last = parse_day(checked) or parse_day(published)
        reasons = []
        if end and end < today.isoformat() and statut != STATUT_TERMINEE:
            reasons.append(f"date de fin passée ({_french_day(end)}) sans statut « terminée »")
        if statut == STATUT_A_VERIFIER:
            reasons.append("statut « à vérifier »")
        if statut != STATUT_TERMINEE:
            if last is None:
                reasons.append("jamais vérifiée")
            elif last < limit and parse_day(checked):
                reasons.append(f"vérifiée le {last:%d/%m/%Y}, il y a plus de {weeks} semaines")
            elif last < limit:
                reasons.append(
                    f"jamais vérifiée depuis sa publication du {last:%d/%m/%Y} "
                    f"(plus de {weeks} semaines)"
                )
        if reasons:
            found.append(
                (
                    last or date.min,
                    ReviewItem(
                        id=cell_text(row.get("id")).strip(),
                        nom=cell_text(row.get("nom")).strip(),
                        commune=cell_text(row.get("commune")).strip(),
                        statut=STATUT_LABELS.get(statut, ""),
                        date_fin=_french_day(end),
                        last_checked=f"{last:%d/%m/%Y}" if last else "",
                        reasons=tuple(reasons),
                    ),
                )
            )
    found.sort(key=lambda pair: (pair[0], fold_key(pair[1].nom)))
    return [item for _, item in found]


def review_frame(items: Iterable[ReviewItem]) -> pd.DataFrame:
    """The « à vérifier » list as a table with French headings (page and CLI)."""
    rows = [
        {
            "Identifiant": i.id,
            "Nom": i.nom,
            "Commune": i.commune,
            "Statut": i.statut,
            "Date de fin": i.date_fin,
            "Dernière vérification": i.last_checked or "jamais",
            "Pourquoi": " ; ".join(i.reasons),
        }
        for i in items
    ]
    columns = [
        "Identifiant",
        "Nom",
        "Commune",
        "Statut",
        "Date de fin",
        "Dernière vérification",
        "Pourquoi",
    ]
    return pd.DataFrame(rows, columns=columns)
