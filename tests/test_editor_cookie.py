"""« Rester connecté sur cet appareil » for local accounts: the signed token kept in the editor's
cookie (carto.publishing.accounts), its key shared through the database, and the two routes that
set and expire the cookie (carto.ui.routes), on a real Starlette app called as the ASGI server
calls it (starlette's TestClient needs httpx, which the project does not install)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio
import pytest
import streamlit
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from test_storage_readonly import _unwritable

from carto.auth import Editor, Throttle, authenticate, editors_from_secrets, hash_password
from carto.config import Settings
from carto.errors import ConfigError
from carto.publishing.accounts import Accounts, make_token, read_token, signing_key
from carto.publishing.storage import Store
from carto.ui import routes
from carto.ui.routes import BROWSER_COOKIE, COOKIE_NAME, TICKETS, Tickets

PASSWORD = "Solidarité-62!"
WEEK = timedelta(days=7)


def editors_of(store: Store, *extra: Editor) -> dict[str, Editor]:
    """What the Publier page checks a token against: database accounts and secrets.toml ones."""
    found = {e.username.casefold(): e for e in extra}
    found.update(Accounts(store).editors())
    return found


def test_a_token_signs_the_editor_in_until_it_expires(store: Store) -> None:
    accounts = Accounts(store)
    accounts.add("Marie.Dupont", PASSWORD, name="Marie Dupont")
    key = signing_key(store, create=True)
    assert key is not None and len(key) == 32
    [editor] = editors_of(store).values()
    now = datetime.now(UTC)
    token = make_token(key, editor, expires=now + WEEK)
    assert PASSWORD not in token and editor.password_hash not in token

    found, why = read_token(key, token, editors_of(store))
    assert (found, why) == (editor, "")
    assert found is not None and found.name == "Marie Dupont"
    # Still valid the day before it ends, not after.
    assert read_token(key, token, editors_of(store), now=now + WEEK - timedelta(days=1))[0]
    assert read_token(key, token, editors_of(store), now=now + WEEK + timedelta(seconds=1)) == (
        None,
        "expiré",
    )


def test_forged_tokens_are_refused(store: Store) -> None:
    Accounts(store).add("marie", PASSWORD)
    Accounts(store).add("paul", PASSWORD)
    key = signing_key(store, create=True)
    assert key is not None
    editors = editors_of(store)
    token = make_token(key, editors["marie"], expires=datetime.now(UTC) + WEEK)
    version, name, expiry, fingerprint, signature = token.split(".")
    # Another name, a later expiry, or another key: the signature no longer matches.
    paul = make_token(key, editors["paul"], expires=datetime.now(UTC)).split(".")[1]
    for forged in (
        ".".join([version, paul, expiry, fingerprint, signature]),
        ".".join([version, name, str(int(expiry) + 86_400 * 365), fingerprint, signature]),
        make_token(b"k" * 32, editors["marie"], expires=datetime.now(UTC) + WEEK),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "",
        "v1.x.y",
        "v2" + token[2:],
    ):
        assert read_token(key, forged, editors)[0] is None, forged


def test_a_new_password_or_a_removed_account_ends_the_token(store: Store) -> None:
    accounts = Accounts(store)
    accounts.add("marie", PASSWORD)
    accounts.add("paul", PASSWORD)
    key = signing_key(store, create=True)
    assert key is not None
    later = datetime.now(UTC) + WEEK
    marie = make_token(key, editors_of(store)["marie"], expires=later)
    paul = make_token(key, editors_of(store)["paul"], expires=later)

    accounts.set_password("marie", "Nouveau-mot-62")
    assert read_token(key, marie, editors_of(store)) == (None, "mot de passe changé")
    # Even set back to the same password: the new hash has a new salt.
    accounts.set_password("marie", PASSWORD)
    assert read_token(key, marie, editors_of(store))[0] is None

    accounts.remove("paul")
    assert read_token(key, paul, editors_of(store)) == (None, "compte supprimé")


def test_secrets_toml_accounts_too(store: Store) -> None:
    """An account of secrets.toml: a changed hash in the file ends its token."""
    key = signing_key(store, create=True)
    assert key is not None
    editor = Editor("Jeanne", "Jeanne", hash_password(PASSWORD), source="secrets")
    token = make_token(key, editor, expires=datetime.now(UTC) + WEEK)
    assert read_token(key, token, editors_of(store, editor))[0] == editor
    changed = Editor("Jeanne", "Jeanne", hash_password(PASSWORD), source="secrets")
    assert read_token(key, token, editors_of(store, changed))[0] is None
    # A database account of the same name replaces it (as on the page): another fingerprint.
    Accounts(store).add("jeanne", PASSWORD)
    assert read_token(key, token, editors_of(store, editor))[0] is None


def test_a_secrets_account_with_capitals_stays_signed_in(store: Store) -> None:
    """`[editors.Bob]` in secrets.toml: the page's accounts as it reads them (no helper that
    folds the keys for it), whatever case the editor types."""
    key = signing_key(store, create=True)
    assert key is not None
    editors = editors_from_secrets({"Bob": {"name": "Bob", "password_hash": hash_password("x")}})
    found, _ = authenticate(editors, "bob", "x", throttle=Throttle())
    assert found is not None and found.username == "Bob"
    token = make_token(key, found, expires=datetime.now(UTC) + WEEK)
    assert read_token(key, token, editors) == (found, "")


def test_two_secrets_accounts_differing_only_by_case_are_named() -> None:
    stored = hash_password("x", n=2**10)
    with pytest.raises(ConfigError) as caught:
        editors_from_secrets(
            {"Marie": {"password_hash": stored}, "marie": {"password_hash": stored}}
        )
    assert "[editors.Marie]" in str(caught.value) and "[editors.marie]" in str(caught.value)
    assert "majuscules" in str(caught.value)


def test_the_key_is_made_once_and_shared_by_every_instance(store_target) -> None:
    with store_target.open() as first:
        assert signing_key(first, create=False) is None  # reading makes nothing
        made = signing_key(first, create=True)
        assert made is not None
        assert signing_key(first, create=True) == made
        Accounts(first).add("marie", PASSWORD)
        token = make_token(
            made, Accounts(first).editors()["marie"], expires=datetime.now(UTC) + WEEK
        )
    with store_target.open() as second:  # another instance, same database
        key = signing_key(second, create=True)
        assert key == made
        assert read_token(key, token, Accounts(second).editors())[0] is not None


def test_a_read_only_store_without_a_key_offers_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "base"
    folder.mkdir()
    path = folder / "carto.sqlite"
    with Store.open(f"sqlite:///{path}") as writable:
        Accounts(writable).add("marie", PASSWORD)
    with _unwritable(path, folder), Store.open(f"sqlite:///{path}") as read_only:
        assert read_only.read_only
        assert signing_key(read_only, create=True) is None
    with Store.open(f"sqlite:///{path}") as writable:
        made = signing_key(writable, create=True)
    with _unwritable(path, folder), Store.open(f"sqlite:///{path}") as read_only:
        assert signing_key(read_only, create=True) == made  # made earlier: used as it is


# --- the routes --------------------------------------------------------------------------------


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]
    text: str


class Client:
    """Sends one HTTP request to the app the way uvicorn does (ASGI), as a browser would."""

    def __init__(self) -> None:
        self.app = Starlette(routes=routes.routes())

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Answer:
        path, _, query = url.partition("?")
        sent = {"host": "carto.test", **{k.lower(): v for k, v in (headers or {}).items()}}
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "server": ("carto.test", 80),
            "client": ("127.0.0.1", 5000),
            "headers": [(k.encode(), v.encode()) for k, v in sent.items()],
        }  # fmt: skip
        messages: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            messages.append(message)

        aio.run(self.app(scope, receive, send))
        start = messages[0]
        received = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        body = b"".join(m.get("body", b"") for m in messages[1:])
        return Answer(start["status"], received, body.decode())

    def get(self, url: str, headers: dict[str, str] | None = None) -> Answer:
        return self.request("GET", url, headers)

    def post(self, url: str, headers: dict[str, str] | None = None) -> Answer:
        return self.request("POST", url, headers)


@pytest.fixture
def client() -> Client:
    return Client()


BROWSER = "navigateur-de-marie"
# What Chromium sends when the editor clicks the link on the Publier page.
FROM_THE_PAGE = {"Sec-Fetch-Site": "same-origin", "Cookie": f"{BROWSER_COOKIE}={BROWSER}"}


def test_a_ticket_sets_the_cookie_once(client: Client) -> None:
    ticket = TICKETS.issue("v1.token", max_age=7 * 86_400, browser=BROWSER)
    answer = client.get(f"/carto/connexion?ticket={ticket}", FROM_THE_PAGE)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/publier"
    assert answer.headers["cache-control"] == "no-store"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=v1.token;")
    for attribute in ("HttpOnly", "Max-Age=604800", "Path=/", "SameSite=strict"):
        assert attribute.casefold() in cookie.casefold(), cookie
    assert "secure" not in cookie.casefold()  # plain http (a test server, no proxy)

    again = client.get(f"/carto/connexion?ticket={ticket}", FROM_THE_PAGE)
    assert again.status_code == 303
    assert again.headers["location"] == "/publier?connexion=expiree"
    assert "set-cookie" not in again.headers
    for unknown in ("", "ticket=", "ticket=devine"):
        answer = client.get(f"/carto/connexion?{unknown}", FROM_THE_PAGE)
        assert "set-cookie" not in answer.headers


def test_the_cookie_is_secure_behind_a_tls_proxy(client: Client) -> None:
    ticket = TICKETS.issue("v1.token", max_age=86_400, browser=BROWSER)
    answer = client.get(
        f"/carto/connexion?ticket={ticket}",
        headers={**FROM_THE_PAGE, "X-Forwarded-Proto": "https"},
    )
    assert re.search(r";\s*Secure", answer.headers["set-cookie"], re.IGNORECASE)


def test_a_ticket_lasts_its_lifetime_only() -> None:
    tickets = Tickets(lifetime=0)
    assert tickets.redeem(tickets.issue("v1.token", max_age=60, browser="b"), browser="b") is None
    tickets = Tickets(lifetime=60)
    found = tickets.redeem(tickets.issue("v1.token", max_age=60, browser="b"), browser="b")
    assert found == ("v1.token", 60)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},  # a link or a script of another site
        {"Sec-Fetch-Site": "same-site"},  # another site of the same domain
        {"Origin": "https://ailleurs.example"},  # an older browser, without Sec-Fetch-Site
    ],
)
def test_another_site_cannot_sign_a_visitor_in(client: Client, headers) -> None:
    """Login CSRF: an attacker's own ticket, opened in the victim's browser from another site,
    would make the victim publish under the attacker's name."""
    ticket = TICKETS.issue("v1.jeton-de-l-attaquant", max_age=86_400, browser=BROWSER)
    answer = client.get(
        f"/carto/connexion?ticket={ticket}",
        {"Cookie": f"{BROWSER_COOKIE}={BROWSER}", **headers},
    )
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers
    assert answer.text.startswith("Connexion refusée")


