"""Publish modes: how a version was made, and their French names, for storage, pages and CLI.

A module of its own, without pandas or SQLAlchemy, so that `carto --help` stays quick.
"""

from __future__ import annotations

from enum import StrEnum


class PublishMode(StrEnum):
    """How a version was made, as recorded in versions.mode (the command line's --mode)."""

    INITIAL = "initial"  # the store's first version, from CARTO_DATA
    REPLACE = "replace"  # the imported list becomes the published list
    MERGE = "merge"  # imported rows update and add; published rows absent from the file stay
    ROLLBACK = "rollback"  # a copy of an earlier version (Store.rollback)


# A publication that removes more than this share of the published initiatives must be
# confirmed with their number (the page's second checkbox, `carto import --confirmer-suppressions`).
REMOVAL_CONFIRMATION_SHARE = 0.2
# « 20 % », as the messages say it.
REMOVAL_CONFIRMATION_TEXT = f"{round(REMOVAL_CONFIRMATION_SHARE * 100)} %"

# What users read for each mode: lists of versions, the import page, the command line.
MODE_LABELS: dict[PublishMode, str] = {
    PublishMode.INITIAL: "Import initial",
    PublishMode.REPLACE: "Remplacer",
    PublishMode.MERGE: "Fusionner",
    PublishMode.ROLLBACK: "Retour à une version",
}
# How the history names each version's mode (« retour à la version 3 »: see history_mode_text).
HISTORY_LABELS: dict[PublishMode, str] = {
    PublishMode.INITIAL: "version initiale",
    PublishMode.REPLACE: "remplacement",
    PublishMode.MERGE: "fusion",
    PublishMode.ROLLBACK: "retour à une version",
}
# The modes an editor chooses between to publish a file, and what each does; the first is the
# default (merging never removes an initiative).
IMPORT_MODE_HELP: dict[PublishMode, str] = {
    PublishMode.MERGE: "mettre à jour et ajouter, garder les initiatives absentes du fichier",
    PublishMode.REPLACE: "la liste importée devient la liste publiée (les absentes sont retirées)",
}
IMPORT_MODES: tuple[PublishMode, ...] = tuple(IMPORT_MODE_HELP)
# What Store.publish records; a rollback goes through Store.rollback.
PUBLISH_MODES: tuple[PublishMode, ...] = (PublishMode.INITIAL, *IMPORT_MODES)


def import_mode_text(mode: PublishMode) -> str:
    """« Remplacer : la liste importée devient la liste publiée »: a mode to choose, explained."""
    return f"{MODE_LABELS[mode]} : {IMPORT_MODE_HELP[mode]}"


def history_mode_text(mode: PublishMode | str, *, rolled_back_from: int | None = None) -> str:
    """« fusion », « remplacement », « version initiale », « retour à la version 3 »."""
    try:
        mode = PublishMode(mode)
    except ValueError:
        return str(mode)
    if mode is PublishMode.ROLLBACK and rolled_back_from is not None:
        return f"retour à la version {rolled_back_from}"
    return HISTORY_LABELS[mode]
