"""In Chromium, an editor drops the préfecture's communiqué of 6 April 2020 as a PDF in
« Importer un communiqué », keeps every candidate, publishes, and the public map shows the new
initiatives with « Nouveau » (issue 12, « Done when »).

Screenshots go to $CARTO_TEST_ARTIFACTS (communique-*.png), to be looked at.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from carto.auth import hash_password
from carto.config import PROJECT_ROOT
from carto.extract.worker import WALL_SECONDS
from carto.publishing.storage import Store

from .conftest import ARTIFACTS, COMMUNIQUE_FILE_INPUT, MAP_IFRAME, sign_in
from .initiatives import open_by_pointer, wait_drawn

pytestmark = pytest.mark.browser

PASSWORD = "Solidarité-62!"
HERE = PROJECT_ROOT / "tests" / "data" / "communiques"
SEED = PROJECT_ROOT / "tests" / "data" / "communiques" / "communique-2020-04-06-pas-de-calais.txt"
sys.path.insert(0, str(HERE))
from build import communique_pdf  # noqa: E402


def test_editor_publishes_the_seed_communique(
    page, network, streamlit_server, tmp_path: Path
) -> None:
    if not SEED.is_file():
        pytest.skip(f"communiqué d'origine absent : {SEED}")
    pdf = tmp_path / "communique-2020-04-06.pdf"
    pdf.write_bytes(communique_pdf(SEED.read_text(encoding="utf-8")))
    url = f"sqlite:///{tmp_path / 'carto.sqlite'}"
    secrets = (
        '[editors.marie]\nname = "Marie Dupont"\n'
        f'password_hash = "{hash_password(PASSWORD, n=2**14)}"\n'
    )
    app = streamlit_server({"CARTO_DATABASE_URL": url, "CARTO_EDITOR_TEST": "communique"},
                           secrets=secrets)  # fmt: skip
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, app.base_url)

    page.get_by_role("tab", name="Importer un communiqué").click()
    page.locator(COMMUNIQUE_FILE_INPUT).set_input_files(str(pdf))
    expect(page.get_by_text("16 initiative(s) candidate(s)")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_text("Initiatives candidates").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "communique-phone.png"))
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_role("button", name="Tout garder").click()
    page.get_by_role("button", name=re.compile(r"^Vérifier et comparer les 16")).click()
    expect(page.get_by_text("Comparaison avec la version en ligne")).to_be_visible()
    # Matched ones update their initiative (kept as published), two are new.
    expect(page.get_by_text(re.compile(r": 2 ajoutée\(s\), \d+ mise\(s\) à jour"))).to_be_visible()
    page.get_by_text("Comparaison avec la version en ligne").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "communique-review.png"))
    page.get_by_text("Je confirme la publication", exact=False).click()
    page.get_by_role("button", name="Publier le communiqué").click()
    expect(page.get_by_text(re.compile(r"Version 2 publiée"))).to_be_visible()

    published = Store.open(url).load()
    assert len(published) > 18  # new initiatives added, none removed
    new_names = [n for n in published["nom"] if n == "CUA"]
    assert new_names

    page.goto(app.base_url)
    wait_drawn(page.frame_locator(MAP_IFRAME), int(published["latitude"].notna().sum()))
    row = page.get_by_role("row").filter(has_text="CUA")
    expect(row).to_contain_text("Nouveau")
    row.scroll_into_view_if_needed()
    expect(page.get_by_text(re.compile(rf"affichées sur {len(published)}$"))).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "communique-map.png"), full_page=True)

    # Each new initiative has its own id, and opens by one click and by its shared link.
    seed_ids = set(Store.open(url).load(1)["id"])
    new = published[~published["id"].isin(seed_ids)]
    assert len(new) == 2 and new["id"].str.fullmatch(r"62-[2-9a-z]{6}").all(), new["id"]
    frame = page.frame_locator(MAP_IFRAME)
    for row in new.itertuples():
        if pd.notna(row.latitude):
            open_by_pointer(frame, row.id)
            expect(page.get_by_role("heading", name=row.nom, exact=True)).to_be_visible()
        page.goto(f"{app.base_url}?id={row.id}")
        expect(page.get_by_role("heading", name=row.nom, exact=True)).to_be_visible()
        page.goto(app.base_url)
        wait_drawn(frame, int(published["latitude"].notna().sum()))
    assert network.blocked == [] and network.page_errors == []


def reading_workers(server_pid: int) -> list[int]:
    """The communiqué readers (carto.extract.worker) started by the server, not yet reaped."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == server_pid and b"carto.extract.worker" in command and stat[0] != "Z":
            found.append(int(entry.name))
    return found


def test_a_closed_tab_stops_its_reading(page, streamlit_server, tmp_path: Path) -> None:
    """Streamlit drops a closed tab's session: its reading is cancelled then, not left to run
    until the reader's wall-clock limit."""
    secrets = (
        '[editors.marie]\nname = "Marie Dupont"\n'
        f'password_hash = "{hash_password(PASSWORD, n=2**14)}"\n'
    )
    app = streamlit_server({"CARTO_EDITOR_TEST": "onglet-ferme"}, secrets=secrets)
    slow = tmp_path / "lent.html"  # read in ~10 s, and frozen below: it can only be killed
    slow.write_text("<html><body>" + "<p>Épicerie solidaire à Arras.</p>" * 40_000 + "</body>")
    sign_in(page, app.base_url)
    page.get_by_role("tab", name="Importer un communiqué").click()
    page.locator(COMMUNIQUE_FILE_INPUT).set_input_files(str(slow))
    expect(page.get_by_text("Lecture de « lent.html »")).to_be_visible()
    expect(page.get_by_role("button", name="Annuler")).to_be_visible()
    (worker,) = reading_workers(app.process.pid)
    os.kill(worker, signal.SIGSTOP)  # it cannot end by itself now: only a kill ends it

    page.close()
    # Polling the process table for the state « gone »; the bound is half the reader's own
    # wall-clock limit, so that only the cancellation can meet it.
    deadline = time.monotonic() + WALL_SECONDS / 2
    while worker in reading_workers(app.process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert worker not in reading_workers(app.process.pid), app.log_tail()
