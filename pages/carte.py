"""The public map: filters, map, table, detail of the selected initiative, news, downloads."""

from __future__ import annotations

import streamlit as st

from carto.ui import PAGE_TITLE, caches, map_view, selection
from carto.ui.errors import stop_on_error
from carto.ui.french import french_chrome

st.set_page_config(page_title=f"{PAGE_TITLE} — carte", layout="wide")
french_chrome()

with stop_on_error("La carte ne peut pas s'afficher"):
    cfg = caches.settings()
    gaz = caches.gazetteer(cfg.departement)
    table, data_key, version = caches.published_data(cfg)

st.title("Initiatives solidaires", anchor=False)
st.caption(
    "Les initiatives de solidarité mises en avant par les services de l'État dans le département. "
    "Filtrez par thème, arrondissement, commune ou période ; cliquez sur un point pour le détail."
)

# Anything a visitor's browser can send is checked; what still fails is shown in French and
# logged with its traceback (client.showErrorDetails = "none" hides Streamlit's own).
with stop_on_error("La carte ne peut pas s'afficher"):
    index = caches.table_search_index(table, data_key=data_key)
    spec = map_view.sidebar_filters(table, gaz, index=index, data_key=data_key)
    news = map_view.publication_news(caches.store(cfg), cfg=cfg, data_key=data_key)
    new_ids = map_view.new_ids(table, news, version, data_key=data_key)
    shown = caches.filtered(table, spec, data_key=data_key)
    placed = shown[shown["latitude"].notna() & shown["longitude"].notna()]
    hidden_ended = map_view.hidden_ended_count(table, spec, data_key=data_key)
    map_view.shown_caption(len(shown), len(table), hidden_ended)
    notes = map_view.commune_notices(table, spec, gaz, index=index)
    if version is None:
        map_view.no_version_notice(cfg)
    elif shown.empty:
        map_view.empty_result_notice(
            hidden_ended, said=bool(notes) and all(not note.zones for note in notes)
        )
    selected = selection.current(set(shown["id"].astype(str)))
    notice = selection.unavailable_notice(set(table["id"].astype(str)))
    if notice:
        st.warning(notice)
    # The address follows the view as soon as it is known: a visitor who copies or reloads it
    # while the map is still being drawn keeps this view.
    map_view.sync_query_params(spec, selected)

    col_map, col_detail = st.columns([3, 2], gap="medium")
    with col_map:
        map_view.initiative_map(
            placed, cfg=cfg, data_key=data_key, spec=spec, selected=selected, new_ids=new_ids
        )
    map_view.initiatives_table(shown, view=(data_key, *spec.view_key), new_ids=new_ids)
    with col_detail:
        map_view.detail_panel(shown, selected, new_ids=new_ids)

    map_view.news_section(news)
    map_view.download_buttons(shown, data_key=data_key, spec=spec)
    map_view.data_footer(table, version)
