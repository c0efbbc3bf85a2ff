"""Editors' history of published versions, and rollback to one of them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from carto.auth import Editor
from carto.errors import CartoError
from carto.publishing.modes import MODE_LABELS
from carto.publishing.storage import Store
from carto.ui import embed


def versions_panel(store: Store, *, editor: Editor) -> None:
    """History of published versions, and rollback to one of them."""
    versions = store.versions()
    if not versions:
        st.info("Aucune version publiée.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Version": [v.number for v in versions],
                "Publiée le (UTC)": [v.created_at.strftime("%Y-%m-%d %H:%M") for v in versions],
                "Auteur": [v.author for v in versions],
                "Mode": [MODE_LABELS.get(v.mode, str(v.mode)) for v in versions],
                "Initiatives": [v.row_count for v in versions],
                "Note": [v.note for v in versions],
                "Empreinte": [v.checksum[:12] for v in versions],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    older = [v.number for v in versions[1:]]
    if not older:
        return
    st.subheader("Revenir à une version précédente", anchor=False)
    # Keys tied to the current version: after a rollback the confirmation starts unchecked.
    now = versions[0].number
    target = st.selectbox("Version à remettre en ligne", older, key=f"rollback_target:{now}")
    sure = st.checkbox(
        f"Je confirme remettre en ligne le contenu de la version {target} "
        "(une nouvelle version est créée ; rien n'est effacé).",
        key=f"rollback_confirm:{now}",
    )
    if st.button("Revenir à cette version", disabled=not sure):
        try:
            info = store.rollback(int(target), author=editor.name)
        except CartoError as exc:
            st.error(str(exc))
            return
        st.success(f"Version {info.number} publiée : contenu de la version {target}.")
        embed.show_notices(info.notices)
