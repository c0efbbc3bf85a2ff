"""Editors' sign-in: accounts of the database (`carto editors add`) and of secrets.toml
(throttled), or single sign-on (st.login, declared in secrets.toml)."""

from __future__ import annotations

import functools
import html
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit import config
from streamlit.errors import StreamlitSecretNotFoundError

from carto.auth import ClientLimits, Editor, Throttle, authenticate, editors_from_secrets
from carto.display import md_escape
from carto.errors import CartoError, ConfigError
from carto.publishing.accounts import SOURCE as DATABASE
from carto.publishing.accounts import (
    Accounts,
    account_key,
    make_token,
    read_token,
    signing_key,
)
from carto.ui import caches
from carto.ui.routes import (
    BROWSER_COOKIE,
    COOKIE_NAME,
    EXPIRED_TICKET,
    SIGN_IN_URL,
    SIGN_OUT_URL,
    TICKET_SECONDS,
    TICKETS,
)

USERNAME_HELP = (
    "Votre identifiant est celui que l'administrateur du serveur a choisi en créant votre compte "
    "(commande `carto editors add`), par ex. marie.dupont ; majuscules et minuscules sont "
    "équivalentes. Mot de passe oublié : demandez-lui d'en définir un nouveau "
    "(`carto editors set-password`). Recharger la page vous déconnecte, sauf si vous choisissez "
    "ensuite « Rester connecté sur cet appareil »."
)
_log = logging.getLogger("carto")
# A ticket is offered again once this old, so that the link shown stays valid a while.
_TICKET_REFRESH = TICKET_SECONDS / 3
# Looks like Streamlit's secondary button; plain HTML (no script): a link, and a form.
_BUTTON_STYLE = (
    "display:inline-block;padding:0.25rem 0.75rem;border:1px solid rgba(128,128,128,0.5);"
    "border-radius:0.5rem;color:inherit;background:transparent;text-decoration:none;"
    "font:inherit;line-height:1.6;cursor:pointer"
)


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


@st.cache_resource
def _limits() -> ClientLimits:
    """Failed sign-ins per client address and for the whole process (every session)."""
    return ClientLimits.default()


def _client_address() -> str:
    """The visitor's address as the server sees it ("" when unknown or on this machine).

    Behind a proxy, the server (uvicorn) takes it from X-Forwarded-For only when the proxy's
    own address is listed in FORWARDED_ALLOW_IPS (default: this machine); see
    docs/deployment.md. A visitor cannot choose it by sending the header themselves. When the
    header came through a proxy that is not listed, the address seen is the proxy's, shared by
    every visitor: "" then (and one warning), so that one visitor cannot refuse them all.
    """
    address = st.context.ip_address
    if not isinstance(address, str):
        return ""
    forwarded = st.context.headers.get("X-Forwarded-For")
    if isinstance(forwarded, str) and forwarded.strip():
        hops = [hop.strip() for hop in forwarded.split(",")]
        if address not in hops:
            _untrusted_proxy(address)
            return ""
    return address


@functools.cache
def _untrusted_proxy(address: str) -> None:
    _log.warning(
        "Connexions reçues d'un proxy (%s) dont X-Forwarded-For n'est pas pris en compte : "
        "ajoutez son adresse à FORWARDED_ALLOW_IPS (docs/deployment.md, § 3). En attendant, "
        "les essais de connexion ne sont pas limités par adresse de visiteur.",
        address,
    )


