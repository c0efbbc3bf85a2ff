"""The only package module that imports streamlit: cached loaders and shared widgets."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import folium
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit_folium import st_folium

from carto import dataset, mapping
from carto.assets import STATIC_URL, outlines_url
from carto.auth import Editor, Throttle, authenticate, editors_from_secrets
from carto.config import PROJECT_ROOT, Settings
from carto.display import detail_lines, detail_markdown, md_escape
from carto.errors import CartoError, ConfigError, ConflictError, ReadError
from carto.exports import EXPORT_FORMATS, MEDIA_TYPES, export_filename, export_table
from carto.filters import FilterSpec, apply_filters, facet_counts, search_index
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.markers import marker_payload, script_json, write_payload_file
from carto.models import CATEGORIES, CATEGORY_BY_SLUG, SCOPE_LABELS, Issue
from carto.publishing import MODE_LABELS, MODES, ImportPlan, open_store, plan_import, publish_plan
from carto.reading import RawTable, read_table
from carto.storage import Store, VersionInfo

PAGE_TITLE = "Carto solidaire"
# Marker data files served to the browser (git-ignored, pruned by write_payload_file).
MARKERS_DIR = PROJECT_ROOT / "static" / "markers"
TABLE_LIMIT = 1_000


def navigation() -> None:
    """French page links at the top of the sidebar."""
    with st.sidebar:
        st.page_link("app.py", label="Carte des initiatives", icon=":material/map:")
        st.page_link("pages/1_Publier.py", label="Publier (éditeurs)", icon=":material/edit_note:")
        st.divider()


@contextmanager
def stop_on_error(what: str) -> Iterator[None]:
    """Show a configuration or data error in French and stop the page, instead of a trace."""
    try:
        yield
    except CartoError as exc:
        st.error(f"{what} : {md_escape(str(exc))}")
        st.stop()


def settings() -> Settings:
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def gazetteer(departement: str) -> Gazetteer:
    return load_gazetteer(departement)


# Versions are immutable and nothing mutates these objects, so cache_resource (shared, no copy)
# rather than cache_data (a pickled copy per run: ~0.3 s and +40 MB at 50,000 rows).
@st.cache_resource(show_spinner=False, max_entries=4)
def _search_index(data_key: str, _table: pd.DataFrame) -> pd.Series:
    return search_index(_table)


def filtered(table: pd.DataFrame, spec: FilterSpec, *, data_key: str) -> pd.DataFrame:
    return apply_filters(table, spec, index=_search_index(data_key, table))


def _base_map(cfg: Settings) -> folium.Map:
    """The map without initiatives; outlines come from static files (`make assets`).

    Built fresh on each run (a few ms), because st_folium alters the map it is given; its
    stable element ids keep the browser from reloading it."""
    gaz = gazetteer(cfg.departement)
    return mapping.build_base_map(
        arrondissements=outlines_url(gaz.departement, "arrondissements.geojson"),
        communes=outlines_url(gaz.departement, "communes.geojson") if cfg.tiles == "none" else None,
        tiles=cfg.tiles,
        bounds=gaz.bounds,
    )


@st.cache_resource(show_spinner=False, max_entries=64)
def _markers_url(data_key: str, view_key: str, _table: pd.DataFrame) -> str:
    """URL of the marker data of one view (data version + filters), written once per process."""
    name = write_payload_file(script_json(marker_payload(_table)), MARKERS_DIR)
    return f"{STATIC_URL}/{MARKERS_DIR.name}/{name}"


def initiative_map(
    table: pd.DataFrame, *, cfg: Settings, data_key: str, spec: FilterSpec, selected_id: str | None
) -> str | None:
    """Draw the map; returns the id of the initiative the visitor clicked last, if any.

    The initiatives travel as st_folium's `feature_group_to_add` pointing at a static file, so
    filtering or selecting updates the markers in place: the map is not reloaded and keeps the
    visitor's zoom, and the data of a view is built and sent once, not on every run.
    """
    base = _base_map(cfg)
    view = repr((spec.categories, spec.arrondissements, spec.communes, spec.text.strip()))
    url = _markers_url(data_key, view, table)
    group, _ = mapping.initiatives_layer(url=url, selected_id=selected_id)
    result = st_folium(
        base,
        key="map",
        height=560,
        use_container_width=True,
        feature_group_to_add=group,
        returned_objects=["last_active_drawing"],
    )
    return mapping.clicked_id(result)


def category_label(slug: str) -> str:
    category = CATEGORY_BY_SLUG.get(slug)
    return category.label if category else slug


def sidebar_filters(table: pd.DataFrame, gaz: Gazetteer) -> FilterSpec:
    """Sidebar widgets, initialised from the URL so that shared links reproduce the view."""
    arr_names = {a.code: a.nom for a in gaz.arrondissements}
    present_communes = (
        table[["code_insee", "commune"]].dropna().drop_duplicates().sort_values("commune")
    )
    commune_names = dict(
        zip(present_communes["code_insee"], present_communes["commune"], strict=True)
    )
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
    """The filtered initiatives as a table; returns the id of the row the visitor selected.

    Beyond TABLE_LIMIT rows only the first ones are sent: nobody reads 50,000 rows in a page,
    and the downloads below give the whole selection.
    """
    if len(table) > TABLE_LIMIT:
        st.caption(
            f"Tableau limité aux {TABLE_LIMIT} premières initiatives sur {len(table)} : "
            "affinez les filtres ou téléchargez la sélection ci-dessous."
        )
        table = table.iloc[:TABLE_LIMIT]
    labels = {c.slug: c.label for c in CATEGORIES}
    shown = pd.DataFrame(
        {
            "Nom": table["nom"].astype(str),
            "Catégorie": table["categorie"].map(labels).fillna(table["categorie"]),
            "Commune": table["commune"].fillna("").astype(str),
            "Arrondissement": table["arrondissement"].fillna("").astype(str),
            "Portée": table["portee"].map(SCOPE_LABELS).fillna(table["portee"]),
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
    rows: Sequence[int] = event.selection.rows if event is not None else []
    if rows and 0 <= rows[0] < len(table):
        return str(table.iloc[rows[0]]["id"])
    return None


def detail_panel(row: dict[str, object] | None) -> None:
    """Everything about one initiative; all text is shown literally, links only if safe."""
    if row is None:
        st.info("Cliquez sur un point de la carte ou une ligne du tableau pour voir le détail.")
        return
    st.subheader(md_escape(row.get("nom", "")), anchor=False)
    description = str(row.get("description") or "")
    if description:
        st.text(description)
    for line in detail_lines(row):
        st.markdown(detail_markdown(line))


def data_footer(table: pd.DataFrame, version: VersionInfo | None) -> None:
    """Where the data comes from, and what the map cannot show."""
    unplaced = int((table["latitude"].isna() | table["longitude"].isna()).sum())
    parts: list[str] = []
    if version is not None:
        parts.append(
            f"Données : version {version.number} publiée le "
            f"{version.created_at.strftime('%d/%m/%Y à %H:%M')} (UTC)."
        )
    if unplaced:
        parts.append(f"{unplaced} initiative(s) sans position ne figurent que dans le tableau.")
    parts.append(
        "Communes et contours : INSEE, La Poste, IGN, service-public.fr — Licence Ouverte 2.0."
    )
    st.caption(" ".join(parts))


# --- store and editors -------------------------------------------------------------------


@st.cache_resource(show_spinner="Ouverture de la base…")
def store(database_url: str, data_path: str, departement: str) -> Store:
    """One store per process; filled from CARTO_DATA on first start."""
    return open_store(Settings.from_env(), gazetteer(departement))


def open_configured_store(cfg: Settings) -> Store:
    return store(cfg.database_url, str(cfg.data_path), cfg.departement)


@st.cache_resource(show_spinner="Chargement des initiatives…", max_entries=2)
def _version_table(database_url: str, number: int, _store: Store) -> pd.DataFrame:
    return _store.load(number)


def published_data(cfg: Settings) -> tuple[pd.DataFrame, str, VersionInfo | None]:
    """The current version's table and a cache key that changes with every publish."""
    st_ = open_configured_store(cfg)
    current = st_.current()
    if current is None:
        return dataset.empty_table(), f"{cfg.database_url}:empty", None
    table = _version_table(cfg.database_url, current.number, st_)
    return table, f"{cfg.database_url}:v{current.number}:{current.checksum[:12]}", current


