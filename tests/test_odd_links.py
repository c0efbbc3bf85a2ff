"""Links people and robots really send: truncated, doubled, hostile, from another version of the
map. Each one opens the public map without an error, shows the initiatives its valid parts
select, and says in French what it could not use.

Each link is a new visit (a new session: the page reads its link when a session starts); the
visits share one store, opened once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import MAP_PAGE, TIMEOUT, shown_count

LONG = "x" * 5000
ODD_LINKS: list[dict[str, str | list[str]]] = [
    {"id": ""},
    {"id": "inconnu"},
    {"id": "<script>alert(1)</script>"},
    {"id": "' OR 1=1--"},
    {"id": "\x00"},
    {"id": LONG},
    {"id": ["pdc-2020-04-06-14", "pdc-2020-04-06-01"]},
    {"id": "PDC-2020-04-06-14"},
    {"id": "../../etc/passwd"},
    {"id": "pdc-2020-04-06-14", "categorie": "routiers"},
    {"categorie": "pirate"},
    {"categorie": ""},
    {"categorie": "Protection"},
    {"categorie": ["protection", "protection"]},
    {"categorie": "isoles;routiers"},
    {"arrondissement": "999"},
    {"arrondissement": "<img src=x onerror=alert(1)>"},
    {"commune": "Atlantis"},
    {"commune": "62041"},
    {"commune": "Guînes", "arrondissement": "627"},
    {"q": "<script>alert(1)</script>"},
    {"q": LONG},
    {"q": "😀"},
    {"q": "\u202eevil"},
    {"q": "%"},
    {"q": "\\"},
    {"du": "2020-13-45"},
    {"du": "0001-01-01"},
    {"au": "9999-12-31"},
    {"du": "2026-01-01", "au": "2020-01-01"},
    {"du": "demain"},
    {"du": "1e9"},
    {"terminees": "peut-être"},
    {"terminees": ["1", "0"]},
    {"inconnu": "1", "utm_source": "facebook"},
    {"embed": ["1", "0"]},
]
ENGLISH = ("error", "exception", "traceback", "invalid", "not found", "unknown", "none")


@pytest.fixture(scope="module")
def replayed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[tuple[dict[str, str | list[str]], dict[str, Any]]]]:
    """Every link opened on one page, and what the page showed for each."""
    monkeypatch = pytest.MonkeyPatch()
    state = tmp_path_factory.mktemp("odd-links")
    monkeypatch.setenv("CARTO_STATE_DIR", str(state))
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{state / 'store.sqlite'}")
    monkeypatch.setenv("CARTO_TILES", "none")
    for name in ("DATA", "DEPARTEMENT", "ONLINE_GEOCODER", "MARKERS_MAX_MB", "SITE_DIR"):
        monkeypatch.delenv(f"CARTO_{name}", raising=False)
    seen = []
    for link in ODD_LINKS:
        at = AppTest.from_file(str(MAP_PAGE), default_timeout=TIMEOUT)
        for key, value in link.items():
            at.query_params[key] = value
        seen.append((link, _snapshot(at.run())))
    yield seen
    monkeypatch.undo()


def _snapshot(at: AppTest) -> dict[str, Any]:
    """What a visitor reads on the page: errors, the count of initiatives shown, notices."""
    return {
        "exception": [e.value for e in at.exception],
        "count": shown_count(at),
        "notices": [n.value for n in (*at.warning, *at.info, *at.error)],
    }


def test_there_are_36_odd_links() -> None:
    assert len(ODD_LINKS) == 36


@pytest.mark.parametrize("index", range(len(ODD_LINKS)), ids=[str(i) for i in range(36)])
def test_each_odd_link_opens_the_map_and_answers_in_french(replayed, index: int) -> None:
    link, seen = replayed[index]
    assert not seen["exception"], (link, seen["exception"])
    shown, total = seen["count"]
    assert total == 18 and 0 <= shown <= total, link
    for notice in seen["notices"]:
        assert not [w for w in ENGLISH if w in notice.lower()], (link, notice)
        assert len(notice) < 400, (link, notice)  # a 5,000-character value is not echoed


def test_the_odd_links_that_name_an_initiative_say_why_it_is_not_shown(replayed) -> None:
    said = {repr(link): " ".join(seen["notices"]) for link, seen in replayed if "id" in link}
    unknown = [k for k, text in said.items() if "n'existe pas ou n'est plus publiée" in text]
    hidden = [k for k, text in said.items() if "masquée par les filtres" in text]
    assert len(unknown) == 7 and len(hidden) == 1, said
