"""Publier page: what became of the public site after a publish, and the <iframe> to embed it."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from carto.config import Settings
from carto.display import md_escape
from carto.site.build import REBUILD_FAILED, embed_snippet
from carto.ui.errors import without_paths

NOTICES_KEY = "site_notices"
# Shown when CARTO_SITE_DIR is set without CARTO_SITE_URL: the editor replaces it.
PLACEHOLDER_URL = "https://adresse-du-site-public.example"


def remember_notices(notices: Sequence[str]) -> None:
    """Keep a publish's notices (VersionInfo.notices) for the next run of the page."""
    st.session_state[NOTICES_KEY] = list(notices)


def show_notices(notices: Sequence[str]) -> None:
    for notice in notices:
        # A notice may name the site's folder: the page says its last part only.
        (st.warning if REBUILD_FAILED in notice else st.info)(md_escape(without_paths(notice)))


def site_panel(cfg: Settings) -> None:
    """Notices of the last publish, and the <iframe> snippet when there is a public site."""
    show_notices(st.session_state.pop(NOTICES_KEY, []))
    if not (cfg.site_url or cfg.site_dir):
        return
    with st.expander("Intégrer la carte dans un autre site"):
        st.markdown(
            "Collez ce code dans une page de votre site : la carte et la liste des initiatives "
            "s'y affichent, sans les filtres, et suivent chaque publication."
        )
        st.code(embed_snippet(cfg.site_url or PLACEHOLDER_URL), language="html")
        if not cfg.site_url:
            st.caption(
                "Le site public est écrit dans le dossier CARTO_SITE_DIR du serveur : remplacez "
                "l'adresse ci-dessus par celle où il est publié (ou indiquez-la à l'exploitant, "
                "variable CARTO_SITE_URL)."
            )
