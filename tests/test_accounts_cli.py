"""`carto editors add|list|set-password|remove` as an operator runs them: in a shell, from a
script through a pipe, on a terminal (typing, Ctrl-D, Ctrl-C), on SQLite files and PostgreSQL."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from test_accounts import drop_schema

from carto.auth import verify_password
from carto.publishing.accounts import Accounts
from carto.publishing.storage import Store

PASSWORD = "Solidarité-62!"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path: Path) -> Iterator[str]:
    """CARTO_DATABASE_URL of a fresh store: a SQLite file, or a PostgreSQL schema of its own
    (reached through the connection's search_path, as an operator's URL could do)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'carto.sqlite'}"
        return
    postgres_url = request.getfixturevalue("postgres_url")
    schema = f"carto_test_{uuid.uuid4().hex[:12]}"
    with Store.open(postgres_url, schema=schema):
        pass  # creates the schema
    url = make_url(postgres_url).update_query_dict({"options": f"-c search_path={schema}"})
    yield url.render_as_string(hide_password=False)
    drop_schema(postgres_url, schema)


def carto(database: str, *argv: str, stdin: str | None = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "CARTO_DATABASE_URL": database}
    return subprocess.run(
        [sys.executable, "-m", "carto.cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        start_new_session=True,  # no controlling terminal, as under cron or CI
    )


def accounts(database: str) -> list[tuple[str, str]]:
    with Store.open(database) as store:
        return [(a.username, a.name) for a in Accounts(store).list()]


def password_of(database: str, username: str) -> str:
    with Store.open(database) as store:
        account = Accounts(store).get(username)
    assert account is not None
    return account.password_hash


def no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr + done.stdout, done


def test_add_list_set_password_remove_through_a_pipe(database: str) -> None:
    done = carto(database, "editors", "list")
    assert done.returncode == 0 and "Aucun compte éditeur" in done.stdout, done

    done = carto(
        database, "editors", "add", "marie.dupont", "--nom", "Marie Dupont", "--stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done
    assert "« marie.dupont » (Marie Dupont) créé" in done.stdout
    assert accounts(database) == [("marie.dupont", "Marie Dupont")]
    assert verify_password(PASSWORD, password_of(database, "marie.dupont"))

    carto(database, "editors", "add", "paul", "--stdin", stdin="Paul-mot-62\r\n")
    done = carto(database, "editors", "list")
    assert done.returncode == 0, done
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["Identifiant", "Nom", "affiché", "Créé", "le", "Mot", "de",
                                "passe", "changé", "le"]  # fmt: skip
    assert lines[1].startswith("marie.dupont  Marie Dupont")
    assert lines[2].startswith("paul ")
    assert "2 compte(s)" in lines[3]
    assert "$argon2" not in done.stdout and "scrypt" not in done.stdout

    done = carto(database, "editors", "set-password", "PAUL", "--stdin", stdin="Nouveau-62!\n")
    assert done.returncode == 0, done
    assert verify_password("Nouveau-62!", password_of(database, "paul"))

    done = carto(database, "editors", "remove", "Paul")
    assert done.returncode == 0 and "« paul » (paul) supprimé" in done.stdout, done
    assert "plus aucun compte" not in done.stderr
    done = carto(database, "editors", "remove", "marie.dupont")
    assert done.returncode == 0, done
    assert "Attention : il n'y a plus aucun compte éditeur" in done.stderr
    assert accounts(database) == []


@pytest.mark.parametrize(
    ("argv", "stdin", "code", "expected"),
    [
        (["add", "marie"], "", 2, "ajoutez --stdin"),  # a pipe without --stdin
        (["add", "marie"], PASSWORD + "\n", 2, "carto editors add marie --stdin"),
        (["add", "marie", "--stdin"], "", 2, "Aucun mot de passe reçu"),  # end of input
        (["add", "marie", "--stdin"], "\n", 2, "vide"),
        (["add", "marie", "--stdin"], "court\n", 2, "trop court (5 caractères)"),
        (["add", "marie dupont", "--stdin"], PASSWORD, 2, "Identifiant « marie dupont » refusé"),
        (["set-password", "jean", "--stdin"], PASSWORD, 1, "Aucun compte éditeur « jean »"),
        (["remove", "jean"], "", 1, "Aucun compte éditeur « jean »"),
    ],
    ids=["pipe", "pipe-text", "eof", "empty", "short", "bad-name", "unknown-set", "unknown-rm"],
)
def test_refusals_are_french_with_exit_codes_and_change_nothing(
    database: str, argv, stdin, code, expected
) -> None:
    done = carto(database, "editors", *argv, stdin=stdin)
    assert done.returncode == code, done
    no_traceback(done)
    assert expected in done.stderr, done.stderr
    assert accounts(database) == []


def test_a_name_taken_in_another_case_is_refused(database: str) -> None:
    carto(database, "editors", "add", "Marie", "--stdin", stdin=PASSWORD)
    done = carto(database, "editors", "add", "marie", "--stdin", stdin="Autre-mot-62")
    assert done.returncode == 1, done
    no_traceback(done)
    assert "« marie » existe déjà (« Marie »)" in done.stderr
    assert verify_password(PASSWORD, password_of(database, "marie"))


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals")
class TestOnATerminal:
    """getpass on a real pseudo-terminal: typed twice, Ctrl-D, Ctrl-C."""

    def run(self, database: str, *argv: str, keys: list[bytes], interrupt: bool = False):
        controller, terminal = os.openpty()
        child = subprocess.Popen(
            [sys.executable, "-m", "carto.cli", "editors", *argv],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "CARTO_DATABASE_URL": database},
            start_new_session=True,  # no /dev/tty: getpass reads the terminal given as stdin
        )
        err = b""
        try:
            for number, key in enumerate(keys):
                # Wait for the prompt (« Mot de passe : », then « Confirmez … »), then type.
                while err.count(b" : ") <= number:
                    ready, _, _ = select.select([child.stderr], [], [], 60)
                    assert ready, err
                    chunk = os.read(child.stderr.fileno(), 4096)
                    assert chunk, err
                    err += chunk
                if interrupt and number == len(keys) - 1:
                    child.send_signal(signal.SIGINT)  # what Ctrl-C sends
                else:
                    os.write(controller, key)
            out, rest = child.communicate(timeout=120)
        finally:
            child.kill()
            os.close(controller)
            os.close(terminal)
        return child.returncode, out.decode(), (err + rest).decode()

    def test_password_typed_twice(self, database: str) -> None:
        code, out, err = self.run(database, "add", "marie", keys=[PASSWORD.encode() + b"\n"] * 2)
        assert code == 0, err
        assert "Confirmez le mot de passe" in err
        assert PASSWORD not in out + err  # not echoed
        assert verify_password(PASSWORD, password_of(database, "marie"))

        code, out, err = self.run(
            database, "set-password", "marie", keys=[b"Nouveau-62!\n", b"Nouveau-62?\n"]
        )
        assert code == 2 and "Les deux mots de passe diffèrent" in err, err
        assert verify_password(PASSWORD, password_of(database, "marie"))

    @pytest.mark.parametrize("interrupt", [False, True], ids=["ctrl-d", "ctrl-c"])
    def test_stopping_at_the_prompt(self, database: str, interrupt: bool) -> None:
        code, out, err = self.run(
            database, "add", "marie", keys=[PASSWORD.encode() + b"\n", b"\x04"],
            interrupt=interrupt,
        )  # fmt: skip
        assert code == 2, err
        assert "Traceback" not in err
        assert "Saisie interrompue : rien n'a été modifié." in err
        assert accounts(database) == []


@pytest.mark.parametrize("errors", ["surrogateescape", "strict"])
@pytest.mark.parametrize("argv", [["editors", "add", "bob"], ["hash-password"]])
def test_a_latin1_password_on_stdin_is_refused_in_french(
    monkeypatch, capsys, tmp_path: Path, argv: list[str], errors: str
) -> None:
    """`printf 'caf\\xe9…' | carto editors add bob --stdin` from a Latin-1 terminal or file.
    Python reads stdin with `surrogateescape` under the C locale (UTF-8 mode), `strict` else."""
    import io

    from carto.cli import main

    database = f"sqlite:///{tmp_path / 'carto.sqlite'}"
    monkeypatch.setenv("CARTO_DATABASE_URL", database)
    raw = io.BytesIO("café-Solidarité-62\n".encode("latin-1"))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(raw, encoding="utf-8", errors=errors))
    assert main([*argv, "--stdin"]) == 1
    out, err = capsys.readouterr()
    assert "pas en UTF-8" in err and "Traceback" not in err
    assert "password_hash" not in out
    assert accounts(database) == []
