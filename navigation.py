"""The pages and their French titles; Streamlit lists them at the top of the sidebar.

It sits at the root of the project, next to static/: Streamlit serves /app/static/ from the
folder of this script (Leaflet, the outlines). No page icons: Streamlit fetches the Material
ones from fonts.gstatic.com, which a closed network blocks, and emoji need a font kiosks lack
(and a screen reader would read their names). Every page gets Streamlit's own controls in
French (map_view.french_chrome).
"""

from __future__ import annotations

import streamlit as st

from carto.ui.map_view import french_chrome

french_chrome()
st.navigation(
    [
        st.Page("pages/carte.py", title="Carte des initiatives", default=True),
        st.Page("pages/publier.py", title="Publier (éditeurs)", url_path="publier"),
    ]
).run()