def _secrets() -> dict[str, Any]:
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return {}


@st.cache_resource
def _throttle() -> Throttle:
    """Shared by every session of this process, so that opening tabs does not reset it."""
    return Throttle(max_failures=5, window_seconds=300)


def signed_in_editor() -> Editor | None:
    """The signed-in editor, or None after drawing the sign-in form (OIDC or built-in list)."""
    secrets = _secrets()
    if "auth" in secrets:
        return _oidc_editor(secrets)
    editor = st.session_state.get("editor")
    if isinstance(editor, Editor):
        return editor
    try:
        editors = editors_from_secrets(secrets.get("editors"))
    except ConfigError as exc:
        st.error(str(exc))
        return None
    if not editors:
        st.warning(
            "Aucun compte éditeur n'est configuré : ajoutez une section [editors] dans "
            ".streamlit/secrets.toml (modèle : .streamlit/secrets.example.toml)."
        )
        return None
    with st.form("sign_in"):
        st.subheader("Connexion des éditeurs", anchor=False)
        username = st.text_input("Identifiant")
        password = st.text_input("Mot de passe", type="password")
        submitted = st.form_submit_button("Se connecter")
    if submitted:
        found, message = authenticate(editors, username, password, throttle=_throttle())
        if found is None:
            st.error(message)
            return None
        st.session_state["editor"] = found
        st.rerun()
    return None


