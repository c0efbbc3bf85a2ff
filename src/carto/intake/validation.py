"""Initiatives schema: header matching (French canonical names, aliases) and row validation.

The rules are described for users in docs/schema.md; keep both in step.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from carto.models import (
    CATEGORIES,
    COLUMNS,
    GEOCODED_COLUMNS,
    SCOPES,
    Issue,
    IssueSummary,
    Severity,
)

# Canonical column -> accepted spellings. Matching ignores case, accents, spaces, underscores,
# hyphens and apostrophes (see `_header_key`), so "Code INSEE" and "code-insee" need no entry.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "identifiant", "identifier", "ref", "reference"),
    "nom": ("nom", "name", "title", "titre", "intitule", "initiative"),
    "categorie": ("categorie", "category", "theme", "thème", "type", "rubrique"),
    "description": ("description", "details", "détails", "texte", "text", "resume", "summary"),
    "commune": ("commune", "city", "town", "ville", "municipality", "localite", "locality"),
    "code_insee": ("code_insee", "insee", "code_commune", "citycode", "code_officiel_geographique"),
    "portee": ("portee", "portée", "scope", "echelle", "niveau"),
    "zone": ("zone", "secteur", "area", "sector", "territoire", "territory"),
    "adresse": ("adresse", "address", "street", "rue", "lieu", "place"),
    "latitude": ("latitude", "lat", "y"),
    "longitude": ("longitude", "lon", "lng", "long", "x"),
    "site_web": ("site_web", "website", "site", "url", "web", "site_internet", "lien", "link"),
    "email": ("email", "e-mail", "courriel", "mail", "adresse_electronique"),
    "telephone": ("telephone", "téléphone", "phone", "tel", "tél", "numero", "contact_telephone"),
    "date_publication": (
        "date_publication",
        "date",
        "published",
        "publication",
        "date_de_publication",
    ),
    "source": ("source", "sources", "origine", "reference_source"),
}

REQUIRED_COLUMNS: tuple[str, ...] = ("nom", "categorie")
PLACE_COLUMNS: tuple[str, ...] = ("commune", "code_insee", "latitude", "longitude")

# Longer values are refused, never truncated silently.
MAX_LENGTHS: dict[str, int] = {
    "id": 64,
    "nom": 200,
    "description": 5000,
    "site_web": 2000,
    "email": 254,
}
DEFAULT_MAX_LENGTH = 500

# Columns produced by geocoding or exports: recognised and recomputed, so dropped without noise.
_SILENT_COLUMNS: frozenset[str] = frozenset(GEOCODED_COLUMNS)

# Extra category spellings on top of models.CATEGORIES (English, short forms).
_EXTRA_CATEGORY_ALIASES: dict[str, tuple[str, ...]] = {
    "protection": ("mesures de protection", "protective equipment", "gestes barrieres"),
    "soignants": ("personnels soignants", "carers", "caregivers", "health workers", "healthcare"),
    "confines": ("personnes confinees", "lockdown", "confined people", "confined"),
    "isoles": ("personnes isolees", "isolated people", "isolated", "isolation"),
    "routiers": (
        "transporteurs routiers",
        "truckers",
        "truck drivers",
        "lorry drivers",
        "hauliers",
    ),
}

_SCOPE_ALIASES: dict[str, str] = {
    "commune": "commune",
    "communal": "commune",
    "communale": "commune",
    "ville": "commune",
    "town": "commune",
    "city": "commune",
    "municipality": "commune",
    "local": "commune",
    "secteur": "secteur",
    "sector": "secteur",
    "area": "secteur",
    "zone": "secteur",
    "intercommunal": "secteur",
    "intercommunalite": "secteur",
    "arrondissement": "arrondissement",
    "district": "arrondissement",
    "departement": "departement",
    "departemental": "departement",
    "departementale": "departement",
    "department": "departement",
    "county": "departement",
}

_MONTHS: dict[str, int] = {
    "janvier": 1,
    "janv": 1,
    "jan": 1,
    "fevrier": 2,
    "fevr": 2,
    "fev": 2,
    "mars": 3,
    "avril": 4,
    "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "aout": 8,
    "septembre": 9,
    "sept": 9,
    "sep": 9,
    "octobre": 10,
    "oct": 10,
    "novembre": 11,
    "nov": 11,
    "decembre": 12,
    "dec": 12,
}

# Characters that are invisible or reorder text (a "Trojan source" style trick in a name or URL).
_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_TAB_NEWLINE = re.compile("[\t\n]")
_SPACES = re.compile(r"[ \t\n\u00a0\u202f]+")
_DUPLICATE_SUFFIX = re.compile(r"\s*\((\d+)\)$")

_ID_RE = re.compile(r"^[\w.-]+$")
_INSEE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$", re.IGNORECASE)
_EMAIL_RE = re.compile(r"^[\w.%+'-]+@[\w-]+(\.[\w-]+)+$")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_BARE_DOMAIN_RE = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?([/?#].*)?$")
_HOST_RE = re.compile(r"^[\w.-]+(:\d{1,5})?$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]00:00(?::00)?)?$")
_DATE_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})$")
_DATE_WORDS = re.compile(r"^(\d{1,2})(?:er)? ([a-z]+)\.? (\d{4})$")


def normalize_key(text: str) -> str:
    """Casefold, drop accents and punctuation: "L’Épicerie !" -> "l epicerie"."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = text.replace("œ", "oe").replace("æ", "ae")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.findall(r"[^\W_]+", text))


