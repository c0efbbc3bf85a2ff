"""Typed records shared between modules, and the project's vocabularies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from carto import fields

# The communiqué's five themes. `slug` is stored in `categorie`; `label` is shown to users.
# `aliases` are other spellings accepted on import, besides the slug and the label (compared
# after folding case and accents, singular or plural: see intake.validation.parse_category).


@dataclass(frozen=True)
class Category:
    slug: str
    label: str
    color: str
    aliases: tuple[str, ...] = ()


CATEGORIES: tuple[Category, ...] = (
    Category(
        "protection",
        "Mesures de protection",
        "#1f77b4",
        (
            "Solidaires dans l’application des mesures de protection",
            "gestes barrières",
            "protective equipment",
        ),
    ),
    Category(
        "soignants",
        "Personnels soignants",
        "#d62728",
        (
            "Solidaires avec les personnels soignants",
            "santé",
            "carers",
            "caregivers",
            "health workers",
            "healthcare",
        ),
    ),
    Category(
        "confines",
        "Personnes confinées",
        "#2ca02c",
        (
            "Solidaires avec les personnes confinées",
            "confinement",
            "lockdown",
            "confined people",
            "confined",
        ),
    ),
    Category(
        "isoles",
        "Personnes isolées",
        "#9467bd",
        (
            "Solidaires avec les personnes isolées",
            "isolement",
            "isolated people",
            "isolated",
            "isolation",
        ),
    ),
    Category(
        "routiers",
        "Transporteurs routiers",
        "#ff7f0e",
        (
            "Solidaires avec les transporteurs routiers",
            "transporteurs",
            "truckers",
            "truck drivers",
            "lorry drivers",
            "hauliers",
        ),
    ),
)
CATEGORY_BY_SLUG: dict[str, Category] = {c.slug: c for c in CATEGORIES}

Scope = Literal["commune", "secteur", "arrondissement", "departement"]
SCOPES: tuple[Scope, ...] = ("commune", "secteur", "arrondissement", "departement")
SCOPE_LABELS: dict[str, str] = {
    "commune": "Commune",
    "secteur": "Secteur",
    "arrondissement": "Arrondissement",
    "departement": "Département",
}
# Other spellings of a scope accepted on import (compared after folding case and accents).
SCOPE_ALIASES: dict[str, Scope] = {
    "communal": "commune",
    "communale": "commune",
    "ville": "commune",
    "town": "commune",
    "city": "commune",
    "municipality": "commune",
    "local": "commune",
    "sector": "secteur",
    "area": "secteur",
    "zone": "secteur",
    "intercommunal": "secteur",
    "intercommunalité": "secteur",
    "district": "arrondissement",
    "départemental": "departement",
    "départementale": "departement",
    "department": "departement",
    "county": "departement",
}

GeocodeStatus = Literal["exact", "fuzzy", "manual", "failed"]
Severity = Literal["error", "warning"]

# Canonical column order of an initiatives table, and the columns geocoding adds: both come from
# the field table (carto.fields), like docs/schema.md.
COLUMNS: tuple[str, ...] = fields.COLUMNS
GEOCODED_COLUMNS: tuple[str, ...] = fields.DERIVED_COLUMNS


@dataclass(frozen=True)
class GeoPoint:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Commune:
    code_insee: str
    nom: str
    departement: str
    arrondissement_code: str
    arrondissement: str
    codes_postaux: tuple[str, ...]
    population: int
    point: GeoPoint


@dataclass(frozen=True)
class Arrondissement:
    code: str
    nom: str
    chef_lieu: str


@dataclass(frozen=True)
class Epci:
    """An intercommunalité (EPCI à fiscalité propre) as the gazetteer of one département has it.

    `communes` are its member communes in the département; `communes_ailleurs` its members in
    other départements, which the gazetteer has no outline for (CC Flandre Lys, CC du Ternois).
    """

    siren: str
    nom: str
    type: str  # CA, CC, CU, METRO
    communes: tuple[str, ...]
    communes_ailleurs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A gazetteer commune proposed for a text, with a similarity score in [0, 1]."""

    commune: Commune
    score: float


@dataclass(frozen=True)
class Issue:
    """One problem found in an input table, addressed to the user (French text).

    `row` is the line number as a spreadsheet shows it (header = 1), or None for the whole file.
    `code` names the kind of issue for pages that offer a fix (e.g. "hors_departement").
    """

    severity: Severity
    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    hint: str = ""
    suggestions: tuple[str, ...] = field(default=())
    code: str = ""

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"ligne {self.row}")
        if self.column:
            where.append(f"colonne « {self.column} »")
        if self.value is not None:
            shown = self.value if len(self.value) <= 80 else self.value[:77] + "…"
            where.append(f"valeur « {shown} »")
        prefix = "Erreur" if self.severity == "error" else "Avertissement"
        text = (
            f"{prefix} ({', '.join(where)}) : {self.message}"
            if where
            else f"{prefix} : {self.message}"
        )
        if self.hint:
            text += f" — {self.hint}"
        return text


class IssueSummary:
    """Views over an `issues` attribute, shared by validation and loading results."""

    issues: tuple[Issue, ...]

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_rows(self) -> frozenset[int]:
        """Spreadsheet lines having at least one error."""
        return frozenset(i.row for i in self.errors if i.row is not None)