def signed_in_editor() -> Editor | None:
    """The signed-in editor, or None after drawing the sign-in form (OIDC or built-in list)."""
    try:
        secrets = _secrets()
        if "auth" in secrets:
            return _oidc_editor(secrets)
        editor = st.session_state.get("editor")
        if isinstance(editor, Editor):
            if editor.source != DATABASE or _still_valid(editor):
                return editor
            st.session_state.pop("editor", None)
            st.session_state.pop("editor_remembered", None)
            st.info(
                "Votre mot de passe a été changé ou votre compte supprimé depuis votre "
                "connexion : reconnectez-vous."
            )
        editors = editors_from_secrets(secrets.get("editors"))
    except ConfigError as exc:
        st.error(md_escape(exc))
        return None
    editors, database_read = _with_database_accounts(editors)
    if not editors and not database_read:
        return None  # the warning above says why no account could be read
    if not editors:
        st.warning(
            "Aucun compte éditeur n'est configuré : sur le serveur, créez-en un avec "
            "`carto editors add IDENTIFIANT` (voir docs/deployment.md), ou déclarez "
            "l'authentification unique dans .streamlit/secrets.toml."
        )
        return None
    remembered = _cookie_editor(editors)
    if remembered is not None:
        st.session_state["editor"] = remembered
        st.session_state["editor_remembered"] = True
        return remembered
    if EXPIRED_TICKET in _query():
        st.info(
            "Le lien « Rester connecté sur cet appareil » n'était plus valable (il ne sert "
            f"qu'une fois, dans les {TICKET_SECONDS} secondes, et dans le navigateur où vous "
            "vous êtes connecté) : reconnectez-vous, puis cliquez-le de nouveau."
        )
    with st.form("sign_in"):
        st.subheader("Connexion des éditeurs", anchor=False)
        st.caption(USERNAME_HELP)
        username = st.text_input("Identifiant")
        password = st.text_input("Mot de passe", type="password")
        submitted = st.form_submit_button("Se connecter")
    if submitted:
        found, message = authenticate(
            editors,
            username,
            password,
            throttle=_throttle(),
            limits=_limits(),
            address=_client_address(),
        )
        if found is None:
            st.error(message)
            return None
        st.session_state["editor"] = found
        st.session_state.pop("editor_remembered", None)
        st.rerun()
    return None


def _query() -> str:
    return "&".join(f"{k}={v}" for k, v in st.query_params.to_dict().items())


def _cookie_editor(editors: dict[str, Editor]) -> Editor | None:
    """The editor whose « rester connecté » cookie this browser sent, once checked; None (and
    one log line) when it is forged, expired, or its account removed or its password changed."""
    token = st.context.cookies.get(COOKIE_NAME)
    if not token or st.session_state.get("editor_cookie_rejected") == token:
        return None
    try:
        key = signing_key(caches.store(caches.settings()), create=False)
    except CartoError:
        return None  # the database is unreachable: the warning above says so
    found, why = (
        (None, "aucune clé de signature") if key is None else read_token(key, token, editors)
    )
    if found is None:
        st.session_state["editor_cookie_rejected"] = token
        _log.warning("Cookie « rester connecté » ignoré : %s.", why)
    return found


def _accounts() -> Accounts:
    return Accounts(caches.store(caches.settings()))


def _with_database_accounts(editors: dict[str, Editor]) -> tuple[dict[str, Editor], bool]:
    """The accounts of secrets.toml and of the database, and whether the database could be read;
    on a name in both, the database's (the one `carto editors set-password` changes). Without
    the database, those of secrets.toml only."""
    try:
        stored = _accounts().editors()
    except CartoError as exc:
        st.warning(f"Les comptes éditeurs de la base ne peuvent pas être lus : {md_escape(exc)}")
        return editors, False
    merged = {name: e for name, e in editors.items() if account_key(name) not in stored}
    merged.update(stored)
    return merged, True


def _still_valid(editor: Editor) -> bool:
    """A database account signed in earlier still exists with the same password."""
    try:
        account = _accounts().get(editor.username)
    except CartoError:
        return True  # the database is unreachable: the page says so where it needs it
    return account is not None and account.password_hash == editor.password_hash


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
    email = str(st.user.get("email") or "").strip()
    allowed = {e.strip().casefold() for e in emails}
    if not email:
        st.error(
            "Le fournisseur d'identité n'a pas transmis d'adresse électronique (« email » absent "
            "du jeton d'identité) : impossible de vérifier que vous pouvez publier. Demandez à "
            "l'administrateur de vérifier la configuration [auth] (scope « email »)."
        )
        st.button("Se déconnecter", on_click=st.logout)
        return None
    if email.casefold() not in allowed:
        st.error(f"Le compte « {md_escape(email)} » n'est pas autorisé à publier.")
        st.button("Se déconnecter", on_click=st.logout)
        return None
    return Editor(username=email, name=_oidc_name(email), password_hash="", source="oidc")


