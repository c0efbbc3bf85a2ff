"""Editors' « Importer un communiqué »: drop a communiqué, review the candidate initiatives,
then the usual check, comparison with the map and confirmed publication.

The reading and the candidates are carto.extract's (the same as `carto extract`); the kept
candidates become the same CSV that command writes, and go through the import's own steps
(ImportSession: validation and geocoding, then plan and publish in merge mode, which adds and
updates but never removes what is on the map).

The file is read by a worker process (carto.extract.worker), never in the session's thread: a
hostile file costs that process only, up to its limits. While it reads, a fragment polls it and
offers « Annuler »; a new file replaces (cancels) it; when Streamlit drops the session (tab
closed), its session-scoped cache releases and cancels it; the worker's own wall-clock limit
ends it in any case.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from carto.auth import Editor
from carto.display import md_escape
from carto.errors import CartoError, ConflictError
from carto.exports import sheet_csv
from carto.extract import DocumentError, Extraction, extract_candidates
from carto.extract.documents import MAX_BYTES
from carto.extract.output import candidates_csv, onto_published, published_by_name
from carto.extract.worker import WALL_SECONDS, Reading, start_reading
from carto.gazetteer import Gazetteer
from carto.intake.session import ImportSession, file_digest
from carto.models import CATEGORIES, CATEGORY_BY_SLUG, SCOPES
from carto.publishing.modes import PublishMode
from carto.publishing.plan import publish_plan
from carto.publishing.storage import Store
from carto.ui import embed
from carto.ui.errors import shown_error
from carto.ui.import_page import issues_frame
from carto.ui.readable import row_cards

STATE = "communique_state"
# How often the page looks at a running reading (a fragment's rerun: cheap, the page stays live).
POLL_SECONDS = 0.5
KEEP = "Garder"
ALREADY = "Déjà sur la carte ?"
UPDATE = "Mettre à jour l'existante"
# Editable columns: schema name -> header shown.
COLUMNS: dict[str, str] = {
    "nom": "Nom",
    "categorie": "Thème",
    "commune": "Commune",
    "portee": "Portée",
    "zone": "Zone",
    "description": "Description",
    "site_web": "Site web",
    "email": "Courriel",
    "telephone": "Téléphone",
}


class SessionReadings:
    """The readings this browser session started and has not collected yet."""

    def __init__(self) -> None:
        self.running: list[Reading] = []

    def start(self, data: bytes, name: str) -> Reading:
        reading = start_reading(data, name)
        self.running.append(reading)
        return reading

    def __contains__(self, reading: object) -> bool:
        return any(r is reading for r in self.running)

    def forget(self, reading: Reading) -> None:
        self.running = [r for r in self.running if r is not reading]

    def cancel_all(self) -> None:
        for reading in self.running:
            reading.cancel()
        self.running = []


def _release(readings: SessionReadings) -> None:
    readings.cancel_all()


@st.cache_resource(scope="session", on_release=_release, show_spinner=False)
def session_readings() -> SessionReadings:
    """This session's readings; Streamlit releases them (cancelled) when it drops the session."""
    return SessionReadings()


@dataclass
class CommuniqueState:
    """One dropped communiqué in this browser session: its candidates and the editor's work."""

    digest: str
    name: str
    reading: Reading | None = field(default=None, repr=False)  # running, not yet collected
    started: float = 0.0  # time.monotonic() when the reading started
    extraction: Extraction | None = None
    error: str = ""
    editor_version: int = 0
    default_keep: bool | None = None  # « Tout garder » / « Tout retirer » chosen
    reviewed: list[dict[str, str]] | None = None  # the rows sent to the check and comparison
    session: ImportSession | None = field(default=None, repr=False)
    base_version: int | None = None
    published: int | None = None

    def key(self, name: str) -> str:
        return f"communique:{self.digest}:{name}"

    def collect(self, gaz: Gazetteer) -> None:
        """Take the reading's outcome once it is done: candidates, or its French refusal."""
        reading = self.reading
        if reading is None or not reading.done():
            return
        self.reading = None
        session_readings().forget(reading)
        try:
            self.extraction = extract_candidates(reading.result(timeout=0), gaz)
        except DocumentError as exc:
            self.error = str(exc)

    def cancel(self) -> None:
        """Stop the reading (its worker is killed); the page then says « Lecture annulée. »."""
        reading = self.reading
        if reading is None:
            return
        reading.cancel()
        self.reading = None
        session_readings().forget(reading)
        try:
            reading.result(timeout=0)
        except DocumentError as exc:
            self.error = str(exc)