def show_invisible(text: str) -> str:
    r"""Invisible and control characters made visible ("a\u202eb" -> "a<U+202E>b").

    Messages quote the user's value; a raw RIGHT-TO-LEFT OVERRIDE in it would reorder the
    message itself, in a terminal as on a page.
    """
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def _header_key(text: str) -> str:
    return normalize_key(text).replace(" ", "")


def _category_key(text: str) -> str:
    # Crude singular and masculine so that the communiqué's own heading "Solidaire avec les
    # personnes isolées" and "confinées" match "solidaires avec les personnes isolees", "confines".
    words = []
    for word in normalize_key(text).split():
        if len(word) > 3 and word.endswith("s"):
            word = word[:-1]
        if len(word) > 3:
            word = word.rstrip("e") or word
        words.append(word)
    return " ".join(words)


def _build_header_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for canonical, aliases in HEADER_ALIASES.items():
        for alias in (canonical, *aliases):
            lookup[_header_key(alias)] = canonical
    return lookup


def _build_category_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for cat in CATEGORIES:
        for spelling in (cat.slug, cat.label, *cat.aliases, *_EXTRA_CATEGORY_ALIASES[cat.slug]):
            lookup[_category_key(spelling)] = cat.slug
    return lookup


_HEADER_LOOKUP = _build_header_lookup()
_CATEGORY_LOOKUP = _build_category_lookup()
_CATEGORY_HELP = ", ".join(f"{c.slug} ({c.label})" for c in CATEGORIES)


def canonical_header(name: str) -> str | None:
    """The canonical column a header spelling stands for, or None."""
    return _HEADER_LOOKUP.get(_header_key(name))


def parse_category(text: str) -> str | None:
    """The category slug for a slug, label or heading spelling, or None."""
    return _CATEGORY_LOOKUP.get(_category_key(text))


def parse_scope(text: str) -> str | None:
    """The scope value for a French or English spelling, or None."""
    return _SCOPE_ALIASES.get(normalize_key(text))


def match_headers(columns: Sequence[str]) -> tuple[dict[str, str], list[Issue]]:
    """Map a file's column names onto canonical names.

    Returns (original -> canonical, issues). Unknown columns give a warning and are left out;
    two columns meaning the same thing give an error (only the first is mapped).
    """
    mapping: dict[str, str] = {}
    first_by_canonical: dict[str, str] = {}
    issues: list[Issue] = []
    for original in columns:
        name = str(original)
        canonical = canonical_header(name)
        if canonical is None:
            # The reader renames repeated headers "nom (2)"; such a column is a duplicate.
            base = _DUPLICATE_SUFFIX.sub("", name)
            if base != name:
                canonical = canonical_header(base)
        if canonical is None:
            if _header_key(name) in {_header_key(c) for c in _SILENT_COLUMNS}:
                continue
            issues.append(
                Issue(
                    "warning",
                    "colonne ignorée : ce nom de colonne n’est pas reconnu",
                    column=name,
                    hint="noms reconnus : " + ", ".join(COLUMNS) + " (voir docs/schema.md)",
                    suggestions=tuple(
                        difflib.get_close_matches(_header_key(name), list(COLUMNS), n=3)
                    ),
                )
            )
            continue
        if canonical in first_by_canonical:
            issues.append(
                Issue(
                    "error",
                    f"colonne en double : elle désigne « {canonical} » comme la colonne "
                    f"« {first_by_canonical[canonical]} »",
                    column=name,
                    hint="supprimez ou renommez l’une des deux colonnes",
                )
            )
            continue
        first_by_canonical[canonical] = name
        mapping[name] = canonical
    return mapping, issues


