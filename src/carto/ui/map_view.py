"""The public map page's widgets: filters, map, table, detail panel, downloads, footer."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Hashable, Mapping
from contextlib import suppress
from datetime import date
from functools import lru_cache, partial
from typing import TypeVar

import pandas as pd
import streamlit as st
from streamlit import dataframe_util

from carto import timeline, zones
from carto.config import Settings
from carto.display import detail_lines, detail_markdown, md_escape
from carto.exports import EXPORT_FORMATS, MEDIA_TYPES, export_filename, export_table
from carto.filters import (
    DAY_HINT,
    MAX_QUERY_TEXT,
    PARAM_ENDED,
    CommuneNote,
    FilterSpec,
    commune_notes,
    day_text,
    facets,
    typed_day,
)
from carto.gazetteer import Gazetteer
from carto.map import basemap
from carto.map.assets import LABELS_FILE, outlines_url
from carto.map.markers import marker_payload, script_json
from carto.models import CATEGORIES, CATEGORY_BY_SLUG, SCOPE_LABELS
from carto.publishing.storage import LOCAL_TZ, Store, VersionInfo
from carto.text import fold
from carto.ui import caches, map_frame, selection
from carto.ui.errors import log_lasting_notice, log_lasting_problem, logger
from carto.ui.routes import marker_url
from carto.ui.selection import Selection

V = TypeVar("V")

TABLE_LIMIT = 1_000
MAP_HEIGHT = 560
# What the map returns to the page: the clicked initiative (selection.on_map_click).
MAP_RETURNED = ["last_active_drawing"]
# The detail panel's container (Streamlit gives it the class st-key-<key>), and the id of the
# initiative it showed last (its opening scrolls it into view once).
DETAIL_KEY = "carto_detail"
SHOWN_DETAIL_KEY = "detail_shown"

# Run in the page (st.html) when a detail opens: scroll it into view unless it already is.
_SCROLL_INTO_VIEW = """
(function () {
    // Checked for 4 s: on a first load the map's frame gets its height late and pushes the
    // panel down. Stops as soon as the visitor scrolls, moves the focus or acts himself (a scroll
    // event alone is not his: the page's own layout changes fire them too).
    // The focus is never left off screen (RGAA 10.7): when the scroll hides the control that
    // chose the initiative (the list under the table), the focus goes to the initiative's
    // name, from which Tab leads back to the list.
    var tries = 0, stopped = false, ours = false;
    var events = ["wheel", "touchstart", "pointerdown", "keydown", "focusin"];
    function stop() {
        if (ours) { return; }
        stopped = true;
        events.forEach(function (type) { window.removeEventListener(type, stop, true); });
    }
    events.forEach(function (type) { window.addEventListener(type, stop, true); });
    function onScreen(el) {
        var box = el.getBoundingClientRect();
        return box.bottom > 0 && box.top < window.innerHeight;
    }
    function check() {
        if (stopped) { return; }
        if (tries++ > 16) { stop(); return; }
        var panel = document.querySelector(".st-key-DETAIL_KEY");
        if (panel) {
            var box = panel.getBoundingClientRect();
            if (box.top < 0 || box.top > window.innerHeight - 80) {
                var focused = document.activeElement;
                panel.scrollIntoView({block: "start"});
                var name = panel.querySelector("h3");
                if (name && focused && focused !== document.body && !panel.contains(focused)
                        && !onScreen(focused)) {
                    name.setAttribute("tabindex", "-1");
                    ours = true;
                    name.focus({preventScroll: true});
                    ours = false;
                }
            }
        }
        setTimeout(check, 250);
    }
    setTimeout(check, 50);
})();
""".replace("DETAIL_KEY", DETAIL_KEY)
FILTER_KEYS = (
    "f_categories",
    "f_arrondissements",
    "f_communes",
    "f_text",
    "f_start",
    "f_end",
    "f_ended",
)
# The empty value of each filter widget (what « Réinitialiser les filtres » puts back).
_FILTER_DEFAULTS: dict[str, object] = {
    "f_text": "",
    "f_start": "",
    "f_end": "",
    "f_ended": False,
}
# Publications listed in « Nouveautés » before « Publications précédentes ».
NEWS_SHOWN = 3
NEWS_OLDER_SHOWN = 12


def category_label(slug: str) -> str:
    category = CATEGORY_BY_SLUG.get(slug)
    return category.label if category else slug


# --- filters ---------------------------------------------------------------------------------


def _reset_if_invalid(key: str, valid: Callable[[object], bool], default: object) -> bool:
    """Reset session value `key` to `default` unless `valid`; True when it was reset.

    Widget values come from the browser: a crafted message can put an int where text is
    expected, or a value Streamlit cannot even decode (then reading it raises).
    """
    try:
        value = st.session_state.get(key, default)
        if valid(value):
            return False
        logger.warning("Valeur refusée pour %s : %s %.80r", key, type(value).__name__, value)
    except Exception:
        logger.exception("Valeur illisible pour %s", key)
    # Drop the received widget state too: kept, it would be re-encoded with its wrong type.
    with suppress(KeyError):
        del st.session_state[key]
    st.session_state[key] = default
    return True


def _choices(value: object, options: Collection[str]) -> list[str]:
    """The known options in a multiselect value; [] for anything but a list."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str) and v in options]