def _oidc_editor(secrets: dict[str, Any]) -> Editor | None:
    if not st.user.is_logged_in:
        st.button("Se connecter (authentification unique)", on_click=st.login)
        return None
    email = str(st.user.get("email") or "")
    allowed = {str(e).casefold() for e in secrets.get("oidc_editors", {}).get("emails", [])}
    if email.casefold() not in allowed:
        st.error(f"Le compte « {md_escape(email)} » n'est pas autorisé à publier.")
        st.button("Se déconnecter", on_click=st.logout)
        return None
    return Editor(username=email, name=str(st.user.get("name") or email), password_hash="")


def sign_out_button() -> None:
    if "auth" in _secrets():
        st.sidebar.button("Se déconnecter", on_click=st.logout)
    elif st.sidebar.button("Se déconnecter"):
        st.session_state.pop("editor", None)
        st.rerun()


# --- editors' import flow ----------------------------------------------------------------

MAX_UPLOAD_BYTES = 20 * 2**20  # same as server.maxUploadSize in .streamlit/config.toml
MAX_ROWS = 20_000
KEEP_AS_IS = "— laisser tel quel —"


def _issues_frame(issues: Sequence[Issue]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Gravité": ["Erreur" if i.severity == "error" else "Avertissement" for i in issues],
            "Ligne": [i.row if i.row is not None else "fichier" for i in issues],
            "Colonne": [i.column or "" for i in issues],
            "Valeur": [(i.value or "")[:200] for i in issues],
            "Problème": [i.message for i in issues],
            "Que faire": [i.hint for i in issues],
            "Suggestions": [", ".join(i.suggestions) for i in issues],
        }
    ).astype(str)


def _read_upload(name: str, data: bytes) -> RawTable | None:
    if len(data) > MAX_UPLOAD_BYTES:
        st.error(
            f"Le fichier « {md_escape(name)} » fait {len(data) / 2**20:.1f} Mo : "
            f"la limite est de {MAX_UPLOAD_BYTES // 2**20} Mo. Rien n'a été modifié."
        )
        return None
    try:
        return read_table(data, filename=name, max_bytes=MAX_UPLOAD_BYTES, max_rows=MAX_ROWS)
    except ReadError as exc:
        st.error(f"{md_escape(str(exc))} Rien n'a été modifié.")
        return None


