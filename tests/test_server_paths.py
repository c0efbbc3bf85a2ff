"""A page never shows a server path (issue 17, §5): visitors read French without paths; the
full path goes to the server log, where the operator can act on it."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from apptest import map_page, signed_in_publish_page

from carto.config import PROJECT_ROOT
from carto.errors import CartoError, GazetteerError
from carto.ui import errors as ui_errors
from carto.ui.errors import visitor_text

# Any absolute path: a slash after a space, a quote or a parenthesis, then a folder.
ABSOLUTE_PATH = re.compile(r"(?:^|[\s«(=])/\w[^\s]*/")


def _page_texts(at) -> str:
    elements = [*at.error, *at.warning, *at.info, *at.markdown, *at.caption]
    return "\n".join(str(e.value) for e in elements)


def test_missing_gazetteer_on_the_map_names_no_path(db, monkeypatch, caplog) -> None:
    monkeypatch.setenv("CARTO_DEPARTEMENT", "59")  # no gazetteer shipped for it
    with caplog.at_level(logging.WARNING, logger="carto"):
        at = map_page()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("La carte ne peut pas s'afficher : le référentiel des communes")
    assert "département 59" in error.value
    texts = _page_texts(at)
    assert "communes.csv" not in texts and str(PROJECT_ROOT) not in texts
    assert not ABSOLUTE_PATH.search(texts), texts
    # The operator finds the file and the command in the log.
    logged = caplog.text
    assert str(PROJECT_ROOT / "src" / "carto" / "data" / "59" / "communes.csv") in logged
    assert "carto gazetteer build --departement 59" in logged


def test_missing_gazetteer_on_the_publish_page_names_no_path(db, monkeypatch, caplog) -> None:
    monkeypatch.setenv("CARTO_DEPARTEMENT", "59")
    with caplog.at_level(logging.WARNING, logger="carto"):
        at = signed_in_publish_page()
    (error,) = at.error
    assert "le référentiel des communes du département 59 est absent" in error.value
    assert not ABSOLUTE_PATH.search(_page_texts(at))
    assert "communes.csv" not in _page_texts(at)
    assert "/59/communes.csv" in caplog.text


def test_missing_seed_file_names_the_file_not_its_path(db, monkeypatch, tmp_path, caplog) -> None:
    seed = tmp_path / "donnees" / "absent.csv"
    monkeypatch.setenv("CARTO_DATA", str(seed))
    monkeypatch.setattr(ui_errors, "_last_logged", {})  # logged again, whatever ran before
    with caplog.at_level(logging.WARNING, logger="carto"):
        at = map_page()
    texts = _page_texts(at)
    assert "de départ « absent\\.csv » est introuvable" in texts  # as Markdown source
    assert str(tmp_path) not in texts and not ABSOLUTE_PATH.search(texts)
    assert str(seed) in caplog.text


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            "Fichier « /srv/carto/data/62/communes.csv » illisible",
            "Fichier « communes.csv » illisible",
        ),
        (
            "absent (/opt/carto/src/carto/data/59/communes.csv) : lancez",
            "absent (communes.csv) : lancez",
        ),
        (
            "dossier CARTO_STATE_DIR=/var/lib/carto/etat non inscriptible",
            "dossier CARTO_STATE_DIR=etat non inscriptible",
        ),
        ("voir https://example.org/aide/import", "voir https://example.org/aide/import"),
    ],
)
def test_error_messages_lose_their_server_paths(message: str, shown: str) -> None:
    assert visitor_text(CartoError(message)) == shown


def test_public_text_replaces_the_operator_message() -> None:
    exc = GazetteerError("absent (/srv/x/communes.csv)", public="référentiel absent")
    assert visitor_text(exc) == "référentiel absent"
    assert str(exc) == "absent (/srv/x/communes.csv)"


def test_shown_text_of_a_path_stays_in_the_log_only(tmp_path: Path) -> None:
    assert str(tmp_path) not in visitor_text(CartoError(f"« {tmp_path / 'x' / 'y.csv'} »"))