@dataclass(frozen=True)
class ValidationResult(IssueSummary):
    """A validated table in canonical form, with every problem found.

    `table` has exactly models.COLUMNS, one row per non-blank input row (rows with errors are
    kept so that they can be shown; a value refused with an error is emptied). `row_numbers[i]`
    is the spreadsheet line of `table.iloc[i]`.
    """

    table: pd.DataFrame
    issues: tuple[Issue, ...]
    row_numbers: tuple[int, ...]
    columns_found: dict[str, str] = field(default_factory=dict)

    @property
    def table_usable(self) -> bool:
        """No file-level error (missing or duplicate column): rows can go on to geocoding."""
        return not any(i.row is None for i in self.errors)


class _RowChecker:
    """Collects the issues of one row; each check returns the cleaned value."""

    def __init__(self, row: int, issues: list[Issue]) -> None:
        self.row = row
        self.issues = issues
        self.refused: set[str] = set()

    def add(
        self, severity: Severity, column: str, value: str, message: str, hint: str = ""
    ) -> None:
        self.issues.append(
            Issue(severity, message, row=self.row, column=column, value=value, hint=hint)
        )

    def text(self, column: str, raw: str) -> str:
        multiline = column == "description"
        value = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
        if multiline:
            cleaned = _INVISIBLE.sub("", value)
            cleaned = "\n".join(line.rstrip() for line in cleaned.split("\n")).strip()
        else:
            cleaned = _INVISIBLE.sub("", _TAB_NEWLINE.sub(" ", value))
            cleaned = _SPACES.sub(" ", cleaned).strip()
        if _INVISIBLE.search(value):
            self.add(
                "warning",
                column,
                show_invisible(raw),
                "caractères invisibles ou de contrôle supprimés",
                "vérifiez la valeur : ces caractères peuvent masquer ou inverser du texte",
            )
        limit = MAX_LENGTHS.get(column, DEFAULT_MAX_LENGTH)
        if len(cleaned) > limit:
            self.add(
                "error",
                column,
                cleaned,
                f"texte trop long ({len(cleaned)} caractères, maximum {limit})",
                "raccourcissez le texte",
            )
            self.refused.add(column)
            return ""
        return cleaned


def _parse_coordinate(text: str) -> float | None:
    candidate = text.replace("\u2212", "-").replace(" ", "")
    # Decimal comma ("50,29") as French spreadsheets write it; "50,290,1" stays invalid.
    if candidate.count(",") == 1 and "." not in candidate:
        candidate = candidate.replace(",", ".")
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", candidate):
        return None
    number = float(candidate)
    return number if math.isfinite(number) else None


def _check_coordinates(check: _RowChecker, lat_raw: str, lon_raw: str) -> tuple[float, float]:
    values: dict[str, float] = {}
    for column, raw, bound in (("latitude", lat_raw, 90.0), ("longitude", lon_raw, 180.0)):
        if not raw:
            continue
        number = _parse_coordinate(raw)
        if number is None:
            check.add(
                "error",
                column,
                raw,
                "ce n’est pas un nombre",
                "écrivez des degrés décimaux, par exemple 50.29 ou 50,29",
            )
        elif not -bound <= number <= bound:
            check.add(
                "error",
                column,
                raw,
                f"hors des valeurs possibles (de -{bound:g} à {bound:g})",
                "vérifiez que latitude et longitude ne sont pas inversées",
            )
        else:
            values[column] = number
    if bool(lat_raw) != bool(lon_raw):
        missing = "longitude" if lat_raw else "latitude"
        present = "latitude" if lat_raw else "longitude"
        check.add(
            "error",
            missing,
            "",
            f"la {present} est donnée sans la {missing}",
            "donnez les deux coordonnées ou aucune",
        )
    if "latitude" in values and "longitude" in values:
        return values["latitude"], values["longitude"]
    return math.nan, math.nan