def _commune_corrections(
    loaded: dataset.LoadedTable, gaz: Gazetteer, digest: str
) -> dict[int, str]:
    """Let the editor pick a commune for each row whose commune was not found."""
    failed = [i for i in loaded.errors if i.column == "commune" and i.row is not None and i.value]
    corrections: dict[int, str] = dict(st.session_state.get(f"corrections:{digest}", {}))
    if not failed and not corrections:
        return corrections
    st.markdown("**Communes non reconnues** — choisissez la bonne commune :")
    for issue in failed:
        candidates = gaz.suggest(issue.value or "", limit=5)
        options = [KEEP_AS_IS] + [c.commune.code_insee for c in candidates]
        names = {KEEP_AS_IS: KEEP_AS_IS} | {
            c.commune.code_insee: f"{c.commune.nom} ({c.commune.code_insee}, "
            f"{round(c.score * 100)} %)"
            for c in candidates
        }
        choice = st.selectbox(
            f"Ligne {issue.row} : « {md_escape(issue.value)} »",
            options,
            format_func=names.__getitem__,
            key=f"fix:{digest}:{issue.row}",
        )
        if choice and choice != KEEP_AS_IS and issue.row is not None:
            corrections[issue.row] = choice
    if st.button("Appliquer les corrections", disabled=not corrections):
        st.session_state[f"corrections:{digest}"] = corrections
        st.rerun()
    return dict(st.session_state.get(f"corrections:{digest}", {}))


def _review(plan: ImportPlan) -> None:
    diff = plan.diff
    base = f"version {plan.base.number}" if plan.base else "aucune version publiée"
    st.markdown(f"**Comparaison avec la version en ligne** ({base})")
    cols = st.columns(4)
    cols[0].metric("Ajoutées", diff.added_count)
    cols[1].metric("Modifiées", diff.changed_count)
    cols[2].metric("Retirées", diff.removed_count)
    cols[3].metric("Inchangées", diff.unchanged)
    if diff.added:
        with st.expander(f"{diff.added_count} initiative(s) ajoutée(s)"):
            st.dataframe(
                pd.DataFrame(diff.added)[["nom", "commune", "categorie"]].astype(str),
                hide_index=True,
            )
    if diff.changed:
        with st.expander(f"{diff.changed_count} initiative(s) modifiée(s)", expanded=True):
            rows = [
                {"Initiative": ch.nom, "Champ": f.column, "Avant": str(f.old), "Après": str(f.new)}
                for ch in diff.changed
                for f in ch.fields
            ]
            st.dataframe(pd.DataFrame(rows).astype(str), hide_index=True)
    if diff.removed:
        with st.expander(f"{diff.removed_count} initiative(s) retirée(s)", expanded=True):
            st.dataframe(
                pd.DataFrame(diff.removed)[["nom", "commune", "categorie"]].astype(str),
                hide_index=True,
            )


