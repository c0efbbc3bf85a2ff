"""`carto extract FILE -o CANDIDATES.csv`, then `carto validate` and `carto import` of it."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
from communique_files import docx, repeat, running

from carto.cli import main
from carto.config import PROJECT_ROOT
from carto.extract import worker
from carto.publishing.storage import Store

HERE = PROJECT_ROOT / "tests" / "data" / "communiques"
sys.path.insert(0, str(HERE))
from build import communique_pdf  # noqa: E402


def test_extract_then_validate_and_import(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "communique-2020-04-20.pdf"
    source.write_bytes(communique_pdf((HERE / "communique-2020-04-20.txt").read_text()))
    out = tmp_path / "candidates.csv"
    review = tmp_path / "revue.csv"
    assert main(["extract", str(source), "-o", str(out), "--revue", str(review)]) == 0
    err = capsys.readouterr().err
    assert "12 initiative(s) candidate(s)" in err
    assert "Hesdin-la-Forêt" in err and "Traceback" not in err
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 12
    assert {r["date_publication"] for r in rows} == {"2020-04-20"}
    reviewed = list(csv.DictReader(review.open(encoding="utf-8")))
    assert all(r["phrase_source"] and r["confiance"] for r in reviewed)

    assert main(["validate", str(out)]) == 0
    said = capsys.readouterr().out
    assert "12 initiatives lues" in said and "0 erreur(s), 0 avertissement(s)" in said

    assert main(["versions"]) == 0  # the store is filled from data/initiatives.csv
    before = len(Store.open(db).load())
    assert before == 18
    assert main(["import", str(out), "--mode", "merge", "--note", "communiqué"]) == 0
    after = Store.open(db).load()
    assert len(after) == before + 12
    assert "Saint-Martin-lez-Tatinghem" in set(after["commune"])


@pytest.mark.parametrize(
    ("name", "data", "code", "message"),
    [
        ("communique.rtf", b"{\\rtf1}", 1, "non pris en charge"),
        ("vide.txt", b"", 1, "est vide"),
        ("abime.pdf", b"%PDF-1.7\n garbage", 1, "illisible ou abîmé"),
        ("rien.txt", b"Bonjour.\n\nAu revoir.\n", 1, "Aucune initiative trouvée"),
    ],
)
def test_bad_input_exit_code_and_french_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    data: bytes,
    code: int,
    message: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    out = tmp_path / "out.csv"
    assert main(["extract", str(path), "-o", str(out)]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract", str(tmp_path / "absent.pdf"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "introuvable" in capsys.readouterr().err


def test_the_seed_communique_does_not_duplicate_what_is_on_the_map(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The map already holds the seed communiqué's initiatives (data/initiatives.csv): an editor
    who extracts it again and imports gets no duplicates, as on the page (« déjà sur la carte »)."""
    seed = HERE / "communique-2020-04-06-pas-de-calais.txt"
    assert main(["versions"]) == 0  # the store is filled from data/initiatives.csv
    capsys.readouterr()
    before = Store.open(db).load()
    out = tmp_path / "candidates.csv"

    assert main(["extract", str(seed), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "déjà sur la carte : « Tereos : production de gel hydro-alcoolique », écartée" in err
    left = list(csv.DictReader(out.open(encoding="utf-8")))
    assert 0 < len(left) < 16  # only what the map does not show yet
    assert main(["import", str(out), "--mode", "merge"]) == 0
    assert len(Store.open(db).load()) == len(before) + len(left)

    updates = tmp_path / "updates.csv"
    assert main(["extract", str(seed), "-o", str(updates), "--mettre-a-jour"]) == 0
    rows = list(csv.DictReader(updates.open(encoding="utf-8")))
    assert len(rows) == 16
    tereos = next(r for r in rows if r["id"] == "pdc-2020-04-06-01")
    assert tereos["nom"] == "Tereos : production de gel hydro-alcoolique"  # published name kept

    assert main(["extract", str(seed), "-o", str(tmp_path / "all.csv"), "--sans-carte"]) == 0
    assert len(list(csv.DictReader((tmp_path / "all.csv").open(encoding="utf-8")))) == 16


# -- read in a worker process with limits: bombs stopped there, refused in French


BOMBS = {
    "bombe.docx": docx(repeat(b"<w:p/>", 100_000)),  # 1.9 KB, 43.6 s before issue 18
    "bombe.html": ("<html><body>" + "<div>" * 8000 + "Arras" + "</div>" * 8000).encode(),
}


@pytest.fixture
def readings(monkeypatch: pytest.MonkeyPatch) -> list[worker.Reading]:
    """The worker readings `carto extract` starts, in order."""
    started: list[worker.Reading] = []
    start = worker.start_reading

    def spy(data: bytes, filename: str, **options: float) -> worker.Reading:
        started.append(start(data, filename, **options))
        return started[-1]

    monkeypatch.setattr(worker, "start_reading", spy)
    return started


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_bomb_is_read_in_a_worker_and_refused_in_french(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    readings: list[worker.Reading],
    name: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(BOMBS[name])
    out = tmp_path / "out.csv"
    assert main(["extract", str(path), "-o", str(out), "--sans-carte"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Erreur : « {name} »") and "Traceback" not in err
    (reading,) = readings
    assert not running(reading.pid)
    assert not out.exists()


def test_a_reading_stopped_by_its_limit_is_refused_in_french_with_details_in_the_journal(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    readings: list[worker.Reading],
) -> None:
    # A wall-clock limit shorter than the worker's start: any file outlasts it, as a bomb
    # outlasts the real limit.
    monkeypatch.setattr(worker, "WALL_SECONDS", 0.01)
    path = tmp_path / "lent.txt"
    path.write_bytes((HERE / "communique-2020-04-20.txt").read_bytes())
    journal = tmp_path / "journal" / "extract.log"
    out = tmp_path / "out.csv"
    code = main(["extract", str(path), "-o", str(out), "--sans-carte", "--journal", str(journal)])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("Erreur : La lecture de « lent.txt » a été arrêtée : elle dépassait")
    assert f"Détails dans « {journal} »." in err and "Traceback" not in err
    (reading,) = readings
    assert not running(reading.pid)
    assert "lent.txt" in journal.read_text(encoding="utf-8")
    assert not out.exists()
