"""Review diff, merge and duplicate detection on real tables."""

from __future__ import annotations

import pandas as pd
import pytest

from carto.publishing.diffing import FieldChange, diff_tables, merge_tables

NAN = float("nan")

PUBLISHED = pd.DataFrame(
    [
        {"id": "p1", "nom": "Gel de Tereos", "commune": "Lillers", "latitude": 50.5626},
        {"id": "p2", "nom": "Visières Indelab", "commune": "Bruay-la-Buissière", "latitude": 50.48},
        {"id": "", "nom": "Courses solidaires", "commune": "Saint-Omer", "latitude": NAN},
        {"id": "", "nom": "Sur-blouses", "commune": "Arras", "latitude": 50.29},
    ]
)


def table(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["id", "nom", "commune", "latitude"])


@pytest.mark.parametrize(
    ("incoming", "added", "removed", "changed", "unchanged"),
    [
        # Same rows, other order, float noise and NaN vs "": nothing to review.
        (
            table(
                {
                    "id": "p2",
                    "nom": "Visières Indelab",
                    "commune": "Bruay-la-Buissière",
                    "latitude": 50.4800000001,
                },
                {"id": "p1", "nom": "Gel de Tereos", "commune": "Lillers", "latitude": 50.5626},
                {"id": NAN, "nom": "Sur-blouses", "commune": "Arras", "latitude": 50.29},
                {"id": None, "nom": "Courses solidaires", "commune": "Saint-Omer", "latitude": ""},
            ),
            [],
            [],
            [],
            4,
        ),
        # Renamed by id: one change, matched through the id.
        (
            table(
                {
                    "id": "p1",
                    "nom": "Gel hydro-alcoolique de Tereos",
                    "commune": "Lillers",
                    "latitude": 50.5626,
                },
                {
                    "id": "p2",
                    "nom": "Visières Indelab",
                    "commune": "Bruay-la-Buissière",
                    "latitude": 50.48,
                },
                {"id": "", "nom": "Courses solidaires", "commune": "Saint-Omer", "latitude": NAN},
                {"id": "", "nom": "Sur-blouses", "commune": "Arras", "latitude": 50.29},
            ),
            [],
            [],
            [("p1", "nom")],
            3,
        ),
        # Without id, matched by nom + commune written differently (case, accents, hyphens).
        (
            table(
                {"id": "p1", "nom": "Gel de Tereos", "commune": "Lillers", "latitude": 50.5626},
                {
                    "id": "p2",
                    "nom": "Visières Indelab",
                    "commune": "Bruay-la-Buissière",
                    "latitude": 50.48,
                },
                {"id": "", "nom": "COURSES SOLIDAIRES", "commune": "saint omer", "latitude": 50.75},
                {"id": "", "nom": "Sur-blouses", "commune": "Arras", "latitude": 50.29},
            ),
            [],
            [],
            [("COURSES SOLIDAIRES — saint omer", "nom", "commune", "latitude")],
            3,
        ),
        # An id given to a row that had none still matches it by nom + commune.
        (
            table(
                {"id": "p1", "nom": "Gel de Tereos", "commune": "Lillers", "latitude": 50.5626},
                {
                    "id": "p2",
                    "nom": "Visières Indelab",
                    "commune": "Bruay-la-Buissière",
                    "latitude": 50.48,
                },
                {"id": "p3", "nom": "Courses solidaires", "commune": "Saint-Omer", "latitude": NAN},
                {"id": "", "nom": "Sur-blouses", "commune": "Arras", "latitude": 50.29},
            ),
            [],
            [],
            [("p3", "id")],
            3,
        ),
        # One removed (p2), one added (new), one added because its id differs (p9 vs p1).
        (
            table(
                {"id": "p9", "nom": "Gel de Tereos", "commune": "Lillers", "latitude": 50.5626},
                {"id": "", "nom": "Courses solidaires", "commune": "Saint-Omer", "latitude": NAN},
                {"id": "", "nom": "Sur-blouses", "commune": "Arras", "latitude": 50.29},
                {
                    "id": "",
                    "nom": "Repas pour les routiers",
                    "commune": "Calais",
                    "latitude": 50.95,
                },
            ),
            ["Gel de Tereos", "Repas pour les routiers"],
            ["Gel de Tereos", "Visières Indelab"],
            [],
            2,
        ),
    ],
)
def test_diff_tables(
    incoming: pd.DataFrame,
    added: list[str],
    removed: list[str],
    changed: list[tuple[str, ...]],
    unchanged: int,
) -> None:
    diff = diff_tables(PUBLISHED, incoming)
    assert [r["nom"] for r in diff.added] == added
    assert [r["nom"] for r in diff.removed] == removed
    assert [(c.key, *(f.column for f in c.fields)) for c in diff.changed] == changed
    assert diff.unchanged == unchanged
    assert (diff.added_count, diff.removed_count, diff.changed_count) == (
        len(added),
        len(removed),
        len(changed),
    )
    assert diff.is_empty is not (added or removed or changed)


