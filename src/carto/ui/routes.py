"""HTTP routes added to Streamlit's server (app.py): the map's data files, under CARTO_STATE_DIR.

Streamlit serves static files only from the code tree (static/ next to the main script), which
may be read-only; the marker data files the pages write live in Settings.markers_dir instead and
are served from there. Their names are content digests, so a file never changes: browsers may
keep it for good.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from carto.config import Settings
from carto.errors import ConfigError

MARKERS_URL = "/carto/donnees"
IMMUTABLE = "public, max-age=31536000, immutable"


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