@pytest.mark.parametrize("victim", [None, "navigateur-de-la-victime"])
def test_a_ticket_sets_nothing_in_another_browser(client: Client, victim) -> None:
    """The attacker's ticket, followed by the victim (without a cookie, or with their own),
    even from a page of this site: no cookie, the ticket is spent."""
    ticket = TICKETS.issue("v1.jeton-de-l-attaquant", max_age=86_400, browser=BROWSER)
    headers = {"Sec-Fetch-Site": "same-origin"}
    if victim:
        headers["Cookie"] = f"{BROWSER_COOKIE}={victim}"
    answer = client.get(f"/carto/connexion?ticket={ticket}", headers)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/publier?connexion=expiree"
    assert "set-cookie" not in answer.headers
    # Spent: not even its own browser can use it now.
    spent = client.get(f"/carto/connexion?ticket={ticket}", FROM_THE_PAGE)
    assert "set-cookie" not in spent.headers


def test_signing_out_expires_the_cookie(client: Client) -> None:
    answer = client.post(
        "/carto/deconnexion",
        headers={"Sec-Fetch-Site": "same-origin", "Cookie": f"{COOKIE_NAME}=v1.token"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/publier"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f'{COOKIE_NAME}="";') and "max-age=0" in cookie.casefold(), cookie
    # Without Sec-Fetch-Site (an older browser): the Origin must be this site.
    answer = client.post("/carto/deconnexion", headers={"Origin": "http://carto.test"})
    assert answer.status_code == 303


def test_another_site_cannot_sign_an_editor_out(client: Client) -> None:
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://ailleurs.example"}):
        answer = client.post("/carto/deconnexion", headers=headers)
        assert answer.status_code == 403
        assert "set-cookie" not in answer.headers
        assert "Déconnexion refusée" in answer.text
    assert client.get("/carto/deconnexion").status_code == 405


# --- every page: the browser's cookie and who may frame it ------------------------------------

STREAMLIT_INDEX = Path(streamlit.__file__).parent / "static" / "index.html"
NAVIGATION = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Dest": "document"}


class PageClient(Client):
    """The routes and the pages' middleware around Streamlit's own index.html, as `app.py`."""

    def __init__(self, **middleware: str) -> None:
        async def index(request: Request) -> Response:
            return HTMLResponse(STREAMLIT_INDEX.read_text(encoding="utf-8"))

        self.app = Starlette(
            routes=[*routes.routes(), Route("/", index), Route("/publier", index)],
            middleware=[Middleware(routes.FrenchPages, **middleware)],
        )


def test_a_page_load_gives_the_browser_its_own_cookie() -> None:
    """What binds a ticket to the browser: set by the page's HTML response, before the
    websocket (whose handshake carries it to the script) opens."""
    client = PageClient()
    first, second = client.get("/publier", NAVIGATION), client.get("/", NAVIGATION)
    values = []
    for answer in (first, second):
        assert answer.status_code == 200 and '<html lang="fr">' in answer.text
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{BROWSER_COOKIE}="), cookie
        for attribute in ("HttpOnly", "Max-Age=43200", "Path=/", "SameSite=strict"):
            assert attribute.casefold() in cookie.casefold(), cookie
        values.append(cookie.split(";")[0].split("=", 1)[1])
    assert values[0] != values[1] and len(values[0]) >= 32
    # A browser that has one keeps it.
    kept = client.get("/publier", {**NAVIGATION, "Cookie": f"{BROWSER_COOKIE}={values[0]}"})
    assert "set-cookie" not in kept.headers
    secure = client.get("/publier", {**NAVIGATION, "X-Forwarded-Proto": "https"})
    assert re.search(r";\s*Secure", secure.headers["set-cookie"], re.IGNORECASE)


@pytest.mark.parametrize("accept", [NAVIGATION["Accept"], "*/*"])
def test_pages_may_be_framed_by_this_site_only(monkeypatch, accept) -> None:
    monkeypatch.delenv("CARTO_FRAME_ANCESTORS", raising=False)
    for path in ("/", "/publier"):
        answer = PageClient().get(path, {"Accept": accept})
        assert answer.headers["content-security-policy"] == "frame-ancestors 'self'"
        assert answer.headers["x-frame-options"] == "SAMEORIGIN"


def test_the_operator_names_who_may_frame_the_pages(monkeypatch) -> None:
    monkeypatch.setenv("CARTO_FRAME_ANCESTORS", "'self'  https://www.pas-de-calais.gouv.fr")
    answer = PageClient().get("/publier", NAVIGATION)
    assert answer.headers["content-security-policy"] == (
        "frame-ancestors 'self' https://www.pas-de-calais.gouv.fr"
    )
    assert "x-frame-options" not in answer.headers  # it cannot name another site
    # A value that would add another directive: the default, and the pages say why.
    monkeypatch.setenv("CARTO_FRAME_ANCESTORS", "* ; script-src *")
    answer = PageClient().get("/publier", NAVIGATION)
    assert answer.headers["content-security-policy"] == "frame-ancestors 'self'"
    with pytest.raises(ConfigError, match="CARTO_FRAME_ANCESTORS"):
        Settings.from_env()
