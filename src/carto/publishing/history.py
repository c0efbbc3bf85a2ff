"""The history of published versions as editors read it, for the Publier page and `carto versions`:
date, author, note, French mode name, and what each version added, changed and removed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from carto.publishing.diffing import diff_tables, without_identical_rows
from carto.publishing.modes import history_mode_text
from carto.publishing.storage import LOCAL_TZ, Store, VersionInfo

# Versions whose changes are counted (a first count loads both versions: ~0.25 s each at 20,000
# rows; counts are then kept by checksums); older ones show their totals only.
COUNTED_VERSIONS = 10


@dataclass(frozen=True)
class VersionChanges:
    added: int
    changed: int
    removed: int

    def text(self) -> str:
        """« 2 ajoutées, 1 modifiée, 0 retirée »."""
        parts = ((self.added, "ajoutée"), (self.changed, "modifiée"), (self.removed, "retirée"))
        return ", ".join(f"{n} {word}{'s' if n > 1 else ''}" for n, word in parts)


@dataclass(frozen=True)
class HistoryEntry:
    """One published version, as listed for editors."""

    version: VersionInfo
    changes: VersionChanges | None  # None: not counted (first version, or too old)

    @property
    def mode_text(self) -> str:
        """« fusion », « remplacement », « version initiale », « retour à la version 3 »."""
        v = self.version
        return history_mode_text(v.mode, rolled_back_from=v.rolled_back_from)

    @property
    def date_text(self) -> str:
        return f"{self.version.created_at.astimezone(LOCAL_TZ):%d/%m/%Y %H:%M}"

    @property
    def counts_text(self) -> str:
        total = f"{self.version.row_count} initiative(s)"
        return f"{total} ({self.changes.text()})" if self.changes else total


def version_history(store: Store, *, counted: int = COUNTED_VERSIONS) -> list[HistoryEntry]:
    """Published versions, newest first, with the changes of the `counted` newest ones."""
    versions = store.versions()
    loaded: dict[int, pd.DataFrame] = {}  # each version read once, for its two comparisons

    def load(number: int) -> pd.DataFrame:
        if number not in loaded:
            if len(loaded) >= 2:  # newest first: the newest one kept is done with
                del loaded[max(loaded)]
            loaded[number] = store.load(number)
        return loaded[number]

    entries: list[HistoryEntry] = []
    for index, version in enumerate(versions):
        previous = versions[index + 1] if index + 1 < len(versions) else None
        changes = None
        if previous is not None and index < counted:
            changes = _changes(load, previous, version)
        entries.append(HistoryEntry(version, changes))
    return entries


def history_lines(entries: Sequence[HistoryEntry]) -> list[str]:
    """The history as `carto versions` prints it: the number first, the newest (online) version
    first and marked « * »."""
    return [
        f"{'*' if i == 0 else ' '} {e.version.number:>4}  {e.date_text} — "
        f"{e.version.author or '—'} — {e.mode_text} — {e.counts_text}"
        + (f" — « {e.version.note} »" if e.version.note else "")
        + f" — empreinte {e.version.checksum[:12]}"
        for i, e in enumerate(entries)
    ]


# Changes between two contents, by their checksums: a published content never changes.
_CHANGES: dict[tuple[str, str], VersionChanges] = {}
_CHANGES_KEPT = 512


def _changes(
    load: Callable[[int], pd.DataFrame], before: VersionInfo, after: VersionInfo
) -> VersionChanges:
    if before.checksum == after.checksum:
        return VersionChanges(0, 0, 0)
    key = (before.checksum, after.checksum)
    if key not in _CHANGES:
        if len(_CHANGES) >= _CHANGES_KEPT:
            _CHANGES.clear()
        _CHANGES[key] = count_changes(load(before.number), load(after.number))
    return _CHANGES[key]


def count_changes(old: pd.DataFrame, new: pd.DataFrame) -> VersionChanges:
    """What `new` added, changed and removed from `old`, as diffing.diff_tables counts it."""
    diff = diff_tables(*without_identical_rows(old, new))
    return VersionChanges(diff.added_count, diff.changed_count, diff.removed_count)