_COUNTED_LABEL = re.compile(r"(.*) \(\d+\)")


def _relabel(key: str, values_by_name: Mapping[str, str]) -> None:
    """Turn options the browser sends by an outdated label, « Arras (4) », back into values.

    The counts in the labels follow the other filters, so a chosen option's label changes; the
    browser keeps and sends the label it was shown, which Streamlit no longer recognises. The
    value is written back even when unchanged, so that the browser shows the current labels.
    """
    try:
        value = st.session_state.get(key)
    except Exception:  # undecodable: _reset_if_invalid explains it
        return
    if not isinstance(value, list):
        return
    fixed: list[object] = []
    for item in value:
        match = _COUNTED_LABEL.fullmatch(item) if isinstance(item, str) else None
        fixed.append(values_by_name.get(match.group(1), item) if match else item)
    st.session_state[key] = fixed


def territory_communes(table: pd.DataFrame, gaz: Gazetteer) -> dict[str, str]:
    """Every commune of the territory (the gazetteer's), and any other the table's initiatives
    name, code INSEE → name, sorted by name (accents and case aside): the « Communes » filter
    offers them all, with or without an initiative."""
    present = table[["code_insee", "commune"]].dropna().drop_duplicates("code_insee")
    names = {c.code_insee: c.nom for c in gaz.communes}
    for code, name in zip(present["code_insee"], present["commune"], strict=True):
        names.setdefault(str(code), str(name))
    return dict(sorted(names.items(), key=lambda item: (fold(item[1]), item[0])))


