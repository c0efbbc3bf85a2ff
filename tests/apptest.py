"""Shared AppTest helpers: open a page, sign in, upload, read the count of shown initiatives.

The environment of a page run (private database, state directory) is the `db` fixture of
tests/conftest.py; every test that opens a page uses it.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from carto.auth import hash_password
from carto.config import PROJECT_ROOT

MAP_PAGE = PROJECT_ROOT / "pages" / "carte.py"
PUBLISH_PAGE = PROJECT_ROOT / "pages" / "publier.py"
NAVIGATION = PROJECT_ROOT / "navigation.py"
TIMEOUT = 60
EDITOR = "marie"
EDITOR_NAME = "Marie Dupont"
PASSWORD = "Solidarité-62!"
MIME_TYPES = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def map_page(**query: str | list[str]) -> AppTest:
    """The public map as a visitor opening a link with these query parameters sees it."""
    at = AppTest.from_file(str(MAP_PAGE), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def shown_count(at: AppTest) -> tuple[int, int]:
    """(initiatives shown, initiatives published), as the map page writes them."""
    text = next(m.value for m in at.markdown if "affichées sur" in m.value)
    shown, total = text.strip("*").split(" affichées sur ")
    return int(shown), int(total)


def editors_secrets(password: str = PASSWORD) -> dict[str, dict[str, str]]:
    """The [editors] section of secrets.toml with one account, EDITOR."""
    return {EDITOR: {"name": EDITOR_NAME, "password_hash": hash_password(password, n=2**14)}}


def publish_page(secrets: dict[str, object] | None = None) -> AppTest:
    """The Publier page before sign-in; `secrets` as secrets.toml would give them."""
    at = AppTest.from_file(str(PUBLISH_PAGE), default_timeout=TIMEOUT)
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    return at.run()


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def signed_in_publish_page(password: str = PASSWORD) -> AppTest:
    """The Publier page of EDITOR, signed in with the built-in accounts."""
    at = sign_in(publish_page({"editors": editors_secrets(password)}), EDITOR, password)
    assert not at.exception
    return at


FILE_UPLOADER = "Fichier d'initiatives"
COMMUNIQUE_UPLOADER = "Communiqué"


def uploaders(at: AppTest, label: str = FILE_UPLOADER) -> list[Any]:
    """The page's file drop zones whose label starts with `label` (as an editor reads them)."""
    return [u for u in at.get("file_uploader") if u.label.startswith(label)]  # type: ignore[attr-defined]


def upload(
    at: AppTest,
    name: str,
    data: bytes,
    mime: str | None = None,
    *,
    label: str = FILE_UPLOADER,
    read: bool = True,
) -> AppTest:
    """Drop a file in the Publier page's uploader named `label` and rerun; a communiqué is
    read by a worker process: with `read`, wait until it is read (or refused) and rerun."""
    mime = mime or MIME_TYPES.get(Path(name).suffix, "application/octet-stream")
    (zone,) = uploaders(at, label)
    zone.set_value((name, data, mime))
    at = at.run()
    return read_through(at) if read and label == COMMUNIQUE_UPLOADER else at


COMMUNIQUE_STATE = "communique_state"


def read_through(at: AppTest) -> AppTest:
    """Wait for the communiqué the page is reading to be read or refused, then rerun the page
    (as its polling fragment would)."""
    state = at.session_state.get(COMMUNIQUE_STATE)
    reading = getattr(state, "reading", None)
    if reading is None:
        return at
    with suppress(Exception):  # a refusal is the page's to show
        reading.result(timeout=TIMEOUT)
    return at.run()
