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


# What users read for each mode: lists of versions, the import page, the command line.
MODE_LABELS: dict[PublishMode, str] = {
    PublishMode.INITIAL: "Import initial",
    PublishMode.REPLACE: "Remplacer",
    PublishMode.MERGE: "Fusionner",
    PublishMode.ROLLBACK: "Retour à une version",
}
# The modes an editor chooses between to publish a file, and what each does.
IMPORT_MODE_HELP: dict[PublishMode, str] = {
    PublishMode.REPLACE: "la liste importée devient la liste publiée",
    PublishMode.MERGE: "mettre à jour et ajouter, garder les initiatives absentes du fichier",
}
IMPORT_MODES: tuple[PublishMode, ...] = tuple(IMPORT_MODE_HELP)
# What Store.publish records; a rollback goes through Store.rollback.
PUBLISH_MODES: tuple[PublishMode, ...] = (PublishMode.INITIAL, *IMPORT_MODES)


def import_mode_text(mode: PublishMode) -> str:
    """« Remplacer : la liste importée devient la liste publiée »: a mode to choose, explained."""
    return f"{MODE_LABELS[mode]} : {IMPORT_MODE_HELP[mode]}"