def test_field_change_holds_old_and_new_values_and_the_line() -> None:
    incoming = PUBLISHED.copy()
    incoming.loc[1, "latitude"] = 50.4901
    incoming.loc[1, "commune"] = "Bruay-la-Buissière "
    diff = diff_tables(PUBLISHED, incoming)
    (change,) = diff.changed
    assert change.key == "p2"
    assert change.nom == "Visières Indelab"
    assert change.line == 3
    assert change.fields == (
        FieldChange("commune", "Bruay-la-Buissière", "Bruay-la-Buissière "),
        FieldChange("latitude", 50.48, 50.4901),
    )


def test_removed_value_is_shown_as_none() -> None:
    incoming = PUBLISHED.copy()
    incoming.loc[3, "latitude"] = NAN
    (change,) = diff_tables(PUBLISHED, incoming).changed
    assert change.fields == (FieldChange("latitude", 50.29, None),)


def test_summary_is_french_with_plurals() -> None:
    incoming = table(
        {"id": "p1", "nom": "Gel", "commune": "Lillers", "latitude": 50.5626},
        {"id": "", "nom": "Nouvelle", "commune": "Lens", "latitude": NAN},
    )
    assert diff_tables(PUBLISHED, incoming).summary() == (
        "1 ajoutée, 3 supprimées, 1 modifiée, 0 inchangée"
    )


def test_merge_updates_adds_and_keeps() -> None:
    incoming = table(
        {
            "id": "p2",
            "nom": "Visières Indelab (3D)",
            "commune": "Bruay-la-Buissière",
            "latitude": 50.48,
        },
        {"id": "", "nom": "sur blouses", "commune": "ARRAS", "latitude": 50.2901},
        {"id": "p7", "nom": "Repas pour les routiers", "commune": "Calais", "latitude": 50.95},
    )
    merged = merge_tables(PUBLISHED, incoming)
    assert list(merged["nom"]) == [
        "Gel de Tereos",
        "Visières Indelab (3D)",
        "Courses solidaires",
        "sur blouses",
        "Repas pour les routiers",
    ]
    assert list(merged["id"]) == ["p1", "p2", "", "", "p7"]
    assert merged.loc[3, "latitude"] == 50.2901
    check = diff_tables(merged, incoming)
    assert (check.removed_count, check.changed_count, check.unchanged) == (2, 0, 3)


def test_merge_keeps_published_values_of_columns_the_incoming_table_lacks() -> None:
    published = PUBLISHED.assign(telephone=["03 21 00 00 01", "", "", ""])
    incoming = pd.DataFrame([{"id": "p1", "nom": "Gel de Tereos (Lillers)"}])
    merged = merge_tables(published, incoming)
    assert merged.loc[0, "nom"] == "Gel de Tereos (Lillers)"
    assert merged.loc[0, "telephone"] == "03 21 00 00 01"
    assert merged.loc[0, "commune"] == "Lillers"
    assert list(merged.columns) == ["id", "nom", "commune", "latitude", "telephone"]


def test_merge_with_an_empty_publication_is_the_incoming_table() -> None:
    incoming = PUBLISHED.iloc[:2]
    merged = merge_tables(PUBLISHED.iloc[0:0], incoming)
    assert list(merged["nom"]) == list(incoming["nom"])


@pytest.mark.parametrize(
    ("published", "incoming"),
    [
        (("L'Œuvre", "Liévin"), ("l oeuvre", "LIEVIN")),
        (("Ex-æquo", "Saint-Omer"), ("EX AEQUO", "saint omer")),
        (("Épicerie solidaire", "Arras"), ("epicerie  SOLIDAIRE!", "Arras ")),
    ],
)
def test_rows_without_id_match_by_folded_nom_and_commune(
    published: tuple[str, str], incoming: tuple[str, str]
) -> None:
    def one(nom: str, commune: str) -> pd.DataFrame:
        return table({"id": "", "nom": nom, "commune": commune, "latitude": 50.4})

    diff = diff_tables(one(*published), one(*incoming))
    # The same initiative, written differently: a change to review, not a removal and an addition.
    assert (diff.added_count, diff.removed_count, diff.changed_count) == (0, 0, 1)
    assert [f.column for f in diff.changed[0].fields] == ["nom", "commune"]


@pytest.mark.parametrize(
    ("published", "incoming", "changed"),
    [
        (50.4, "50,4", False),  # French decimal comma
        (50.4, "50.4000001", False),  # below the 6 decimals compared
        (50.4, " 50.4 ", False),
        (50.4, "50.41", True),
        (50.4, "inf", True),  # not a number: compared as text
        (50.4, "cinquante", True),
        (NAN, "", False),
    ],
)
def test_coordinates_compare_as_stored_numbers(
    published: float, incoming: object, changed: bool
) -> None:
    old = table({"id": "p1", "nom": "Gel", "commune": "Lillers", "latitude": published})
    new = table({"id": "p1", "nom": "Gel", "commune": "Lillers", "latitude": incoming})
    assert diff_tables(old, new).changed_count == int(changed)
