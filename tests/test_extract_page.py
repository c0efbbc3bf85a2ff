"""The Publier page's « Importer un communiqué »: an editor drops the préfecture's communiqué,
reviews the candidates, and publishes them; what is already on the map is updated, not doubled.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator

import pytest
from apptest import COMMUNIQUE_UPLOADER, signed_in_publish_page, upload
from communique_files import running
from streamlit.runtime.caching import clear_session_resource_cache
from streamlit.testing.v1 import AppTest

from carto.config import PROJECT_ROOT
from carto.extract import worker
from carto.publishing.storage import Store
from carto.ui import communique_page

HERE = PROJECT_ROOT / "tests" / "data" / "communiques"
SEED = PROJECT_ROOT / "tests" / "data" / "communiques" / "communique-2020-04-06-pas-de-calais.txt"
sys.path.insert(0, str(HERE))
from build import communique_pdf  # noqa: E402


@pytest.fixture
def page(db) -> AppTest:
    return signed_in_publish_page()


def drop_communique(
    at: AppTest, name: str, data: bytes, mime: str, *, read: bool = True
) -> AppTest:
    """Drop a file in the « Importer un communiqué » tab's uploader (the page's second); with
    `read`, wait until its worker has read or refused it."""
    return upload(at, name, data, mime, label=COMMUNIQUE_UPLOADER, read=read)


def button(at: AppTest, start: str):
    return next(b for b in at.button if b.label.startswith(start))


def texts(at: AppTest) -> str:
    return " ".join(
        [m.value for m in at.markdown]
        + [s.value for s in at.success]
        + [e.value for e in at.error]
        + [i.value for i in at.info]
    )


def test_tab_is_there(page: AppTest) -> None:
    assert "Importer un communiqué" in [t.label for t in page.tabs]


def test_seed_pdf_candidates_published_on_the_map(page: AppTest, db: str) -> None:
    if not SEED.is_file():
        pytest.skip(f"communiqué d'origine absent : {SEED}")
    before = Store.open(db).load()
    assert len(before) == 18  # the map holds the hand-made rows of the same communiqué
    at = drop_communique(
        page, "communique-2020-04-06.pdf", communique_pdf(SEED.read_text()), "application/pdf"
    )
    assert not at.exception
    assert "16 initiative(s) candidate(s)" in texts(at)
    assert "TERREOS" in at.dataframe[0].value["Nom"].tolist()  # the candidates' table

    # Those already on the map (same commune, similar name) are left out until kept.
    at = button(at, "Vérifier et comparer").click().run()
    assert not at.exception
    shown = texts(at)
    assert "mise(s) à jour" in shown and "0 retirée(s)" in shown
    first_added = int(shown.split("version en ligne** (version 1) : ")[1].split(" ")[0])

    # « Tout garder »: the matched ones update their initiative instead of being doubled.
    at = button(at, "Tout garder").click().run()
    at = button(at, "Vérifier et comparer").click().run()
    shown = texts(at)
    assert not at.exception
    added = int(shown.split("version en ligne** (version 1) : ")[1].split(" ")[0])
    assert added == first_added  # keeping the matched ones adds nothing more
    next(c for c in at.checkbox if c.label.startswith("Je confirme la publication")).check()
    at = at.run()
    at = button(at, "Publier le communiqué").click().run()
    assert not at.exception
    assert "Version 2 publiée" in texts(at)

    after = Store.open(db).load()
    assert len(after) == 18 + added
    assert added >= 1
    new = after[~after["id"].isin(before["id"])]
    assert set(new["date_publication"]) == {"2020-04-06"}
    assert all("6 avril 2020" in s for s in new["source"])
    # Nothing published was lost; Indelab kept its hand-written name and gained nothing twice.
    assert set(before["id"]) <= set(after["id"])
    assert (after["commune"] == "Bruay-la-Buissière").sum() == 1


def test_bad_communique_gets_a_french_message(page: AppTest, db: str) -> None:
    at = drop_communique(page, "communique.pdf", b"%PDF-1.4 abime", "application/pdf")
    assert not at.exception
    assert "illisible ou abîmé" in texts(at) and "Rien n'a été modifié" in texts(at)
    assert len(Store.open(db).load()) == 18


def test_the_candidates_table_shows_empty_cells_empty(page: AppTest) -> None:
    """Streamlit writes « None » in an empty cell unless told (placeholder): the candidates'
    table says nothing there; its English toolbar is hidden, a French download replaces it."""
    text = (HERE / "communique-2020-04-20.txt").read_bytes()
    at = drop_communique(page, "communique-2020-04-20.txt", text, "text/plain")
    assert not at.exception
    assert at.dataframe, "no candidates' table"
    assert all(
        frame.proto.HasField("placeholder") and frame.proto.placeholder == ""
        for frame in at.dataframe
    )
    labels = [b.label for b in at.get("download_button")]  # type: ignore[attr-defined]
    assert "Télécharger les candidates (CSV)" in labels


# -- reading in a worker process: progress, « Annuler », replaced, dropped with the session

# 8,000 nested <div> (88 KB): 27 s of the session thread's CPU before issue 18.
BOMB = ("<html><body>" + "<div>" * 8000 + "Épicerie solidaire à Arras." + "</div>" * 8000).encode()
# AppTest runs every page in this session (streamlit.testing.v1.local_script_runner).
APPTEST_SESSION = "test session id"


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[worker.Reading]]:
    """Files named « lent… » stay in reading until cancelled: their worker is stopped (SIGSTOP)
    as soon as it starts, so the editor has all the time to click. The readings, in order."""
    started: list[worker.Reading] = []

    def start_reading(data: bytes, filename: str, **options: float) -> worker.Reading:
        reading = worker.start_reading(data, filename, **options)
        if filename.startswith("lent"):
            os.kill(reading.pid, signal.SIGSTOP)
        started.append(reading)
        return reading

    monkeypatch.setattr(communique_page, "start_reading", start_reading)
    yield started
    for reading in started:
        reading.cancel()


def test_reading_shows_progress_and_annuler_kills_the_worker(
    page: AppTest, slow: list[worker.Reading]
) -> None:
    at = drop_communique(page, "lent-communique.html", BOMB, "text/html", read=False)
    assert not at.exception
    assert "Lecture de « lent\\-communique\\.html »" in texts(at)
    (reading,) = slow
    assert running(reading.pid)

    at = button(at, "Annuler").click().run()
    assert not at.exception
    assert not running(reading.pid)
    shown = [e.value.replace("\\", "") for e in at.error]  # Markdown escapes removed
    assert shown == ["Lecture annulée. Rien n'a été modifié."]
    assert not [b for b in at.button if b.label == "Annuler"]


def test_a_new_file_replaces_the_one_being_read(page: AppTest, slow: list[worker.Reading]) -> None:
    at = drop_communique(page, "lent-communique.html", BOMB, "text/html", read=False)
    first = slow[0]
    assert running(first.pid)
    text = (HERE / "communique-2020-04-20.txt").read_bytes()
    at = drop_communique(at, "communique-2020-04-20.txt", text, "text/plain")
    assert not at.exception
    assert not running(first.pid)
    assert "12 initiative(s) candidate(s)" in texts(at)
    assert not at.error


def test_a_dropped_session_cancels_its_reading_and_a_return_reads_again(
    page: AppTest, slow: list[worker.Reading]
) -> None:
    at = drop_communique(page, "lent-communique.html", BOMB, "text/html", read=False)
    first = slow[0]
    # What Streamlit does when the tab's connection closes or the session shuts down.
    clear_session_resource_cache(APPTEST_SESSION)
    assert not running(first.pid)
    # The same tab comes back (reconnection): its file is read again, not shown as cancelled.
    at = at.run()
    assert not at.exception
    assert len(slow) == 2 and running(slow[1].pid)
    assert "Lecture de « lent" in texts(at) and not at.error


def test_a_reader_that_cannot_start_is_said_in_french(
    page: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = "Le lecteur de communiqués n'a pas pu démarrer ; réessayez dans un instant."

    def start_reading(data: bytes, filename: str, **options: float) -> worker.Reading:
        raise worker.DocumentError(message)  # as when the worker process cannot be started

    monkeypatch.setattr(communique_page, "start_reading", start_reading)
    text = (HERE / "communique-2020-04-20.txt").read_bytes()
    at = drop_communique(page, "communique-2020-04-20.txt", text, "text/plain")
    assert not at.exception
    shown = [e.value.replace("\\", "") for e in at.error]  # Markdown escapes removed
    assert shown == [f"{message} Rien n'a été modifié."]
