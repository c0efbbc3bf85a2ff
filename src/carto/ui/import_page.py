"""Editors' import: upload -> report -> corrections -> outside points -> review -> publish.

Every click reruns the page. What does not change with a click is kept in this browser
session: the file read, checked and compared (carto.intake.session.ImportSession), and what the
editor decided about it (FileChoices). Another file, or another sheet, starts afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from carto.auth import Editor
from carto.display import md_escape
from carto.errors import CartoError, ConflictError, NothingToPublish, ReadError, SheetError
from carto.exports import sheet_csv
from carto.gazetteer import Gazetteer
from carto.geocoding import (
    GEOCODE_STATUS_LABELS,
    OUTSIDE_DEPARTEMENT,
    SPELLING_CORRECTED,
    geocode_summary,
    outside_departement_rows,
)
from carto.intake.pipeline import EDITOR_CHOICE, LoadedTable
from carto.intake.reading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    SEPARATOR_LABELS,
    RawTable,
    refusal_by_name,
)
from carto.intake.session import ImportSession, file_digest
from carto.models import Issue
from carto.publishing.modes import (
    IMPORT_MODES,
    REMOVAL_CONFIRMATION_TEXT,
    PublishMode,
    import_mode_text,
)
from carto.publishing.plan import ImportPlan, publish_plan
from carto.publishing.storage import Store
from carto.ui import embed
from carto.ui.errors import shown_error
from carto.ui.readable import STYLE, change_cards, issue_cards, row_cards

TABLE_LIMIT = 1_000
# Issue codes shown as notes rather than problems: what was corrected or chosen, said openly.
NOTES = (EDITOR_CHOICE, SPELLING_CORRECTED)
# Lines shown one by one in the report (each with its cards, choices and « Exclure »); the
# others are counted, and all are in the full table below it.
ROW_CARD_LIMIT = 100
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
    # Lines the editor left out of the import.
    excluded: frozenset[int] = frozenset()
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
    """The whole report as a table, to sort or download (the cards above it are for reading)."""
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
    if raw.format in ("xlsx", "ods"):
        how = f"feuille « {md_escape(raw.sheet or '')} »"
    else:
        separator = SEPARATOR_LABELS.get(raw.separator or "", "—")
        how = f"encodage {raw.encoding or '—'}, séparateur {separator}"
    return f"format {raw.format.upper()}, {how}, {raw.rows_read} ligne(s) de données"


def _summary(loaded: LoadedTable) -> str:
    """« 20 initiative(s) ; communes : 19 reconnue(s), 1 introuvable(s) ; 1 erreur(s)… »."""
    table = loaded.table
    counts = table["geocode_status"].value_counts().to_dict() if len(table) else {}
    notes = sum(1 for i in loaded.warnings if i.code in NOTES)
    text = (
        f"{len(table)} initiative(s) ; communes : "
        f"{geocode_summary({str(k): int(v) for k, v in counts.items()})} ; "
        f"**{len(loaded.errors)} erreur(s)**, {len(loaded.warnings) - notes} avertissement(s)"
        + (f", {notes} note(s) (commune corrigée ou choisie)." if notes else ".")
    )
    if loaded.excluded:
        text += f" {len(loaded.excluded)} ligne(s) exclue(s) de l'import."
    return text


def _by_row(issues: Sequence[Issue]) -> dict[int | None, list[Issue]]:
    rows: dict[int | None, list[Issue]] = {}
    for issue in issues:
        rows.setdefault(issue.row, []).append(issue)
    return rows


def _validation_report(loaded: LoadedTable, gaz: Gazetteer, choices: FileChoices) -> None:
    """Counts, then each line with a problem: its messages, the commune to choose, « Exclure »;
    the full report as a table, and a preview of the rows with their geocoding."""
    st.subheader("Rapport de validation", anchor=False)
    st.markdown(STYLE, unsafe_allow_html=True)
    st.markdown(_summary(loaded))
    rows = _by_row(loaded.issues)
    if None in rows:
        st.markdown(issue_cards(rows.pop(None), notes=NOTES), unsafe_allow_html=True)
    lines = sorted(r for r in rows if r is not None)
    picked = dict(choices.corrections)
    excluded: set[int] = set()  # lines whose « Exclure » box is ticked in this run
    for line in lines[:ROW_CARD_LIMIT]:
        issues = rows[line]
        st.markdown(issue_cards(issues, notes=NOTES), unsafe_allow_html=True)
        _commune_choice(line, issues, gaz, choices, picked)
        if st.checkbox(
            f"Exclure la ligne {line} de l'import",
            value=False,
            key=choices.key(f"exclude:{line}"),
            help="La ligne n'est ni vérifiée ni publiée ; le fichier n'est pas modifié.",
        ):
            excluded.add(line)
    if len(lines) > ROW_CARD_LIMIT:
        st.caption(
            f"{len(lines) - ROW_CARD_LIMIT} autre(s) ligne(s) ont des remarques : voir le "
            "tableau complet ci-dessous, et corrigez-les dans le fichier."
        )
    offered = [line for line in lines[:ROW_CARD_LIMIT] if _failed_commune(rows[line])]
    if offered and st.button("Appliquer les corrections", disabled=picked == choices.corrections):
        choices.corrections = picked
        st.rerun()
    _excluded_lines(loaded, choices, excluded)
    if loaded.issues:
        with st.expander("Rapport complet sous forme de tableau (à trier ou télécharger)"):
            frame = choices.report_frame(loaded.issues)
            st.dataframe(frame, hide_index=True, width="stretch", placeholder="")
            st.download_button(
                "Télécharger le rapport (CSV)",
                sheet_csv(frame),
                file_name="rapport-import.csv",
                mime="text/csv",
            )
    if not len(loaded.table):
        return
    with st.expander("Aperçu des initiatives lues, avec leur géocodage"):
        t = loaded.table.iloc[:TABLE_LIMIT]
        if len(loaded.table) > TABLE_LIMIT:
            st.caption(f"Aperçu limité aux {TABLE_LIMIT} premières lignes sur {len(loaded.table)}.")
        preview = pd.DataFrame(
            {
                "Ligne": list(loaded.row_numbers[:TABLE_LIMIT]),
                "Nom": t["nom"].astype(str),
                "Commune": t["commune"].fillna("").astype(str),
                "Arrondissement": t["arrondissement"].fillna("").astype(str),
                "Lieu": t["geocode_status"].map(_STATUS_TEXT).fillna(""),
            }
        )
        st.dataframe(preview, hide_index=True, width="stretch", placeholder="")
        # The tables' own toolbar is hidden (English: carto.ui.french): the download is here.
        st.download_button(
            "Télécharger l'aperçu (CSV)",
            sheet_csv(preview),
            file_name="apercu-import.csv",
            mime="text/csv",
        )


_STATUS_TEXT = {status: one for status, (one, _) in GEOCODE_STATUS_LABELS.items()}


def _excluded_lines(loaded: LoadedTable, choices: FileChoices, excluded: set[int]) -> None:
    """The lines left out, each with a box to take it back; applies a change at once."""
    shown = set(loaded.excluded) | set(choices.excluded)
    kept_out = set(excluded)
    if shown:
        st.markdown("**Lignes exclues de l'import** — décochez pour les reprendre :")
        for line in sorted(shown):
            if st.checkbox(
                f"Ligne {line} exclue",
                value=True,
                key=choices.key(f"excluded:{line}"),
            ):
                kept_out.add(line)
    if frozenset(kept_out) != choices.excluded:
        choices.excluded = frozenset(kept_out)
        for line in kept_out:
            # The line's own box is gone with its issues; it starts unticked if taken back.
            st.session_state.pop(choices.key(f"exclude:{line}"), None)
        st.rerun()


def _failed_commune(issues: Sequence[Issue]) -> Issue | None:
    """The line's « commune not found » error, or its note of a commune the editor chose."""
    for issue in issues:
        if issue.column != "commune" or not issue.value:
            continue
        chosen = issue.code == EDITOR_CHOICE
        if chosen or (issue.severity == "error" and issue.code != OUTSIDE_DEPARTEMENT):
            return issue
    return None


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