def import_flow(store_: Store, gaz: Gazetteer, *, editor: Editor) -> None:
    """Upload -> detection -> report -> corrections -> review -> confirmed publish."""
    upload = st.file_uploader(
        "Fichier d'initiatives (CSV ou Excel .xlsx)",
        type=["csv", "txt", "tsv", "xlsx"],
        help=f"{MAX_UPLOAD_BYTES // 2**20} Mo et {MAX_ROWS} lignes au plus. "
        "Colonnes : voir docs/schema.md.",
    )
    if upload is None:
        return
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    raw = _read_upload(upload.name, data)
    if raw is None:
        return
    separator = {";": "point-virgule", ",": "virgule", "\t": "tabulation"}.get(
        raw.separator or "", "—"
    )
    st.success(
        f"« {md_escape(upload.name)} » lu : format {raw.format.upper()}, "
        f"encodage {raw.encoding or '—'}, séparateur {separator}, "
        f"{raw.rows_read} ligne(s) de données."
    )
    published = st.session_state.get(f"published:{digest}")
    if published is not None:
        st.success(
            f"Version {published} publiée. La carte affiche désormais ces données. "
            "Pour un autre import, déposez un autre fichier."
        )
        return
    corrections = dict(st.session_state.get(f"corrections:{digest}", {}))
    loaded = dataset.prepare(raw, gaz, corrections=corrections)

    st.subheader("Rapport de validation", anchor=False)
    statuses = loaded.table["geocode_status"].value_counts().to_dict() if len(loaded.table) else {}
    st.markdown(
        f"{len(loaded.table)} initiative(s) ; géocodage : "
        + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
        + f" ; **{len(loaded.errors)} erreur(s)**, {len(loaded.warnings)} avertissement(s)."
    )
    if loaded.issues:
        st.dataframe(_issues_frame(loaded.issues), hide_index=True, width="stretch")
    if len(loaded.table):
        with st.expander("Aperçu des initiatives lues, avec leur géocodage"):
            t = loaded.table
            st.dataframe(
                pd.DataFrame(
                    {
                        "Ligne": list(loaded.row_numbers),
                        "Nom": t["nom"].astype(str),
                        "Commune": t["commune"].fillna("").astype(str),
                        "Arrondissement": t["arrondissement"].fillna("").astype(str),
                        "Géocodage": t["geocode_status"].fillna("").astype(str),
                        "Score": t["geocode_score"].astype(float).round(2),
                    }
                ),
                hide_index=True,
                width="stretch",
            )
    # Likely duplicates (same name and commune) are warnings of the schema check above.
    _commune_corrections(loaded, gaz, digest)
    if not loaded.ok:
        st.error("Corrigez les erreurs (dans le fichier ou ci-dessus) : rien ne peut être publié.")
        return

    st.subheader("Revue des changements", anchor=False)
    mode = st.radio(
        "Mode de publication", MODES, format_func=MODE_LABELS.__getitem__, key=f"mode:{digest}"
    )
    # The comparison is pinned to the version online when the file was dropped: if someone
    # publishes meanwhile, publishing this review is refused (conflict) instead of overwriting.
    base_key = f"base:{digest}"
    if base_key not in st.session_state:
        current = store_.current()
        st.session_state[base_key] = current.number if current else None
    plan = plan_import(loaded, store_, mode=mode, base_version=st.session_state[base_key])
    _review(plan)
    if plan.diff.is_empty:
        st.info("Aucun changement par rapport à la version en ligne.")
    note = st.text_input("Note de version (visible dans l'historique)", key=f"note:{digest}")
    confirmed = st.checkbox(
        f"Je confirme la publication de {len(plan.result)} initiative(s) sur la carte publique.",
        key=f"confirm:{digest}",
    )
    if st.button("Publier", type="primary", disabled=not (confirmed and plan.publishable)):
        try:
            info = publish_plan(plan, store_, author=editor.name, note=note)
        except ConflictError as exc:
            st.error(str(exc))
            st.button(
                "Comparer avec la nouvelle version en ligne",
                on_click=st.session_state.pop,
                args=(base_key, None),
            )
            return
        except CartoError as exc:
            st.error(str(exc))
            return
        st.session_state[f"published:{digest}"] = info.number
        st.rerun()


def versions_panel(store_: Store, *, editor: Editor) -> None:
    """History of published versions, and rollback to one of them."""
    versions = store_.versions()
    if not versions:
        st.info("Aucune version publiée.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Version": [v.number for v in versions],
                "Publiée le (UTC)": [v.created_at.strftime("%Y-%m-%d %H:%M") for v in versions],
                "Auteur": [v.author for v in versions],
                "Mode": [v.mode for v in versions],
                "Initiatives": [v.row_count for v in versions],
                "Note": [v.note for v in versions],
                "Empreinte": [v.checksum[:12] for v in versions],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    older = [v.number for v in versions[1:]]
    if not older:
        return
    st.subheader("Revenir à une version précédente", anchor=False)
    # Keys tied to the current version: after a rollback the confirmation starts unchecked.
    now = versions[0].number
    target = st.selectbox("Version à remettre en ligne", older, key=f"rollback_target:{now}")
    sure = st.checkbox(
        f"Je confirme remettre en ligne le contenu de la version {target} "
        "(une nouvelle version est créée ; rien n'est effacé).",
        key=f"rollback_confirm:{now}",
    )
    if st.button("Revenir à cette version", disabled=not sure):
        try:
            info = store_.rollback(int(target), author=editor.name)
        except CartoError as exc:
            st.error(str(exc))
            return
        st.success(f"Version {info.number} publiée : contenu de la version {target}.")


def download_buttons(table: pd.DataFrame) -> None:
    """The filtered view as CSV, GeoJSON or Excel; files are built only when clicked."""
    labels = {"csv": "CSV", "geojson": "GeoJSON", "xlsx": "Excel (.xlsx)"}
    st.markdown(f"**Télécharger les {len(table)} initiatives affichées**")
    cols = st.columns(len(EXPORT_FORMATS))
    for col, fmt in zip(cols, EXPORT_FORMATS, strict=True):
        col.download_button(
            labels[fmt],
            data=partial(export_table, table, fmt=fmt),
            file_name=export_filename(fmt),
            mime=MEDIA_TYPES[fmt],
            on_click="ignore",
            key=f"download_{fmt}",
        )
