"""What app.py adds to Streamlit's server: the map's data files, the editors' « rester connecté »
cookie, and the pages in French.

Streamlit serves static files only from the code tree (static/ next to the main script), which
may be read-only; the marker data files the pages write live in Settings.markers_dir instead and
are served from there. Their names are content digests, so a file never changes: browsers may
keep it for good.

Streamlit's page (its index.html) says `<html lang="en">` and has no setting to change it;
FrenchPages rewrites that attribute in every HTML response, so that screen readers read the
pages with a French voice (RGAA 8.3).

A Streamlit script cannot set a cookie (it talks to the browser over a websocket). After a local
sign-in, the Publier page links to SIGN_IN_URL with a ticket: a random, single-use value valid
TICKET_SECONDS, kept in this process's memory (a sticky proxy keeps the editor on the instance
that made it). The route swaps it for the signed token (carto.publishing.accounts.make_token) in
an HttpOnly, SameSite=Strict cookie, Secure over https, and sends the browser back to the page,
which reads and checks the cookie (carto.ui.signin). SIGN_OUT_URL (a same-origin POST) expires it.

The ticket is bound to the browser that asked for it, so that another site cannot sign a visitor
in as someone else (login CSRF): every page load (the HTML response, before the websocket opens)
gives a browser without one a random BROWSER_COOKIE (HttpOnly, SameSite=Strict, a few hours);
the websocket's handshake carries it to the script, which stores it with the ticket; the route
sets the editor's cookie only when the request carries that same value, and only for a request
of this site (Sec-Fetch-Site or Origin, the check the sign-out shares).

Every HTML response also says who may frame the app (`Content-Security-Policy: frame-ancestors`,
CARTO_FRAME_ANCESTORS, `'self'` by default): Streamlit switches pages in the browser, so the
header of the first page covers them all.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carto.config import DEFAULT_FRAME_ANCESTORS, Settings, read_flag
from carto.errors import ConfigError

MARKERS_URL = "/carto/donnees"
SIGN_IN_URL = "/carto/connexion"
SIGN_OUT_URL = "/carto/deconnexion"
PUBLISH_PAGE = "/publier"
COOKIE_NAME = "carto_editeur"
BROWSER_COOKIE = "carto_navigateur"
BROWSER_COOKIE_SECONDS = 12 * 3600  # a working day: after it, a page load gives a new one
TICKET_SECONDS = 60
EXPIRED_TICKET = "connexion=expiree"
IMMUTABLE = "public, max-age=31536000, immutable"
PAGE_LANGUAGE = "fr"
_ENGLISH_ROOT = b'<html lang="en">'
_log = logging.getLogger("carto")


def marker_url(path: str) -> str:
    """URL of a marker data file, `path` being relative to Settings.markers_dir."""
    return f"{MARKERS_URL}/{path}"


def marker_file(directory: Path, path: str) -> Path | None:
    """The file `path` names inside `directory`, or None: only *.json files, and only inside
    `directory` once links and `..` are resolved."""
    if not path.endswith(".json"):
        return None
    root = os.path.realpath(directory)
    target = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([root, target]) != root or not os.path.isfile(target):
        return None
    return Path(target)


def _read(directory: Path, path: str) -> bytes | None:
    target = marker_file(directory, path)
    if target is None:
        return None
    try:
        return target.read_bytes()
    except OSError:  # deleted since, or unreadable: the same answer as a file never written
        return None


async def serve_marker_file(request: Request) -> Response:
    try:
        directory = Settings.from_env().markers_dir
    except ConfigError:  # the pages explain it; here there is nothing to serve
        return PlainTextResponse("Introuvable", status_code=404)
    data = await run_in_threadpool(_read, directory, str(request.path_params["path"]))
    if data is None:
        return PlainTextResponse("Introuvable", status_code=404)
    return Response(data, media_type="application/json", headers={"Cache-Control": IMMUTABLE})


class Tickets:
    """Single-use tickets of this process, each standing for a cookie to set (token, max-age)
    in the one browser that asked for it (its BROWSER_COOKIE value)."""

    def __init__(self, lifetime: float = TICKET_SECONDS) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._tickets: dict[str, tuple[str, int, float, str]] = {}

    def issue(self, token: str, max_age: int, *, browser: str) -> str:
        ticket = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            expired = [t for t, found in self._tickets.items() if found[2] <= now]
            for old in expired:
                del self._tickets[old]
            self._tickets[ticket] = (token, max_age, now + self.lifetime, browser)
        return ticket

    def redeem(self, ticket: str, *, browser: str) -> tuple[str, int] | None:
        """The (token, max-age) of a ticket still valid, asked for by this browser, once; None
        otherwise (a ticket shown to another browser is spent all the same)."""
        with self._lock:
            found = self._tickets.pop(ticket, None)
        if found is None or found[2] <= time.monotonic():
            return None
        token, max_age, _, owner = found
        if not owner or not hmac.compare_digest(owner.encode(), browser.encode()):
            return None
        return token, max_age


TICKETS = Tickets()


def _over_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" or request.url.scheme == "https"


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def keep_signed_in(request: Request) -> Response:
    """Swap a ticket for the editor's cookie, then back to the Publier page."""
    if not _same_origin(request):
        _log.warning("Cookie « rester connecté » non posé : lien suivi depuis un autre site.")
        return _no_store(
            PlainTextResponse(
                "Connexion refusée : le lien « Rester connecté » doit être suivi depuis la page "
                "Publier de ce site.",
                status_code=403,
            )
        )
    found = TICKETS.redeem(
        request.query_params.get("ticket", ""), browser=request.cookies.get(BROWSER_COOKIE, "")
    )
    if found is None:
        _log.warning(
            "Cookie « rester connecté » non posé : ticket inconnu, déjà servi, expiré ou "
            "demandé par un autre navigateur."
        )
        return _no_store(RedirectResponse(f"{PUBLISH_PAGE}?{EXPIRED_TICKET}", status_code=303))
    token, max_age = found
    response = RedirectResponse(PUBLISH_PAGE, status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max_age,
        path="/",
        secure=_over_https(request),
        httponly=True,
        samesite="strict",
    )
    return _no_store(response)


