"""The `carto` command line on real files and a real SQLite store: messages and exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from carto.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "initiatives.csv"
MESSY = ROOT / "tests" / "data" / "messy"
HEADER = "nom;categorie;commune;latitude;longitude;site_web\n"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private store and the shipped data file, as an operator would configure them."""
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    monkeypatch.setenv("CARTO_DATA", str(DATA))
    return tmp_path


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_validate_clean_file_exits_0(capsys) -> None:
    assert main(["validate", str(DATA)]) == 0
    out = capsys.readouterr().out
    assert "initiatives lues" in out and "0 erreur(s)" in out


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Masques;protection;Lille;;;\n", ["ligne 2", "commune", "Lille"]),
        ("Masques;protection;Calais;51,9;1,8;\n", ["ligne 2", "latitude"]),
        ("Masques;inconnue;Calais;;;\n", ["ligne 2", "categorie", "inconnue"]),
        ("Masques;protection;Calais;;;javascript:alert(1)\n", ["ligne 2", "site_web"]),
        (";protection;Calais;;;\n", ["ligne 2", "nom"]),
    ],
)
def test_validate_names_row_column_value(tmp_path, capsys, body: str, expected: list[str]) -> None:
    path = write(tmp_path, "bad.csv", HEADER + body)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    first_error = next(line for line in out.splitlines() if line.startswith("Erreur"))
    for fragment in expected:
        assert fragment in first_error


def test_validate_missing_column(tmp_path, capsys) -> None:
    path = write(tmp_path, "no-cat.csv", "nom;commune\nMasques;Calais\n")
    assert main(["validate", str(path)]) == 1
    assert "categorie" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "/nonexistent/file.csv"],
        ["validate"],
        ["frobnicate"],
        ["import", "x", "--mode", "zap"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    assert code == 2
    assert capsys.readouterr().err  # a message on stderr


def test_binary_junk_exits_1(capsys) -> None:
    assert main(["validate", str(MESSY / "image-renommee.csv")]) == 1
    assert "Erreur" in capsys.readouterr().err


def test_geocode_writes_official_names(tmp_path) -> None:
    src = write(
        tmp_path,
        "messy.csv",
        "nom,categorie,commune\nA,isoles,Guines\nB,protection,Bruay-la Buissière\n"
        "C,routiers,St-Laurent-Blangy\nD,protection,LE TOUQUET\nE,soignants,Loos-en Gohelle\n",
    )
    out = tmp_path / "out.csv"
    assert main(["geocode", str(src), "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["code_insee"] for r in rows] == ["62397", "62178", "62753", "62826", "62528"]
    assert rows[0]["commune"] == "Guînes" and rows[0]["arrondissement"] == "Calais"
    assert {r["geocode_status"] for r in rows} <= {"exact", "fuzzy"}
    assert all(float(r["latitude"]) > 50 for r in rows)


def test_import_versions_rollback_export(env, tmp_path, capsys) -> None:
    # First start: the store is filled from CARTO_DATA (version 1).
    assert main(["versions"]) == 0
    assert "initial" in capsys.readouterr().out

    # A Windows-1252, ;-separated Excel export with accents.
    excel = MESSY / "export-excel-cp1252-pointvirgule.csv"
    assert main(["import", str(excel), "--note", "semaine 15", "--author", "Marie"]) == 0
    out = capsys.readouterr().out
    assert "Version 2 publiée" in out

    assert main(["export", "--format", "csv", "-o", str(tmp_path / "v2.csv")]) == 0
    v2 = (tmp_path / "v2.csv").read_text(encoding="utf-8-sig")
    exported = {r["nom"]: r["commune"] for r in csv.DictReader(io.StringIO(v2), delimiter=";")}
    assert exported.get("Épicerie solidaire « Le Panier »") == "Guînes", sorted(exported)
    assert exported.get("Aire de repos des routiers") == "Saint-Laurent-Blangy"

    # A bad file changes nothing.
    bad = write(tmp_path, "bad.csv", HEADER + "Masques;protection;Lille;;;\n")
    assert main(["import", str(bad)]) == 1
    assert "rien n'a été publié" in capsys.readouterr().err
    main(["versions"])
    assert capsys.readouterr().out.strip().splitlines()[0].split()[1] == "2"

    # Rollback restores version 1's content as version 3.
    assert main(["rollback", "1", "--author", "Marie"]) == 0
    assert main(["export", "--format", "geojson", "-o", str(tmp_path / "v3.geojson")]) == 0
    features = json.loads((tmp_path / "v3.geojson").read_text(encoding="utf-8"))["features"]
    original = list(csv.DictReader(DATA.open(encoding="utf-8")))
    assert {f["properties"]["id"] for f in features} == {r["id"] for r in original}


def test_export_filters_by_category(env, tmp_path) -> None:
    out = tmp_path / "iso.csv"
    assert main(["export", "--format", "csv", "--categorie", "isoles", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert rows and {r["categorie"] for r in rows} == {"isoles"}


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("carto")
    done = subprocess.run([str(exe), "validate", str(DATA)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_check_dated_in_the_future_is_refused(tmp_path, capsys) -> None:
    """« Vérifié le 2100-01-01 » would keep the initiative off « à vérifier » for ever."""
    path = write(
        tmp_path,
        "futur.csv",
        "nom;categorie;commune;verifie_le\nMasques;protection;Calais;2100-01-01\n"
        "Repas;confines;Arras;2020-04-06\n",
    )
    assert main(["validate", str(path)]) == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Erreur")]
    assert len(errors) == 1
    assert "ligne 2" in errors[0] and "verifie_le" in errors[0] and "2100-01-01" in errors[0]
    assert "futur" in errors[0]