def sidebar_filters(
    table: pd.DataFrame,
    gaz: Gazetteer,
    *,
    index: pd.Series | None = None,
    data_key: str | None = None,
) -> FilterSpec:
    """Sidebar widgets, initialised from the URL so that shared links reproduce the view.

    Every value read back is type-checked: an invalid one (crafted by a visitor) resets its
    filter, with a French message, instead of a traceback. The count beside each category and
    arrondissement follows the other filters (filters.facets); `index` is the table's
    search index, when the caller keeps one. With `data_key` (the data version), the communes
    and the counts of each view are computed once per process (caches).
    """
    arr_names = {a.code: a.nom for a in gaz.arrondissements}
    commune_names = (
        caches.per_version(data_key, "communes", partial(territory_communes, table, gaz))
        if data_key is not None
        else territory_communes(table, gaz)
    )
    if "filters_initialised" not in st.session_state:
        query = selection.address()
        spec = FilterSpec.from_query(
            query,
            known_arrondissements=arr_names,
            known_communes=commune_names,
        )
        st.session_state["f_categories"] = list(spec.categories)
        st.session_state["f_arrondissements"] = list(spec.arrondissements)
        st.session_state["f_communes"] = list(spec.communes)
        st.session_state["f_text"] = spec.text
        st.session_state["f_start"] = day_text(spec.start)
        st.session_state["f_end"] = day_text(spec.end)
        # A shared link to an initiative that has ended since shows it (with « Terminée » in
        # its detail), as the static site does, rather than a « masquée » notice; unless the
        # link itself says whether to show ended ones.
        st.session_state["f_ended"] = spec.show_ended or (
            PARAM_ENDED not in query and _links_to_ended(table, query)
        )
        st.session_state["filters_initialised"] = True

    slugs = [c.slug for c in CATEGORIES]
    _relabel("f_categories", {category_label(s): s for s in slugs})
    _relabel("f_arrondissements", {name: code for code, name in arr_names.items()})
    checks: list[tuple[str, str, Callable[[object], bool], object]] = [
        ("f_text", "Rechercher", lambda v: isinstance(v, str) and len(v) <= MAX_QUERY_TEXT, ""),
        ("f_categories", "Catégories", lambda v: v == _choices(v, slugs), []),
        ("f_arrondissements", "Arrondissements", lambda v: v == _choices(v, arr_names), []),
        ("f_communes", "Communes", lambda v: v == _choices(v, commune_names), []),
        ("f_start", "Actives à partir du", _is_day_text, ""),
        ("f_end", "Actives jusqu'au", _is_day_text, ""),
        ("f_ended", "Afficher aussi les initiatives terminées", _is_flag, False),
    ]
    reset = [
        label for key, label, valid, default in checks if _reset_if_invalid(key, valid, default)
    ]
    if reset:
        st.error(
            "Valeur reçue invalide pour le filtre "
            + ", ".join(f"« {label} »" for label in reset)
            + " : ce filtre a été réinitialisé."
        )

    # The values the widgets below will return, known before they are drawn: the counts in
    # their labels depend on them.
    # A rerun may carry only some widget states (a client that sends just the one it changed):
    # the others fall back to their empty value instead of failing.
    chosen = FilterSpec(
        categories=tuple(st.session_state.get("f_categories", [])),
        arrondissements=tuple(st.session_state.get("f_arrondissements", [])),
        communes=tuple(st.session_state.get("f_communes", [])),
        text=st.session_state.get("f_text", ""),
        start=_day_or_none(st.session_state.get("f_start", "")),
        end=_day_or_none(st.session_state.get("f_end", "")),
        show_ended=bool(st.session_state.get("f_ended", False)),
    )
    columns = ("categorie", "arrondissement_code")
    counts = (
        caches.facet_counts(table, chosen, columns, data_key=data_key, index=index)
        if data_key is not None
        else facets(table, chosen, columns, index=index)
    )
    cat_counts, arr_counts = counts["categorie"], counts["arrondissement_code"]
    with st.sidebar:
        st.header("Filtres")
        text = st.text_input(
            "Rechercher",
            key="f_text",
            max_chars=MAX_QUERY_TEXT,
            placeholder="nom, commune, description…",
        )
        categories = st.multiselect(
            "Catégories",
            options=slugs,
            format_func=lambda s: f"{category_label(s)} ({cat_counts.get(s, 0)})",
            key="f_categories",
            placeholder="Toutes",
            select_all=False,
        )
        arrondissements = st.multiselect(
            "Arrondissements",
            options=list(arr_names),
            format_func=lambda c: f"{arr_names.get(c, c)} ({arr_counts.get(c, 0)})",
            key="f_arrondissements",
            placeholder="Tous",
            select_all=False,
        )
        communes = st.multiselect(
            "Communes",
            options=list(commune_names),
            format_func=lambda c: commune_names.get(c, c),
            key="f_communes",
            placeholder="Toutes",
            select_all=False,
        )
        start, end, show_ended = _time_filters()
        st.button("Réinitialiser les filtres", on_click=_reset_filters)
    return FilterSpec(
        categories=tuple(_choices(categories, slugs)),
        arrondissements=tuple(_choices(arrondissements, arr_names)),
        communes=tuple(_choices(communes, commune_names)),
        text=text if isinstance(text, str) else "",
        start=start,
        end=end,
        show_ended=show_ended,
    )


def _is_day_text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= _DAY_TEXT_MAX


