"""Editors' « À vérifier » list: initiatives whose end date is past or whose last check is old
(carto.timeline.review_due; the same list as `carto a-verifier`)."""

from __future__ import annotations

import streamlit as st

from carto.config import Settings
from carto.display import md_escape
from carto.exports import sheet_csv
from carto.publishing.storage import Store
from carto.timeline import local_today, review_due, review_frame


def review_due_panel(store: Store, cfg: Settings) -> None:
    """The « à vérifier » list of the published version, with why, and a CSV to work from."""
    st.caption(
        "Initiatives dont la date de fin est passée sans statut « terminée », au statut « à "
        f"vérifier », ou qui n'ont pas été vérifiées depuis plus de {cfg.review_weeks} semaines "
        "(colonne `verifie_le`, à défaut la date de publication ; réglage : "
        "`CARTO_REVIEW_WEEKS`). Après vérification, importez le fichier avec `verifie_le`, "
        "`statut` ou `date_fin` à jour (mode « Fusionner »)."
    )
    if store.current() is None:
        st.info("Aucune version publiée : rien à vérifier.")
        return
    items = review_due(store.load(), today=local_today(), weeks=cfg.review_weeks)
    if not items:
        st.success("Aucune initiative à vérifier.")
        return
    st.markdown(f"**{len(items)} initiative{'s' if len(items) > 1 else ''} à vérifier**")
    frame = review_frame(items)
    # A real HTML table (screen readers read it); cells are shown literally.
    st.table(frame.map(md_escape), hide_index=True)
    data = sheet_csv(frame)
    st.download_button(
        "Télécharger la liste (CSV)",
        data=data,
        file_name="initiatives-a-verifier.csv",
        mime="text/csv",
        on_click="ignore",
        key="review_due_csv",
    )
