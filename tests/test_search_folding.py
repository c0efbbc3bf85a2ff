"""Searching the map page: « oeufs » and « œufs » are the same word, as they are at import."""

from __future__ import annotations

import csv
import re

import pytest
from apptest import map_page, shown_count

from carto.config import PROJECT_ROOT

DATA = PROJECT_ROOT / "data" / "initiatives.csv"


def names_written_with_oe_ligature() -> list[str]:
    """The initiatives whose text in the data file has the word « œufs », spelt with « œ »."""
    with DATA.open(encoding="utf-8", newline="") as handle:
        return [row["nom"] for row in csv.DictReader(handle) if "œufs" in " ".join(row.values())]


def shown_names(at) -> list[str]:
    """The names as the table shows them: st.table renders Markdown, so the page escapes the
    text (carto.display.md_escape) and the reader sees it without the backslashes."""
    return [re.sub(r"\\(.)", r"\1", name) for name in at.table[0].value["Nom"]]


@pytest.mark.parametrize("typed", ["oeufs", "ŒUFS"])
def test_typed_search_finds_the_initiative_whatever_the_spelling(db, typed: str) -> None:
    expected = names_written_with_oe_ligature()
    assert expected, "data/initiatives.csv no longer has an initiative with « œufs »"
    at = map_page()
    at.sidebar.text_input(key="f_text").set_value(typed).run()
    assert not at.exception
    assert shown_count(at)[0] == len(expected)
    assert shown_names(at) == expected


def test_shared_link_with_oe_spelt_out_finds_it(db) -> None:
    at = map_page(q="oeufs")
    assert not at.exception
    assert shown_names(at) == names_written_with_oe_ligature()
