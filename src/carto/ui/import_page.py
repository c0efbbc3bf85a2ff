"""Editors' import: upload -> report -> corrections -> outside points -> review -> publish.

Every click reruns the page. What does not change with a click is kept in this browser
session: the file read, checked and compared (carto.intake.session.ImportSession), and what the
editor decided about it (FileChoices). Another file, or another sheet, starts afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from carto.auth import Editor
from carto.display import md_escape
from carto.errors import CartoError, ConflictError, ReadError, SheetError
from carto.gazetteer import Gazetteer
from carto.geocoding import outside_departement_rows
from carto.intake.pipeline import LoadedTable
from carto.intake.reading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    SEPARATOR_LABELS,
    RawTable,
)
from carto.intake.session import ImportSession, file_digest
from carto.models import Issue
from carto.publishing.modes import IMPORT_MODES, PublishMode, import_mode_text
from carto.publishing.plan import ImportPlan, publish_plan
from carto.publishing.storage import Store
from carto.ui import embed

TABLE_LIMIT = 1_000
KEEP_AS_IS = "— laisser tel quel —"
# st.session_state keys: the upload's ImportSession, its upload id, the editor's choices.
IMPORT_SESSION = "import_session"
IMPORT_UPLOAD_ID = "import_upload_id"
IMPORT_CHOICES = "import_choices"


def widget_key(scope: str, name: str) -> str:
    """Key of a widget of one file (and sheet): another file's widgets start from scratch."""
    return f"import:{scope}:{name}"


@dataclass
class FileChoices:
    """What the editor decided about one file (digest, plus the sheet of a workbook)."""

    scope: str
    # Communes picked for the lines whose commune was not found: line -> INSEE code.
    corrections: dict[int, str] = field(default_factory=dict)
    # Lines whose point outside the département the editor chose to keep.
    outside: frozenset[int] = frozenset()
    mode: PublishMode = IMPORT_MODES[0]
    # The version online when the review was first shown (None: nothing published yet):
    # publishing is refused if another one was published since, instead of overwriting it.
    base_version: int | None = None
    base_pinned: bool = False
    published: int | None = None
    # The report as a table, built once per report: a 20,000-row file may have thousands.
    report: tuple[Sequence[Issue], pd.DataFrame] | None = field(default=None, repr=False)

    def key(self, name: str) -> str:
        return widget_key(self.scope, name)

    def pin_base(self, store: Store) -> int | None:
        if not self.base_pinned:
            current = store.current()
            self.base_version = current.number if current else None
            self.base_pinned = True
        return self.base_version

    def unpin_base(self) -> None:
        self.base_pinned = False

    def report_frame(self, issues: Sequence[Issue]) -> pd.DataFrame:
        if self.report is None or self.report[0] is not issues:
            self.report = (issues, issues_frame(issues))
        return self.report[1]


def issues_frame(issues: Sequence[Issue]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Gravité": ["Erreur" if i.severity == "error" else "Avertissement" for i in issues],
            "Ligne": [i.row if i.row is not None else "fichier" for i in issues],
            "Colonne": [i.column or "" for i in issues],
            "Valeur": [(i.value or "")[:200] for i in issues],
            "Problème": [i.message for i in issues],
            "Que faire": [i.hint for i in issues],
            "Suggestions": [", ".join(i.suggestions) for i in issues],
        }
    ).astype(str)


def _choices(scope: str) -> FileChoices:
    """The editor's choices for this file and sheet, new when the file or sheet changed."""
    choices = st.session_state.get(IMPORT_CHOICES)
    if not isinstance(choices, FileChoices) or choices.scope != scope:
        choices = FileChoices(scope)
        st.session_state[IMPORT_CHOICES] = choices
    return choices


def _upload_session(upload: UploadedFile) -> ImportSession:
    """This browser session's ImportSession of the file: kept across reruns, new for a new file.

    The same bytes dropped again (a new upload id) keep the session and its work."""
    session = st.session_state.get(IMPORT_SESSION)
    if not isinstance(session, ImportSession):
        session = None
    elif st.session_state.get(IMPORT_UPLOAD_ID) == upload.file_id:
        return session
    data = upload.getvalue()
    if session is None or session.filename != upload.name or session.digest != file_digest(data):
        session = ImportSession(
            data, filename=upload.name, max_bytes=DEFAULT_MAX_BYTES, max_rows=DEFAULT_MAX_ROWS
        )
        st.session_state[IMPORT_SESSION] = session
    st.session_state[IMPORT_UPLOAD_ID] = upload.file_id
    return session


def _read_summary(raw: RawTable) -> str:
    """How the file was read: the sheet of a workbook, the encoding and separator of a CSV."""
    if raw.format == "xlsx":
        how = f"feuille « {md_escape(raw.sheet or '')} »"
    else:
        separator = SEPARATOR_LABELS.get(raw.separator or "", "—")
        how = f"encodage {raw.encoding or '—'}, séparateur {separator}"
    return f"format {raw.format.upper()}, {how}, {raw.rows_read} ligne(s) de données"


