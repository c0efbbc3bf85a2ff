"""AppTest of the sign-in on pages/publier.py: what an operator sees for a broken secrets.toml,
and that argon2 and scrypt accounts sign in while unknown names get the same answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit
from apptest import PASSWORD, PUBLISH_PAGE, TIMEOUT, publish_page, sign_in, uploaders
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.util import patch_config_options

from carto.auth import hash_password


@pytest.fixture(autouse=True)
def _page_world(db: str) -> str:
    return db


@pytest.fixture
def secrets_file(tmp_path, monkeypatch) -> Iterator[Path]:
    """A real secrets.toml read by Streamlit's own Secrets loader, as `streamlit run` does.

    AppTest only replaces st.secrets when `at.secrets` is filled; left empty, the page reads the
    global st.secrets, which parses the files listed in the `secrets.files` option. We point that
    option at a file of our own and give the page a fresh, unparsed Secrets object.
    """
    path = tmp_path / ".streamlit" / "secrets.toml"
    path.parent.mkdir()
    monkeypatch.setattr(streamlit, "secrets", Secrets())
    with patch_config_options({"secrets.files": [str(path)]}):
        yield path


def messages(at: AppTest) -> list[str]:
    shown = [e.value for e in at.error] + [w.value for w in at.warning]
    return [text.replace("\\", "") for text in shown]  # Markdown escapes aside


def test_malformed_secrets_file_says_it_cannot_be_read_and_where(secrets_file: Path) -> None:
    secrets_file.write_text(
        '[editors.marie]\nname = "Marie"\npassword_hash = "scrypt$oubli-du-guillemet\n',
        encoding="utf-8",
    )
    at = publish_page()
    assert not at.exception
    shown = messages(at)
    assert not any("Aucun compte éditeur" in text for text in shown), shown
    assert any(
        "ne peut pas être lu" in text and str(secrets_file) in text and "ligne 3" in text
        for text in shown
    ), shown
    assert not at.text_input  # no sign-in form on a broken configuration


def test_secrets_file_that_is_not_utf8_is_explained(secrets_file: Path) -> None:
    secrets_file.write_bytes('[editors.marie]\nname = "Hélène"\n'.encode("cp1252"))
    at = publish_page()
    assert not at.exception
    assert any("ne peut pas être lu" in t and str(secrets_file) in t for t in messages(at))


def test_valid_secrets_file_signs_in_with_an_argon2_hash(secrets_file: Path) -> None:
    secrets_file.write_text(
        f'[editors.marie]\nname = "Marie Dupont"\npassword_hash = "{hash_password(PASSWORD)}"\n',
        encoding="utf-8",
    )
    at = publish_page()
    assert [t.label for t in at.text_input] == ["Identifiant", "Mot de passe"]
    sign_in(at, "marie", PASSWORD)
    assert not at.exception
    assert len(uploaders(at)) == 1


@pytest.mark.parametrize("value", ["admin", ["admin"], 3])
def test_editors_that_is_not_a_table_is_named_without_traceback(value) -> None:
    at = publish_page({"editors": value})
    assert not at.exception
    assert any("« editors »" in text and "table" in text for text in messages(at)), messages(at)


def test_unusable_hash_names_the_editor_key() -> None:
    at = publish_page(
        {"editors": {"alice": {"name": "Alice", "password_hash": "scrypt$32768$8$1$REPLACE_ME"}}}
    )
    assert not at.exception
    expected = "secrets.toml : [editors.alice] password_hash n'est pas un hachage reconnu"
    assert any(expected in text and "carto hash-password" in text for text in messages(at))


def test_oidc_editors_that_is_not_a_table_is_named() -> None:
    at = AppTest.from_file(str(PUBLISH_PAGE), default_timeout=TIMEOUT)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback"}
    at.secrets["oidc_editors"] = "marie@example.org"
    at.user = {"is_logged_in": True, "email": "marie@example.org", "name": "Marie"}
    at.run()
    assert not at.exception
    assert any("« oidc_editors »" in text for text in messages(at)), messages(at)
    assert len(uploaders(at)) == 0


@pytest.mark.parametrize("n", [None, 2**14], ids=["argon2id", "scrypt"])
def test_known_and_unknown_usernames_get_the_same_answer(n) -> None:
    stored = hash_password(PASSWORD) if n is None else hash_password(PASSWORD, n=n)
    at = publish_page({"editors": {"marie": {"name": "Marie", "password_hash": stored}}})
    sign_in(at, "marie", "mauvais")
    known = messages(at)
    sign_in(at, "personne", "mauvais")
    assert messages(at) == known == ["Identifiant ou mot de passe incorrect."]
    sign_in(at, "marie", PASSWORD)
    assert not at.exception
    assert len(uploaders(at)) == 1


def proconnect_page(user: dict[str, object]) -> AppTest:
    """The Publier page with [auth] (as for ProConnect) and a user st.login signed in."""
    at = AppTest.from_file(str(PUBLISH_PAGE), default_timeout=TIMEOUT)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback"}
    at.secrets["oidc_editors"] = {"emails": ["marie.dupont@pas-de-calais.gouv.fr"]}
    at.user = {"is_logged_in": True, **user}
    return at.run()


def test_proconnect_agent_on_the_list_publishes_under_given_and_usual_name() -> None:
    """ProConnect gives given_name and usual_name, not name: the history shows the person."""
    at = proconnect_page(
        {
            "email": "Marie.Dupont@pas-de-calais.gouv.fr",
            "given_name": "Marie",
            "usual_name": "Dupont",
        }
    )
    assert not at.exception
    assert len(uploaders(at)) == 1
    assert any("Marie Dupont" in m.value for m in at.sidebar.markdown)


def test_proconnect_agent_without_email_is_told_why() -> None:
    at = proconnect_page({"given_name": "Marie", "usual_name": "Dupont"})
    assert not at.exception
    assert len(uploaders(at)) == 0
    assert any("n'a pas transmis d'adresse électronique" in t for t in messages(at)), messages(at)


def test_proconnect_agent_not_on_the_list_is_refused() -> None:
    at = proconnect_page({"email": "paul@pas-de-calais.gouv.fr", "given_name": "Paul"})
    assert len(uploaders(at)) == 0
    assert any("n'est pas autorisé à publier" in t for t in messages(at)), messages(at)
