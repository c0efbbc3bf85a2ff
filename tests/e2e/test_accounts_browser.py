"""In Chromium: an operator creates an editor account with `carto editors add` on the server's
database, the editor signs in on the Publier page with that name (whatever its case), and what a
reload does to the sign-in: it ends it, unless the editor chose « Rester connecté sur cet
appareil » (an HttpOnly cookie: see docs/security.md, « Rester connecté »)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from carto.config import PROJECT_ROOT

from . import test_instances as instances
from .conftest import ARTIFACTS, IMPORT_FILE_INPUT, sign_in

# Two instances behind the documented nginx, one PostgreSQL database (fixture).
cluster = instances.cluster

PASSWORD = "Solidarité-62!"
DATA = PROJECT_ROOT / "data" / "initiatives.csv"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def accounts_app(streamlit_server):
    """A server of its own, with no account anywhere (empty secrets.toml)."""
    return streamlit_server({"CARTO_ACCOUNTS_TEST": "1"})


def carto_editors(server, *argv: str, stdin: str) -> subprocess.CompletedProcess:
    """`carto editors …` on the server's database: same CARTO_* environment as the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTO_")}
    env.update({"CARTO_STATE_DIR": str(server.state_dir), **server.env})
    return subprocess.run(
        [sys.executable, "-m", "carto.cli", "editors", *argv],
        input=stdin, capture_output=True, text=True, env=env, timeout=120,
        start_new_session=True,
    )  # fmt: skip


def test_account_made_with_the_cli_signs_in_and_a_reload_signs_out(page, accounts_app) -> None:
    base = accounts_app.base_url
    page.set_viewport_size(DESKTOP)
    page.goto(base + "/publier")
    # No account yet: the page says how to make one, and shows no form.
    expect(page.get_by_text(re.compile("carto editors add IDENTIFIANT"))).to_be_visible()
    expect(page.get_by_label("Identifiant")).to_have_count(0)

    done = carto_editors(
        accounts_app, "add", "marie.dupont", "--nom", "Marie Dupont", "--stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    page.reload()
    expect(page.get_by_label("Identifiant")).to_be_visible()
    # What the name is, said on the form itself.
    expect(page.get_by_text(re.compile("carto editors add"))).to_be_visible()
    expect(page.get_by_text(re.compile("Recharger la page vous déconnecte"))).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "accounts-signin-desktop.png"), full_page=True)

    page.get_by_label("Identifiant").fill("Marie.Dupont")
    page.get_by_label("Mot de passe").fill("mauvais-mot")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Identifiant ou mot de passe incorrect.")).to_be_visible()

    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Connecté :")).to_be_visible()
    expect(page.get_by_text("Marie Dupont").first).to_be_visible()

    # A reload starts a new Streamlit session: the editor must sign in again.
    page.reload()
    expect(page.get_by_label("Identifiant")).to_be_visible()
    expect(page.get_by_text("Connecté :")).to_have_count(0)

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_label("Identifiant")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "accounts-signin-phone.png"), full_page=True)


def test_changing_the_password_ends_the_open_session(page, accounts_app) -> None:
    base = accounts_app.base_url
    done = carto_editors(accounts_app, "add", "paul", "--stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    page.goto(base + "/publier")
    page.get_by_label("Identifiant").fill("paul")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Connecté :")).to_be_visible()

    done = carto_editors(accounts_app, "set-password", "paul", "--stdin", stdin="Nouveau-62!\n")
    assert done.returncode == 0, done.stderr
    # The editor's next action (dropping a file): the page reads the account again and
    # closes the session instead of importing.
    page.locator(IMPORT_FILE_INPUT).set_input_files(str(DATA))
    expect(page.get_by_text(re.compile("reconnectez-vous"))).to_be_visible()
    expect(page.get_by_text("Connecté :")).to_have_count(0)


def editor_cookie(page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == "carto_editeur"), None)


