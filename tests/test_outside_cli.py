"""Geocoding as the `carto` command line shows it: points outside the département need the
editor's confirmation (--hors-departement), and former communes resolve to their commune
nouvelle with a note."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from carto.cli import main

ROOT = Path(__file__).resolve().parents[1]
HEADER = "nom;categorie;commune;code_insee;latitude;longitude\n"
# 0.44 km inside the Nord, next to Richebourg (Pas-de-Calais); La Gorgue is a Nord commune.
GORGUE = "Épicerie solidaire;isoles;La Gorgue;;50.616;2.734\n"
ARRAS = "Masques;protection;Arras;;;\n"


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the shell says: no online geocoder, and anything written goes to tmp_path."""
    monkeypatch.delenv("CARTO_ONLINE_GEOCODER", raising=False)
    monkeypatch.setenv("CARTO_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    monkeypatch.setenv("CARTO_DATA", str(ROOT / "data" / "initiatives.csv"))
    return tmp_path


def _write(tmp_path: Path, body: str, name: str = "initiatives.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse usage errors
        return int(exc.code or 0)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- outside


def test_validate_refuses_a_point_outside_the_departement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, ARRAS + GORGUE)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    error = next(line for line in out.splitlines() if line.startswith("Erreur"))
    for fragment in (
        "ligne 3",
        "colonne « latitude »",
        "valeur « 50.616, 2.734 »",
        "hors du département 62",
        "commune la plus proche : Richebourg",
        "latitude et la longitude",
    ):
        assert fragment in error, fragment
    assert "relancez avec --hors-departement 3" in out
    assert "1 erreur(s)" in out


def test_validate_with_confirmation_keeps_the_point_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, ARRAS + GORGUE)
    assert main(["validate", str(path), "--hors-departement", "3"]) == 0
    out = capsys.readouterr().out
    warning = next(line for line in out.splitlines() if line.startswith("Avertissement"))
    assert "ligne 3" in warning and "point gardé sur confirmation" in warning
    assert "2 placées sur la carte, 0 erreur(s)" in out


def test_import_publishes_an_outside_point_only_when_confirmed(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(env, ARRAS + GORGUE)
    assert main(["import", str(path)]) == 1
    captured = capsys.readouterr()
    assert "rien n'a été publié" in captured.err
    assert "--hors-departement 3" in captured.out

    assert main(["import", str(path), "--hors-departement", "3"]) == 0
    assert "publiée" in capsys.readouterr().out
    out = env / "export.csv"
    assert main(["export", "--separateur", ",", "-o", str(out)]) == 0
    rows = {row["nom"]: row for row in _read_csv(out)}
    kept = rows["Épicerie solidaire"]
    assert (kept["commune"], kept["latitude"], kept["longitude"]) == (
        "Richebourg",
        "50.616",
        "2.734",
    )


def test_geocode_output_marks_the_confirmed_point_manual(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, GORGUE + ARRAS)
    out = tmp_path / "out.csv"
    assert main(["geocode", str(path), "-o", str(out)]) == 1
    assert [r["geocode_status"] for r in _read_csv(out)] == ["failed", "exact"]
    assert main(["geocode", str(path), "-o", str(out), "--hors-departement", "2"]) == 0
    assert [r["geocode_status"] for r in _read_csv(out)] == ["manual", "exact"]


@pytest.mark.parametrize("value", ["abc", "1", "", "2,x"])
def test_bad_line_numbers_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = _write(tmp_path, GORGUE)
    assert _exit_code(["validate", str(path), "--hors-departement", value]) == 2
    assert "--hors-departement" in capsys.readouterr().err


# --------------------------------------------------------------------------- former communes


def test_former_communes_resolve_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path,
        "A;soignants;Tatinghem;;;\n"
        "B;soignants;Clarques;;;\n"
        "C;soignants;Rebecques;;;\n"
        "D;soignants;Tatinghem;62807;;\n",
    )
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Matringhem" not in out
    assert (
        "Avertissement (ligne 2, colonne « commune », valeur « Tatinghem ») : "
        "Tatinghem → Saint-Martin-lez-Tatinghem (commune fusionnée)"
    ) in out
    assert "Clarques → Saint-Augustin (commune fusionnée)" in out
    assert "Rebecques → Saint-Augustin (commune fusionnée)" in out
    assert "4 placées sur la carte, 0 erreur(s), 4 avertissement(s)" in out

    geocoded = tmp_path / "out.csv"
    assert main(["geocode", str(path), "-o", str(geocoded)]) == 0
    assert [(r["commune"], r["code_insee"]) for r in _read_csv(geocoded)] == [
        ("Saint-Martin-lez-Tatinghem", "62757"),
        ("Saint-Augustin", "62691"),
        ("Saint-Augustin", "62691"),
        ("Saint-Martin-lez-Tatinghem", "62757"),
    ]