def _validation_report(loaded: LoadedTable, choices: FileChoices) -> None:
    """Counts, every issue, and a preview of the rows with their geocoding."""
    st.subheader("Rapport de validation", anchor=False)
    statuses = loaded.table["geocode_status"].value_counts().to_dict() if len(loaded.table) else {}
    st.markdown(
        f"{len(loaded.table)} initiative(s) ; géocodage : "
        + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
        + f" ; **{len(loaded.errors)} erreur(s)**, {len(loaded.warnings)} avertissement(s)."
    )
    if loaded.issues:
        st.dataframe(choices.report_frame(loaded.issues), hide_index=True, width="stretch")
    if not len(loaded.table):
        return
    with st.expander("Aperçu des initiatives lues, avec leur géocodage"):
        t = loaded.table.iloc[:TABLE_LIMIT]
        if len(loaded.table) > TABLE_LIMIT:
            st.caption(f"Aperçu limité aux {TABLE_LIMIT} premières lignes sur {len(loaded.table)}.")
        st.dataframe(
            pd.DataFrame(
                {
                    "Ligne": list(loaded.row_numbers[:TABLE_LIMIT]),
                    "Nom": t["nom"].astype(str),
                    "Commune": t["commune"].fillna("").astype(str),
                    "Arrondissement": t["arrondissement"].fillna("").astype(str),
                    "Géocodage": t["geocode_status"].fillna("").astype(str),
                    "Score": t["geocode_score"].astype(float).round(2),
                }
            ),
            hide_index=True,
            width="stretch",
        )


def _read_upload(session: ImportSession) -> RawTable | None:
    """The upload read as a table; the editor picks the sheet when a workbook has several."""
    if len(session.data) > DEFAULT_MAX_BYTES:
        st.error(
            f"Le fichier « {md_escape(session.filename)} » fait "
            f"{len(session.data) / 2**20:.1f} Mo : la limite est de "
            f"{DEFAULT_MAX_BYTES // 2**20} Mo. Rien n'a été modifié."
        )
        return None
    try:
        try:
            return session.raw()
        except SheetError as exc:
            if not exc.choices:
                raise
            sheet = st.selectbox(
                "Feuille à lire",
                exc.choices,
                index=None,
                placeholder="Choisissez la feuille des initiatives…",
                key=widget_key(session.digest, "sheet"),
            )
            if sheet not in exc.choices:
                st.info(md_escape(str(exc)))
                return None
            return session.raw(sheet=sheet)
    except ReadError as exc:
        st.error(f"{md_escape(str(exc))} Rien n'a été modifié.")
        return None


def _commune_corrections(loaded: LoadedTable, gaz: Gazetteer, choices: FileChoices) -> None:
    """Let the editor pick a commune for each row whose commune was not found."""
    failed = [i for i in loaded.errors if i.column == "commune" and i.row is not None and i.value]
    if not failed and not choices.corrections:
        return
    st.markdown("**Communes non reconnues** — choisissez la bonne commune :")
    picked = dict(choices.corrections)
    for issue in failed:
        candidates = gaz.suggest(issue.value or "", limit=5)
        options = [KEEP_AS_IS] + [c.commune.code_insee for c in candidates]
        names = {KEEP_AS_IS: KEEP_AS_IS} | {
            c.commune.code_insee: f"{c.commune.nom} ({c.commune.code_insee}, "
            f"{round(c.score * 100)} %)"
            for c in candidates
        }
        choice = st.selectbox(
            f"Ligne {issue.row} : « {md_escape(issue.value)} »",
            options,
            format_func=names.__getitem__,
            key=choices.key(f"fix:{issue.row}"),
        )
        if choice and choice != KEEP_AS_IS and issue.row is not None:
            picked[issue.row] = choice
    if st.button("Appliquer les corrections", disabled=not picked):
        choices.corrections = picked
        st.rerun()


def _outside_confirmations(loaded: LoadedTable, choices: FileChoices) -> None:
    """Let the editor keep, line by line, a point that lies outside the département."""
    pending = outside_departement_rows(loaded.issues)
    if not pending and not choices.outside:
        return
    st.markdown("**Points hors du département** — gardez-les seulement s'ils sont voulus :")
    kept = frozenset(
        row
        for row in sorted(set(pending) | choices.outside)
        if st.checkbox(
            f"Ligne {row} : garder ce point hors du département",
            value=row in choices.outside,
            key=choices.key(f"outside:{row}"),
        )
    )
    if kept != choices.outside:
        choices.outside = kept
        st.rerun()


