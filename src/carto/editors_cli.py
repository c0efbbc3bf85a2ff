"""`carto editors add|list|remove|set-password`: editor accounts in the database, from a shell
or a script (`--stdin`), without editing secrets.toml. Registered by `carto.cli`."""

from __future__ import annotations

import argparse
import functools
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from carto.errors import CartoError, UsageError

if TYPE_CHECKING:
    from carto.publishing.accounts import Accounts
    from carto.publishing.storage import Store

EXIT_OK = 0
_NOT_UTF8 = (
    "Le mot de passe reçu n'est pas en UTF-8 (octets Latin-1 ou Windows-1252 ?) : rien n'a été "
    "modifié. Envoyez-le en UTF-8, par ex. printf '%s\\n' \"$MDP\" | iconv -f latin1 -t utf-8."
)
_STDIN_HELP = "lire le mot de passe sur l'entrée standard (une ligne), par ex. depuis un tube"


def read_new_password(*, from_stdin: bool, command: str) -> str:
    """A new password: one line of standard input (`--stdin`), or typed twice on a terminal.

    UsageError in French, never a traceback, on end of input, Ctrl-C, an empty line, two
    different entries, or standard input that is not a terminal without `--stdin`.
    """
    if from_stdin:
        try:
            line = sys.stdin.readline() if sys.stdin else ""
        except UnicodeDecodeError:
            raise CartoError(_NOT_UTF8) from None
        except KeyboardInterrupt:
            raise UsageError("Saisie interrompue : rien n'a été modifié.") from None
        if not line:
            raise UsageError(
                "Aucun mot de passe reçu sur l'entrée standard (--stdin) : rien n'a été modifié."
            )
        return _utf8(line.rstrip("\r\n"))
    if sys.stdin is None or not sys.stdin.isatty():
        raise UsageError(
            "L'entrée standard n'est pas un terminal : pour lire le mot de passe depuis un tube, "
            f"ajoutez --stdin (par ex. printf '%s\\n' \"$MDP\" | carto {command} --stdin)."
        )
    try:
        password = getpass.getpass("Mot de passe : ")
        confirm = getpass.getpass("Confirmez le mot de passe : ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        raise UsageError("Saisie interrompue : rien n'a été modifié.") from None
    if confirm != password:
        raise UsageError("Les deux mots de passe diffèrent : rien n'a été modifié.")
    return _utf8(password)


def _utf8(password: str) -> str:
    """The password, when it can be written in UTF-8: under the C locale Python reads stdin
    with `surrogateescape`, so Latin-1 bytes arrive as lone surrogates instead of an error."""
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise CartoError(_NOT_UTF8) from None
    return password


def _interruptible(command: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Ctrl-C while the account is written: the transaction is rolled back; say so in French."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except KeyboardInterrupt:
            print(file=sys.stderr)
            raise UsageError("Interrompu : rien n'a été modifié.") from None

    return run


def _accounts() -> tuple[Store, Accounts]:
    from carto.config import Settings
    from carto.publishing.accounts import Accounts
    from carto.publishing.storage import Store

    store = Store.open(**Settings.from_env().store_options())
    return store, Accounts(store)


@_interruptible
def cmd_add(args: argparse.Namespace) -> int:
    from carto.publishing.accounts import check_password, check_username

    username = check_username(args.identifiant)  # refused before the password is asked
    password = check_password(
        read_new_password(from_stdin=args.stdin, command=f"editors add {username}")
    )
    store, accounts = _accounts()
    with store:
        account = accounts.add(username, password, name=args.nom or "")
    print(
        f"Compte éditeur « {account.username} » ({account.name}) créé dans {store.url} : "
        "il peut se connecter sur la page Publier avec cet identifiant."
    )
    return EXIT_OK


@_interruptible
def cmd_set_password(args: argparse.Namespace) -> int:
    from carto.errors import CartoError
    from carto.publishing.accounts import check_password, unknown_account

    store, accounts = _accounts()
    with store:
        # Said before typing a password for nothing; checked again when writing.
        if accounts.get(args.identifiant) is None:
            raise CartoError(unknown_account(args.identifiant))
        command = f"editors set-password {args.identifiant.strip()}"
        password = check_password(read_new_password(from_stdin=args.stdin, command=command))
        account = accounts.set_password(args.identifiant, password)
    print(
        f"Mot de passe du compte « {account.username} » changé : ses sessions ouvertes sont "
        "fermées à leur prochaine action."
    )
    return EXIT_OK


@_interruptible
def cmd_remove(args: argparse.Namespace) -> int:
    store, accounts = _accounts()
    with store:
        account, remaining = accounts.remove(args.identifiant)
    print(f"Compte éditeur « {account.username} » ({account.name}) supprimé.")
    if remaining == 0:
        print(
            "Attention : il n'y a plus aucun compte éditeur dans la base. Personne ne peut se "
            "connecter à la page Publier avec un identifiant, sauf les comptes déclarés dans "
            ".streamlit/secrets.toml ; créez-en un avec carto editors add IDENTIFIANT.",
            file=sys.stderr,
        )
    return EXIT_OK


@_interruptible
def cmd_list(args: argparse.Namespace) -> int:
    from carto.publishing.accounts import local_time

    store, accounts = _accounts()
    with store:
        found = accounts.list()
    if not found:
        print(f"Aucun compte éditeur dans {store.url} (créez-en un : carto editors add NOM).")
        return EXIT_OK
    rows = [("Identifiant", "Nom affiché", "Créé le", "Mot de passe changé le")]
    rows += [
        (a.username, a.name, local_time(a.created_at), local_time(a.password_changed_at))
        for a in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[3]
        )
    print(f"{len(found)} compte(s) éditeur ; heures de Paris.")
    return EXIT_OK


def add_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """The `editors` command and its actions, under the `carto` parser's subcommands."""
    editors = sub.add_parser(
        "editors", help="comptes des éditeurs (page Publier), gardés dans la base de données"
    )
    esub = editors.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=parser_class
    )
    name_help = "identifiant de connexion (2 à 64 caractères : lettres, chiffres, . _ - @)"

    add = esub.add_parser("add", help="créer un compte (le mot de passe est demandé)")
    add.add_argument("identifiant", metavar="IDENTIFIANT", help=name_help)
    add.add_argument("--nom", help="nom affiché dans l'historique (défaut : l'identifiant)")
    add.add_argument("--stdin", action="store_true", help=_STDIN_HELP)
    add.set_defaults(func=cmd_add)

    lst = esub.add_parser("list", help="lister les comptes (jamais les empreintes)")
    lst.set_defaults(func=cmd_list)

    remove = esub.add_parser("remove", help="supprimer un compte")
    remove.add_argument("identifiant", metavar="IDENTIFIANT")
    remove.set_defaults(func=cmd_remove)

    set_password = esub.add_parser("set-password", help="changer le mot de passe d'un compte")
    set_password.add_argument("identifiant", metavar="IDENTIFIANT")
    set_password.add_argument("--stdin", action="store_true", help=_STDIN_HELP)
    set_password.set_defaults(func=cmd_set_password)