def _same_origin(request: Request) -> bool:
    """A request sent by a page of this site, or typed by the visitor (not a link or a form of
    another site): Sec-Fetch-Site, or without it (older browsers) the Origin header."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:  # an old browser without Origin: the cookies are SameSite=Strict
        return True
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host.split(",")[0].strip()


async def sign_out(request: Request) -> Response:
    """Expire the editor's cookie, then back to the Publier page (signed out)."""
    if not _same_origin(request):
        return PlainTextResponse(
            "Déconnexion refusée : elle doit venir d'une page de ce site.", status_code=403
        )
    response = RedirectResponse(PUBLISH_PAGE, status_code=303)
    response.delete_cookie(
        COOKIE_NAME, path="/", secure=_over_https(request), httponly=True, samesite="strict"
    )
    return _no_store(response)


def routes() -> list[BaseRoute]:
    return [
        Route(MARKERS_URL + "/{path:path}", serve_marker_file, methods=["GET", "HEAD"]),
        Route(SIGN_IN_URL, keep_signed_in, methods=["GET"]),
        Route(SIGN_OUT_URL, sign_out, methods=["POST"]),
    ]


class FrenchPages:
    """ASGI middleware on the app's HTML responses (Streamlit's page and these routes').

    - `<html lang="en">` becomes `<html lang="fr">`. Only navigations (requests that accept
      text/html) are rewritten; they are asked uncompressed (their Accept-Encoding is dropped:
      Streamlit's page is 2 KB) so that the body can be read.
    - Every HTML response says who may frame it (`frame-ancestors`, and X-Frame-Options for
      older browsers when the policy is `'self'` or `'none'`).
    - A navigation of a browser without BROWSER_COOKIE gets one.

    Every other response passes through untouched, streamed as before.
    """

    def __init__(self, app: ASGIApp, *, frame_ancestors: str | None = None) -> None:
        self.app = app
        self.frame_ancestors = (
            _configured_frame_ancestors() if frame_ancestors is None else frame_ancestors
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        navigation = _accepts_html(scope)
        new_browser = ""
        if navigation:
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
            scope = {**scope, "headers": headers}
            if BROWSER_COOKIE not in Request(scope).cookies:
                new_browser = _browser_cookie(Request(scope))
        start: Message | None = None
        body: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(raw=list(message["headers"]))
                is_html = response_headers.get("content-type", "").startswith("text/html")
                if is_html:
                    self._add_headers(response_headers, new_browser)
                    message = {**message, "headers": response_headers.raw}
                if navigation and is_html and "content-encoding" not in response_headers:
                    start = message  # held until the whole body is read
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                data = b"".join(body).replace(
                    _ENGLISH_ROOT, f'<html lang="{PAGE_LANGUAGE}">'.encode(), 1
                )
                response_headers = MutableHeaders(raw=list(start["headers"]))
                response_headers["content-length"] = str(len(data))
                await send({**start, "headers": response_headers.raw})
                await send({"type": "http.response.body", "body": data})
            else:
                await send(message)

        await self.app(scope, receive, rewrite)

    def _add_headers(self, headers: MutableHeaders, new_browser: str) -> None:
        headers["content-security-policy"] = f"frame-ancestors {self.frame_ancestors}"
        older = {"'self'": "SAMEORIGIN", "'none'": "DENY"}.get(self.frame_ancestors)
        if older:
            headers["x-frame-options"] = older
        if new_browser:
            headers.append("set-cookie", new_browser)


def public_only() -> bool:
    """CARTO_PUBLIC_ONLY: the map without the editors' pages. When the configuration cannot be
    read, the map only (it says what is wrong), never the Publier page by mistake."""
    try:
        return Settings.from_env().public_only
    except ConfigError:
        try:
            return read_flag(os.environ, "CARTO_PUBLIC_ONLY")
        except ConfigError:
            return True


def _configured_frame_ancestors() -> str:
    try:
        return Settings.from_env().frame_ancestors
    except ConfigError:  # the pages say what is wrong; meanwhile, the strictest usual policy
        return DEFAULT_FRAME_ANCESTORS


def _browser_cookie(request: Request) -> str:
    """The Set-Cookie value giving this browser a new random BROWSER_COOKIE."""
    response = Response()
    response.set_cookie(
        BROWSER_COOKIE,
        secrets.token_urlsafe(24),
        max_age=BROWSER_COOKIE_SECONDS,
        path="/",
        secure=_over_https(request),
        httponly=True,
        samesite="strict",
    )
    return response.headers["set-cookie"]


def _accepts_html(scope: Scope) -> bool:
    if scope.get("method") != "GET":  # a HEAD answer has no body to rewrite
        return False
    accept = next((v for k, v in scope["headers"] if k.lower() == b"accept"), b"")
    return b"text/html" in accept


def middleware() -> list[Middleware]:
    return [Middleware(FrenchPages)]
