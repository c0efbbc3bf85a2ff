"""Editor sign-in: scrypt hashes, secrets parsing, throttling of failures."""

from __future__ import annotations

import pytest

from carto.auth import (
    ClientLimits,
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


@pytest.fixture(scope="module")
def quick_editors():
    """One editor with a hash quick to check (scrypt n=16), for tests that try hundreds."""
    stored = hash_password("Bonjour-Guînes-62", n=2**4)
    return editors_from_secrets({"marie": {"password_hash": stored}})


def test_one_address_cannot_try_name_after_name(quick_editors) -> None:
    """Red team: 886 attempts a minute across usernames, each under the per-account lock."""
    clock = FakeClock()
    limits = ClientLimits.default(clock=clock)
    throttle = Throttle(clock=clock)
    for n in range(30):
        found, message = authenticate(
            quick_editors,
            f"nom{n}",
            "faux",
            throttle=throttle,
            limits=limits,
            address="203.0.113.9",
        )
        assert found is None and message == "Identifiant ou mot de passe incorrect."
    # The 31st of the minute: refused, even with a real editor's password, before any check.
    found, message = authenticate(
        quick_editors, "marie", "Bonjour-Guînes-62", throttle=throttle, limits=limits,
        address="203.0.113.9",
    )  # fmt: skip
    assert found is None
    assert message.startswith("Trop d'essais de connexion depuis votre adresse réseau")
    # Editors elsewhere still sign in; this address again after the window.
    other = authenticate(
        quick_editors, "marie", "Bonjour-Guînes-62", throttle=throttle, limits=limits,
        address="198.51.100.4",
    )  # fmt: skip
    assert other[0] is not None
    clock.now += 61
    again = authenticate(
        quick_editors, "marie", "Bonjour-Guînes-62", throttle=throttle, limits=limits,
        address="203.0.113.9",
    )  # fmt: skip
    assert again[0] is not None


def test_an_unknown_address_is_not_one_client(quick_editors) -> None:
    """No address (a proxy not trusted, this machine): no per-address limit, which would let
    one visitor refuse everyone; the ceiling still counts."""
    limits = ClientLimits.default(clock=FakeClock())
    throttle = Throttle(clock=FakeClock(), max_entries=100_000)
    for n in range(40):
        authenticate(quick_editors, f"nom{n}", "faux", throttle=throttle, limits=limits)
    found, _ = authenticate(
        quick_editors, "marie", "Bonjour-Guînes-62", throttle=throttle, limits=limits
    )
    assert found is not None
    assert limits.overall.retry_after("*") == 0 and len(limits.per_address) == 0


def test_the_process_has_a_ceiling_that_one_address_cannot_reach(quick_editors) -> None:
    clock = FakeClock()
    limits = ClientLimits.default(clock=clock)
    throttle = Throttle(clock=clock, max_entries=100_000)
    assert limits.per_address.max_failures * 20 <= limits.overall.max_failures
    for n in range(600):  # 20 addresses, each at its own limit
        authenticate(
            quick_editors,
            f"nom{n}",
            "faux",
            throttle=throttle,
            limits=limits,
            address=f"10.0.0.{n // 30}",
        )
    found, message = authenticate(
        quick_editors,
        "marie",
        "Bonjour-Guînes-62",
        throttle=throttle,
        limits=limits,
        address="10.9.9.9",
    )
    assert found is None
    assert message.startswith("Trop d'essais de connexion sur ce serveur en ce moment")


def test_unknown_user_is_refused_and_counted(editors) -> None:
    throttle = Throttle(max_failures=1, window_seconds=60, clock=FakeClock())
    assert authenticate(editors, "intrus", "x", throttle=throttle)[0] is None
    assert throttle.retry_after("intrus") > 0


# --- issue 8: timing of unknown users, argon2, unusable hashes, throttle purge, CLI ----------


def hash_shape(stored: str) -> tuple[object, ...]:
    """Scheme and cost parameters of a stored hash, plus its salt and digest lengths."""
    parts = stored.split("$")
    return (*parts[:4], len(parts[4]), len(parts[5]))


class RecordingVerify:
    """Wraps the real verify_password and remembers which stored hash each check used."""

    def __init__(self, real) -> None:
        self.real = real
        self.stored: list[str] = []

    def __call__(self, password: str, stored: str) -> bool:
        self.stored.append(stored)
        return self.real(password, stored)


@pytest.mark.parametrize(
    "make_hash",
    [
        lambda: hash_password("Bonjour-Guînes-62"),  # new hashes: argon2id
        lambda: hash_password("Bonjour-Guînes-62", n=2**15),  # existing deployments: scrypt
        lambda: hash_password("Bonjour-Guînes-62", n=2**14),
    ],
    ids=["argon2id", "scrypt-2^15", "scrypt-2^14"],
)
def test_unknown_users_cost_the_same_as_real_editors(monkeypatch, make_hash) -> None:
    """An unknown username is checked against a hash of the same scheme and parameters."""
    import carto.auth as auth

    stored = make_hash()
    team = editors_from_secrets({"marie": {"name": "Marie", "password_hash": stored}})
    spy = RecordingVerify(auth.verify_password)
    monkeypatch.setattr(auth, "verify_password", spy)
    throttle = Throttle(clock=FakeClock())
    assert authenticate(team, "marie", "faux", throttle=throttle)[0] is None
    assert authenticate(team, "quelquun", "faux", throttle=throttle)[0] is None
    known, unknown = spy.stored
    assert known == stored
    assert unknown != stored
    assert hash_shape(unknown) == hash_shape(known)


@pytest.mark.parametrize(
    ("team", "slowest"),
    [
        # Red team: argon2id accounts and one legacy scrypt (n=2**15, r=8), 1.65x slower here.
        (["argon2", "argon2", "scrypt-2^15"], "scrypt-2^15"),
        (["scrypt-2^15", "argon2-cheap", "argon2-cheap"], "scrypt-2^15"),
        (["scrypt-2^10", "scrypt-2^10", "argon2"], "argon2"),
    ],
)
def test_unknown_users_cost_what_the_slowest_editor_costs(monkeypatch, team, slowest) -> None:
    """With editors of several schemes, an unknown name is checked against the slowest one's
    parameters (not the most common): no account answers slower than an unknown name."""
    import carto.auth as auth

    made = {
        "argon2": lambda: hash_password("m-62"),
        "argon2-cheap": lambda: auth.argon2.PasswordHasher(time_cost=1, memory_cost=1024).hash(
            "m-62"
        ),
        "scrypt-2^15": lambda: hash_password("m-62", n=2**15),
        "scrypt-2^10": lambda: hash_password("m-62", n=2**10),
    }
    hashes = {kind: made[kind]() for kind in set(team)}
    section = {f"e{i}": {"password_hash": hashes[kind]} for i, kind in enumerate(team)}
    editors = editors_from_secrets(section)
    spy = RecordingVerify(auth.verify_password)
    monkeypatch.setattr(auth, "verify_password", spy)
    assert authenticate(editors, "inconnu", "faux", throttle=Throttle(clock=FakeClock()))[0] is None
    [decoy] = spy.stored
    assert auth.hash_params(decoy) == auth.hash_params(hashes[slowest])


def test_new_hashes_are_argon2id_and_scrypt_still_verifies() -> None:
    stored = hash_password("Bonjour-Guînes-62")
    assert stored.startswith("$argon2id$")
    assert verify_password("Bonjour-Guînes-62", stored)
    assert not verify_password("bonjour-guînes-62", stored)
    legacy = hash_password("Bonjour-Guînes-62", n=2**14)
    assert legacy.startswith("scrypt$16384$")
    assert verify_password("Bonjour-Guînes-62", legacy)


def test_editors_may_mix_argon2_and_scrypt_hashes() -> None:
    team = editors_from_secrets(
        {
            "marie": {"password_hash": hash_password("m-62")},
            "paul": {"password_hash": hash_password("p-62", n=2**14)},
        }
    )
    throttle = Throttle(clock=FakeClock())
    assert authenticate(team, "marie", "m-62", throttle=throttle)[0] is not None
    assert authenticate(team, "paul", "p-62", throttle=throttle)[0] is not None


GOOD_ARGON2 = hash_password("x")


@pytest.mark.parametrize(
    "stored",
    [
        "plain-text-password",
        "scrypt$32768$8$1$REPLACE_ME$REPLACE_ME",  # the example file, pasted unchanged
        "scrypt$x$8$1$c2FsdA==$ZGlnZXN0",  # n not a number
        "scrypt$1000$8$1$c2FsdA==$ZGlnZXN0",  # n not a power of two
        "scrypt$16384$8$1$c2FsdA==",  # a field missing
        "scrypt$16384$8$1$%%$%%",  # bad base64
        "scrypt$16384$8$1$c2FsdA==$",  # empty digest
        "bcrypt$1$2$3$4$5",
        "$argon2id$v=19$m=65536,t=3,p=4$bad",
        "$argon2id$v=19$m=65536,t=3,p=4$%%%%$%%%%",
        GOOD_ARGON2[:-40],  # truncated when pasted
        GOOD_ARGON2.rsplit("$", 1)[0],  # digest lost
        "$argon2id$v=19$m=lots,t=3,p=4$c2FsdHNhbHRzYWx0$ZGlnZXN0ZGlnZXN0",
    ],
)
def test_unusable_hash_is_reported_at_load_naming_the_editor(stored: str) -> None:
    with pytest.raises(ConfigError) as caught:
        editors_from_secrets({"alice": {"name": "Alice", "password_hash": stored}})
    message = str(caught.value)
    assert "[editors.alice] password_hash n'est pas un hachage reconnu" in message
    assert "carto hash-password" in message
    assert stored not in message or len(stored) < 8  # the secret is not echoed


@pytest.mark.parametrize("section", ["admin", 3, ["admin"], True])
def test_editors_that_is_not_a_table_names_the_key(section) -> None:
    with pytest.raises(ConfigError, match=r"« editors ».*table"):
        editors_from_secrets(section)


def test_editor_entry_that_is_not_a_table_names_the_editor() -> None:
    with pytest.raises(ConfigError, match=r"\[editors\.alice\]"):
        editors_from_secrets({"alice": "motdepasse"})


def test_throttle_forgets_idle_usernames() -> None:
    """20,000 distinct usernames tried, then the window passes: nothing is kept."""
    clock = FakeClock()
    throttle = Throttle(max_failures=5, window_seconds=300, clock=clock)
    for i in range(20_000):
        key = f"visiteur-{i}"
        assert throttle.retry_after(key) == 0
        throttle.record_failure(key)
        clock.now += 0.001
    assert 0 < len(throttle) <= throttle.max_entries
    clock.now += 301
    throttle.retry_after("encore-un")
    assert len(throttle) <= 1


def test_throttle_map_is_bounded_within_the_window() -> None:
    clock = FakeClock()
    throttle = Throttle(max_failures=3, window_seconds=300, clock=clock, max_entries=1_000)
    for _ in range(3):
        throttle.record_failure("marie")
    for i in range(5_000):
        throttle.record_failure(f"visiteur-{i}")
    assert len(throttle) <= 1_000


def test_checking_does_not_create_entries() -> None:
    throttle = Throttle(clock=FakeClock())
    for i in range(100):
        assert throttle.retry_after(f"visiteur-{i}") == 0
    assert len(throttle) == 0


def test_throttle_keeps_counting_recent_failures_while_purging() -> None:
    clock = FakeClock()
    throttle = Throttle(max_failures=3, window_seconds=60, clock=clock)
    for _ in range(3):
        throttle.record_failure("marie")
    clock.now += 30
    for i in range(500):  # others come and go
        throttle.record_failure(f"visiteur-{i}")
    assert throttle.retry_after("marie") == pytest.approx(30, abs=0.01)
    clock.now += 31
    assert throttle.retry_after("marie") == 0


def test_successful_sign_in_leaves_no_entry(editors) -> None:
    throttle = Throttle(clock=FakeClock())
    assert authenticate(editors, "marie", "Bonjour-Guînes-62", throttle=throttle)[0] is not None
    assert len(throttle) == 0


def test_huge_username_is_not_stored_whole(editors) -> None:
    throttle = Throttle(clock=FakeClock())
    authenticate(editors, "a" * 1_000_000, "x", throttle=throttle)
    assert len(throttle) == 1
    assert sum(len(key) for key in throttle) <= 256


# --- `carto hash-password` ------------------------------------------------------------------


def test_hash_password_cli_reads_a_pipe_with_stdin_flag(monkeypatch, capsys) -> None:
    import io

    from carto.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("Bonjour-Guînes-62\r\n"))
    assert main(["hash-password", "--stdin"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith('password_hash = "$argon2id$')
    assert verify_password("Bonjour-Guînes-62", line.split('"')[1])


@pytest.mark.parametrize(
    ("argv", "stdin", "expected"),
    [
        (["hash-password"], "", "--stdin"),  # no terminal: say how to pipe the password
        (["hash-password"], "secret\n", "--stdin"),
        (["hash-password", "--stdin"], "", "mot de passe"),  # EOF: nothing to hash
        (["hash-password", "--stdin"], "\n", "vide"),
    ],
    ids=["no-tty-eof", "no-tty-text", "stdin-eof", "stdin-empty-line"],
)
def test_hash_password_cli_without_terminal_explains_in_french(argv, stdin, expected) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "carto.cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal, as under cron or CI
    )
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    assert expected in done.stderr
    assert done.stderr.startswith("carto : ")
    assert "password_hash" not in done.stdout


def test_hash_password_cli_end_of_input_at_the_prompt() -> None:
    """Ctrl-D at « Mot de passe : » on a terminal: a French message, exit 2, no traceback."""
    import os
    import select
    import subprocess
    import sys

    controller, terminal = os.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "carto.cli", "hash-password"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no /dev/tty: getpass reads the terminal given as stdin
    )
    try:
        err = b""
        while b"Mot de passe" not in err:  # wait for the prompt, then type Ctrl-D
            ready, _, _ = select.select([child.stderr], [], [], 60)
            assert ready, err
            chunk = os.read(child.stderr.fileno(), 4096)
            assert chunk, err
            err += chunk
        os.write(controller, b"\x04")
        out, rest = child.communicate(timeout=60)
    finally:
        child.kill()
        os.close(controller)
        os.close(terminal)
    err = (err + rest).decode()
    assert child.returncode == 2, err
    assert "Traceback" not in err
    assert "Saisie interrompue" in err
    assert b"password_hash" not in out


def test_example_secrets_file_pasted_unchanged_is_reported() -> None:
    import tomllib
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.example.toml"
    section = tomllib.loads(example.read_text(encoding="utf-8"))["editors"]
    with pytest.raises(ConfigError, match=r"\[editors\.redaction\] password_hash n'est pas"):
        editors_from_secrets(section)
