"""AppTest of the Publier page with accounts made by `carto editors add` (in the database): an
editor signs in with the name the operator gave, whatever its case; a changed password or a
removed account ends the open session; secrets.toml accounts keep working beside them; the
signed-in editor is offered « Rester connecté sur cet appareil » (the cookie itself: AppTest
cannot send one, see tests/test_editor_cookie.py and tests/e2e/test_accounts_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit
from apptest import EDITOR, PASSWORD, editors_secrets, publish_page, sign_in, uploaders
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.util import patch_config_options

from carto.cli import main
from carto.publishing.accounts import Accounts
from carto.publishing.storage import Store
from carto.ui import signin
from carto.ui.routes import TICKETS


@pytest.fixture
def no_secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A server without .streamlit/secrets.toml: the page reads Streamlit's own (empty) secrets."""
    monkeypatch.setattr(streamlit, "secrets", Secrets())
    with patch_config_options({"secrets.files": [str(tmp_path / "absent" / "secrets.toml")]}):
        yield


@pytest.fixture
def accounts(db: str) -> Iterator[Accounts]:
    """The accounts of the page's own database (the `db` fixture's CARTO_DATABASE_URL)."""
    with Store.open(db) as store:
        yield Accounts(store)


def messages(at: AppTest) -> list[str]:
    shown = [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]
    return [text.replace("\\", "") for text in shown]


def signed_in(at: AppTest) -> bool:
    return len(uploaders(at)) == 1


def test_an_account_made_with_the_cli_signs_in(no_secrets_file, db, monkeypatch, capsys) -> None:
    at = publish_page()
    assert not at.exception
    assert any("carto editors add" in text for text in messages(at)), messages(at)
    assert not at.text_input  # no account yet: no form, the way to make one instead

    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    assert main(["editors", "add", "marie.dupont", "--nom", "Marie Dupont", "--stdin"]) == 0

    at = publish_page()
    assert [t.label for t in at.text_input] == ["Identifiant", "Mot de passe"]
    assert any("carto editors add" in c.value for c in at.caption)  # what the name is
    sign_in(at, "Marie.Dupont", PASSWORD)
    assert not at.exception
    assert signed_in(at)
    assert any("Marie Dupont" in m.value for m in at.sidebar.markdown)


def test_wrong_password_and_unknown_name_get_the_same_answer(no_secrets_file, accounts) -> None:
    accounts.add("marie", PASSWORD)
    at = publish_page()
    sign_in(at, "marie", "mauvais-mdp")
    known = messages(at)
    sign_in(at, "personne", "mauvais-mdp")
    assert messages(at) == known == ["Identifiant ou mot de passe incorrect."]
    assert not signed_in(at)


@pytest.mark.parametrize("change", ["set-password", "remove"])
def test_changing_the_password_or_removing_the_account_signs_out(
    no_secrets_file, accounts, change
) -> None:
    accounts.add("marie", PASSWORD)
    at = sign_in(publish_page(), "marie", PASSWORD)
    assert signed_in(at)
    at.run()
    assert signed_in(at)  # still signed in on the next action

    if change == "remove":
        accounts.remove("marie")
    else:
        accounts.set_password("marie", "Nouveau-mot-62")
    at.run()
    assert not at.exception
    assert not signed_in(at)
    assert any("reconnectez-vous" in text for text in messages(at)), messages(at)
    assert [t.label for t in at.text_input] == (
        [] if change == "remove" else ["Identifiant", "Mot de passe"]
    )
    if change == "set-password":
        sign_in(at, "marie", PASSWORD)
        assert not signed_in(at)
        sign_in(at, "marie", "Nouveau-mot-62")
        assert signed_in(at)


def test_secrets_accounts_still_sign_in_beside_database_ones(accounts) -> None:
    accounts.add("paul", PASSWORD)
    at = publish_page({"editors": editors_secrets()})
    sign_in(at, EDITOR, PASSWORD)
    assert signed_in(at)
    at = sign_in(publish_page({"editors": editors_secrets()}), "paul", PASSWORD)
    assert signed_in(at)


def test_on_a_name_in_both_the_database_password_counts(accounts) -> None:
    """`carto editors set-password marie` must take effect even if secrets.toml has marie too."""
    accounts.add(EDITOR, "Base-mot-62!")
    at = sign_in(publish_page({"editors": editors_secrets()}), EDITOR, PASSWORD)
    assert not signed_in(at)
    at = sign_in(publish_page({"editors": editors_secrets()}), EDITOR, "Base-mot-62!")
    assert signed_in(at)


