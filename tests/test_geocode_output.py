"""`carto geocode FILE -o OUT.csv`: the written CSV is as spreadsheet-safe as an export."""

from __future__ import annotations

import csv
from pathlib import Path

from carto.cli import main
from carto.exports import FORMULA_TRIGGERS, neutralise

# Written with the csv module so that quotes, line breaks, tabs and CRs survive as cells.
HOSTILE_ROWS = [
    {
        "nom": '=HYPERLINK("http://evil.example","Cliquez")',
        "categorie": "isoles",
        "description": "- appels quotidiens\n- courses",
        "commune": "Arras",
        "telephone": "",
        "zone": "@SUM(A1:A9)",
        "adresse": "+1+2 rue du Calcul",
    },
    {
        "nom": "-2+3 visières",
        "categorie": "protection",
        "description": "=1+1",
        "commune": "Guines",
        "telephone": "-5",
        "zone": "\t=cmd",
        "adresse": "\r=cmd",
    },
    {
        "nom": "'=déjà protégé",
        "categorie": "routiers",
        "description": "50-60 bénévoles",
        "commune": "Saint-Omer",
        "telephone": "",
        "zone": "",
        "adresse": "",
    },
]


def write_hostile(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(HOSTILE_ROWS[0]))
        writer.writeheader()
        writer.writerows(HOSTILE_ROWS)
    return path


def read_output(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as src:
        return list(csv.DictReader(src))


def test_geocode_output_neutralises_formula_cells(tmp_path: Path) -> None:
    src = write_hostile(tmp_path / "hostile.csv")
    out = tmp_path / "out.csv"
    assert main(["geocode", str(src), "-o", str(out)]) == 0
    rows = read_output(out)
    assert len(rows) == 3

    # No text cell can start a formula once opened in a spreadsheet...
    for line, row in enumerate(rows, start=2):
        for column, value in row.items():
            if column in ("latitude", "longitude", "geocode_score"):
                continue
            assert not value.startswith(FORMULA_TRIGGERS), (line, column, value)

    # ...and the rule is the exports' own: one apostrophe more, nothing else changed.
    assert rows[0]["nom"] == neutralise('=HYPERLINK("http://evil.example","Cliquez")')
    assert rows[0]["nom"] == '\'=HYPERLINK("http://evil.example","Cliquez")'
    assert rows[0]["description"] == "'- appels quotidiens\n- courses"
    assert rows[0]["zone"] == "'@SUM(A1:A9)"
    assert rows[0]["adresse"] == "'+1+2 rue du Calcul"
    assert rows[1]["nom"] == "'-2+3 visières"
    assert rows[1]["description"] == "'=1+1"
    assert rows[1]["telephone"] == "'-5"
    # Read as our own neutralised text ("'=" -> "="), so written back the same way.
    assert rows[2]["nom"] == "'=déjà protégé"
    assert rows[2]["description"] == "50-60 bénévoles"

    # Numbers stay numbers; the official names and codes are still written.
    assert [r["code_insee"] for r in rows] == ["62041", "62397", "62765"]
    assert rows[1]["commune"] == "Guînes"
    assert all(50 < float(r["latitude"]) < 51 and 1 < float(r["longitude"]) < 3 for r in rows)


def test_geocode_output_reads_back_to_the_same_values(tmp_path: Path, capsys) -> None:
    """Geocoding our own output again keeps every value: the apostrophes are undone on reading.

    (geocode_status is left out: a row with coordinates reads back as "manual", item 8.4.)"""
    src = write_hostile(tmp_path / "hostile.csv")
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    assert main(["geocode", str(src), "-o", str(first)]) == 0
    assert main(["geocode", str(first), "-o", str(second)]) == 0

    def values(path: Path) -> list[dict[str, str]]:
        return [{k: v for k, v in r.items() if k != "geocode_status"} for r in read_output(path)]

    assert values(second) == values(first)
    assert main(["validate", str(first)]) == 0
    assert "3 initiatives lues" in capsys.readouterr().out