def _state(data: bytes, name: str, gaz: Gazetteer) -> CommuniqueState:
    digest = file_digest(data)
    state = st.session_state.get(STATE)
    readings = session_readings()
    if isinstance(state, CommuniqueState) and state.digest == digest and state.name == name:
        if state.reading is not None and state.reading not in readings:
            # Streamlit dropped this session's readings (the connection was lost) and the
            # browser came back: read the file again.
            _start(state, data, readings)
        state.collect(gaz)
        return state
    if isinstance(state, CommuniqueState):
        state.cancel()  # a new file replaces the one being read
    state = CommuniqueState(digest, name)
    st.session_state[STATE] = state
    _start(state, data, readings)
    state.collect(gaz)
    return state


def _start(state: CommuniqueState, data: bytes, readings: SessionReadings) -> None:
    state.reading, state.started = None, time.monotonic()
    try:
        state.reading = readings.start(data, state.name)
    except DocumentError as exc:  # the reader could not start: said in French
        state.error = str(exc)


@st.fragment(run_every=POLL_SECONDS)
def _reading_progress() -> None:
    """« Lecture de … » and « Annuler » while the worker reads; the whole page once it is done."""
    state = st.session_state.get(STATE)
    if not isinstance(state, CommuniqueState) or state.reading is None or state.reading.done():
        st.rerun()
    assert state.reading is not None
    seconds = int(time.monotonic() - state.started)
    st.info(
        f"Lecture de « {md_escape(state.name)} »… ({seconds} s ; elle s'arrête d'elle-même "
        f"après {WALL_SECONDS:.0f} s)"
    )
    if st.button("Annuler", key=state.key("cancel")):
        state.cancel()
        st.rerun()


def _shown(column: str, value: str) -> str:
    """A theme is shown by its French label (« Solidaires avec les personnes isolées »)."""
    category = CATEGORY_BY_SLUG.get(value) if column == "categorie" else None
    return category.label if category else value


def _stored(column: str, value: str) -> str:
    if column == "categorie":
        return next((c.slug for c in CATEGORIES if c.label == value), value)
    return value


def _table(state: CommuniqueState, published: list[dict[str, Any]]) -> pd.DataFrame:
    """The candidates as the editor's table, with « déjà sur la carte ? » from the map."""
    assert state.extraction is not None
    candidates = state.extraction.candidates
    rows = [c.row() for c in candidates]
    matches = published_by_name(rows, published)
    frame = pd.DataFrame(
        {
            KEEP: [
                state.default_keep if state.default_keep is not None else match is None
                for match in matches
            ],
            ALREADY: [str(m.get("nom", "")) if m else "" for m in matches],
            UPDATE: [m is not None for m in matches],
            "Confiance": [c.confiance for c in candidates],
            **{header: [_shown(name, r[name]) for r in rows] for name, header in COLUMNS.items()},
            "Remarques": [" ; ".join(c.remarques) for c in candidates],
            "Phrase du communiqué": [c.phrase for c in candidates],
        }
    )
    return frame