def test_unreachable_database_leaves_secrets_accounts_usable(db, monkeypatch) -> None:
    """The database is down: the page says its accounts cannot be read, and the accounts of
    secrets.toml still get the sign-in form (no traceback)."""
    monkeypatch.setenv("CARTO_DATABASE_URL", "postgresql+psycopg://carto:x@127.0.0.1:1/carto")
    at = publish_page({"editors": editors_secrets()})
    assert not at.exception
    assert any("ne peuvent pas être lus" in text for text in messages(at)), messages(at)
    assert [t.label for t in at.text_input] == ["Identifiant", "Mot de passe"]

    # No account in secrets.toml either: no form, and no claim that nothing is configured.
    at = publish_page({"other": "x"})
    assert not at.exception
    assert not at.text_input
    assert not any("Aucun compte éditeur" in text for text in messages(at)), messages(at)


def keep_link(at: AppTest) -> str:
    """The « Rester connecté… » link of the sidebar (HTML, no script), or ""."""
    shown = [element.proto.body for element in at.sidebar.get("html")]
    return next((body for body in shown if "Rester connecté" in body), "")


@pytest.fixture
def browser_cookie(monkeypatch: pytest.MonkeyPatch) -> str:
    """The BROWSER_COOKIE the page's websocket would carry (AppTest cannot send cookies)."""
    monkeypatch.setattr(signin, "_browser", lambda: "navigateur-de-marie")
    return "navigateur-de-marie"


def test_signed_in_editor_is_offered_to_stay_signed_in(
    no_secrets_file, accounts, browser_cookie
) -> None:
    accounts.add("marie", PASSWORD)
    at = sign_in(publish_page(), "marie", PASSWORD)
    link = keep_link(at)
    assert "Rester connecté sur cet appareil (7 jours)" in link, link
    ticket = re.search(r'href="/carto/connexion\?ticket=([\w-]+)"', link)
    assert ticket, link
    assert any("appareil personnel" in c.value for c in at.sidebar.caption)
    # The ticket stands for a token of this account, valid 7 days (the cookie's Max-Age).
    redeemed = TICKETS.redeem(ticket[1], browser=browser_cookie)
    assert redeemed is not None and redeemed[1] == 7 * 86_400
    assert redeemed[0].startswith("v1.")
    assert TICKETS.redeem(ticket[1], browser=browser_cookie) is None  # once only


def test_no_offer_to_a_browser_without_the_page_cookie(no_secrets_file, accounts) -> None:
    """A ticket must be bound to a browser: without its cookie (cookies blocked), no link."""
    accounts.add("marie", PASSWORD)
    at = sign_in(publish_page(), "marie", PASSWORD)
    assert signed_in(at)
    assert not keep_link(at)
    assert any("Autorisez les cookies" in c.value for c in at.sidebar.caption)


def test_no_offer_when_the_operator_turns_it_off(no_secrets_file, accounts, monkeypatch) -> None:
    monkeypatch.setenv("CARTO_EDITOR_COOKIE_DAYS", "0")
    accounts.add("marie", PASSWORD)
    at = sign_in(publish_page(), "marie", PASSWORD)
    assert signed_in(at)
    assert not keep_link(at)


def test_one_address_trying_many_names_is_stopped_in_french(
    no_secrets_file, accounts, monkeypatch
) -> None:
    """The page counts failures per client address, whatever the names tried (figures lowered
    here: tests/test_auth.py checks the real ones)."""
    from carto.auth import ClientLimits, Throttle

    limits = ClientLimits(per_address=Throttle(max_failures=2), overall=Throttle())
    monkeypatch.setattr(signin, "_limits", lambda: limits)
    monkeypatch.setattr(signin, "_client_address", lambda: "203.0.113.9")
    accounts.add("marie", PASSWORD)
    at = publish_page()
    for name in ("paul", "jean"):
        sign_in(at, name, "mauvais-mdp")
        assert messages(at) == ["Identifiant ou mot de passe incorrect."]
    sign_in(at, "marie", PASSWORD)
    assert not at.exception and not signed_in(at)
    [refusal] = messages(at)
    assert refusal.startswith("Trop d'essais de connexion depuis votre adresse réseau")
    assert limits.per_address.retry_after("203.0.113.9") > 0
