"""The real `carto` command answers usage errors in French, with exit code 2 (issue 17, §4).

argparse writes « usage: », « invalid choice: … (choose from … », « the following arguments are
required », « unrecognized arguments », « invalid int value »: none of it may reach an editor.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CARTO = Path(sys.executable).with_name("carto")
ENGLISH = (
    "usage:",
    "invalid choice",
    "value:",
    "choose from",
    "required",
    "unrecognized",
    "expected",
    "error:",
    "positional arguments",
    "show this help",
)


def carto(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        [str(CARTO), *argv], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("argv", "french"),
    [
        (
            ["import", "x.csv", "--mode", "zap"],
            "argument --mode : choix invalide : « zap » (choix possibles : « merge », « replace »)",
        ),
        (["frobnicate"], "argument COMMANDE : choix invalide : « frobnicate »"),
        (["validate"], "argument(s) obligatoire(s) manquant(s) : FICHIER"),
        (["geocode", "x.csv"], "argument(s) obligatoire(s) manquant(s) : -o/--output"),
        ([], "argument(s) obligatoire(s) manquant(s) : COMMANDE"),
        (["editors"], "argument(s) obligatoire(s) manquant(s) : ACTION"),
        (["validate", "x.csv", "--frobnicate"], "argument(s) non reconnu(s) : --frobnicate"),
        (["validate", "x.csv", "y.csv"], "argument(s) non reconnu(s) : y.csv"),
        (
            ["nouveautes", "--nombre", "abc"],
            "argument --nombre : « abc » : un nombre entier de publications, de 1 à 1000",
        ),
        (
            ["nouveautes", "--nombre", "-3"],
            "argument --nombre : « -3 » : un nombre entier de publications, de 1 à 1000",
        ),
        (
            ["a-verifier", "--date", "0001-01-01"],
            "argument --date : « 0001-01-01 » : une date entre le 1900-01-01 et le 2199-12-31",
        ),
        (
            ["a-verifier", "--semaines", "99999999"],
            "argument --semaines : « 99999999 » : un nombre entier de semaines, de 1 à 520",
        ),
        (["rollback", "deux"], "argument N : « deux » n'est pas un nombre entier"),
        (["validate", "x.csv", "--feuille"], "argument --feuille : une valeur est attendue"),
    ],
)
def test_usage_errors_are_french_with_exit_code_2(argv: list[str], french: str) -> None:
    result = carto(*argv)
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"carto : erreur d'utilisation : {french}" in result.stderr
    assert result.stderr.startswith("utilisation : carto")
    lowered = result.stderr.lower()
    assert not [word for word in ENGLISH if word in lowered], result.stderr


@pytest.mark.parametrize("argv", [["-h"], ["import", "-h"], ["editors", "add", "-h"]])
def test_help_is_french(argv: list[str]) -> None:
    result = carto(*argv)
    assert result.returncode == 0
    assert result.stdout.startswith("utilisation : carto")
    assert "afficher cette aide et quitter" in result.stdout
    lowered = result.stdout.lower()
    assert not [word for word in ENGLISH if word in lowered], result.stdout
