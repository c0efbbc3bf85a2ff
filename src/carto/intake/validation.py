"""Row validation: header matching and per-type checks, all driven by the field table.

Which columns exist, their spellings, which are required, their types and maximum lengths come
from carto.fields (documented for users in docs/schema.md, generated from it).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from carto.fields import (
    COLUMNS,
    FIELDS,
    FIELDS_BY_NAME,
    NUMBER_COLUMNS,
    PLACE_COLUMNS,
    REQUIRED_COLUMNS,
    Field,
    FieldType,
    field_for_header,
    header_key,
    parse_statut,
)
from carto.models import CATEGORIES, SCOPE_ALIASES, SCOPES, Issue, IssueSummary, Severity
from carto.text import INSEE_RE, cell_text, fold_key, is_email, nfc, parse_number, web_address

_INPUT_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if not f.derived)

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
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]00:00(?::00)?)?$")
_DATE_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})$")
_DATE_WORDS = re.compile(r"^(\d{1,2})(?:er)? ([a-z]+)\.? (\d{4})$")


def show_invisible(text: str) -> str:
    r"""Invisible and control characters made visible ("a\u202eb" -> "a<U+202E>b").

    Messages quote the user's value; a raw RIGHT-TO-LEFT OVERRIDE in it would reorder the
    message itself, in a terminal as on a page.
    """
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def _category_key(text: str) -> str:
    # Crude singular and masculine so that the communiqué's own heading "Solidaire avec les
    # personnes isolées" and "confinées" match "solidaires avec les personnes isolees", "confines".
    words = []
    for word in fold_key(text).split():
        if len(word) > 3 and word.endswith("s"):
            word = word[:-1]
        if len(word) > 3:
            word = word.rstrip("e") or word
        words.append(word)
    return " ".join(words)


_CATEGORY_LOOKUP: dict[str, str] = {
    _category_key(spelling): cat.slug
    for cat in CATEGORIES
    for spelling in (cat.slug, cat.label, *cat.aliases)
}
_CATEGORY_HELP = ", ".join(f"{c.slug} ({c.label})" for c in CATEGORIES)
_SCOPE_LOOKUP: dict[str, str] = {
    fold_key(spelling): scope
    for spelling, scope in (*((s, s) for s in SCOPES), *SCOPE_ALIASES.items())
}


def canonical_header(name: str) -> str | None:
    """The canonical input column a header spelling stands for, or None (geocoded ones too)."""
    found = field_for_header(name)
    return found.name if found is not None and not found.derived else None


def parse_category(text: str) -> str | None:
    """The category slug for a slug, label or heading spelling, or None."""
    return _CATEGORY_LOOKUP.get(_category_key(text))


def parse_scope(text: str) -> str | None:
    """The scope value for a French or English spelling, or None."""
    return _SCOPE_LOOKUP.get(fold_key(text))


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
            known = field_for_header(name)
            if known is not None and known.derived:
                continue  # computed again by geocoding
            issues.append(
                Issue(
                    "warning",
                    "colonne ignorée : ce nom de colonne n’est pas reconnu",
                    column=name,
                    hint="noms reconnus : " + ", ".join(COLUMNS) + " (voir docs/schema.md)",
                    suggestions=tuple(
                        difflib.get_close_matches(header_key(name), list(COLUMNS), n=3)
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
    """Collects the issues of one row; each check returns the cleaned value.

    `present` holds the canonical columns the file has; `texts` the row's cleaned texts (a
    check may look at another column, e.g. the scope at the zone).
    """

    def __init__(self, row: int, issues: list[Issue], present: frozenset[str]) -> None:
        self.row = row
        self.issues = issues
        self.present = present
        self.refused: set[str] = set()
        self.texts: dict[str, str] = {}

    def add(
        self, severity: Severity, column: str, value: str, message: str, hint: str = ""
    ) -> None:
        self.issues.append(
            Issue(severity, message, row=self.row, column=column, value=value, hint=hint)
        )

    def text(self, spec: Field, raw: str) -> str:
        value = nfc(raw.replace("\r\n", "\n").replace("\r", "\n"))
        if spec.multiline:
            cleaned = _INVISIBLE.sub("", value)
            cleaned = "\n".join(line.rstrip() for line in cleaned.split("\n")).strip()
        else:
            cleaned = _INVISIBLE.sub("", _TAB_NEWLINE.sub(" ", value))
            cleaned = _SPACES.sub(" ", cleaned).strip()
        if _INVISIBLE.search(value):
            self.add(
                "warning",
                spec.name,
                show_invisible(raw),
                "caractères invisibles ou de contrôle supprimés",
                "vérifiez la valeur : ces caractères peuvent masquer ou inverser du texte",
            )
        if len(cleaned) > spec.max_length:
            self.add(
                "error",
                spec.name,
                cleaned,
                f"texte trop long ({len(cleaned)} caractères, maximum {spec.max_length})",
                "raccourcissez le texte",
            )
            self.refused.add(spec.name)
            return ""
        return cleaned


# --- one check per field type: (checker, field, cleaned text) -> value kept in the table ------


def _check_coordinate(check: _RowChecker, spec: Field, raw: str) -> float:
    if not raw:
        return math.nan
    number = parse_number(raw)
    bound = spec.bound if spec.bound is not None else math.inf
    if number is None:
        check.add(
            "error",
            spec.name,
            raw,
            "ce n’est pas un nombre",
            "écrivez des degrés décimaux, par exemple 50.29 ou 50,29",
        )
    elif not -bound <= number <= bound:
        check.add(
            "error",
            spec.name,
            raw,
            f"hors des valeurs possibles (de -{bound:g} à {bound:g})",
            "vérifiez que latitude et longitude ne sont pas inversées",
        )
    else:
        return number
    return math.nan


def _check_url(check: _RowChecker, spec: Field, raw: str) -> str:
    if not raw:
        return ""
    address = web_address(raw)
    if address.problem == "scheme":
        check.add(
            "error",
            spec.name,
            raw,
            "adresse de site refusée : seules les adresses http:// ou https:// sont acceptées",
            "exemple : https://www.exemple.fr/",
        )
    elif address.problem == "credentials":
        # "https://www.pas-de-calais.gouv.fr@evil.example/" leads to evil.example: a reader
        # trusting the start of the address would be fooled.
        check.add(
            "error",
            spec.name,
            raw,
            f"adresse de site refusée : le « @ » la ferait mener à « {address.host} »",
            "donnez l’adresse du site seule, sans identifiant ni « @ »",
        )
    elif address.problem == "malformed":
        check.add(
            "error",
            spec.name,
            raw,
            "adresse de site mal formée",
            "exemple : https://www.exemple.fr/",
        )
    elif address.completed:
        check.add(
            "warning",
            spec.name,
            raw,
            f"adresse sans « https:// » : complétée en « {address.url} »",
            "vérifiez que le site répond bien en https",
        )
    return address.url


def _check_email(check: _RowChecker, spec: Field, raw: str) -> str:
    if not raw:
        return ""
    email = raw[len("mailto:") :] if raw.lower().startswith("mailto:") else raw
    if not is_email(email):
        check.add(
            "error",
            spec.name,
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


def _check_phone(check: _RowChecker, spec: Field, raw: str) -> str:
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
            spec.name,
            raw,
            f"zéro initial ajouté : « {formatted} »",
            "mettez la colonne au format Texte dans le tableur",
        )
        return formatted or raw
    check.add(
        "warning",
        spec.name,
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
    elif match := _DATE_WORDS.match(fold_key(text)):
        month = _MONTHS.get(match[2])
        if month is not None:
            parts = (int(match[3]), month, int(match[1]))
    if parts is None:
        return None
    try:
        return date(*parts)
    except ValueError:
        return None


def _check_date(check: _RowChecker, spec: Field, raw: str) -> str:
    if not raw:
        return ""
    parsed = parse_date(raw)
    if parsed is None:
        check.add(
            "warning",
            spec.name,
            raw,
            "date non reconnue, laissée vide",
            "formats acceptés : 2020-04-06, 06/04/2020, 6 avril 2020",
        )
        return ""
    if spec.past:
        from carto.timeline import local_today  # lazy: timeline sits above intake

        if parsed > local_today():
            check.add(
                "error",
                spec.name,
                raw,
                "date dans le futur : une vérification ne peut pas être datée d’après aujourd’hui",
                "mettez la date du jour où l’initiative a été vérifiée",
            )
            return ""
    return parsed.isoformat()


def _check_lifecycle(check: _RowChecker, spec: Field, raw: str) -> str:
    if not raw:
        return ""
    value = parse_statut(raw)
    if value is None:
        check.add(
            "error",
            spec.name,
            raw,
            "statut inconnu",
            "valeurs acceptées : en cours, terminée, à vérifier (ou laissez vide)",
        )
        return ""
    return value


def _check_period(check: _RowChecker, row: dict[str, Any]) -> None:
    """An initiative cannot end before it starts (both dates are ISO text once checked)."""
    start, end = row.get("date_debut") or "", row.get("date_fin") or ""
    if start and end and end < start:
        check.add(
            "error",
            "date_fin",
            check.texts["date_fin"],
            f"la date de fin est avant la date de début ({check.texts['date_debut']})",
            "vérifiez les deux dates : la fin est le dernier jour de l’initiative",
        )


def _check_insee(check: _RowChecker, spec: Field, raw: str) -> str:
    if not raw:
        return ""
    code = raw.upper()
    if re.fullmatch(r"\d{4}", code):
        check.add(
            "warning",
            spec.name,
            raw,
            f"zéro initial ajouté : « 0{code} »",
            "mettez la colonne au format Texte dans le tableur",
        )
        code = "0" + code
    if not INSEE_RE.match(code):
        check.add(
            "error",
            spec.name,
            raw,
            "code INSEE mal formé (5 caractères attendus)",
            "exemple : 62041 pour Arras ; laissez vide si vous ne le connaissez pas",
        )
        return ""
    return code


def _check_category(check: _RowChecker, spec: Field, raw: str) -> str:
    if not raw:
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
                column=spec.name,
                value=raw,
                hint=_TYPE_HINTS["category"],
                suggestions=tuple(dict.fromkeys(_CATEGORY_LOOKUP[c] for c in close)),
            )
        )
        return ""
    return slug


def _check_scope(check: _RowChecker, spec: Field, raw: str) -> str:
    if not raw:
        return "commune"
    scope = parse_scope(raw)
    if scope is None:
        check.add(
            "error",
            spec.name,
            raw,
            "portée inconnue",
            "valeurs acceptées : " + ", ".join(SCOPES) + " (vide = commune)",
        )
        return ""
    if scope in ("secteur", "arrondissement") and not check.texts.get("zone"):
        check.add(
            "warning",
            "zone",
            "",
            f"portée « {scope} » sans zone",
            "nommez le secteur dans la colonne zone, par exemple « Calaisis »",
        )
    return scope


def _check_id(check: _RowChecker, spec: Field, raw: str) -> str:
    if raw and not _ID_RE.match(raw):
        check.add(
            "error",
            spec.name,
            raw,
            "identifiant invalide : lettres, chiffres, points, tirets et soulignés seulement",
            "exemple : pdc-2020-04-06-01",
        )
        return ""
    return raw


def _keep(check: _RowChecker, spec: Field, raw: str) -> str:
    return raw


_CHECKS: Mapping[FieldType, Callable[[_RowChecker, Field, str], Any]] = {
    "id": _check_id,
    "category": _check_category,
    "insee": _check_insee,
    "scope": _check_scope,
    "coordinate": _check_coordinate,
    "url": _check_url,
    "email": _check_email,
    "phone": _check_phone,
    "date": _check_date,
    "lifecycle": _check_lifecycle,
}
# Advice for a required value left empty, when the field has none of its own.
_TYPE_HINTS: Mapping[FieldType, str] = {"category": "valeurs acceptées : " + _CATEGORY_HELP}


# --- rules across the columns of a row ----------------------------------------------------------


def _check_pair(check: _RowChecker, row: dict[str, Any]) -> None:
    """Latitude and longitude go together: one without the other is an error, and a point
    with one bad coordinate is no point at all."""
    lat_raw, lon_raw = check.texts["latitude"], check.texts["longitude"]
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
    if math.isnan(row["latitude"]) or math.isnan(row["longitude"]):
        row["latitude"] = row["longitude"] = math.nan


def _has_place_column(present: frozenset[str]) -> bool:
    """A commune or INSEE column, or both coordinates."""
    coordinates = {f.name for f in _INPUT_FIELDS if f.type == "coordinate"}
    return (
        any(c in present for c in PLACE_COLUMNS if c not in coordinates) or coordinates <= present
    )


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
    present = frozenset(mapping.values())
    for column in REQUIRED_COLUMNS:
        if column not in present:
            issues.append(
                Issue(
                    "error",
                    "colonne obligatoire absente",
                    column=column,
                    hint="noms acceptés : " + ", ".join(FIELDS_BY_NAME[column].spellings),
                )
            )
    has_place_column = _has_place_column(present)
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
        raw = {
            c: cell_text(values[positions[c]]).strip() if c in positions else "" for c in COLUMNS
        }
        if not any(raw.values()):
            continue  # a blank row: nothing to say about it
        check = _RowChecker(row_number, issues, present)
        check.texts = {f.name: check.text(f, raw[f.name]) for f in _INPUT_FIELDS}
        row: dict[str, Any] = {}
        for spec in _INPUT_FIELDS:
            value = check.texts[spec.name]
            # A required value is missing where the file has the column and gave nothing (a
            # value refused as too long has its own error already).
            if spec.required and not value and spec.name in present - check.refused:
                hint = spec.hint or _TYPE_HINTS.get(spec.type, "")
                check.add("error", spec.name, "", spec.missing, hint)
            row[spec.name] = _CHECKS.get(spec.type, _keep)(check, spec, value)
        _check_pair(check, row)
        _check_period(check, row)
        if has_place_column and not any(raw[c] for c in PLACE_COLUMNS):
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
        name_key = (fold_key(row["nom"]), fold_key(row["commune"]))
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
            c: pd.Series(records[c], dtype="float64" if c in NUMBER_COLUMNS else object)
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
