"""Filters: a table of specs over a small real table with accents and homonym-like names."""

from __future__ import annotations

import pandas as pd
import pytest

from carto.filters import FilterSpec, apply_filters, facet_counts, facets, search_index
from carto.text import fold

ROWS = [
    # id, nom, categorie, commune, code_insee, arrondissement_code, arrondissement, description
    ("a", "Gel hydro-alcoolique", "protection", "Lillers", "62516", "622", "Béthune", "Usine"),
    ("b", "Visières imprimées", "protection", "Bruay-la-Buissière", "62178", "622", "Béthune", ""),
    ("c", "Masques lavables", "protection", "Calais", "62193", "626", "Calais", "Tissu"),
    ("d", "Paniers de première nécessité", "isoles", "Guînes", "62397", "626", "Calais", "Œufs"),
    (
        "e",
        "Aire de repos des routiers",
        "routiers",
        "Saint-Laurent-Blangy",
        "62753",
        "621",
        "Arras",
        "Douches et gel",
    ),
    ("f", "Don de plants à l'EHPAD", "isoles", "Loos-en-Gohelle", "62528", "627", "Lens", ""),
    ("g", "Ex-æquo solidaire", "isoles", "Œuf-en-Ternois", "62633", "621", "Arras", ""),
]
COLUMNS = [
    "id",
    "nom",
    "categorie",
    "commune",
    "code_insee",
    "arrondissement_code",
    "arrondissement",
    "description",
]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=COLUMNS).assign(zone="", adresse="")


@pytest.mark.parametrize(
    ("spec", "expected_ids"),
    [
        (FilterSpec(), "abcdefg"),
        (FilterSpec(categories=("protection",)), "abc"),
        (FilterSpec(categories=("protection", "routiers")), "abce"),
        (FilterSpec(arrondissements=("626",)), "cd"),
        (FilterSpec(categories=("protection",), arrondissements=("626",)), "c"),
        (FilterSpec(communes=("62397",)), "d"),
        (FilterSpec(text="guines"), "d"),  # accents ignored
        (FilterSpec(text="GEL"), "ae"),  # name or description
        (FilterSpec(text="gel routiers"), "e"),  # every term must match
        # « œ » and « æ » are « oe » and « ae », as at import: either spelling finds both.
        (FilterSpec(text="oeufs"), "d"),
        (FilterSpec(text="OEUFS"), "d"),
        (FilterSpec(text="Œufs"), "d"),
        (FilterSpec(text="œuf"), "dg"),  # the description of d, the commune of g
        (FilterSpec(text="ex-aequo"), "g"),
        (FilterSpec(text="Ex-Æquo"), "g"),
        (FilterSpec(text="béthune"), "ab"),  # arrondissement name is searched
        (FilterSpec(text="   "), "abcdefg"),
        (FilterSpec(categories=("inconnue",)), ""),
        (FilterSpec(text="<script>"), ""),
    ],
)
def test_apply_filters(table: pd.DataFrame, spec: FilterSpec, expected_ids: str) -> None:
    shown = apply_filters(table, spec)
    assert "".join(shown["id"]) == expected_ids
    # A prebuilt index gives the same answer as building it on the fly.
    assert "".join(apply_filters(table, spec, index=search_index(table))["id"]) == expected_ids


def test_facet_counts(table: pd.DataFrame) -> None:
    assert facet_counts(table, "arrondissement") == {
        "Béthune": 2,
        "Calais": 2,
        "Arras": 2,
        "Lens": 1,
    }
    assert facet_counts(table.iloc[0:0], "arrondissement") == {}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, FilterSpec()),
        ({"categorie": ["protection", "isoles"]}, FilterSpec(categories=("protection", "isoles"))),
        ({"categorie": "protection,isoles"}, FilterSpec(categories=("protection", "isoles"))),
        ({"categorie": ["protection", "pirate"]}, FilterSpec(categories=("protection",))),
        ({"arrondissement": ["626", "999"]}, FilterSpec(arrondissements=("626",))),
        ({"q": "x" * 500}, FilterSpec(text="x" * 200)),
    ],
)
def test_from_query_drops_unknown_values(params: dict, expected: FilterSpec) -> None:
    spec = FilterSpec.from_query(params, known_arrondissements=["621", "626"])
    assert spec == expected


def test_query_round_trip() -> None:
    spec = FilterSpec(
        categories=("isoles",),
        arrondissements=("626",),
        communes=("62397",),
        text="paniers",
    )
    back = FilterSpec.from_query(
        spec.to_query(), known_arrondissements=["626"], known_communes=["62397"]
    )
    assert back == spec


@pytest.mark.parametrize(
    "cells",
    [
        ("Œufs frais", "Guînes"),
        ("ǽ", "Ǿ"),  # a ligature carrying an accent
        ("e\u0301te\u0301", "\u0301Arras"),  # decomposed accents, one opening a cell
        ("ﬁlets", "Straße"),
        ("", "Calais"),
    ],
)
def test_index_and_query_fold_alike(cells: tuple[str, str]) -> None:
    row = pd.DataFrame([cells], columns=["nom", "description"])
    (indexed,) = search_index(row)
    assert indexed == fold(" ".join(cells))
    # Every word of the row, typed as it is written, finds the row.
    for word in " ".join(cells).split():
        assert len(apply_filters(row, FilterSpec(text=word))) == 1, word


def test_facet_counts_follow_every_other_filter(table: pd.DataFrame) -> None:
    spec = FilterSpec(categories=("isoles",), arrondissements=("626",))
    # Categories are counted within the chosen arrondissement, whatever categories are chosen.
    assert facet_counts(table, "categorie", spec) == {"protection": 1, "isoles": 1}
    # Arrondissements are counted within the chosen category.
    assert facet_counts(table, "arrondissement_code", spec) == {"621": 1, "626": 1, "627": 1}
    # Another column is counted within every filter.
    assert facet_counts(table, "commune", spec) == {"Guînes": 1}


def test_facet_counts_follow_the_search(table: pd.DataFrame) -> None:
    spec = FilterSpec(categories=("protection",), text="gel")
    assert facet_counts(table, "categorie", spec) == {"protection": 1, "routiers": 1}
    index = search_index(table)
    assert facet_counts(table, "arrondissement_code", spec, index=index) == {"622": 1}
    assert facet_counts(table, "categorie", FilterSpec(text="introuvable")) == {}


def test_facets_gives_each_column_its_facet_counts(table: pd.DataFrame) -> None:
    spec = FilterSpec(categories=("isoles",), arrondissements=("626",), text="a")
    columns = ("categorie", "arrondissement_code", "absente")
    assert facets(table, spec, columns) == {
        column: facet_counts(table, column, spec) for column in columns
    }
