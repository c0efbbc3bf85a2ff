"""The only package module that imports streamlit: cached loaders and shared widgets."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any

import folium
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.runtime.uploaded_file_manager import UploadedFile
from streamlit_folium import st_folium

from carto.auth import Editor, Throttle, authenticate, editors_from_secrets
from carto.config import PROJECT_ROOT, Settings
from carto.display import detail_lines, detail_markdown, md_escape
from carto.errors import CartoError, ConfigError, ConflictError, ReadError
from carto.exports import (
    EXPORT_FORMATS,
    MEDIA_TYPES,
    ExportCache,
    export_filename,
    export_table,
)
from carto.filters import (
    MAX_QUERY_TEXT,
    FilterSpec,
    apply_filters,
    facet_counts,
    search_index,
)
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.geocoding import outside_departement_rows
from carto.intake import pipeline as dataset
from carto.intake.reading import RawTable, SheetError
from carto.intake.session import ImportSession, file_digest
from carto.map import basemap as mapping
from carto.map.assets import STATIC_URL, outlines_url
from carto.map.markers import DEFAULT_MAX_BYTES, MarkerFiles, marker_payload, script_json
from carto.models import CATEGORIES, CATEGORY_BY_SLUG, SCOPE_LABELS, Issue
from carto.publishing.plan import MODE_LABELS, MODES, ImportPlan, open_store, publish_plan
from carto.publishing.storage import Store, VersionInfo

PAGE_TITLE = "Carto solidaire"
logger = logging.getLogger("carto")
# Marker data files served to the browser (git-ignored), owned by one carto.map.markers.MarkerFiles
# per process; the served URL is STATIC_URL/<folder name>/..., so it must sit under static/.
MARKERS_DIR = PROJECT_ROOT / "static" / "markers"
MARKERS_MAX_BYTES = DEFAULT_MAX_BYTES
# How often a lasting server-side problem (e.g. an unwritable folder) is logged again.
RELOG_INTERVAL_S = 600.0
TABLE_LIMIT = 1_000


def navigation() -> None:
    """French page links at the top of the sidebar."""
    with st.sidebar:
        st.page_link("app.py", label="Carte des initiatives", icon=":material/map:")
        st.page_link("pages/1_Publier.py", label="Publier (éditeurs)", icon=":material/edit_note:")
        st.divider()


@contextmanager
def stop_on_error(what: str) -> Iterator[None]:
    """Show an error in French and stop the page, instead of a trace; log it with its trace.

    Configuration and data errors (CartoError) carry their own French message. Anything else
    (a value crafted by a visitor that Streamlit cannot decode, a bug) gets a generic message:
    the details and the traceback go to the server log only.
    """
    try:
        yield
    except CartoError as exc:
        logger.exception("%s : %s", what, exc)
        st.error(f"{what} : {md_escape(str(exc))}")
        st.stop()
    except Exception:
        logger.exception("%s : erreur inattendue", what)
        st.error(
            f"{what} : une erreur inattendue s'est produite ; elle a été enregistrée. "
            "Rechargez la page pour revenir à la vue par défaut."
        )
        st.stop()


_last_logged: dict[str, float] = {}


def _log_lasting_problem(key: str, message: str, *args: object) -> None:
    """Log the current exception with its traceback, at most every RELOG_INTERVAL_S per key."""
    now = time.monotonic()
    if now - _last_logged.get(key, -RELOG_INTERVAL_S) >= RELOG_INTERVAL_S:
        _last_logged[key] = now
        logger.exception(message, *args)


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


@st.cache_resource(show_spinner=False)
def _marker_files(directory: str, max_bytes: int) -> MarkerFiles:
    """The one owner of this process's marker data files in `directory` (see MarkerFiles)."""
    return MarkerFiles(Path(directory), max_bytes=max_bytes)


def _markers_url(data_key: str, spec: FilterSpec, table: pd.DataFrame) -> str | None:
    """URL of the marker data of one view (data version + filters), or None if it cannot be
    written; equivalent filters (order, case, accents, repeated words) share one file.

    An unwritable folder is the operator's problem, not the visitor's: the page then carries
    the data inline (slower at 50,000 rows, but the map stays whole) and the cause is logged.
    """
    files = _marker_files(str(MARKERS_DIR), MARKERS_MAX_BYTES)
    try:
        path = files.path_for((data_key, spec.view_key), lambda: script_json(marker_payload(table)))
    except OSError as exc:
        _log_lasting_problem(
            f"markers:{MARKERS_DIR}:{exc.errno}",
            "Les données de la carte ne peuvent pas être écrites dans %s : elles sont "
            "intégrées à la page en attendant (vérifiez le dossier et ses droits).",
            MARKERS_DIR,
        )
        return None
    return f"{STATIC_URL}/{MARKERS_DIR.name}/{path}"


