"""One rule for text values: what import, review, search and geocoding all rely on."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from carto.text import cell_text, fold, fold_key, is_missing, parse_coordinate, parse_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Œufs", "oeufs"),
        ("ŒUFS frais", "oeufs frais"),
        ("Cæcilia", "caecilia"),
        ("Guînes", "guines"),
        ("BRUAY-LA-BUISSIÈRE", "bruay-la-buissiere"),
        ("Straße", "strasse"),
        ("ﬁlets", "filets"),  # compatibility ligature
    ],
)
def test_fold(raw: str, expected: str) -> None:
    assert fold(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("L’Épicerie !", "l epicerie"), ("  Saint-Omer ", "saint omer"), ("a_b", "a b"), ("", "")],
)
def test_fold_key(raw: str, expected: str) -> None:
    assert fold_key(raw) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (float("nan"), ""),
        (pd.NA, ""),
        (pd.NaT, ""),
        ("  ", ""),
        (62041.0, "62041"),
        (True, "oui"),
        (False, "non"),
        (dt.date(2020, 4, 6), "2020-04-06"),
        (pd.Timestamp("2020-04-06"), "2020-04-06"),
        (dt.datetime(2020, 4, 6, 9, 30), "2020-04-06T09:30:00"),
        (50.5, "50.5"),
        (" texte ", " texte "),
    ],
)
def test_cell_text(value: object, expected: str) -> None:
    assert cell_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50,29", 50.29),
        ("50.29", 50.29),
        ("\u22121,5", -1.5),
        (" 2.7 ", 2.7),
        (3, 3.0),
        ("-0", 0.0),
        ("50,290,1", None),
        ("NaN", None),
        ("inf", None),
        ("1e309", None),
        (float("inf"), None),
        (True, None),
        ("", None),
        ("abc", None),
    ],
)
def test_parse_number(value: object, expected: float | None) -> None:
    number = parse_number(value)
    assert number == expected
    if number is not None:
        assert math.copysign(1, number) == math.copysign(1, expected or 1.0)


def test_parse_coordinate_limits() -> None:
    assert parse_coordinate("50,29", limit=90) == 50.29
    assert parse_coordinate("95", limit=90) is None
    assert parse_coordinate("-179.9", limit=180) == -179.9


def test_is_missing() -> None:
    assert is_missing(None) and is_missing(pd.NA) and is_missing(float("nan"))
    assert not is_missing(0) and not is_missing("0") and not is_missing(False)