def _commune_choice(
    line: int, issues: Sequence[Issue], gaz: Gazetteer, choices: FileChoices, picked: dict[int, str]
) -> None:
    """A commune to pick for a line whose commune was not found; stays shown once applied."""
    issue = _failed_commune(issues)
    if issue is None:
        return
    candidates = gaz.suggest(issue.value or "", limit=5)
    options = [KEEP_AS_IS] + [c.commune.code_insee for c in candidates]
    chosen = choices.corrections.get(line)
    if chosen and chosen not in options:
        options.append(chosen)
    names = {KEEP_AS_IS: KEEP_AS_IS} | {
        c.commune.code_insee: f"{c.commune.nom} ({c.commune.code_insee}, "
        f"ressemblance {round(c.score * 100)} %)"
        for c in candidates
    }
    if chosen and chosen not in names:
        commune = gaz.by_insee(chosen)
        names[chosen] = f"{commune.nom} ({chosen})" if commune else chosen
    key = choices.key(f"fix:{line}")
    if chosen and key not in st.session_state:
        st.session_state[key] = chosen
    choice = st.selectbox(
        f"Ligne {line} : commune à retenir pour « {md_escape(issue.value)} »",
        options,
        format_func=names.__getitem__,
        key=key,
        placeholder="Choisissez une commune…",
    )
    if choice and choice != KEEP_AS_IS:
        picked[line] = choice
    else:
        picked.pop(line, None)


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