def test_keep_signed_in_survives_a_reload_until_sign_out(page, accounts_app) -> None:
    base = accounts_app.base_url
    done = carto_editors(accounts_app, "add", "lea", "--nom", "Léa", "--stdin", stdin=PASSWORD)
    assert done.returncode == 0, done.stderr
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, "lea")
    keep = page.get_by_role("link", name="Rester connecté sur cet appareil (7 jours)")
    expect(keep).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "accounts-keep-signed-in-desktop.png"), full_page=True)
    keep.click()
    page.wait_for_url(re.compile(r"/publier$"))
    expect(page.get_by_text("Connecté :")).to_be_visible()
    cookie = editor_cookie(page)
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert 6 * 86_400 < cookie["expires"] - time.time() <= 7 * 86_400

    page.reload()
    expect(page.get_by_text("Connecté :")).to_be_visible()
    expect(page.get_by_text(re.compile("Vous restez connecté sur cet appareil"))).to_be_visible()
    expect(page.get_by_label("Identifiant")).to_have_count(0)
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_text("Connecté :")).to_be_attached()
    page.screenshot(path=str(ARTIFACTS / "accounts-keep-signed-in-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.reload()

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_label("Identifiant")).to_be_visible()
    assert editor_cookie(page) is None
    page.reload()
    expect(page.get_by_label("Identifiant")).to_be_visible()
    expect(page.get_by_text("Connecté :")).to_have_count(0)

    # A used (or unknown) ticket sets no cookie, and the page says why.
    page.goto(base + "/carto/connexion?ticket=deja-servi")
    expect(page.get_by_text(re.compile("n'était plus valable"))).to_be_visible()
    assert editor_cookie(page) is None


def test_the_real_pages_set_the_browser_cookie_and_who_may_frame_them(accounts_app) -> None:
    """Streamlit's own page, through app.py's middleware: the cookie a ticket is bound to, and
    frame-ancestors (red team: /publier could be framed by any site)."""
    import urllib.request

    for path in ("/", "/publier"):
        request = urllib.request.Request(
            accounts_app.base_url + path, headers={"Accept": "text/html"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (localhost)
            assert answer.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
            assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
            cookie = answer.headers["Set-Cookie"]
            assert cookie.startswith("carto_navigateur=") and "httponly" in cookie.casefold()


def test_a_kept_sign_in_link_is_worth_nothing_in_another_browser(browser, accounts_app) -> None:
    """Login CSRF: the link made for one browser, opened in another (whose page is of this
    site), sets no cookie there."""
    base = accounts_app.base_url
    done = carto_editors(accounts_app, "add", "ines", "--stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    attacker = browser.new_context().new_page()
    sign_in(attacker, base, "ines")
    link = attacker.get_by_role("link", name=re.compile("Rester connecté sur cet appareil"))
    href = link.get_attribute("href")
    assert href and href.startswith("/carto/connexion?ticket=")
    victim = browser.new_context().new_page()
    victim.goto(base + "/")
    victim.goto(base + href)
    expect(victim.get_by_text(re.compile("n'était plus valable"))).to_be_visible()
    assert editor_cookie(victim) is None
    expect(victim.get_by_text("Connecté :")).to_have_count(0)
    attacker.context.close()
    victim.context.close()


def test_a_new_password_ends_the_kept_sign_in(page, accounts_app) -> None:
    base = accounts_app.base_url
    done = carto_editors(accounts_app, "add", "hugo", "--stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    sign_in(page, base, "hugo")
    page.get_by_role("link", name=re.compile("Rester connecté sur cet appareil")).click()
    page.wait_for_url(re.compile(r"/publier$"))
    page.reload()
    expect(page.get_by_text("Connecté :")).to_be_visible()

    done = carto_editors(accounts_app, "set-password", "hugo", "--stdin", stdin="Nouveau-62!\n")
    assert done.returncode == 0, done.stderr
    page.reload()
    expect(page.get_by_label("Identifiant")).to_be_visible()
    expect(page.get_by_text("Connecté :")).to_have_count(0)
    # No error for the visitor; one line for the operator.
    expect(page.get_by_text(re.compile("cookie|jeton", re.IGNORECASE))).to_have_count(0)
    logged = accounts_app.log_path.read_text(errors="replace")
    assert "Cookie « rester connecté » ignoré : mot de passe changé." in logged


@pytest.mark.postgres
def test_kept_sign_in_behind_nginx_over_https_on_either_instance(browser, cluster) -> None:
    """Behind the documented nginx (TLS, sticky sessions): the cookie is Secure, and the other
    instance accepts it too (the signing key is in the shared database). A secrets.toml account."""
    proxy, servers = cluster
    pinned = instances._cookie_per_instance(proxy, servers)
    a, b = servers
    blocked: list[str] = []
    page = instances._visitor(browser, proxy, pinned[a.port], blocked)
    page.goto(proxy.base_url + "/publier")
    page.get_by_label("Identifiant").fill("marie")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name=re.compile("Rester connecté sur cet appareil")).click()
    page.wait_for_url(re.compile(r"/publier$"))
    expect(page.get_by_text("Connecté :")).to_be_visible()
    cookie = editor_cookie(page)
    assert cookie is not None and cookie["secure"] and cookie["httpOnly"]

    # The same browser, now sent to the other instance: still signed in after a reload.
    page.context.add_cookies(
        [{"name": instances.COOKIE, "value": pinned[b.port], "url": proxy.base_url}]
    )
    page.reload()
    expect(page.get_by_text("Connecté :")).to_be_visible()
    expect(page.get_by_label("Identifiant")).to_have_count(0)
    assert not blocked