def _kept_rows(
    state: CommuniqueState, edited: pd.DataFrame, published: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """The rows kept by the editor, as rows of the schema; an update of an initiative already
    on the map carries its id, and its published values where the communiqué says nothing."""
    assert state.extraction is not None
    base = [c.row() for c in state.extraction.candidates]
    rows: list[dict[str, str]] = []
    for index, line in edited.reset_index(drop=True).iterrows():
        if not bool(line[KEEP]):
            continue
        row = dict(base[int(str(index))])
        for name, header in COLUMNS.items():
            value = line[header]
            row[name] = "" if value is None or pd.isna(value) else _stored(name, str(value))
        # The commune was edited by name: the code found from the communiqué no longer holds.
        if row["commune"] != base[int(str(index))]["commune"]:
            row["code_insee"] = ""
        if bool(line[UPDATE]) and str(line[ALREADY]):
            match = next(
                (p for p in published if str(p.get("nom", "")) == str(line[ALREADY])), None
            )
            if match is not None:
                row = onto_published(row, match)
        rows.append(row)
    return rows


def communique_flow(store: Store, gaz: Gazetteer, *, editor: Editor) -> None:
    """Upload -> candidates (edit, keep, « déjà sur la carte ? ») -> check -> review -> publish."""
    # Every type is taken (type=None): Streamlit would refuse the others in the browser, in
    # English; read_document refuses them here, in French on the page.
    upload = st.file_uploader(
        "Communiqué de presse (PDF, page HTML, Word .docx, OpenDocument .odt ou texte)",
        type=None,
        key="communique_upload",
    )
    st.caption(
        f"{MAX_BYTES // 2**20} Mo au plus. Les initiatives trouvées sont proposées une par "
        "une : rien n'est publié sans votre confirmation."
    )
    if upload is None:
        state = st.session_state.pop(STATE, None)
        if isinstance(state, CommuniqueState):
            state.cancel()  # the file was removed while being read
        return
    data = upload.getvalue()
    if len(data) > MAX_BYTES:
        state = st.session_state.pop(STATE, None)
        if isinstance(state, CommuniqueState):
            state.cancel()  # replaced by a file that is not read at all
        st.error(
            f"Le fichier « {md_escape(upload.name)} » fait {len(data) / 2**20:.1f} Mo : un "
            f"communiqué ne peut pas dépasser {MAX_BYTES // 2**20} Mo. Rien n'a été modifié."
        )
        return
    state = _state(data, upload.name, gaz)
    if state.reading is not None:
        _reading_progress()
        return
    if state.error or state.extraction is None:
        st.error(f"{md_escape(state.error)} Rien n'a été modifié.")
        return
    if state.published is not None:
        st.success(
            f"Version {state.published} publiée : la carte affiche désormais ces initiatives. "
            "Pour un autre communiqué, déposez un autre fichier."
        )
        return
    extraction = state.extraction
    when = extraction.published.strftime("%d/%m/%Y") if extraction.published else "date non trouvée"
    st.success(
        f"« {md_escape(upload.name)} » lu : « {md_escape(extraction.title or 'sans titre')} », "
        f"{when} ; **{len(extraction.candidates)} initiative(s) candidate(s)**."
    )
    if extraction.ignored_places:
        st.info(
            "Lieux hors du département, non placés : "
            + ", ".join(md_escape(p) for p in extraction.ignored_places)
            + "."
        )
    if not extraction.candidates:
        st.warning("Aucune initiative trouvée dans ce communiqué : rien à publier.")
        return

    current = store.current()
    published: list[dict[str, Any]] = []
    if current is not None:
        records = store.load(current.number).to_dict(orient="records")
        published = [{str(k): v for k, v in row.items()} for row in records]
    st.subheader("Initiatives candidates", anchor=False)
    st.caption(
        "Chaque ligne vient d'une phrase du communiqué. Corrigez ce qu'il faut dans le tableau, "
        "décochez « Garder » pour écarter une ligne. « Déjà sur la carte ? » nomme une "
        "initiative publiée de même commune au nom proche : elle est alors mise à jour au lieu "
        "d'être ajoutée en double (décochez « Mettre à jour l'existante » pour l'ajouter)."
    )
    cols = st.columns(3)
    if cols[0].button("Tout garder", key=state.key("all")):
        state.default_keep, state.editor_version = True, state.editor_version + 1
        state.reviewed = None
        st.rerun()
    if cols[1].button("Tout écarter", key=state.key("none")):
        state.default_keep, state.editor_version = False, state.editor_version + 1
        state.reviewed = None
        st.rerun()
    edited: pd.DataFrame = st.data_editor(
        _table(state, published),
        hide_index=True,
        width="stretch",
        key=state.key(f"editor:{state.editor_version}"),
        placeholder="",
        disabled=[ALREADY, "Confiance", "Remarques", "Phrase du communiqué"],
        column_order=[
            KEEP,
            "Nom",
            "Thème",
            "Commune",
            "Zone",
            ALREADY,
            UPDATE,
            "Confiance",
            "Portée",
            "Description",
            "Site web",
            "Courriel",
            "Téléphone",
            "Remarques",
            "Phrase du communiqué",
        ],
        column_config={
            KEEP: st.column_config.CheckboxColumn(KEEP, width="small"),
            "Nom": st.column_config.TextColumn("Nom", width="medium", required=True),
            ALREADY: st.column_config.TextColumn(ALREADY, width="medium"),
            "Thème": st.column_config.SelectboxColumn(
                "Thème", options=[c.label for c in CATEGORIES], required=True
            ),
            "Portée": st.column_config.SelectboxColumn("Portée", options=list(SCOPES)),
            "Confiance": st.column_config.ProgressColumn(
                "Confiance", min_value=0.0, max_value=1.0, format="%.2f"
            ),
            "Phrase du communiqué": st.column_config.TextColumn(width="large"),
            "Description": st.column_config.TextColumn(width="large"),
        },
    )
    st.download_button(
        "Télécharger les candidates (CSV)",
        sheet_csv(edited),
        file_name="candidates-communique.csv",
        mime="text/csv",
        key=state.key("candidates_csv"),
    )
    _details(state)
    kept = _kept_rows(state, edited, published)
    if st.button(
        f"Vérifier et comparer les {len(kept)} initiative(s) gardée(s)",
        type="primary",
        disabled=not kept,
        key=state.key("check"),
    ):
        state.reviewed = kept
        text = candidates_csv(kept)
        state.session = ImportSession(text.encode("utf-8"), filename="communique.csv")
        state.base_version = current.number if current else None
    if state.session is None or state.reviewed is None:
        return
    if state.reviewed != kept:
        st.info("Le tableau a changé depuis la vérification : cliquez de nouveau sur « Vérifier ».")
        return
    _review_and_publish(state, store, gaz, editor=editor)


def _details(state: CommuniqueState) -> None:
    """One candidate at a time: the sentence it came from, its confidence and remarks."""
    assert state.extraction is not None
    candidates = state.extraction.candidates
    with st.expander("Revoir une candidate avec sa phrase d'origine"):
        index = st.selectbox(
            "Candidate",
            range(len(candidates)),
            format_func=lambda i: f"{i + 1}. {candidates[i].nom}",
            key=state.key("detail"),
            placeholder="Choisissez une candidate…",
        )
        candidate = candidates[index or 0]
        st.markdown(f"> {md_escape(candidate.phrase)}")
        st.markdown(
            f"Lieu écrit : « {md_escape(candidate.lieu_ecrit)} » → "
            f"**{md_escape(candidate.zone or candidate.commune)}** ; thème "
            f"**{md_escape(_shown('categorie', candidate.categorie) or '?')}**"
            + (" (déduit du texte)" if candidate.theme_incertain else " (titre de rubrique)")
            + f" ; confiance {candidate.confiance:.2f}."
        )
        for remark in candidate.remarques:
            st.caption(md_escape(remark))


def _review_and_publish(
    state: CommuniqueState, store: Store, gaz: Gazetteer, *, editor: Editor
) -> None:
    assert state.session is not None
    loaded = state.session.loaded(gaz)
    st.subheader("Vérification", anchor=False)
    st.markdown(
        f"{len(loaded.table)} initiative(s) ; **{len(loaded.errors)} erreur(s)**, "
        f"{len(loaded.warnings)} avertissement(s)."
    )
    if loaded.issues:
        issues = issues_frame(loaded.issues)
        st.dataframe(issues, hide_index=True, width="stretch", placeholder="")
        # The tables' own toolbar is hidden (English: carto.ui.french): the download is here.
        st.download_button(
            "Télécharger les remarques (CSV)",
            sheet_csv(issues),
            file_name="remarques-communique.csv",
            mime="text/csv",
            key=state.key("issues_csv"),
        )
    if not loaded.ok:
        st.error("Corrigez les erreurs dans le tableau ci-dessus : rien ne peut être publié.")
        return
    plan = state.session.plan(
        loaded, store, mode=PublishMode.MERGE, base_version=state.base_version
    )
    diff = plan.diff
    base = f"version {plan.base.number}" if plan.base else "aucune version publiée"
    st.markdown(
        f"**Comparaison avec la version en ligne** ({base}) : {diff.added_count} ajoutée(s), "
        f"{diff.changed_count} mise(s) à jour, {diff.removed_count} retirée(s) ; les "
        "initiatives déjà publiées restent sur la carte (fusion)."
    )
    if diff.added:
        with st.expander(f"{diff.added_count} initiative(s) ajoutée(s)", expanded=True):
            st.markdown(row_cards(diff.added), unsafe_allow_html=True)
    if diff.changed:
        with st.expander(f"{diff.changed_count} initiative(s) mise(s) à jour"):
            st.markdown("\n".join(f"- {md_escape(change.nom)}" for change in diff.changed))
    if diff.is_empty:
        st.info("Aucun changement par rapport à la version en ligne.")
    note = st.text_input(
        "Note de version (visible dans l'historique)",
        value=(state.extraction.source if state.extraction else state.name)[:200],
        key=state.key("note"),
    )
    confirmed = st.checkbox(
        f"Je confirme la publication de {diff.added_count + diff.changed_count} initiative(s) "
        "du communiqué sur la carte publique.",
        key=state.key("confirm"),
    )
    if st.button(
        "Publier le communiqué",
        type="primary",
        disabled=not (confirmed and plan.publishable and not diff.is_empty),
        key=state.key("publish"),
    ):
        try:
            info = publish_plan(plan, store, author=editor.name, note=note)
        except ConflictError as exc:
            st.error(
                f"{md_escape(shown_error(exc))} Cliquez de nouveau sur « Vérifier et comparer »."
            )
            state.session = None
            return
        except CartoError as exc:
            st.error(md_escape(shown_error(exc)))
            return
        state.published = info.number
        embed.remember_notices(info.notices)
        st.rerun()