def initiative_map(
    table: pd.DataFrame, *, cfg: Settings, data_key: str, spec: FilterSpec, selected_id: str | None
) -> str | None:
    """Draw the map; returns the id of the initiative the visitor clicked last, if any.

    The initiatives travel as st_folium's `feature_group_to_add` pointing at a static file, so
    filtering or selecting updates the markers in place: the map is not reloaded and keeps the
    visitor's zoom, and the data of a view is built and sent once, not on every run.
    """
    base = _base_map(cfg)
    url = _markers_url(data_key, spec, table)
    if url is None:
        group, _ = mapping.initiatives_layer(table, selected_id=selected_id)
    else:
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


def sidebar_filters(table: pd.DataFrame, gaz: Gazetteer) -> FilterSpec:
    """Sidebar widgets, initialised from the URL so that shared links reproduce the view.

    Every value read back is type-checked: an invalid one (crafted by a visitor) resets its
    filter, with a French message, instead of a traceback.
    """
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

    slugs = [c.slug for c in CATEGORIES]
    checks: list[tuple[str, str, Callable[[object], bool], object]] = [
        ("f_text", "Rechercher", lambda v: isinstance(v, str) and len(v) <= MAX_QUERY_TEXT, ""),
        ("f_categories", "Catégories", lambda v: v == _choices(v, slugs), []),
        ("f_arrondissements", "Arrondissements", lambda v: v == _choices(v, arr_names), []),
        ("f_communes", "Communes", lambda v: v == _choices(v, commune_names), []),
    ]
    reset = [
        label for key, label, valid, default in checks if _reset_if_invalid(key, valid, default)
    ]
    _reset_if_invalid("selected_id", lambda v: v is None or isinstance(v, str), None)
    if reset:
        st.error(
            "Valeur reçue invalide pour le filtre "
            + ", ".join(f"« {label} »" for label in reset)
            + " : ce filtre a été réinitialisé."
        )

    cat_counts = facet_counts(table, "categorie")
    arr_counts = facet_counts(table, "arrondissement_code")
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
        )
        arrondissements = st.multiselect(
            "Arrondissements",
            options=list(arr_names),
            format_func=lambda c: f"{arr_names.get(c, c)} ({arr_counts.get(c, 0)})",
            key="f_arrondissements",
            placeholder="Tous",
        )
        communes = st.multiselect(
            "Communes",
            options=list(commune_names),
            format_func=lambda c: commune_names.get(c, c),
            key="f_communes",
            placeholder="Toutes",
        )
        st.button("Réinitialiser les filtres", on_click=_reset_filters)
    selected = st.session_state.get("selected_id")
    return FilterSpec(
        categories=tuple(_choices(categories, slugs)),
        arrondissements=tuple(_choices(arrondissements, arr_names)),
        communes=tuple(_choices(communes, commune_names)),
        text=text if isinstance(text, str) else "",
        selected_id=selected if isinstance(selected, str) else None,
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
    """secrets.toml as a dict ({} when there is none); ConfigError in French when unreadable."""
    import re

    try:
        return st.secrets.to_dict()
    except StreamlitSecretNotFoundError as exc:
        # Streamlit raises this both for "no secrets file" and for a file it cannot parse.
        error_id = getattr(exc, "error_id", None)
        if error_id == "no-secrets-found" or str(exc).startswith("No secrets found"):
            return {}
        details = getattr(exc, "exec_kwargs", None) or {}
        where = details.get("path") or details.get("sub_folder_path") or _secrets_files()
        position = re.search(r"line (\d+), column (\d+)", str(details.get("error", exc)))
        reason = (
            f"erreur de syntaxe TOML ligne {position[1]}, colonne {position[2]}"
            if position
            else "fichier TOML invalide"
        )
        raise ConfigError(_unreadable_secrets(where, reason)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(_unreadable_secrets(_secrets_files(), "il n'est pas en UTF-8")) from exc
    except FileNotFoundError:
        return {}
    except OSError as exc:
        where = exc.filename or _secrets_files()
        raise ConfigError(_unreadable_secrets(where, exc.strerror or "accès refusé")) from exc


def _secrets_files() -> str:
    """The secrets files that exist among those Streamlit reads."""
    from pathlib import Path

    from streamlit import config  # looked up at call time, so tests can point it elsewhere

    paths = [str(path) for path in config.get_option("secrets.files") if Path(path).exists()]
    return " ou ".join(paths) or ".streamlit/secrets.toml"


def _unreadable_secrets(where: object, reason: str) -> str:
    return (
        f"Le fichier des secrets ne peut pas être lu ({where}) : {reason}. Corrigez-le "
        "(modèle : .streamlit/secrets.example.toml) ; d'ici là, personne ne peut se connecter."
    )


@st.cache_resource
def _throttle() -> Throttle:
    """Shared by every session of this process, so that opening tabs does not reset it."""
    return Throttle(max_failures=5, window_seconds=300)


def signed_in_editor() -> Editor | None:
    """The signed-in editor, or None after drawing the sign-in form (OIDC or built-in list)."""
    try:
        secrets = _secrets()
        if "auth" in secrets:
            return _oidc_editor(secrets)
        editor = st.session_state.get("editor")
        if isinstance(editor, Editor):
            return editor
        editors = editors_from_secrets(secrets.get("editors"))
    except ConfigError as exc:
        st.error(md_escape(exc))
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
    """The single sign-on editor; ConfigError when [auth] or [oidc_editors] is not usable."""
    if not isinstance(secrets["auth"], dict):
        raise ConfigError(
            "secrets.toml : la clé « auth » doit être une table [auth] "
            "(modèle : .streamlit/secrets.example.toml)."
        )
    listed = secrets.get("oidc_editors", {})
    emails = listed.get("emails", []) if isinstance(listed, dict) else None
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise ConfigError(
            "secrets.toml : la clé « oidc_editors » doit être une table [oidc_editors] avec "
            'emails = ["prenom.nom@exemple.fr", …] (modèle : .streamlit/secrets.example.toml).'
        )
    if not st.user.is_logged_in:
        st.button("Se connecter (authentification unique)", on_click=st.login)
        return None
    email = str(st.user.get("email") or "")
    allowed = {e.casefold() for e in emails}
    if email.casefold() not in allowed:
        st.error(f"Le compte « {md_escape(email)} » n'est pas autorisé à publier.")
        st.button("Se déconnecter", on_click=st.logout)
        return None
    return Editor(username=email, name=str(st.user.get("name") or email), password_hash="")


def sign_out_button() -> None:
    try:
        single_sign_on = "auth" in _secrets()
    except ConfigError:  # already shown by signed_in_editor; the built-in sign-out still works
        single_sign_on = False
    if single_sign_on:
        st.sidebar.button("Se déconnecter", on_click=st.logout)
    elif st.sidebar.button("Se déconnecter"):
        st.session_state.pop("editor", None)
        st.rerun()


# --- editors' import flow ----------------------------------------------------------------

MAX_UPLOAD_BYTES = 20 * 2**20  # same as server.maxUploadSize in .streamlit/config.toml
MAX_ROWS = 20_000
KEEP_AS_IS = "— laisser tel quel —"
# st.session_state keys: the upload's ImportSession, its upload id, its report table.
IMPORT_SESSION = "import_session"
IMPORT_UPLOAD_ID = "import_upload_id"
ISSUES_FRAME = "import_issues_frame"


def _issues_frame(issues: Sequence[Issue]) -> pd.DataFrame:
    """The report as a table, built once per report: a 20,000-row file may have thousands."""
    cached = st.session_state.get(ISSUES_FRAME)
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] is issues:
        return cached[1]
    frame = pd.DataFrame(
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
    st.session_state[ISSUES_FRAME] = (issues, frame)
    return frame


def _upload_session(upload: UploadedFile) -> ImportSession:
    """This browser session's ImportSession of the file: kept across reruns, new for a new file.

    The same bytes dropped again (a new upload id) keep the session and its work."""
    session = st.session_state.get(IMPORT_SESSION)
    if not isinstance(session, ImportSession):
        session = None
    elif st.session_state.get(IMPORT_UPLOAD_ID) == upload.file_id:
        return session
    data = upload.getvalue()
    if session is None or session.filename != upload.name or session.digest != file_digest(data):
        session = ImportSession(
            data, filename=upload.name, max_bytes=MAX_UPLOAD_BYTES, max_rows=MAX_ROWS
        )
        st.session_state[IMPORT_SESSION] = session
    st.session_state[IMPORT_UPLOAD_ID] = upload.file_id
    return session


def _read_summary(raw: RawTable) -> str:
    """How the file was read: the sheet of a workbook, the encoding and separator of a CSV."""
    if raw.format == "xlsx":
        how = f"feuille « {md_escape(raw.sheet or '')} »"
    else:
        separator = {";": "point-virgule", ",": "virgule", "\t": "tabulation"}.get(
            raw.separator or "", "—"
        )
        how = f"encodage {raw.encoding or '—'}, séparateur {separator}"
    return f"format {raw.format.upper()}, {how}, {raw.rows_read} ligne(s) de données"


def _validation_report(loaded: dataset.LoadedTable) -> None:
    """Counts, every issue, and a preview of the rows with their geocoding."""
    st.subheader("Rapport de validation", anchor=False)
    statuses = loaded.table["geocode_status"].value_counts().to_dict() if len(loaded.table) else {}
    st.markdown(
        f"{len(loaded.table)} initiative(s) ; géocodage : "
        + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
        + f" ; **{len(loaded.errors)} erreur(s)**, {len(loaded.warnings)} avertissement(s)."
    )
    if loaded.issues:
        st.dataframe(_issues_frame(loaded.issues), hide_index=True, width="stretch")
    if not len(loaded.table):
        return
    with st.expander("Aperçu des initiatives lues, avec leur géocodage"):
        t = loaded.table.iloc[:TABLE_LIMIT]
        if len(loaded.table) > TABLE_LIMIT:
            st.caption(f"Aperçu limité aux {TABLE_LIMIT} premières lignes sur {len(loaded.table)}.")
        st.dataframe(
            pd.DataFrame(
                {
                    "Ligne": list(loaded.row_numbers[:TABLE_LIMIT]),
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


def _read_upload(session: ImportSession) -> RawTable | None:
    """The upload read as a table; the editor picks the sheet when a workbook has several."""
    if len(session.data) > MAX_UPLOAD_BYTES:
        st.error(
            f"Le fichier « {md_escape(session.filename)} » fait "
            f"{len(session.data) / 2**20:.1f} Mo : la limite est de "
            f"{MAX_UPLOAD_BYTES // 2**20} Mo. Rien n'a été modifié."
        )
        return None
    try:
        try:
            return session.raw()
        except SheetError as exc:
            if not exc.choices:
                raise
            sheet = st.selectbox(
                "Feuille à lire",
                exc.choices,
                index=None,
                placeholder="Choisissez la feuille des initiatives…",
                key=f"sheet:{session.digest}",
            )
            if sheet not in exc.choices:
                st.info(md_escape(str(exc)))
                return None
            return session.raw(sheet=sheet)
    except ReadError as exc:
        st.error(f"{md_escape(str(exc))} Rien n'a été modifié.")
        return None


def _stored_corrections(scope: str) -> dict[int, str]:
    """The communes an editor applied (line -> INSEE code), ignoring anything malformed."""
    stored = st.session_state.get(f"corrections:{scope}")
    if not isinstance(stored, dict):
        return {}
    return {
        row: code for row, code in stored.items() if isinstance(row, int) and isinstance(code, str)
    }


def _commune_corrections(loaded: dataset.LoadedTable, gaz: Gazetteer, scope: str) -> dict[int, str]:
    """Let the editor pick a commune for each row whose commune was not found."""
    failed = [i for i in loaded.errors if i.column == "commune" and i.row is not None and i.value]
    corrections = _stored_corrections(scope)
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
            key=f"fix:{scope}:{issue.row}",
        )
        if choice and choice != KEEP_AS_IS and issue.row is not None:
            corrections[issue.row] = choice
    if st.button("Appliquer les corrections", disabled=not corrections):
        st.session_state[f"corrections:{scope}"] = corrections
        st.rerun()
    return _stored_corrections(scope)


def _stored_outside(scope: str) -> frozenset[int]:
    """The lines whose point outside the département the editor chose to keep."""
    stored = st.session_state.get(f"outside:{scope}")
    if not isinstance(stored, frozenset | set | list | tuple):
        return frozenset()
    return frozenset(r for r in stored if isinstance(r, int) and not isinstance(r, bool))


def _outside_confirmations(loaded: dataset.LoadedTable, scope: str) -> frozenset[int]:
    """Let the editor keep, line by line, a point that lies outside the département."""
    confirmed = _stored_outside(scope)
    pending = outside_departement_rows(loaded.issues)
    if not pending and not confirmed:
        return confirmed
    st.markdown("**Points hors du département** — gardez-les seulement s'ils sont voulus :")
    chosen = {
        row
        for row in sorted(set(pending) | confirmed)
        if st.checkbox(
            f"Ligne {row} : garder ce point hors du département",
            value=row in confirmed,
            key=f"outside_row:{scope}:{row}",
        )
    }
    if frozenset(chosen) != confirmed:
        st.session_state[f"outside:{scope}"] = frozenset(chosen)
        st.rerun()
    return confirmed


def _review_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """At most TABLE_LIMIT rows of a review list, as text (nom, commune, catégorie)."""
    frame = pd.DataFrame(rows[:TABLE_LIMIT], columns=["nom", "commune", "categorie"])
    return frame.fillna("").astype(str)


def _review(plan: ImportPlan) -> None:
    diff = plan.diff
    if plan.conflicts:
        st.error(
            f"{len(plan.conflicts)} conflit(s) d'identifiant : rien ne peut être publié tant "
            "qu'ils ne sont pas corrigés dans le fichier."
        )
        st.dataframe(_issues_frame(plan.conflicts), hide_index=True, width="stretch")
    base = f"version {plan.base.number}" if plan.base else "aucune version publiée"
    st.markdown(f"**Comparaison avec la version en ligne** ({base})")
    cols = st.columns(4)
    cols[0].metric("Ajoutées", diff.added_count)
    cols[1].metric("Modifiées", diff.changed_count)
    cols[2].metric("Retirées", diff.removed_count)
    cols[3].metric("Inchangées", diff.unchanged)
    if diff.added:
        with st.expander(f"{diff.added_count} initiative(s) ajoutée(s)"):
            st.dataframe(_review_rows(diff.added), hide_index=True)
    if diff.changed:
        with st.expander(f"{diff.changed_count} initiative(s) modifiée(s)", expanded=True):
            rows = [
                {"Initiative": ch.nom, "Champ": f.column, "Avant": str(f.old), "Après": str(f.new)}
                for ch in diff.changed[:TABLE_LIMIT]
                for f in ch.fields
            ]
            st.dataframe(pd.DataFrame(rows).astype(str), hide_index=True)
    if diff.removed:
        with st.expander(f"{diff.removed_count} initiative(s) retirée(s)", expanded=True):
            st.dataframe(_review_rows(diff.removed), hide_index=True)


def import_flow(store_: Store, gaz: Gazetteer, *, editor: Editor) -> None:
    """Upload -> detection -> report -> corrections -> review -> confirmed publish."""
    upload = st.file_uploader(
        "Fichier d'initiatives (CSV ou Excel .xlsx)",
        type=["csv", "txt", "tsv", "xlsx"],
        help=f"{MAX_UPLOAD_BYTES // 2**20} Mo et {MAX_ROWS} lignes au plus. "
        "Colonnes : voir docs/schema.md.",
    )
    if upload is None:
        for key in (IMPORT_SESSION, IMPORT_UPLOAD_ID, ISSUES_FRAME):
            st.session_state.pop(key, None)  # frees the last file's tables
        return
    # Every click reruns this page: the session keeps the file read, checked and compared.
    session = _upload_session(upload)
    raw = _read_upload(session)
    if raw is None:
        return
    st.success(f"« {md_escape(upload.name)} » lu : {_read_summary(raw)}.")
    # Widget keys of this file (and sheet): another file or sheet starts from a clean slate.
    digest = session.digest if raw.sheet is None else f"{session.digest}:{raw.sheet}"
    published = st.session_state.get(f"published:{digest}")
    if published is not None:
        st.success(
            f"Version {published} publiée. La carte affiche désormais ces données. "
            "Pour un autre import, déposez un autre fichier."
        )
        return
    loaded = session.loaded(
        gaz,
        sheet=raw.sheet,
        corrections=_stored_corrections(digest),
        accept_outside=_stored_outside(digest),
    )
    _validation_report(loaded)
    # Likely duplicates (same name and commune) are warnings of the schema check above.
    _commune_corrections(loaded, gaz, digest)
    _outside_confirmations(loaded, digest)
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
    plan = session.plan(loaded, store_, mode=mode, base_version=st.session_state[base_key])
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


# Export files built for the public page, shared by every visitor (at 20,000 rows the three
# formats of the whole table take ~40 MB).
EXPORT_CACHE_BYTES = 64 * 1024 * 1024


@st.cache_resource(show_spinner=False)
def _export_cache() -> ExportCache:
    return ExportCache(max_bytes=EXPORT_CACHE_BYTES)


def download_buttons(table: pd.DataFrame, *, data_key: str, spec: FilterSpec) -> None:
    """The filtered view as CSV, GeoJSON or Excel; files are built only when clicked.

    Each file is built once per data version (`data_key`) and view (FilterSpec.view_key, so
    equivalent filters share one file), kept in a cache bounded in bytes.
    """
    labels = {"csv": "CSV", "geojson": "GeoJSON", "xlsx": "Excel (.xlsx)"}
    view = (data_key, *spec.view_key)
    cache = _export_cache()
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
