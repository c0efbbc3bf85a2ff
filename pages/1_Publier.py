"""Editors: import a file, read the report, review the changes, publish; versions and rollback."""

from __future__ import annotations

import streamlit as st

from carto import ui
from carto.display import md_escape

st.set_page_config(
    page_title=f"{ui.PAGE_TITLE} — publier",
    layout="wide",
)
st.title("Publier une mise à jour")

ui.navigation()
with ui.stop_on_error("La publication n'est pas disponible"):
    cfg = ui.settings()
editor = ui.signed_in_editor()
if editor is None:
    st.caption(
        "La consultation de la carte est publique ; l'import et la publication sont "
        "réservés aux éditeurs connectés."
    )
    st.stop()

st.sidebar.markdown(f"Connecté : **{md_escape(editor.name)}**")
ui.sign_out_button()
with ui.stop_on_error("La publication n'est pas disponible"):
    store = ui.open_configured_store(cfg)
    gaz = ui.gazetteer(cfg.departement)

tab_import, tab_versions = st.tabs(["Importer un fichier", "Versions publiées"])
with tab_import:
    ui.import_flow(store, gaz, editor=editor)
with tab_versions:
    ui.versions_panel(store, editor=editor)
