"""`carto import --mode merge` and re-imports, on the shipped data and a real SQLite store.

Nothing a file does not mention is lost; an id given to another initiative is a conflict; our own
export imported back changes nothing.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from carto.cli import main
from carto.config import Settings
from carto.gazetteer import load_gazetteer
from carto.intake.pipeline import load
from carto.publishing.plan import open_store, plan_import, publish_plan
from carto.publishing.storage import Store

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "initiatives.csv"
TEREOS = "pdc-2020-04-06-01"
ROQUETTE = "pdc-2020-04-06-02"


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """A private store seeded from the shipped data file (version 1), as an operator sets it."""
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    monkeypatch.setenv("CARTO_DATA", str(DATA))
    return tmp_path


def _store() -> Store:
    cfg = Settings.from_env()
    return open_store(cfg, load_gazetteer(cfg.departement))


def _row(table, rid: str) -> dict[str, object]:
    rows = table[table["id"] == rid].to_dict(orient="records")
    assert len(rows) == 1, rid
    return rows[0]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _review_counts(out: str) -> tuple[int, int, int, int]:
    found = re.search(
        r"(\d+) ajoutée\(s\), (\d+) modifiée\(s\), (\d+) retirée\(s\), (\d+) inchangée\(s\)", out
    )
    assert found, out
    added, changed, removed, unchanged = (int(n) for n in found.groups())
    return added, changed, removed, unchanged


def test_merge_of_a_file_without_id_keeps_every_column_it_lacks(env, capsys) -> None:
    with _store() as store:
        before = _row(store.load(), TEREOS)
    path = _write(
        env,
        "m.csv",
        "nom;categorie;commune\nTereos : production de gel hydro-alcoolique;soignants;Lillers\n",
    )
    assert main(["import", str(path), "--mode", "merge"]) == 0
    assert _review_counts(capsys.readouterr().out)[:3] == (0, 1, 0)
    with _store() as store:
        after = _row(store.load(), TEREOS)  # the id is still there
    assert after["categorie"] == "soignants"
    lost = {
        column: (value, after[column])
        for column, value in before.items()
        if column != "categorie" and str(after[column]) != str(value)  # str: NaN == NaN
    }
    assert lost == {}


def test_merge_review_lists_only_the_cells_the_file_changes(env) -> None:
    path = _write(
        env,
        "m.csv",
        "nom;categorie;commune;telephone\n"
        "Tereos : production de gel hydro-alcoolique;soignants;Lillers;03 21 00 00 01\n",
    )
    with _store() as store:
        plan = plan_import(load(path), store, mode="merge")
    assert [(c.key, [f.column for f in c.fields]) for c in plan.diff.changed] == [
        (TEREOS, ["categorie", "telephone"])
    ]


def test_merge_keeps_a_precise_point_unless_the_commune_changes(env, capsys) -> None:
    # An editor placed Roquette precisely on its site (manual coordinates).
    placed = _write(
        env,
        "placed.csv",
        f"id;nom;categorie;commune;latitude;longitude\n"
        f"{ROQUETTE};Roquette : production de gel hydro-alcoolique;protection;Lestrem;"
        "50,6154;2,6702\n",
    )
    assert main(["import", str(placed), "--mode", "merge"]) == 0
    # A later file without coordinates, same commune: the precise point stays.
    same = _write(
        env,
        "same.csv",
        "nom;categorie;commune\nRoquette : production de gel hydro-alcoolique;soignants;Lestrem\n",
    )
    assert main(["import", str(same), "--mode", "merge"]) == 0
    with _store() as store:
        row = _row(store.load(), ROQUETTE)
    assert (row["latitude"], row["longitude"], row["geocode_status"]) == (
        50.6154,
        2.6702,
        "manual",
    )
    assert row["categorie"] == "soignants"
    # The initiative moves to Béthune: its point and arrondissement follow the new commune.
    moved = _write(
        env,
        "moved.csv",
        f"id;nom;categorie;commune\n"
        f"{ROQUETTE};Roquette : production de gel hydro-alcoolique;soignants;Béthune\n",
    )
    assert main(["import", str(moved), "--mode", "merge"]) == 0
    with _store() as store:
        row = _row(store.load(), ROQUETTE)
    assert (row["commune"], row["code_insee"], row["geocode_status"]) == (
        "Béthune",
        "62119",
        "exact",
    )
    assert abs(float(row["latitude"]) - 50.6154) > 0.01
    capsys.readouterr()


def test_merge_confirms_a_guessed_commune_when_the_file_spells_it_right(env, capsys) -> None:
    guessed = _write(
        env,
        "guess.csv",
        f"id;nom;categorie;commune\n{TEREOS};Tereos : production de gel hydro-alcoolique;"
        "protection;Lilers\n",
    )
    assert main(["import", str(guessed), "--mode", "merge"]) == 0
    with _store() as store:
        assert _row(store.load(), TEREOS)["geocode_status"] == "fuzzy"
    right = _write(
        env,
        "right.csv",
        f"id;nom;categorie;commune\n{TEREOS};Tereos : production de gel hydro-alcoolique;"
        "protection;Lillers\n",
    )
    assert main(["import", str(right), "--mode", "merge"]) == 0
    with _store() as store:
        row = _row(store.load(), TEREOS)
    assert (row["commune"], row["geocode_status"], row["geocode_score"]) == ("Lillers", "exact", 1)
    capsys.readouterr()


@pytest.mark.parametrize("mode", ["merge", "replace"])
@pytest.mark.parametrize("dry_run", [False, True])
def test_an_id_of_another_initiative_is_a_conflict_and_nothing_is_published(
    env, capsys, mode: str, dry_run: bool
) -> None:
    path = _write(
        env,
        "banque.csv",
        f"id;nom;categorie;commune\n{TEREOS};Tereos : production de gel hydro-alcoolique;"
        f"protection;Lillers\n{ROQUETTE};Banque alimentaire;isoles;Arras\n",
    )
    argv = ["import", str(path), "--mode", mode] + (["--dry-run"] if dry_run else [])
    assert main(argv) == 1
    captured = capsys.readouterr()
    text = captured.out + captured.err
    conflict = next(line for line in text.splitlines() if ROQUETTE in line)
    for fragment in ("ligne 3", "Banque alimentaire", "Roquette", "Arras", "Lestrem"):
        assert fragment in conflict, (fragment, conflict)
    assert "rien n'a été publié" in captured.err
    assert main(["versions"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1  # still version 1 only


def test_the_plan_a_page_shows_carries_the_conflict_and_cannot_be_published(env) -> None:
    path = _write(env, "banque.csv", f"id;nom;categorie;commune\n{ROQUETTE};Banque;isoles;Arras\n")
    with _store() as store:
        plan = plan_import(load(path), store, mode="merge")
        assert not plan.publishable
        assert [(i.row, i.column, i.value) for i in plan.conflicts] == [(2, "id", ROQUETTE)]
        with pytest.raises(Exception, match="Roquette"):
            publish_plan(plan, store, author="Marie")
        assert len(store.versions()) == 1


@pytest.mark.parametrize(
    ("body", "note"),
    [
        ("Roquette : gel hydro-alcoolique;protection;Lestrem", "renamed, same commune"),
        ("Roquette : production de gel hydro-alcoolique;protection;Béthune", "moved"),
    ],
)
def test_renamed_or_moved_initiative_keeps_its_id_without_conflict(env, body, note) -> None:
    path = _write(env, "ok.csv", f"id;nom;categorie;commune\n{ROQUETTE};{body}\n")
    with _store() as store:
        plan = plan_import(load(path), store, mode="merge")
    assert plan.publishable, note
    assert plan.diff.changed_count == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_reimporting_our_own_export_changes_nothing(env, capsys, fmt: str, mode: str) -> None:
    export = env / f"export.{fmt}"
    assert main(["export", "--format", fmt, "-o", str(export)]) == 0
    capsys.readouterr()
    assert main(["import", str(export), "--mode", mode, "--dry-run"]) == 0
    added, changed, removed, unchanged = _review_counts(capsys.readouterr().out)
    assert (added, changed, removed) == (0, 0, 0)
    assert unchanged == len(list(csv.DictReader(DATA.open(encoding="utf-8"))))
    # Nothing is published: no empty version erases « Nouveau » nor shows in « Nouveautés ».
    with _store() as store:
        before = store.versions()
    assert main(["import", str(export), "--mode", mode]) == 0
    assert "Aucun changement : rien n'a été publié." in capsys.readouterr().out
    with _store() as store:
        assert store.versions() == before


def test_coordinates_equal_at_six_decimals_are_unchanged_in_review_and_checksum(
    env, capsys
) -> None:
    header = "id;nom;categorie;commune;latitude;longitude\n"
    first = _write(
        env,
        "first.csv",
        header + f"{ROQUETTE};Roquette;protection;Lestrem;50.6154;2.6702\n",
    )
    noisy = _write(
        env,
        "noisy.csv",
        header + f"{ROQUETTE};Roquette;protection;Lestrem;50.6154000004;2.67019999997\n",
    )
    # Replacing the 18 published initiatives by this one (Roquette stays) removes 17 of them.
    assert main(["import", str(first), "--mode", "replace", "--confirmer-suppressions", "17"]) == 0
    capsys.readouterr()
    with _store() as store:
        before = store.versions()
    assert main(["import", str(noisy), "--mode", "replace"]) == 0
    out = capsys.readouterr().out
    assert _review_counts(out) == (0, 0, 0, 1)
    assert "Aucun changement : rien n'a été publié." in out
    with _store() as store:
        assert store.versions() == before