def _review_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """At most TABLE_LIMIT rows of a review list, as text (nom, commune, catégorie)."""
    frame = pd.DataFrame(rows[:TABLE_LIMIT], columns=["nom", "commune", "categorie"])
    return frame.fillna("").astype(str)


def _review(plan: ImportPlan) -> None:
    diff = plan.diff
    if plan.conflicts:
        st.error(
            f"{len(plan.conflicts)} conflit(s) d'identifiant : rien ne peut être publié tant "
            "qu'ils ne sont pas corrigés dans le fichier."
        )
        st.dataframe(issues_frame(plan.conflicts), hide_index=True, width="stretch")
    base = f"version {plan.base.number}" if plan.base else "aucune version publiée"
    st.markdown(f"**Comparaison avec la version en ligne** ({base})")
    cols = st.columns(4)
    cols[0].metric("Ajoutées", diff.added_count)
    cols[1].metric("Modifiées", diff.changed_count)
    cols[2].metric("Retirées", diff.removed_count)
    cols[3].metric("Inchangées", diff.unchanged)
    if diff.added:
        with st.expander(f"{diff.added_count} initiative(s) ajoutée(s)"):
            st.dataframe(_review_rows(diff.added), hide_index=True)
    if diff.changed:
        with st.expander(f"{diff.changed_count} initiative(s) modifiée(s)", expanded=True):
            rows = [
                {"Initiative": ch.nom, "Champ": f.column, "Avant": str(f.old), "Après": str(f.new)}
                for ch in diff.changed[:TABLE_LIMIT]
                for f in ch.fields
            ]
            st.dataframe(pd.DataFrame(rows).astype(str), hide_index=True)
    if diff.removed:
        with st.expander(f"{diff.removed_count} initiative(s) retirée(s)", expanded=True):
            st.dataframe(_review_rows(diff.removed), hide_index=True)


def import_flow(store: Store, gaz: Gazetteer, *, editor: Editor) -> None:
    """Upload -> detection -> report -> corrections -> review -> confirmed publish."""
    upload = st.file_uploader(
        "Fichier d'initiatives (CSV ou Excel .xlsx)",
        type=["csv", "txt", "tsv", "xlsx"],
        help=f"{DEFAULT_MAX_BYTES // 2**20} Mo et {DEFAULT_MAX_ROWS} lignes au plus. "
        "Colonnes : voir docs/schema.md.",
    )
    if upload is None:
        for key in (IMPORT_SESSION, IMPORT_UPLOAD_ID):
            st.session_state.pop(key, None)  # frees the last file's tables
        choices = st.session_state.get(IMPORT_CHOICES)
        if isinstance(choices, FileChoices):
            choices.report = None  # its choices stay, for the same file dropped again
        return
    session = _upload_session(upload)
    raw = _read_upload(session)
    if raw is None:
        return
    st.success(f"« {md_escape(upload.name)} » lu : {_read_summary(raw)}.")
    choices = _choices(session.digest if raw.sheet is None else f"{session.digest}:{raw.sheet}")
    if choices.published is not None:
        st.success(
            f"Version {choices.published} publiée. La carte affiche désormais ces données. "
            "Pour un autre import, déposez un autre fichier."
        )
        return
    loaded = session.loaded(
        gaz, sheet=raw.sheet, corrections=choices.corrections, accept_outside=choices.outside
    )
    _validation_report(loaded, choices)
    # Likely duplicates (same name and commune) are warnings of the schema check above.
    _commune_corrections(loaded, gaz, choices)
    _outside_confirmations(loaded, choices)
    if not loaded.ok:
        st.error("Corrigez les erreurs (dans le fichier ou ci-dessus) : rien ne peut être publié.")
        return

    st.subheader("Revue des changements", anchor=False)
    choices.mode = st.radio(
        "Mode de publication",
        IMPORT_MODES,
        format_func=import_mode_text,
        key=choices.key("mode"),
    )
    plan = session.plan(loaded, store, mode=choices.mode, base_version=choices.pin_base(store))
    _review(plan)
    if plan.diff.is_empty:
        st.info("Aucun changement par rapport à la version en ligne.")
    note = st.text_input("Note de version (visible dans l'historique)", key=choices.key("note"))
    confirmed = st.checkbox(
        f"Je confirme la publication de {len(plan.result)} initiative(s) sur la carte publique.",
        key=choices.key("confirm"),
    )
    if st.button("Publier", type="primary", disabled=not (confirmed and plan.publishable)):
        try:
            info = publish_plan(plan, store, author=editor.name, note=note)
        except ConflictError as exc:
            st.error(str(exc))
            st.button("Comparer avec la nouvelle version en ligne", on_click=choices.unpin_base)
            return
        except CartoError as exc:
            st.error(str(exc))
            return
        choices.published = info.number
        embed.remember_notices(info.notices)
        st.rerun()
