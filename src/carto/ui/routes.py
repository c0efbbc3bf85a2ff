"""What app.py adds to Streamlit's server: the map's data files, and the pages in French.

Streamlit serves static files only from the code tree (static/ next to the main script), which
may be read-only; the marker data files the pages write live in Settings.markers_dir instead and
are served from there. Their names are content digests, so a file never changes: browsers may
keep it for good.

Streamlit's page (its index.html) says `<html lang="en">` and has no setting to change it;
FrenchPages rewrites that attribute in every HTML response, so that screen readers read the
pages with a French voice (RGAA 8.3).
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carto.config import Settings
from carto.errors import ConfigError

MARKERS_URL = "/carto/donnees"
IMMUTABLE = "public, max-age=31536000, immutable"
PAGE_LANGUAGE = "fr"
_ENGLISH_ROOT = b'<html lang="en">'


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


def routes() -> list[BaseRoute]:
    return [Route(MARKERS_URL + "/{path:path}", serve_marker_file, methods=["GET", "HEAD"])]


class FrenchPages:
    """ASGI middleware: `<html lang="en">` becomes `<html lang="fr">` in HTML responses.

    Only navigations (requests that accept text/html) are touched; they are asked uncompressed
    (their Accept-Encoding is dropped: Streamlit's page is 2 KB) so that the body can be read.
    Every other request passes through untouched, streamed as before.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _accepts_html(scope):
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        scope = {**scope, "headers": headers}
        start: Message | None = None
        body: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(raw=list(message["headers"]))
                is_html = response_headers.get("content-type", "").startswith("text/html")
                if is_html and "content-encoding" not in response_headers:
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


def _accepts_html(scope: Scope) -> bool:
    if scope.get("method") != "GET":  # a HEAD answer has no body to rewrite
        return False
    accept = next((v for k, v in scope["headers"] if k.lower() == b"accept"), b"")
    return b"text/html" in accept


def middleware() -> list[Middleware]:
    return [Middleware(FrenchPages)]
