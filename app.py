"""Carto solidaire — the public map page. Logic lives in the carto package."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from carto import ui

st.set_page_config(page_title=f"{ui.PAGE_TITLE} — carte", layout="wide")

ui.navigation()
with ui.stop_on_error("La carte ne peut pas s'afficher"):
    cfg = ui.settings()
    gaz = ui.gazetteer(cfg.departement)
    table, data_key, version = ui.published_data(cfg)

st.title("Initiatives solidaires")
st.caption(
    "Les initiatives de solidarité mises en avant par les services de l'État dans le département. "
    "Filtrez par thème, arrondissement ou commune ; cliquez sur un point pour le détail."
)

# Anything a visitor's browser can send is checked; what still fails is shown in French and
# logged with its traceback (client.showErrorDetails = "none" hides Streamlit's own).
with ui.stop_on_error("La carte ne peut pas s'afficher"):
    spec = ui.sidebar_filters(table, gaz)
    shown = ui.filtered(table, spec, data_key=data_key)
    placed = shown[shown["latitude"].notna() & shown["longitude"].notna()]
    st.markdown(f"**{len(shown)} affichées sur {len(table)}**")

    ids = set(shown["id"].astype(str))
    selected_id = spec.selected_id
    if selected_id not in ids:
        selected_id = None

    col_map, col_detail = st.columns([3, 2], gap="medium")
    with col_map:
        clicked = ui.initiative_map(
            placed, cfg=cfg, data_key=data_key, spec=spec, selected_id=selected_id
        )

    picked = ui.initiatives_table(shown)

    # A new click on the map or a new row picked in the table selects that initiative; rerun so
    # that the map highlights it too.
    for source, new_id in (("last_clicked_id", clicked), ("last_table_pick", picked)):
        if new_id and new_id != st.session_state.get(source):
            st.session_state[source] = new_id
            if new_id in ids and new_id != selected_id:
                st.session_state["selected_id"] = new_id
                st.rerun()
    st.session_state["selected_id"] = selected_id
    row = None
    if selected_id:
        match = shown[shown["id"].astype(str) == selected_id]
        row = match.iloc[0].to_dict() if len(match) else None
    with col_detail:
        ui.detail_panel(row)

    ui.download_buttons(shown, data_key=data_key, spec=spec)
    ui.data_footer(table, version)
    ui.sync_query_params(replace(spec, selected_id=selected_id))
