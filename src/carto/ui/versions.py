"""Editors' history of published versions, and rollback to one of them."""

from __future__ import annotations

import streamlit as st

from carto.auth import Editor
from carto.display import md_escape
from carto.errors import CartoError, NothingToPublish
from carto.publishing.history import HistoryEntry, version_history
from carto.publishing.storage import Store
from carto.ui import embed
from carto.ui.errors import shown_error
from carto.ui.readable import STYLE, esc

# st.session_state key: the message of the rollback just done, shown after the rerun.
ROLLBACK_DONE = "versions_rollback_done"


def _history_cards(entries: list[HistoryEntry]) -> str:
    """Each version as a wrapped card: number, date, author, mode, counts, note."""
    cards = []
    for index, entry in enumerate(entries):
        v = entry.version
        online = " — <strong>en ligne</strong>" if index == 0 else ""
        note = f"<p>Note : « {esc(v.note)} »</p>" if v.note else ""
        cards.append(
            f'<div class="carte {"note" if index == 0 else "avertissement"}" role="group">'
            f"<p><strong>Version {v.number}</strong>{online} — {esc(entry.mode_text)}</p>"
            f"<p>Publiée le {esc(entry.date_text)} par {esc(v.author or '—')}</p>"
            f"<p>{esc(entry.counts_text)}</p>{note}</div>"
        )
    return '<div class="carto-report">' + "".join(cards) + "</div>"


def versions_panel(store: Store, *, editor: Editor) -> None:
    """History of published versions, and rollback to one of them."""
    done = st.session_state.pop(ROLLBACK_DONE, None)
    if done:
        st.success(done)
    entries = version_history(store)
    if not entries:
        st.info("Aucune version publiée.")
        return
    st.markdown(STYLE, unsafe_allow_html=True)
    st.markdown(_history_cards(entries), unsafe_allow_html=True)
    older = [e.version.number for e in entries[1:]]
    if not older:
        return
    st.subheader("Revenir à une version précédente", anchor=False)
    # Keys tied to the current version: after a rollback the confirmation starts unchecked.
    now = entries[0].version.number
    target = st.selectbox(
        "Version à remettre en ligne",
        older,
        key=f"rollback_target:{now}",
        placeholder="Choisissez une version…",
    )
    sure = st.checkbox(
        f"Je confirme remettre en ligne le contenu de la version {target} "
        "(une nouvelle version est créée ; rien n'est effacé).",
        key=f"rollback_confirm:{now}",
    )
    if st.button("Revenir à cette version", disabled=not sure):
        try:
            info = store.rollback(int(target), author=editor.name)
        except NothingToPublish as exc:
            st.info(str(exc))
            return
        except CartoError as exc:
            st.error(md_escape(shown_error(exc)))
            return
        # Rerun so that the history above lists the new version at once.
        st.session_state[ROLLBACK_DONE] = (
            f"Version {info.number} publiée : contenu de la version {target}."
        )
        embed.remember_notices(info.notices)
        st.rerun()
