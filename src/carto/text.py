"""Values as text, in one place: folding, cell-to-text, coordinates, INSEE and postcode patterns.

Every module that compares names, reads a cell or parses a coordinate goes through here, so
that import, review, search and geocoding agree (« œufs » and « oeufs » are the same word
everywhere, a boolean reads the same everywhere, « 50,29 » is a latitude everywhere).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
import unicodedata

# Letters that Unicode does not decompose into a base letter plus accents.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "ß": "ss"})
_NON_WORD = re.compile(r"[\W_]+")

# An INSEE commune code (Corsica: 2A/2B) and a French postcode.
INSEE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$", re.IGNORECASE)
POSTCODE_RE = re.compile(r"^\d{5}$")
_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def fold(text: str) -> str:
    """Case, accents and ligatures removed, everything else kept: "Œufs-Été" -> "oeufs-ete"."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The folded words of a text, punctuation dropped: "L’Épicerie !" -> ["l", "epicerie"]."""
    return _NON_WORD.sub(" ", fold(text)).split()


def fold_key(text: str) -> str:
    """Comparison key: folded words joined by one space ("Saint-Omer " -> "saint omer")."""
    return " ".join(words(text))


def is_missing(value: object) -> bool:
    """True for None, NaN, pandas NA/NaT and blank strings."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return math.isnan(float(value))
    # pandas' NA and NaT, without importing pandas here: both refuse to be truth-tested or
    # compare unequal to themselves.
    return type(value).__name__ in ("NAType", "NaTType")


def cell_text(value: object) -> str:
    """A cell as text: "" when missing, integral floats without ".0", booleans « oui »/« non »,
    dates in ISO form. Strings are returned unchanged (callers strip where they mean to)."""
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "oui" if value else "non"
    # A spreadsheet read without dtype=str turns "62041" into 62041.0; undo that.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.hour == value.minute == value.second == 0 and value.microsecond == 0:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def parse_number(value: object) -> float | None:
    """A finite number from a cell, None when missing or not a finite number.

    Accepts the French decimal comma ("50,29"), the Unicode minus and spaces between digit
    groups; "50,290,1", "NaN", "inf" and "1e309" are not numbers. -0.0 becomes 0.0.
    """
    if is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        number = float(value)
    else:
        candidate = str(value).strip().replace("\u2212", "-").replace(" ", "")
        candidate = candidate.replace("\u00a0", "").replace("\u202f", "")
        if candidate.count(",") == 1 and "." not in candidate:
            candidate = candidate.replace(",", ".")
        if not _NUMBER_RE.fullmatch(candidate):
            return None
        number = float(candidate)
    return number + 0.0 if math.isfinite(number) else None


def parse_coordinate(value: object, *, limit: float) -> float | None:
    """A latitude (limit 90) or longitude (limit 180) from a cell, None when not one."""
    number = parse_number(value)
    if number is None or abs(number) > limit:
        return None
    return number
