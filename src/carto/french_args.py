"""The `carto` parser in French: usage, help and every usage error argparse writes in English.

argparse builds its messages with gettext and has no French catalogue; the parser class here
gives French help titles and usage prefix, and translates each error message argparse formats
(Python 3.11 to 3.13 wordings) before printing it. Usage errors exit with code 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

EXIT_USAGE = 2
USAGE_PREFIX = "utilisation : "
# What a value given to a `type=` of argparse must be, by the type's name.
_TYPE_NAMES = {"int": "un nombre entier", "float": "un nombre"}
_QUOTED = re.compile(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)\"""")


def _quoted(text: str) -> str:
    """`'zap'` (a repr, as argparse writes values) as « zap »; plain text the same way."""
    found = _QUOTED.fullmatch(text.strip())
    value = next((g for g in found.groups() if g is not None), "") if found else text.strip()
    return f"« {value} »"


def _listing(text: str) -> str:
    """`'merge', 'replace'` (or `merge, replace`) as « merge », « replace »."""
    values = [m.group(1) or m.group(2) or "" for m in _QUOTED.finditer(text)]
    if not values:
        values = [v.strip() for v in text.split(",") if v.strip()]
    return ", ".join(f"« {v} »" for v in values)


def _invalid_type(match: re.Match[str]) -> str:
    expected = _TYPE_NAMES.get(match["type"])
    if expected:
        return f"{_quoted(match['value'])} n'est pas {expected}"
    return f"valeur {_quoted(match['value'])} invalide"


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

# An argument's own error, after « argument NAME: » (argparse.ArgumentError).
_ARGUMENT_RULES: list[_Rule] = [
    (
        re.compile(r"invalid choice: (?P<value>.+?) \(choose from (?P<choices>.*)\)", re.S),
        lambda m: (
            f"choix invalide : {_quoted(m['value'])} (choix possibles : {_listing(m['choices'])})"
        ),
    ),
    (re.compile(r"invalid (?P<type>\S+) value: (?P<value>.+)", re.S), _invalid_type),
    (re.compile(r"expected one argument"), lambda m: "une valeur est attendue"),
    (re.compile(r"expected at most one argument"), lambda m: "une valeur au plus est attendue"),
    (re.compile(r"expected at least one argument"), lambda m: "une valeur au moins est attendue"),
    (
        re.compile(r"expected (?P<n>\d+) arguments?"),
        lambda m: f"{m['n']} valeur(s) attendue(s)",
    ),
    (
        re.compile(r"ignored explicit argument (?P<value>.+)", re.S),
        lambda m: f"cette option ne prend pas de valeur ({_quoted(m['value'])})",
    ),
    (
        re.compile(r"not allowed with argument (?P<other>.+)", re.S),
        lambda m: f"incompatible avec {m['other']}",
    ),
]
# Messages of the whole command line.
_RULES: list[_Rule] = [
    (
        re.compile(r"the following arguments are required: (?P<names>.+)", re.S),
        lambda m: f"argument(s) obligatoire(s) manquant(s) : {m['names']}",
    ),
    (
        re.compile(r"unrecognized arguments: (?P<args>.+)", re.S),
        lambda m: f"argument(s) non reconnu(s) : {m['args']}",
    ),
    (
        re.compile(r"one of the arguments (?P<names>.+) is required", re.S),
        lambda m: f"un de ces arguments est obligatoire : {m['names']}",
    ),
    (
        re.compile(r"ambiguous option: (?P<option>\S+) could match (?P<matches>.+)", re.S),
        lambda m: f"option ambiguë : {m['option']} peut désigner {m['matches']}",
    ),
]
_ARGUMENT = re.compile(r"argument (?P<name>.+?): (?P<message>.*)", re.S)


def _apply(rules: list[_Rule], message: str) -> str | None:
    for pattern, french in rules:
        if found := pattern.fullmatch(message):
            return french(found)
    return None


def french_message(message: str) -> str:
    """argparse's English error message in French; a message already French is kept."""
    if argument := _ARGUMENT.fullmatch(message):
        inner = argument["message"]
        translated = _apply(_ARGUMENT_RULES, inner)
        return f"argument {argument['name']} : {translated if translated is not None else inner}"
    translated = _apply(_RULES, message)
    return translated if translated is not None else message


class FrenchHelpFormatter(argparse.HelpFormatter):
    """« utilisation : » in front of the usage line instead of « usage: »."""

    def add_usage(
        self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None
    ) -> None:
        super().add_usage(usage, actions, groups, USAGE_PREFIX if prefix is None else prefix)


class FrenchParser(argparse.ArgumentParser):
    """An ArgumentParser whose help and usage errors are French (exit code 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        add_help = kwargs.pop("add_help", True)
        kwargs.setdefault("formatter_class", FrenchHelpFormatter)
        kwargs["add_help"] = False  # argparse's -h says « show this help message and exit »
        super().__init__(*args, **kwargs)
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        if add_help:
            self.add_argument(
                "-h",
                "--help",
                action="help",
                default=argparse.SUPPRESS,
                help="afficher cette aide et quitter",
            )

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"carto : erreur d'utilisation : {french_message(message)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