def _check_url(check: _RowChecker, raw: str) -> str:
    if not raw:
        return ""
    url = raw
    if url.startswith("//"):
        url = "https:" + url
    scheme_match = _SCHEME_RE.match(url)
    completed = (scheme_match is None or "://" not in url) and bool(_BARE_DOMAIN_RE.match(url))
    if completed:
        url = "https://" + url
        scheme_match = _SCHEME_RE.match(url)
    scheme = scheme_match.group(1).lower() if scheme_match else ""
    if scheme not in ("http", "https"):
        check.add(
            "error",
            "site_web",
            raw,
            "adresse de site refusée : seules les adresses http:// ou https:// sont acceptées",
            "exemple : https://www.exemple.fr/",
        )
        return ""
    rest = url[len(scheme) + 1 :]
    host = (
        rest[2:].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0] if rest.startswith("//") else ""
    )
    hostname = host.rsplit("@", 1)[-1]
    if "@" in host:
        # "https://www.pas-de-calais.gouv.fr@evil.example/" leads to evil.example: a reader
        # trusting the start of the address would be fooled.
        check.add(
            "error",
            "site_web",
            raw,
            f"adresse de site refusée : le « @ » la ferait mener à « {hostname} »",
            "donnez l’adresse du site seule, sans identifiant ni « @ »",
        )
        return ""
    if (
        not host
        or " " in url
        or not _HOST_RE.match(host)
        or ("." not in hostname and hostname != "localhost")
    ):
        check.add(
            "error",
            "site_web",
            raw,
            "adresse de site mal formée",
            "exemple : https://www.exemple.fr/",
        )
        return ""
    url = scheme + ":" + rest
    if rest == "//" + host:
        url += "/"
    if completed:
        check.add(
            "warning",
            "site_web",
            raw,
            f"adresse sans « https:// » : complétée en « {url} »",
            "vérifiez que le site répond bien en https",
        )
    return url


def _check_email(check: _RowChecker, raw: str) -> str:
    if not raw:
        return ""
    email = raw
    if email.lower().startswith("mailto:"):
        email = email[len("mailto:") :]
    if not _EMAIL_RE.match(email):
        check.add(
            "error",
            "email",
            raw,
            "adresse électronique mal formée",
            "exemple : contact@exemple.fr (une seule adresse par cellule)",
        )
        return ""
    return email


def format_phone(raw: str) -> str | None:
    """French number as "03 21 85 53 70" (short numbers like 115 kept), or None."""
    digits = re.sub(r"\(0\)", "", raw)
    digits = re.sub(r"[\s.\-/()\u00a0]", "", digits)
    if digits.startswith("+33"):
        digits = "0" + digits[3:]
    elif digits.startswith("0033"):
        digits = "0" + digits[4:]
    if re.fullmatch(r"0[1-9]\d{8}", digits):
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    if re.fullmatch(r"\d{2,4}", digits):
        return digits
    return None


def _check_phone(check: _RowChecker, raw: str) -> str:
    if not raw:
        return ""
    formatted = format_phone(raw)
    if formatted is not None:
        return formatted
    # Spreadsheets store "03 21 85 53 70" as the number 321855370, losing the leading zero.
    if re.fullmatch(r"[1-9]\d{8}", raw):
        formatted = format_phone("0" + raw)
        check.add(
            "warning",
            "telephone",
            raw,
            f"zéro initial ajouté : « {formatted} »",
            "mettez la colonne au format Texte dans le tableur",
        )
        return formatted or raw
    check.add(
        "warning",
        "telephone",
        raw,
        "numéro non reconnu, gardé tel quel",
        "format attendu : 03 21 85 53 70 ou +33 3 21 85 53 70",
    )
    return raw


