"""Editors: import a file, read the report, review the changes, publish; versions and rollback."""

from __future__ import annotations

import streamlit as st

from carto.display import md_escape
from carto.ui import (
    PAGE_TITLE,
    caches,
    communique_page,
    embed,
    import_page,
    review_due,
    signin,
    versions,
)
from carto.ui.errors import stop_on_error
from carto.ui.french import french_chrome

st.set_page_config(page_title=f"{PAGE_TITLE} — publier", layout="wide")
french_chrome()
st.title("Publier une mise à jour")

with stop_on_error("La publication n'est pas disponible"):
    cfg = caches.settings()
editor = signin.signed_in_editor()
if editor is None:
    st.caption(
        "La consultation de la carte est publique ; l'import et la publication sont "
        "réservés aux éditeurs connectés."
    )
    st.stop()

st.sidebar.markdown(f"Connecté : **{md_escape(editor.name)}**")
signin.sign_out_button()
with stop_on_error("La publication n'est pas disponible"):
    store = caches.store(cfg)
    gaz = caches.gazetteer(cfg.departement)
embed.site_panel(cfg)

tab_import, tab_communique, tab_versions, tab_review = st.tabs(
    ["Importer un fichier", "Importer un communiqué", "Versions publiées", "À vérifier"]
)
with tab_import:
    import_page.import_flow(store, gaz, editor=editor)
with tab_communique:
    communique_page.communique_flow(store, gaz, editor=editor)
with tab_versions:
    versions.versions_panel(store, editor=editor)
with tab_review:
    review_due.review_due_panel(store, cfg)
