"""The pages and their French titles; Streamlit lists them at the top of the sidebar.

It sits at the root of the project, next to static/: Streamlit serves /app/static/ from the
folder of this script (Leaflet, the outlines). No page icons: Streamlit fetches the Material
ones from fonts.gstatic.com, which a closed network blocks, and emoji need a font kiosks lack
(and a screen reader would read their names). Every page gets Streamlit's own controls in
French (carto.ui.french): each page draws it itself, after st.set_page_config; drawn here,
before st.navigation, it was at times dropped from a page opened by its address (a first run
where Streamlit's client looked for its server under the page's path first).
"""

from __future__ import annotations

import streamlit as st

from carto.ui.routes import public_only

pages = [st.Page("pages/carte.py", title="Carte des initiatives", default=True)]
if not public_only():  # CARTO_PUBLIC_ONLY=1: an instance others may frame, without Publier
    pages.append(st.Page("pages/publier.py", title="Publier (éditeurs)", url_path="publier"))
st.navigation(pages).run()