def _day_or_none(value: object) -> date | None:
    """The day a period field holds; None when empty or not a day (the field says why)."""
    try:
        return typed_day(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _is_flag(value: object) -> bool:
    return isinstance(value, bool)


# The longest text a period field keeps (« 06/04/2020 » is 10 characters).
_DAY_TEXT_MAX = 40


def _day_field(label: str, key: str, help: str) -> date | None:
    """One end of the period: a text field read as a day (filters.typed_day).

    A text field rather than st.date_input: Streamlit 1.67's date field applies a typed day
    only when the field is left, not on Enter (the filter and the shared link missed it), and
    its calendar speaks English. Enter applies a text field; what is not a day is said under
    it, in French, and that end of the period is left open.
    """
    text = st.text_input(
        label,
        key=key,
        max_chars=_DAY_TEXT_MAX,
        placeholder=DAY_HINT,
        help=help,
    )
    try:
        return typed_day(text if isinstance(text, str) else "")
    except ValueError as exc:
        st.error(f"{md_escape(str(exc))} Cette limite de la période n'est pas appliquée.")
        return None


def _time_filters() -> tuple[date | None, date | None, bool]:
    """The period (two optional days) and « Afficher aussi les initiatives terminées »."""
    for key in ("f_start", "f_end", "f_ended"):
        st.session_state.setdefault(key, _FILTER_DEFAULTS[key])
    st.markdown("**Période**")
    st.caption(
        "Les initiatives actives pendant la période choisie. Sans date de début ou de fin "
        "connue, une initiative compte comme active depuis toujours ou jusqu'à aujourd'hui."
    )
    start = _day_field(
        "Actives à partir du",
        "f_start",
        f"Une date {DAY_HINT} (par exemple 06/04/2020), appliquée avec Entrée. Laissez vide "
        "pour ne pas limiter le début de la période.",
    )
    end = _day_field(
        "Actives jusqu'au",
        "f_end",
        f"Une date {DAY_HINT} (par exemple 30/04/2020), appliquée avec Entrée. Laissez vide "
        "pour ne pas limiter la fin de la période.",
    )
    show_ended = st.checkbox(
        "Afficher aussi les initiatives terminées",
        key="f_ended",
        help="Une initiative est terminée quand son statut le dit ou que sa date de fin est "
        "passée. Elles sont masquées par défaut.",
    )
    return (
        start if isinstance(start, date) else None,
        end if isinstance(end, date) else None,
        show_ended is True,
    )


def _links_to_ended(table: pd.DataFrame, query: Mapping[str, list[str]]) -> bool:
    """Whether the address (`query`) names (?id=) an initiative that has ended."""
    ident = Selection.from_url(query).id
    if ident is None or "id" not in table.columns:
        return False
    row = table[table["id"].astype(str) == ident]
    return bool(timeline.ended_mask(row, timeline.local_today()).any())


@lru_cache(maxsize=4)
def _commune_places(gaz: Gazetteer) -> tuple[dict[str, str], dict[str, tuple[float, float]]]:
    """The gazetteer's communes: names and centres (latitude, longitude), by code INSEE."""
    names = {c.code_insee: c.nom for c in gaz.communes}
    centres = {c.code_insee: (c.point.latitude, c.point.longitude) for c in gaz.communes}
    return names, centres


def commune_notices(
    table: pd.DataFrame, spec: FilterSpec, gaz: Gazetteer, *, index: pd.Series | None = None
) -> list[CommuneNote]:
    """Say it when a chosen commune has no initiative of its own (filters.commune_notes):
    « 2 initiatives couvrent Lens (zones) », or « Aucune initiative à … pour l'instant » with
    the nearest ones and their distance. Returns the notes."""
    if not spec.communes:
        return []
    names, centres = _commune_places(gaz)
    notes = commune_notes(table, spec, names, centres, index=index)
    for note in notes:
        if note.zones:
            st.info(
                f"{md_escape(note.text)} : "
                + ("elle agit" if note.zones == 1 else "elles agissent")
                + " sur un secteur qui comprend la commune, sans y avoir d'adresse."
            )
            continue
        text = f"**{md_escape(note.text)}.**"
        if note.nearest:
            text += "\n\nLes plus proches :\n" + "\n".join(
                f"- {md_escape(near.text)}" for near in note.nearest
            )
        st.warning(text)
    return notes


def empty_result_notice(hidden_ended: int = 0, *, said: bool = False) -> None:
    """What a view with no initiative says, with a way back to all of them; `said`: the
    communes' notices (commune_notices) already say there is none."""
    if not said:
        st.warning("Aucune initiative ne correspond à ces filtres.")
    if hidden_ended:
        st.info(
            _count(
                hidden_ended,
                "initiative terminée est masquée",
                "initiatives terminées sont masquées",
            )
            + " : cochez « Afficher aussi les initiatives terminées » dans les filtres "
            "pour les voir."
        )
    st.button("Réinitialiser les filtres", on_click=_reset_filters, key="reset_empty_result")


def _reset_filters() -> None:
    for key in FILTER_KEYS:
        st.session_state[key] = _FILTER_DEFAULTS.get(key, [])
    selection.select(Selection())


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def sync_query_params(spec: FilterSpec, selected: Selection) -> None:
    """Keep the address bar equal to the view, so that copying it shares the view."""
    wanted = spec.to_query() | selected.to_query()
    current = selection.address()
    normalised = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
    if current != normalised:
        st.query_params.from_dict(wanted)


# --- map -------------------------------------------------------------------------------------


def _base_map_args(cfg: Settings) -> dict[str, object]:
    """What the base map (basemap.build_base_map) depends on; outlines come from static files
    (`make assets`).

    With online tiles, the commune outlines and names are fetched only if the tiles fail."""
    gaz = caches.gazetteer(cfg.departement)
    return {
        "arrondissements": outlines_url(gaz.departement, "arrondissements.geojson"),
        "communes": outlines_url(gaz.departement, "communes.geojson"),
        "departement": outlines_url(gaz.departement, "departement.geojson"),
        "labels": outlines_url(gaz.departement, LABELS_FILE),
        "tiles": cfg.tiles,
        "bounds": gaz.bounds,
    }


def markers_url(
    table: pd.DataFrame,
    *,
    cfg: Settings,
    data_key: str,
    spec: FilterSpec,
    new_ids: Collection[str] = (),
) -> str | None:
    """URL of the marker data of one view (data version + filters), or None if it cannot be
    written; equivalent filters (order, case, accents, repeated words) share one file.

    An unwritable folder is the operator's problem, not the visitor's: the page then carries
    the data inline (slower at 50,000 rows, but the map stays whole) and the cause is logged.
    """
    files = caches.marker_files(cfg)
    gaz = caches.gazetteer(cfg.departement)

    def payload() -> str:
        # Area initiatives carry their outline (carto.zones), drawn under the markers.
        return script_json(
            marker_payload(table, lambda key: zones.zone_geometry(key, gaz), new_ids=new_ids)
        )

    try:
        path = files.path_for((data_key, spec.view_key), payload)
    except OSError as exc:
        log_lasting_problem(
            f"markers:{cfg.markers_dir}:{exc.errno}",
            "Les données de la carte ne peuvent pas être écrites dans %s : elles sont "
            "intégrées à la page en attendant (vérifiez le dossier et ses droits).",
            cfg.markers_dir,
        )
        return None
    return marker_url(path)


def view_area(spec: FilterSpec, gaz: Gazetteer) -> basemap.Bounds | None:
    """Where a filtered view is: the outline of its communes if it names some, else of its
    arrondissements; None when it names no place (the map then fits its initiatives).

    « Saint-Omer » shows the arrondissement of Saint-Omer, even when the initiatives it holds
    are area ones anchored at Béthune and Arras."""
    if spec.communes:
        return gaz.area_bounds(communes=spec.communes)
    if spec.arrondissements:
        return gaz.area_bounds(arrondissements=spec.arrondissements)
    return None


def initiative_map(
    table: pd.DataFrame,
    *,
    cfg: Settings,
    data_key: str,
    spec: FilterSpec,
    selected: Selection,
    new_ids: Collection[str] = (),
) -> None:
    """Draw the map; a click on an initiative selects it (selection.on_map_click).

    The initiatives travel as st_folium's `feature_group_to_add` pointing at a data file, so
    filtering or selecting updates the markers in place: the map is not reloaded and keeps the
    visitor's zoom, and the data of a view is built and sent once, not on every run.

    The base map is built and rendered once per process and each layer once per data file and
    selection (carto.ui.map_frame): a run only sends strings already made.
    """
    frame = map_frame.base_frame(**_base_map_args(cfg))
    url = markers_url(table, cfg=cfg, data_key=data_key, spec=spec, new_ids=new_ids)
    # A filtered view zooms to its initiatives, or to the place it names; the whole set keeps
    # the département's view.
    fit = not spec.is_empty
    gaz = caches.gazetteer(cfg.departement)
    area = view_area(spec, gaz)
    if url is None:
        group, _ = basemap.initiatives_layer(
            table,
            selected_id=selected.id,
            fit=fit,
            zone_geometry=lambda key: zones.zone_geometry(key, gaz),
            area=area,
        )
        layer = map_frame.layer_of(group, frame)
    else:
        layer = map_frame.layer(frame, url, selected.id, fit=fit, area=area)
    map_frame.show(
        frame,
        layer,
        key=selection.MAP_KEY,
        height=MAP_HEIGHT,
        returned_objects=MAP_RETURNED,
        on_change=selection.on_map_click,
    )


# --- table, detail, downloads ----------------------------------------------------------------


def table_data(shown: pd.DataFrame) -> object:
    """What st.table gets: the frame as the Arrow table st.table would make of it (the same
    bytes reach the browser, tests/test_view_caches.py), so that a view's conversion is done
    once; the frame itself if Streamlit no longer offers that conversion."""
    convert = getattr(dataframe_util, "convert_pandas_df_to_arrow_table", None)
    return convert(shown) if convert is not None else shown


def _table_rows(
    table: pd.DataFrame, new_ids: Collection[str] = ()
) -> tuple[object, list[str], dict[str, str]]:
    """The table as shown (cells escaped, see table_data), the ids of its rows, their names in
    the list. A « Nouveautés » column marks what the latest publication added."""
    labels = {c.slug: c.label for c in CATEGORIES}
    new = table["id"].astype(str).isin(set(new_ids))
    shown = pd.DataFrame(
        {
            "Nouveauté": new.map({True: "Nouveau", False: ""}),
            "Nom": table["nom"].astype(str),
            "Catégorie": table["categorie"].map(labels).fillna(table["categorie"]),
            "Commune": table["commune"].fillna("").astype(str),
            "Arrondissement": table["arrondissement"].fillna("").astype(str),
            "Portée": table["portee"].map(SCOPE_LABELS).fillna(table["portee"]),
        }
    )
    ids = table["id"].astype(str).tolist()
    badge = new.map({True: " — Nouveau", False: ""})
    names = dict(
        zip(ids, shown["Nom"] + shown["Commune"].map(_in_commune) + badge.to_numpy(), strict=True)
    )
    if not new.any():
        shown = shown.drop(columns="Nouveauté")
    # st.table renders Markdown in its cells: initiative text is escaped to show literally.
    return table_data(shown.map(md_escape)), ids, names


def initiatives_table(
    table: pd.DataFrame, *, view: Hashable | None = None, new_ids: Collection[str] = ()
) -> None:
    """The filtered initiatives as an HTML table, and a list that selects one of them
    (selection.on_table_pick).

    Beyond TABLE_LIMIT rows only the first ones are sent: nobody reads 50,000 rows in a page,
    and the downloads below give the whole selection. `view` (data version and
    FilterSpec.view_key) lets the rows shown be prepared once per view (caches.per_view).
    """
    st.header("Liste des initiatives", anchor=False)
    if table.empty:
        # st.table writes « empty » (in English) in an empty table: the page says it itself.
        st.caption("Aucune initiative à lister avec ces filtres.")
        return
    if len(table) > TABLE_LIMIT:
        st.caption(
            f"Tableau limité aux {TABLE_LIMIT} premières initiatives sur {len(table)} : "
            "affinez les filtres ou téléchargez la sélection ci-dessous."
        )
        table = table.iloc[:TABLE_LIMIT]
    rows = partial(_table_rows, table, new_ids)
    shown, ids, names = rows() if view is None else caches.per_view(view, "table", rows)
    # A real HTML table (st.dataframe draws on a canvas that screen readers cannot read), and a
    # list to open an initiative's detail, reachable by keyboard.
    st.table(shown, hide_index=True)
    selection.show_in_picker(ids)
    st.selectbox(
        "Voir le détail de l'initiative",
        options=ids,
        format_func=lambda ident: names.get(ident, ident),
        index=None,
        placeholder="Choisissez une initiative…",
        key=selection.TABLE_KEY,
        on_change=selection.on_table_pick,
        args=(ids,),
    )


def _in_commune(commune: str) -> str:
    return f" ({commune})" if commune else ""


def detail_panel(
    table: pd.DataFrame, selected: Selection, *, new_ids: Collection[str] = ()
) -> None:
    """Everything about the selected initiative; text shown literally, links only if safe.

    When the selection has just changed, the browser scrolls the panel into view if it is not
    (on a phone it sits below the map): see _SCROLL_INTO_VIEW.
    """
    # No row to look up without a selection (most runs): no empty frame built either.
    match = table[table["id"].astype(str) == selected.id] if selected.id else None
    with st.container(key=DETAIL_KEY):
        # Headings in order (RGAA 9.1): the page's h1, this h2, the initiative's name in h3.
        st.header("Fiche de l'initiative", anchor=False)
        if match is None or not len(match):
            st.info(
                "Cliquez sur un point de la carte ou choisissez une initiative sous le tableau."
            )
            st.session_state[SHOWN_DETAIL_KEY] = None
            return
        row = {str(column): value for column, value in match.iloc[0].items()}
        st.subheader(md_escape(row.get("nom", "")), anchor=False)
        if selected.id in new_ids:
            st.badge("Nouveau", color="orange")
        description = str(row.get("description") or "")
        if description:
            st.text(description)
        for line in detail_lines(row, today=timeline.local_today()):
            st.markdown(detail_markdown(line))
        if st.session_state.get(SHOWN_DETAIL_KEY) != selected.id:
            st.session_state[SHOWN_DETAIL_KEY] = selected.id
            # The nonce in the script makes each opening's script differ, so that it runs again
            # (Streamlit keeps the element; a differing HTML comment alone did not rerun it).
            nonce = hashlib.sha256(selected.id.encode()).hexdigest()[:16] if selected.id else ""
            st.html(
                f"<script>/* {nonce} */{_SCROLL_INTO_VIEW}</script>",
                unsafe_allow_javascript=True,
            )


def download_buttons(table: pd.DataFrame, *, data_key: str, spec: FilterSpec) -> None:
    """The filtered view as CSV, GeoJSON or Excel; files are built only when clicked.

    Each file is built once per data version (`data_key`) and view (FilterSpec.view_key, so
    equivalent filters share one file), kept in a cache bounded in bytes.
    """
    labels = {"csv": "CSV", "geojson": "GeoJSON", "xlsx": "Excel (.xlsx)"}
    view = (data_key, *spec.view_key)
    cache = caches.export_cache()
    st.markdown(f"**Télécharger les {len(table)} initiatives affichées**")
    cols = st.columns(len(EXPORT_FORMATS))
    for col, fmt in zip(cols, EXPORT_FORMATS, strict=True):
        col.download_button(
            labels[fmt],
            data=partial(cache.get, (*view, fmt), partial(export_table, table, fmt=fmt)),
            file_name=export_filename(fmt),
            mime=MEDIA_TYPES[fmt],
            on_click="ignore",
            key=f"download_{fmt}",
        )


def data_footer(table: pd.DataFrame, version: VersionInfo | None) -> None:
    """Where the data comes from, and what the map cannot show."""
    unplaced = int((table["latitude"].isna() | table["longitude"].isna()).sum())
    parts: list[str] = []
    if version is not None:
        parts.append(
            f"Données : version {version.number} publiée le "
            f"{version.created_at.astimezone(LOCAL_TZ):%d/%m/%Y à %H:%M}."
        )
    if unplaced:
        parts.append(f"{unplaced} initiative(s) sans position ne figurent que dans le tableau.")
    parts.append(
        "Communes et contours : INSEE, La Poste, IGN, service-public.fr — Licence Ouverte 2.0."
    )
    st.caption(" ".join(parts))


def no_version_notice(cfg: Settings) -> None:
    """Say why the map is empty when nothing has been published yet."""
    if cfg.data_path.is_file():
        st.info("Aucune initiative n'est encore publiée.")
        return
    # Visitors read the file's name only; the server log has its path.
    log_lasting_notice(
        "data_path", "Fichier de départ introuvable (CARTO_DATA) : %s", cfg.data_path
    )
    st.warning(
        "Aucune initiative n'est encore publiée, et le fichier de départ "
        f"« {md_escape(cfg.data_path.name)} » est introuvable : l'exploitant peut l'indiquer "
        "avec CARTO_DATA, ou un éditeur peut publier un premier fichier (page Publier)."
    )


# --- time: « Nouveau » and « Nouveautés » (carto.timeline) -------------------------------------


# Per data version: its Nouveautés, its « Nouveau » ids, its count of ended ones per day (a few
# small objects each; kept apart from caches.per_version, sized for the communes alone).
_per_version: caches.Lru[object] = caches.Lru(32)


def _once(data_key: str, name: str, build: Callable[[], V]) -> V:
    return _per_version.get((data_key, name), build)  # type: ignore[return-value]


@st.cache_resource(show_spinner=False)
def _news_history(database_url: str) -> timeline.NewsHistory:
    """One NewsHistory per store and process: each version is read and compared once."""
    return timeline.NewsHistory()


def publication_news(store: Store, *, cfg: Settings, data_key: str) -> list[timeline.VersionNews]:
    """Every publication's Nouveautés (newest first), computed once per published version."""
    history = _news_history(cfg.database_url)
    return _once(data_key, "news", partial(history.news, store))


def new_ids(
    table: pd.DataFrame,
    news: list[timeline.VersionNews],
    version: VersionInfo | None,
    *,
    data_key: str,
) -> frozenset[str]:
    """Ids of the current version's initiatives its publication added (« Nouveau »)."""
    if version is None:
        return frozenset()
    return _once(data_key, "nouveau", partial(timeline.new_ids, table, news, version))


def hidden_ended_count(table: pd.DataFrame, spec: FilterSpec, *, data_key: str) -> int:
    """How many initiatives of the version are hidden because they are over (0 when shown)."""
    if spec.show_ended:
        return 0
    day = spec.day
    return _once(data_key, f"ended:{day}", lambda: int(timeline.ended_mask(table, day).sum()))


def shown_caption(shown: int, total: int, hidden_ended: int) -> None:
    """« N affichées sur M », and how many ended ones the view hides."""
    st.markdown(f"**{shown} affichées sur {total}**")
    if hidden_ended:
        st.caption(
            _count(
                hidden_ended,
                "initiative terminée n'est pas affichée",
                "initiatives terminées ne sont pas affichées",
            )
            + " (filtre « Afficher aussi les initiatives terminées »)."
        )


def news_section(news: list[timeline.VersionNews]) -> None:
    """« Nouveautés »: what each publication added, changed and ended, newest first.

    The latest NEWS_SHOWN publications are shown, NEWS_OLDER_SHOWN more in an expander (the
    page stays light however long the history; `carto nouveautes` gives it all).
    """
    st.header("Nouveautés", anchor=False)
    if not news:
        st.info("Aucune publication pour le moment.")
        return
    with st.container(key="carto_news"):
        for entry in news[:NEWS_SHOWN]:
            st.markdown(_news_markdown(entry))
        older = news[NEWS_SHOWN : NEWS_SHOWN + NEWS_OLDER_SHOWN]
        if older:
            with st.expander(f"Publications précédentes ({len(news) - NEWS_SHOWN})"):
                st.markdown("\n\n".join(_news_markdown(entry) for entry in older))
                if len(news) > NEWS_SHOWN + NEWS_OLDER_SHOWN:
                    st.caption("Les plus anciennes ne sont pas affichées ici.")


def _news_markdown(entry: timeline.VersionNews) -> str:
    """One publication: its date and version, its note, one line per kind of change."""
    parts = [f"**{md_escape(entry.title_fr())}** (version {entry.number})"]
    if entry.note:
        parts.append(f"Note : _{md_escape(entry.note)}_")
    parts.append("\n".join(f"- {md_escape(line)}" for line in entry.lines_fr()))
    return "\n\n".join(parts)