def _oidc_name(email: str) -> str:
    """The editor's name as the provider gives it: `name`, or ProConnect's given_name and
    usual_name; the e-mail address otherwise."""
    name = str(st.user.get("name") or "").strip()
    if not name:
        parts = (st.user.get("given_name"), st.user.get("usual_name") or st.user.get("family_name"))
        name = " ".join(str(part).strip() for part in parts if part)
    return name or email


def sign_out_button() -> None:
    """« Rester connecté sur cet appareil » (local accounts) and « Se déconnecter »."""
    try:
        single_sign_on = "auth" in _secrets()
    except ConfigError:  # already shown by signed_in_editor; the built-in sign-out still works
        single_sign_on = False
    if single_sign_on:
        st.sidebar.button("Se déconnecter", on_click=st.logout)
        return
    _keep_signed_in_link()
    # A form sent to the server (not a websocket message), so that the cookie is expired too;
    # leaving the page ends this Streamlit session and its state.
    st.sidebar.html(
        f'<form method="post" action="{SIGN_OUT_URL}" style="margin:0">'
        f'<button type="submit" style="{_BUTTON_STYLE}">Se déconnecter</button></form>'
    )


def _browser() -> str:
    """This browser's BROWSER_COOKIE, as its websocket handshake sent it ("" without one)."""
    value = st.context.cookies.get(BROWSER_COOKIE)
    return value if isinstance(value, str) else ""


def _keep_signed_in_link() -> None:
    editor = st.session_state.get("editor")
    if not isinstance(editor, Editor):
        return
    if st.session_state.get("editor_remembered"):
        st.sidebar.caption("Vous restez connecté sur cet appareil ; « Se déconnecter » l'y oublie.")
        return
    try:
        settings = caches.settings()
        days = settings.editor_cookie_days
        key = signing_key(caches.store(settings), create=True) if days else None
    except CartoError:
        return
    if not days:
        return
    if key is None:
        st.sidebar.caption(
            "« Rester connecté sur cet appareil » n'est pas proposé : la base est en lecture "
            "seule et n'a pas encore de clé pour signer la connexion (elle est créée à la "
            "première connexion sur une instance qui peut écrire)."
        )
        return
    browser = _browser()
    if not browser:
        st.sidebar.caption(
            "« Rester connecté sur cet appareil » n'est pas proposé : ce navigateur n'a pas "
            "gardé le cookie de la page. Autorisez les cookies de ce site, puis rechargez la "
            "page et reconnectez-vous."
        )
        return
    ticket, made = st.session_state.get("editor_ticket", ("", 0.0))
    now = datetime.now(UTC)
    if now.timestamp() - made > _TICKET_REFRESH:
        token = make_token(key, editor, expires=now + timedelta(days=days))
        ticket = TICKETS.issue(token, max_age=days * 86_400, browser=browser)
        st.session_state["editor_ticket"] = (ticket, now.timestamp())
    label = f"Rester connecté sur cet appareil ({days} jour{'s' if days > 1 else ''})"
    st.sidebar.html(
        f'<a href="{SIGN_IN_URL}?ticket={html.escape(ticket)}" style="{_BUTTON_STYLE}">'
        f"{html.escape(label)}</a>"
    )
    st.sidebar.caption(
        "Seulement sur un appareil personnel : la connexion est gardée dans ce navigateur "
        f"pendant {days} jour{'s' if days > 1 else ''}, jusqu'à « Se déconnecter »."
    )
