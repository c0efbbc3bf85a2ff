"""Values as text, in one place: folding, cell-to-text, coordinates, INSEE and postcode patterns,
web and e-mail addresses.

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
from dataclasses import dataclass
from typing import Literal

# Letters that Unicode does not decompose into a base letter plus accents.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "ß": "ss"})
_NON_WORD = re.compile(r"[\W_]+")

# An INSEE commune code (Corsica: 2A/2B) and a French postcode.
INSEE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$", re.IGNORECASE)
POSTCODE_RE = re.compile(r"^\d{5}$")
_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class _FoldTable(dict[int, str | int | None]):
    """The str.translate table of `fold`: combining marks dropped, ligatures spelled out.

    One translate runs in C where a Python loop per character would not: the search index folds
    every row of the table. Filled as characters are met, within the Basic Multilingual Plane
    only, so that hostile text cannot grow it past about 65,000 entries.
    """

    def __missing__(self, code: int) -> str | int | None:
        value = None if unicodedata.combining(chr(code)) else _LIGATURES.get(code, code)
        if code <= 0xFFFF:
            self[code] = value
        return value


_FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Case, accents and ligatures removed, everything else kept: "Œufs-Été" -> "oeufs-ete"."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Ligatures after decomposing, so that "ǽ" (æ + accent) becomes "ae" as "æ" does.
    return unicodedata.normalize("NFKD", folded).translate(_FOLD_TABLE)


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


def cell_number(value: object) -> float | None:
    """A number column's cell: None when missing; raises ValueError when it holds something else
    (what storage refuses, and what the review and the exports keep as text)."""
    number = parse_number(value)
    if number is None and not is_missing(value):
        raise ValueError(f"not a number: {value!r}")
    return number


def parse_coordinate(value: object, *, limit: float) -> float | None:
    """A latitude (limit 90) or longitude (limit 180) from a cell, None when not one."""
    number = parse_number(value)
    if number is None or abs(number) > limit:
        return None
    return number


def nfc(text: str) -> str:
    """The composed form of a text: "e" + U+0301 becomes "é", as typed on a keyboard."""
    return unicodedata.normalize("NFC", text)


# --- web and e-mail addresses: what import keeps and what pages link to ---------------------

_EMAIL_RE = re.compile(r"[\w.%+'-]+@[\w-]+(\.[\w-]+)+")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_BARE_DOMAIN_RE = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?([/?#].*)?$")
_HOST_RE = re.compile(r"^[\w.-]+(:\d{1,5})?$")

UrlProblem = Literal["", "scheme", "credentials", "malformed"]


@dataclass(frozen=True)
class WebAddress:
    """A site address as import reads it.

    `url` is the address to keep ("https://" added to a bare "www.exemple.fr", "/" after a bare
    host), "" when refused; `problem` says why: "scheme" (not http or https), "credentials"
    (a « @ » makes it lead to `host`), "malformed".
    """

    url: str
    problem: UrlProblem = ""
    completed: bool = False
    host: str = ""


def web_address(text: str) -> WebAddress:
    """Read a site address; see WebAddress."""
    url = "https:" + text if text.startswith("//") else text
    scheme_match = _SCHEME_RE.match(url)
    completed = (scheme_match is None or "://" not in url) and bool(_BARE_DOMAIN_RE.match(url))
    if completed:
        url = "https://" + url
        scheme_match = _SCHEME_RE.match(url)
    scheme = scheme_match.group(1).lower() if scheme_match else ""
    if scheme not in ("http", "https"):
        return WebAddress("", "scheme")
    rest = url[len(scheme) + 1 :]
    host = ""
    if rest.startswith("//"):
        host = rest[2:].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    hostname = host.rsplit("@", 1)[-1]
    if "@" in host:
        # "https://www.pas-de-calais.gouv.fr@evil.example/" leads to evil.example.
        return WebAddress("", "credentials", host=hostname)
    if (
        not host
        or any(ch.isspace() or not ch.isprintable() for ch in url)
        or not _HOST_RE.match(host)
        or ("." not in hostname and hostname != "localhost")
    ):
        return WebAddress("", "malformed", host=hostname)
    url = scheme + ":" + rest + ("/" if rest == "//" + host else "")
    return WebAddress(url, completed=completed, host=hostname)


def is_safe_url(text: str) -> bool:
    """An absolute http(s) address that leads where it says: what a page may link to."""
    address = web_address(text)
    return not address.problem and not address.completed


def is_email(text: str) -> bool:
    """One e-mail address, as import accepts it: "contact@indelab.fr" (no "mailto:", no list)."""
    return _EMAIL_RE.fullmatch(text) is not None
