"""The only package module that imports streamlit: cached loaders and shared widgets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import folium
import pandas as pd
import streamlit as st

from carto import dataset, mapping
from carto.config import Settings
from carto.display import detail_lines, detail_markdown
from carto.filters import FilterSpec, apply_filters, facet_counts, search_index
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.models import CATEGORIES, CATEGORY_BY_SLUG, SCOPE_LABELS

PAGE_TITLE = "Carto solidaire"


def settings() -> Settings:
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def gazetteer(departement: str) -> Gazetteer:
    return load_gazetteer(departement)


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path), stat.st_mtime_ns, stat.st_size)


@st.cache_data(show_spinner="Chargement des initiatives…", max_entries=8)
def _load_file(key: tuple[str, int, int], departement: str) -> dataset.LoadedTable:
    return dataset.load(Path(key[0]), departement=departement, gazetteer=gazetteer(departement))


def current_data(cfg: Settings) -> tuple[dataset.LoadedTable, str]:
    """The published initiatives and a key that changes whenever they change."""
    key = _file_key(cfg.data_path)
    return _load_file(key, cfg.departement), f"{key[0]}:{key[1]}:{key[2]}"


@st.cache_data(show_spinner=False, max_entries=8)
def _search_index(data_key: str, _table: pd.DataFrame) -> pd.Series:
    return search_index(_table)


def filtered(table: pd.DataFrame, spec: FilterSpec, *, data_key: str) -> pd.DataFrame:
    return apply_filters(table, spec, index=_search_index(data_key, table))


@st.cache_resource(show_spinner=False, max_entries=32)
def _map(
    data_key: str,
    ids: tuple[str, ...],
    tiles: str,
    departement: str,
    selected_id: str | None,
    _table: pd.DataFrame,
) -> folium.Map:
    gaz = gazetteer(departement)
    return mapping.build_map(
        _table,
        arrondissements=gaz.arrondissement_outlines(),
        communes=gaz.commune_outlines() if tiles == "none" else None,
        tiles=tiles,
        bounds=gaz.bounds,
        selected_id=selected_id,
    )


def initiative_map(
    table: pd.DataFrame, *, data_key: str, cfg: Settings, selected_id: str | None
) -> folium.Map:
    """The folium map of `table`, built once per (data, shown rows, selection, tiles)."""
    ids = tuple(table["id"].astype(str))
    return _map(data_key, ids, cfg.tiles, cfg.departement, selected_id, table)


def category_label(slug: str) -> str:
    category = CATEGORY_BY_SLUG.get(slug)
    return category.label if category else slug


def sidebar_filters(table: pd.DataFrame, gaz: Gazetteer) -> FilterSpec:
    """Sidebar widgets, initialised from the URL so that shared links reproduce the view."""
    arr_names = {a.code: a.nom for a in gaz.arrondissements}
    present_communes = (
        table[["code_insee", "commune"]].dropna().drop_duplicates().sort_values("commune")
    )
    commune_names = dict(zip(present_communes["code_insee"], present_communes["commune"], strict=True))
    if "filters_initialised" not in st.session_state:
        spec = FilterSpec.from_query(
            {k: st.query_params.get_all(k) for k in st.query_params},
            known_arrondissements=arr_names,
            known_communes=commune_names,
        )
        st.session_state["f_categories"] = list(spec.categories)
        st.session_state["f_arrondissements"] = list(spec.arrondissements)
        st.session_state["f_communes"] = list(spec.communes)
        st.session_state["f_text"] = spec.text
        st.session_state["selected_id"] = spec.selected_id
        st.session_state["filters_initialised"] = True

    cat_counts = facet_counts(table, "categorie")
    arr_counts = facet_counts(table, "arrondissement_code")
    with st.sidebar:
        st.header("Filtres")
        st.text_input("Rechercher", key="f_text", placeholder="nom, commune, description…")
        st.multiselect(
            "Catégories",
            options=[c.slug for c in CATEGORIES],
            format_func=lambda s: f"{category_label(s)} ({cat_counts.get(s, 0)})",
            key="f_categories",
            placeholder="Toutes",
        )
        st.multiselect(
            "Arrondissements",
            options=list(arr_names),
            format_func=lambda c: f"{arr_names.get(c, c)} ({arr_counts.get(c, 0)})",
            key="f_arrondissements",
            placeholder="Tous",
        )
        st.multiselect(
            "Communes",
            options=list(commune_names),
            format_func=lambda c: commune_names.get(c, c),
            key="f_communes",
            placeholder="Toutes",
        )
        st.button("Réinitialiser les filtres", on_click=_reset_filters)
    return FilterSpec(
        categories=tuple(st.session_state["f_categories"]),
        arrondissements=tuple(st.session_state["f_arrondissements"]),
        communes=tuple(st.session_state["f_communes"]),
        text=st.session_state["f_text"],
        selected_id=st.session_state.get("selected_id"),
    )


def _reset_filters() -> None:
    st.session_state["f_categories"] = []
    st.session_state["f_arrondissements"] = []
    st.session_state["f_communes"] = []
    st.session_state["f_text"] = ""
    st.session_state["selected_id"] = None


def sync_query_params(spec: FilterSpec) -> None:
    """Keep the address bar equal to the view, so that copying it shares the view."""
    wanted = spec.to_query()
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    normalised = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
    if current != normalised:
        st.query_params.from_dict(wanted)


def initiatives_table(table: pd.DataFrame, *, key: str = "table") -> str | None:
    """The filtered initiatives as a table; returns the id of the row the visitor selected."""
    shown = pd.DataFrame(
        {
            "Nom": table["nom"].astype(str),
            "Catégorie": table["categorie"].map(category_label),
            "Commune": table["commune"].fillna("").astype(str),
            "Arrondissement": table["arrondissement"].fillna("").astype(str),
            "Portée": table["portee"].map(lambda s: SCOPE_LABELS.get(str(s), str(s))),
        }
    )
    event = st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=key,
    )
    rows: Sequence[int] = event.selection.rows if event is not None else []  # type: ignore[attr-defined]
    if rows and 0 <= rows[0] < len(table):
        return str(table.iloc[rows[0]]["id"])
    return None


def detail_panel(row: dict[str, object] | None) -> None:
    """Everything about one initiative; all text is shown literally, links only if safe."""
    if row is None:
        st.info("Cliquez sur un point de la carte ou une ligne du tableau pour voir le détail.")
        return
    st.subheader(str(row.get("nom", "")), anchor=False)
    description = str(row.get("description") or "")
    if description:
        st.text(description)
    for line in detail_lines(row):
        st.markdown(detail_markdown(line))


def issues_expander(loaded: dataset.LoadedTable) -> None:
    unplaced = len(loaded.table) - len(loaded.placed)
    if not loaded.issues:
        return
    label = f"{len(loaded.errors)} erreur(s), {len(loaded.warnings)} avertissement(s) dans les données"
    if unplaced:
        label += f" — {unplaced} initiative(s) non placée(s) sur la carte"
    with st.expander(label):
        for issue in loaded.issues:
            st.text(str(issue))
