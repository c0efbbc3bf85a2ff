"""The editors' flow, shared by the import page and `carto import`: plan, review, publish."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from carto.config import Settings
from carto.errors import CartoError, InvalidImport, NothingToPublish
from carto.fields import label
from carto.gazetteer import Gazetteer
from carto.intake.pipeline import ALL_COLUMNS, LoadedTable, load
from carto.models import Issue
from carto.publishing.diffing import (
    TableDiff,
    diff_tables,
    find_id_conflicts,
    inherit_ids,
    keep_published_geocoding,
    merge_tables,
    row_key,
)
from carto.publishing.modes import (
    IMPORT_MODES,
    REMOVAL_CONFIRMATION_SHARE,
    REMOVAL_CONFIRMATION_TEXT,
    PublishMode,
)
from carto.publishing.storage import NOTHING_TO_PUBLISH, Store, VersionInfo
from carto.text import cell_text


@dataclass(frozen=True)
class ImportPlan:
    """What publishing `loaded` would do to the store, computed against one base version.

    `conflicts`: errors found against that version (an id that is another initiative's), to
    show with the review; while there are any, nothing may be published.
    """

    loaded: LoadedTable
    mode: PublishMode
    base: VersionInfo | None
    result: pd.DataFrame
    diff: TableDiff
    conflicts: tuple[Issue, ...] = ()

    @property
    def publishable(self) -> bool:
        return self.loaded.ok and not self.conflicts and len(self.result) > 0

    @property
    def published_count(self) -> int:
        """Initiatives in the base version (0 when nothing is published)."""
        return self.base.row_count if self.base else 0

    @property
    def needs_removal_confirmation(self) -> bool:
        """Whether this publication removes more than REMOVAL_CONFIRMATION_SHARE of the
        published initiatives, and must be confirmed with their number."""
        removed = self.diff.removed_count
        return removed > 0 and removed > REMOVAL_CONFIRMATION_SHARE * self.published_count

    @property
    def removal_confirmation_text(self) -> str:
        """« Je confirme la suppression de 16 initiatives sur 18 »."""
        return (
            f"Je confirme la suppression de {self.diff.removed_count} initiative(s) "
            f"sur {self.published_count}"
        )

    @functools.cached_property
    def file_lines(self) -> dict[str, int]:
        """Spreadsheet line of each imported row, by diffing.row_key (its id, else « nom —
        commune »): a RowChange's own `line` is its position in the compared table, which
        is not the file's line after a merge or with rows left out."""
        records = self.loaded.table.to_dict(orient="records")
        lines: dict[str, int] = {}
        for record, line in zip(records, self.loaded.row_numbers, strict=False):
            lines.setdefault(row_key({str(k): v for k, v in record.items()}), line)
        return lines

    def change_lines(self, *, limit: int = 20) -> list[str]:
        """Each changed field before and after, for the command line:
        « ligne 3, Roquette — Description : « … » → « … » »."""
        lines = [
            f"ligne {self.file_lines.get(change.key, '?')}, {change.nom} — {label(f.column)} : "
            f"« {cell_text(f.old)} » → « {cell_text(f.new)} »"
            for change in self.diff.changed[:limit]
            for f in change.fields
        ]
        if self.diff.changed_count > limit:
            lines.append(
                f"… et {self.diff.changed_count - limit} autre(s) initiative(s) modifiée(s)"
            )
        return lines

    def check_removals(self, confirmed_removals: int | None) -> None:
        """Raise InvalidImport unless the removals are small or confirmed with their number."""
        if not self.needs_removal_confirmation or confirmed_removals == self.diff.removed_count:
            return
        removed, total = self.diff.removed_count, self.published_count
        raise InvalidImport(
            f"Cette publication retirerait {removed} initiative(s) sur {total} publiées "
            f"(plus de {REMOVAL_CONFIRMATION_TEXT}) : rien n'a été publié. Vérifiez le mode "
            "(la fusion garde les initiatives absentes du fichier) ou confirmez en indiquant "
            "ce nombre "
            f"(--confirmer-suppressions {removed})."
        )


CURRENT: Literal["current"] = "current"


def plan_import(
    loaded: LoadedTable,
    store: Store,
    *,
    mode: PublishMode | str = PublishMode.MERGE,
    base_version: int | None | Literal["current"] = CURRENT,
) -> ImportPlan:
    """Diff the incoming table against a base version (the current one by default); merge if
    asked. A page pins the base it showed the editor, so that publishing after someone else
    did is refused instead of silently overwriting their version."""
    if mode not in IMPORT_MODES:
        raise CartoError(f"Mode « {mode} » inconnu : choisissez {' ou '.join(IMPORT_MODES)}.")
    mode = PublishMode(mode)
    if base_version is None:
        base = None
    elif isinstance(base_version, str):
        base = store.current()
    else:
        base = store.version(base_version)
        if base is None:
            raise CartoError(f"La version {base_version} n'existe pas.")
    published = store.load(base.number) if base else pd.DataFrame(columns=list(ALL_COLUMNS))
    # A row without id that is a published initiative takes its id, so that replacing keeps
    # its links; one that could be two of them stops the import.
    incoming, ambiguous = inherit_ids(
        published, loaded.table[list(ALL_COLUMNS)], row_numbers=loaded.row_numbers
    )
    if mode is PublishMode.MERGE:
        result = merge_tables(published, incoming, supplied=loaded.file_columns)
    else:
        result = keep_published_geocoding(published, incoming)
    conflicts = ambiguous + find_id_conflicts(published, incoming, row_numbers=loaded.row_numbers)
    return ImportPlan(
        loaded=loaded,
        mode=mode,
        base=base,
        result=result,
        diff=diff_tables(published, result),
        conflicts=tuple(conflicts),
    )


def publish_plan(
    plan: ImportPlan,
    store: Store,
    *,
    author: str,
    note: str = "",
    confirmed_removals: int | None = None,
) -> VersionInfo:
    """Publish in one transaction; refuses files with errors and stale bases (ConflictError),
    and large removals not confirmed with their number (`confirmed_removals`)."""
    if not plan.loaded.ok:
        raise InvalidImport(
            f"Le fichier contient {len(plan.loaded.errors)} erreur(s) : rien n'a été publié."
        )
    if plan.conflicts:
        raise InvalidImport(
            "\n".join(
                [
                    f"{len(plan.conflicts)} conflit(s) d'identifiant avec la version en ligne : "
                    "rien n'a été publié.",
                    *(str(issue) for issue in plan.conflicts),
                ]
            )
        )
    if not len(plan.result):
        raise InvalidImport("Le fichier ne contient aucune initiative : rien n'a été publié.")
    if plan.base is not None and plan.diff.is_empty:
        raise NothingToPublish(NOTHING_TO_PUBLISH)
    plan.check_removals(confirmed_removals)
    return store.publish(
        plan.result,
        author=author,
        note=note,
        base_version=plan.base.number if plan.base else None,
        mode=plan.mode,
    )


def open_store(cfg: Settings, gazetteer: Gazetteer) -> Store:
    """Open the configured store and, when it is empty and writable, fill it from CARTO_DATA."""
    store = Store.open(**cfg.store_options())
    if not store.read_only and store.current() is None and cfg.data_path.is_file():
        loaded = load(cfg.data_path, gazetteer=gazetteer, settings=cfg)
        # Rows with errors are left out: the operator sees them with `carto validate`.
        store.bootstrap_from(
            loaded.clean_rows()[list(ALL_COLUMNS)],
            note=f"Import initial de {cfg.data_path.name}",
        )
    if cfg.site_dir is not None:
        # Imported here: the public site builds on the map module, above publishing.
        from carto.site.build import site_rebuilder

        store.on_change(site_rebuilder(cfg))
    return store