def parse_date(raw: str) -> date | None:
    """A date written 2020-04-06, 06/04/2020 or 6 avril 2020, or None."""
    text = raw.strip()
    parts: tuple[int, int, int] | None = None
    if match := _DATE_ISO.match(text):
        parts = (int(match[1]), int(match[2]), int(match[3]))
    elif match := _DATE_DMY.match(text):
        year = int(match[3]) + (2000 if len(match[3]) == 2 else 0)
        parts = (year, int(match[2]), int(match[1]))
    elif match := _DATE_WORDS.match(normalize_key(text)):
        month = _MONTHS.get(match[2])
        if month is not None:
            parts = (int(match[3]), month, int(match[1]))
    if parts is None:
        return None
    try:
        return date(*parts)
    except ValueError:
        return None


def _check_date(check: _RowChecker, raw: str) -> str:
    if not raw:
        return ""
    parsed = parse_date(raw)
    if parsed is None:
        check.add(
            "warning",
            "date_publication",
            raw,
            "date non reconnue, laissée vide",
            "formats acceptés : 2020-04-06, 06/04/2020, 6 avril 2020",
        )
        return ""
    return parsed.isoformat()


def _check_insee(check: _RowChecker, raw: str) -> str:
    if not raw:
        return ""
    code = raw.upper()
    if re.fullmatch(r"\d{4}", code):
        check.add(
            "warning",
            "code_insee",
            raw,
            f"zéro initial ajouté : « 0{code} »",
            "mettez la colonne au format Texte dans le tableur",
        )
        code = "0" + code
    if not _INSEE_RE.match(code):
        check.add(
            "error",
            "code_insee",
            raw,
            "code INSEE mal formé (5 caractères attendus)",
            "exemple : 62041 pour Arras ; laissez vide si vous ne le connaissez pas",
        )
        return ""
    return code


def _check_category(check: _RowChecker, raw: str, *, present: bool) -> str:
    if not raw:
        if present:
            check.add(
                "error",
                "categorie",
                raw,
                "catégorie manquante",
                "valeurs acceptées : " + _CATEGORY_HELP,
            )
        return ""
    slug = parse_category(raw)
    if slug is None:
        close = difflib.get_close_matches(
            _category_key(raw), list(_CATEGORY_LOOKUP), n=3, cutoff=0.6
        )
        check.issues.append(
            Issue(
                "error",
                "catégorie inconnue",
                row=check.row,
                column="categorie",
                value=raw,
                hint="valeurs acceptées : " + _CATEGORY_HELP,
                suggestions=tuple(dict.fromkeys(_CATEGORY_LOOKUP[c] for c in close)),
            )
        )
        return ""
    return slug


def _check_scope(check: _RowChecker, raw: str, zone: str) -> str:
    if not raw:
        return "commune"
    scope = parse_scope(raw)
    if scope is None:
        check.add(
            "error",
            "portee",
            raw,
            "portée inconnue",
            "valeurs acceptées : " + ", ".join(SCOPES) + " (vide = commune)",
        )
        return ""
    if scope in ("secteur", "arrondissement") and not zone:
        check.add(
            "warning",
            "zone",
            "",
            f"portée « {scope} » sans zone",
            "nommez le secteur dans la colonne zone, par exemple « Calaisis »",
        )
    return scope


def _check_id(check: _RowChecker, raw: str) -> str:
    if raw and not _ID_RE.match(raw):
        check.add(
            "error",
            "id",
            raw,
            "identifiant invalide : lettres, chiffres, points, tirets et soulignés seulement",
            "exemple : pdc-2020-04-06-01",
        )
        return ""
    return raw


