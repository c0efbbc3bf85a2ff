"""The editors' flow, shared by the import page and `carto import`: plan, review, publish."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from carto.config import Settings
from carto.errors import CartoError, InvalidImport
from carto.gazetteer import Gazetteer
from carto.intake.pipeline import ALL_COLUMNS, LoadedTable, load
from carto.models import Issue
from carto.publishing.diffing import (
    TableDiff,
    diff_tables,
    find_id_conflicts,
    keep_published_geocoding,
    merge_tables,
)
from carto.publishing.modes import IMPORT_MODES, PublishMode
from carto.publishing.storage import Store, VersionInfo


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


CURRENT: Literal["current"] = "current"


def plan_import(
    loaded: LoadedTable,
    store: Store,
    *,
    mode: PublishMode | str = PublishMode.REPLACE,
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
    incoming = loaded.table[list(ALL_COLUMNS)]
    if mode is PublishMode.MERGE:
        result = merge_tables(published, incoming, supplied=loaded.file_columns)
    else:
        result = keep_published_geocoding(published, incoming)
    conflicts = find_id_conflicts(published, incoming, row_numbers=loaded.row_numbers)
    return ImportPlan(
        loaded=loaded,
        mode=mode,
        base=base,
        result=result,
        diff=diff_tables(published, result),
        conflicts=tuple(conflicts),
    )


def publish_plan(plan: ImportPlan, store: Store, *, author: str, note: str = "") -> VersionInfo:
    """Publish in one transaction; refuses files with errors and stale bases (ConflictError)."""
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
    return store.publish(
        plan.result,
        author=author,
        note=note,
        base_version=plan.base.number if plan.base else None,
        mode=plan.mode,
    )


def open_store(cfg: Settings, gazetteer: Gazetteer) -> Store:
    """Open the configured store and, when it is empty and writable, fill it from CARTO_DATA."""
    store = Store.open(cfg.database_url)
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
