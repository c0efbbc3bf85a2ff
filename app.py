"""Carto solidaire, served by `streamlit run app.py` (or any ASGI server: `app:app`).

The pages are those of navigation.py. This entry adds what Streamlit does not do itself: the
route of the map's data files, written under CARTO_STATE_DIR rather than in the code tree, the
routes that set and expire the editors' « rester connecté » cookie (a script cannot), pages
declared in French (`<html lang="fr">`, carto.ui.routes.FrenchPages), and a French message
(details in the server log) for any error no page caught.
"""

from __future__ import annotations

import streamlit as st

from carto.ui.errors import on_script_error
from carto.ui.routes import middleware, routes

app = st.App(
    "navigation.py", routes=routes(), middleware=middleware(), on_script_error=on_script_error
)