def _cell_text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def validate_table(
    df: pd.DataFrame, *, first_row: int = 2, row_numbers: Sequence[int] | None = None
) -> ValidationResult:
    """Validate a raw string table (as `reading.read_table` returns it) against the schema.

    Rows are numbered from `first_row` (spreadsheet line of the first data row), unless
    `row_numbers` gives each row's line (the reader's `RawTable.row_numbers`). Never raises on
    bad content: every problem is an Issue, file-level ones with `row=None`.
    """
    issues: list[Issue] = []
    mapping, header_issues = match_headers([str(c) for c in df.columns])
    issues.extend(header_issues)
    present = set(mapping.values())
    for column in REQUIRED_COLUMNS:
        if column not in present:
            issues.append(
                Issue(
                    "error",
                    "colonne obligatoire absente",
                    column=column,
                    hint="noms acceptés : " + ", ".join(HEADER_ALIASES[column]),
                )
            )
    has_place_column = (
        bool(present & {"commune", "code_insee"})
        or {
            "latitude",
            "longitude",
        }
        <= present
    )
    if not has_place_column:
        issues.append(
            Issue(
                "error",
                "aucune colonne de lieu : il faut une colonne commune, code_insee, "
                "ou latitude et longitude",
                column="commune",
                hint="ajoutez au moins une colonne commune",
            )
        )

    numbers = (
        list(row_numbers)
        if row_numbers is not None
        else list(range(first_row, first_row + len(df)))
    )
    if len(numbers) != len(df):
        raise ValueError("row_numbers must have one entry per row")
    names = [str(c) for c in df.columns]
    positions = {canonical: names.index(original) for original, canonical in mapping.items()}
    cells = df.to_numpy(dtype=object).tolist() if len(df.columns) else [[] for _ in numbers]

    records: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    kept_rows: list[int] = []
    seen_ids: dict[str, int] = {}
    seen_names: dict[tuple[str, str], int] = {}

    for values, row_number in zip(cells, numbers, strict=True):
        raw = {c: _cell_text(values[positions[c]]) if c in positions else "" for c in COLUMNS}
        if not any(raw.values()):
            continue  # a blank row: nothing to say about it
        check = _RowChecker(row_number, issues)
        row: dict[str, Any] = {c: check.text(c, raw[c]) for c in COLUMNS}

        row["id"] = _check_id(check, row["id"])
        if "nom" in present and not row["nom"] and "nom" not in check.refused:
            check.add("error", "nom", "", "nom manquant", "donnez un nom court à l’initiative")
        row["categorie"] = _check_category(check, row["categorie"], present="categorie" in present)
        row["portee"] = _check_scope(check, row["portee"], row["zone"])
        row["code_insee"] = _check_insee(check, row["code_insee"])
        lat_raw, lon_raw = row["latitude"], row["longitude"]
        row["latitude"], row["longitude"] = _check_coordinates(check, lat_raw, lon_raw)
        row["site_web"] = _check_url(check, row["site_web"])
        row["email"] = _check_email(check, row["email"])
        row["telephone"] = _check_phone(check, row["telephone"])
        row["date_publication"] = _check_date(check, row["date_publication"])
        if has_place_column and not (raw["commune"] or raw["code_insee"] or lat_raw or lon_raw):
            check.add(
                "error",
                "commune",
                "",
                "aucun lieu : ni commune, ni code INSEE, ni coordonnées",
                "indiquez au moins la commune (pour un secteur : la commune qui le représente)",
            )

        if row["id"]:
            if row["id"] in seen_ids:
                check.add(
                    "error",
                    "id",
                    row["id"],
                    f"identifiant déjà utilisé ligne {seen_ids[row['id']]}",
                    "chaque initiative doit avoir son propre identifiant",
                )
            else:
                seen_ids[row["id"]] = row_number
        name_key = (normalize_key(row["nom"]), normalize_key(row["commune"]))
        if name_key[0]:
            if name_key in seen_names:
                check.add(
                    "warning",
                    "nom",
                    row["nom"],
                    f"doublon probable de la ligne {seen_names[name_key]} (même nom, même commune)",
                    "supprimez la ligne en double ou précisez le nom",
                )
            else:
                seen_names[name_key] = row_number

        for column in COLUMNS:
            records[column].append(row[column])
        kept_rows.append(row_number)

    table = pd.DataFrame(
        {
            c: pd.Series(records[c], dtype="float64" if c in ("latitude", "longitude") else object)
            for c in COLUMNS
        },
        columns=list(COLUMNS),
    )
    return ValidationResult(
        table=table,
        issues=tuple(issues),
        row_numbers=tuple(kept_rows),
        columns_found=dict(mapping),
    )
