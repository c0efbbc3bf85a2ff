"""What the detail panel shows: literal text, and links only for http(s), mailto and tel."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from carto.display import detail_lines, detail_markdown, md_escape, safe_href, tel_href


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.indelab.fr/", "https://www.indelab.fr/"),
        ("http://www.mairie-guines.fr/", "http://www.mairie-guines.fr/"),
        ("mailto:contact@indelab.fr", "mailto:contact@indelab.fr"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" javascript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("https://", None),
        ("www.indelab.fr", None),  # no scheme: the validator adds https:// before this point
        ("https://exemple.fr/a b", None),
        (
            "https://exemple.fr/x)](javascript:alert(1)",
            "https://exemple.fr/x%29%5D%28javascript:alert%281%29",
        ),
        ("", None),
    ],
)
def test_safe_href(url: str, expected: str | None) -> None:
    assert safe_href(url) == expected


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("03 21 85 53 70", "tel:0321855370"),
        ("+33 3 21 85 53 70", "tel:+33321855370"),
        ("n/a", None),
    ],
)
def test_tel_href(phone: str, expected: str | None) -> None:
    assert tel_href(phone) == expected


@pytest.mark.parametrize(
    "text",
    ["[clic](javascript:alert(1))", "**gras** _it_", "<img src=x onerror=alert(1)>", "# titre"],
)
def test_md_escape_neutralises_markup(text: str) -> None:
    escaped = md_escape(text)
    # Every Markdown/HTML control character is preceded by a backslash.
    for ch in "[]()*_<>#":
        assert f"{ch}" not in escaped.replace(f"\\{ch}", "")


def test_md_escape_of_missing_values() -> None:
    assert md_escape(None) == ""
    assert md_escape(math.nan) == ""


def test_detail_lines_of_a_guines_row() -> None:
    row = {
        "nom": "Paniers pour les personnes isolées",
        "categorie": "isoles",
        "commune": "Guînes",
        "arrondissement": "Calais",
        "portee": "commune",
        "site_web": "http://www.mairie-guines.fr/",
        "email": "",
        "telephone": "03 21 85 53 70",
        "source": "Communiqué de la préfecture du Pas-de-Calais",
        "date_publication": "2020-04-06",
    }
    lines = {line.label: line for line in detail_lines(row)}
    assert lines["Catégorie"].text == "Personnes isolées"
    assert lines["Commune"].text == "Guînes"
    assert lines["Site web"].href == "http://www.mairie-guines.fr/"
    assert lines["Téléphone"].href == "tel:0321855370"
    assert "2020-04-06" in lines["Source"].text
    assert "Courriel" not in lines  # empty fields are not shown
    assert "Portée" not in lines


def test_detail_lines_of_hostile_row_render_no_link() -> None:
    row = {
        "nom": "x",
        "categorie": "protection",
        "commune": "Calais",
        "portee": "secteur",
        "zone": "Calaisis",
        "site_web": "javascript:alert(1)",
        "email": "<script>@x",
    }
    lines = {line.label: line for line in detail_lines(row)}
    assert lines["Site web"].href is None
    assert lines["Courriel"].href is None
    assert lines["Zone"].text == "Calaisis"
    assert "Portée" not in lines
    md = detail_markdown(lines["Site web"])
    assert "](" not in md  # shown as text, not as a link


def test_detail_lines_skip_missing_values_of_every_kind() -> None:
    row = {
        "nom": "Masques",
        "categorie": "protection",
        "commune": "Calais",
        "portee": pd.NA,
        "adresse": pd.NA,
        "site_web": None,
        "email": math.nan,
        "telephone": "  ",
        "source": pd.NaT,
        "date_publication": "",
    }
    lines = {line.label: line.text for line in detail_lines(row)}
    assert lines == {"Catégorie": "Mesures de protection", "Commune": "Calais"}