def _review(plan: ImportPlan) -> None:
    diff = plan.diff
    if plan.conflicts:
        st.error(
            f"{len(plan.conflicts)} conflit(s) d'identifiant : rien ne peut être publié tant "
            "qu'ils ne sont pas corrigés dans le fichier."
        )
        st.markdown(issue_cards(plan.conflicts), unsafe_allow_html=True)
    base = f"version {plan.base.number}" if plan.base else "aucune version publiée"
    st.markdown(f"**Comparaison avec la version en ligne** ({base})")
    cols = st.columns(4)
    cols[0].metric("Ajoutées", diff.added_count)
    cols[1].metric("Modifiées", diff.changed_count)
    cols[2].metric("Retirées", diff.removed_count)
    cols[3].metric("Inchangées", diff.unchanged)
    if diff.added:
        with st.expander(f"{diff.added_count} initiative(s) ajoutée(s)"):
            st.markdown(row_cards(diff.added[:TABLE_LIMIT]), unsafe_allow_html=True)
    if diff.changed:
        with st.expander(f"{diff.changed_count} initiative(s) modifiée(s)", expanded=True):
            st.caption("Mots retirés barrés, mots ajoutés soulignés.")
            st.markdown(
                change_cards(diff.changed[:TABLE_LIMIT], lines=plan.file_lines),
                unsafe_allow_html=True,
            )
    if diff.removed:
        with st.expander(f"{diff.removed_count} initiative(s) retirée(s)", expanded=True):
            st.markdown(row_cards(diff.removed[:TABLE_LIMIT]), unsafe_allow_html=True)
    shown = max(diff.added_count, diff.changed_count, diff.removed_count)
    if shown > TABLE_LIMIT:
        st.caption(f"Listes limitées aux {TABLE_LIMIT} premières initiatives.")


def _removal_confirmed(plan: ImportPlan, choices: FileChoices) -> bool:
    """The second confirmation of a publication that removes many initiatives."""
    if not plan.needs_removal_confirmation:
        return True
    st.warning(
        f"Attention : cette publication retirerait **{plan.diff.removed_count} initiative(s) "
        f"sur les {plan.published_count} publiées** (plus de "
        f"{REMOVAL_CONFIRMATION_TEXT}). Le mode « Fusionner » garde les initiatives "
        "absentes du fichier."
    )
    return st.checkbox(
        f"{plan.removal_confirmation_text}.",
        key=choices.key(f"removals:{plan.diff.removed_count}:{plan.published_count}"),
    )


def import_flow(store: Store, gaz: Gazetteer, *, editor: Editor) -> None:
    """Upload -> detection -> report -> corrections -> review -> confirmed publish."""
    # Every type is taken (type=None): Streamlit would refuse the others in the browser, in
    # English; the name and the content are checked here, and refused in French on the page.
    upload = st.file_uploader(
        "Fichier d'initiatives (CSV, Excel .xlsx ou OpenDocument .ods)", type=None
    )
    st.caption(
        f"CSV, XLSX ou ODS ; {DEFAULT_MAX_BYTES // 2**20} Mo et {DEFAULT_MAX_ROWS} lignes au "
        "plus. Colonnes : voir docs/schema.md."
    )
    if upload is None:
        for key in (IMPORT_SESSION, IMPORT_UPLOAD_ID):
            st.session_state.pop(key, None)  # frees the last file's tables
        choices = st.session_state.get(IMPORT_CHOICES)
        if isinstance(choices, FileChoices):
            choices.report = None  # its choices stay, for the same file dropped again
        return
    refusal = refusal_by_name(upload.name)
    if refusal:
        st.error(f"{md_escape(refusal)} Rien n'a été modifié.")
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
        gaz,
        sheet=raw.sheet,
        corrections=choices.corrections,
        accept_outside=choices.outside,
        excluded=choices.excluded,
    )
    # Likely duplicates (same name and commune) are warnings of the schema check below.
    _validation_report(loaded, gaz, choices)
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
    if plan.base is not None and plan.diff.is_empty:
        # Publishing it would make an empty version that erases every « Nouveau ».
        st.info(
            "Aucun changement par rapport à la version en ligne : il n'y a rien à publier "
            "(aucune version ne sera créée)."
        )
        return
    note = st.text_input("Note de version (visible dans l'historique)", key=choices.key("note"))
    confirmed = st.checkbox(
        f"Je confirme la publication de {len(plan.result)} initiative(s) sur la carte publique.",
        key=choices.key("confirm"),
    )
    removals = _removal_confirmed(plan, choices)
    if st.button(
        "Publier", type="primary", disabled=not (confirmed and removals and plan.publishable)
    ):
        try:
            info = publish_plan(
                plan,
                store,
                author=editor.name,
                note=note,
                confirmed_removals=plan.diff.removed_count if removals else None,
            )
        except ConflictError as exc:
            st.error(md_escape(shown_error(exc)))
            st.button("Comparer avec la nouvelle version en ligne", on_click=choices.unpin_base)
            return
        except NothingToPublish as exc:
            st.info(str(exc))
            return
        except CartoError as exc:
            st.error(md_escape(shown_error(exc)))
            return
        choices.published = info.number
        embed.remember_notices(info.notices)
        st.rerun()
