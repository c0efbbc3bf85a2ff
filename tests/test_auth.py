"""Editor sign-in: scrypt hashes, secrets parsing, throttling of failures."""

from __future__ import annotations

import pytest

from carto.auth import (
    Throttle,
    authenticate,
    editors_from_secrets,
    hash_password,
    verify_password,
)
from carto.errors import ConfigError


class FakeClock:
    """A real clock we can move by hand (time is an input here, not a collaborator)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def editors():
    return editors_from_secrets(
        {
            "marie": {
                "name": "Marie Dupont",
                "password_hash": hash_password("Bonjour-Guînes-62", n=2**14),
            }
        }
    )


@pytest.mark.parametrize(
    ("password", "stored_ok"),
    [("Bonjour-Guînes-62", True), ("bonjour-guînes-62", False), ("", False), ("x" * 1000, False)],
)
def test_verify_password(password: str, stored_ok: bool) -> None:
    stored = hash_password("Bonjour-Guînes-62", n=2**14)
    assert verify_password(password, stored) is stored_ok


@pytest.mark.parametrize(
    "stored", ["", "plain", "scrypt$x$8$1$aa$bb", "bcrypt$1$2$3$4$5", "scrypt$16384$8$1$%%$%%"]
)
def test_malformed_hash_never_verifies(stored: str) -> None:
    assert verify_password("anything", stored) is False


def test_hashes_are_salted() -> None:
    assert hash_password("a", n=2**14) != hash_password("a", n=2**14)


def test_editor_without_hash_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="password_hash"):
        editors_from_secrets({"paul": {"name": "Paul"}})


def test_sign_in_and_throttle(editors) -> None:
    clock = FakeClock()
    throttle = Throttle(max_failures=3, window_seconds=60, clock=clock)
    editor, message = authenticate(editors, "marie", "Bonjour-Guînes-62", throttle=throttle)
    assert editor is not None and editor.name == "Marie Dupont" and message == ""

    for _ in range(3):
        editor, message = authenticate(editors, "marie", "faux", throttle=throttle)
        assert editor is None and message == "Identifiant ou mot de passe incorrect."
    # Even the right password is refused while throttled.
    editor, message = authenticate(editors, "marie", "Bonjour-Guînes-62", throttle=throttle)
    assert editor is None and "Trop d'essais" in message
    clock.now += 61
    editor, _ = authenticate(editors, "marie", "Bonjour-Guînes-62", throttle=throttle)
    assert editor is not None


def test_unknown_user_is_refused_and_counted(editors) -> None:
    throttle = Throttle(max_failures=1, window_seconds=60, clock=FakeClock())
    assert authenticate(editors, "intrus", "x", throttle=throttle)[0] is None
    assert throttle.retry_after("intrus") > 0
