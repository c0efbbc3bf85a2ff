"""Editors' sign-in: the built-in accounts of secrets.toml (throttled), or single sign-on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit import config
from streamlit.errors import StreamlitSecretNotFoundError

from carto.auth import Editor, Throttle, authenticate, editors_from_secrets
from carto.display import md_escape
from carto.errors import ConfigError


def _secrets() -> dict[str, Any]:
    """secrets.toml as a dict ({} when there is none); ConfigError in French when unreadable."""
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
    """The secrets files that exist among those Streamlit reads (option read at call time)."""
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
