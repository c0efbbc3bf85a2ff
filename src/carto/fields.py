"""The field table: everything the project knows about each column of an initiatives table.

One `Field` per column, in canonical order: its name, French label, type, the other header
spellings accepted on import, whether it is required, its maximum length, and whether geocoding
derives it. Header matching, the validator, the exports, the review (`TABLE_COLUMNS`) and the
columns part of docs/schema.md all derive from this table, so they cannot disagree.

`python -m carto.fields docs/schema.md` rewrites the generated part of the doc; a test fails
when the doc and the table differ.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from carto.text import fold_key

# What a value is; the validator checks and cleans each type its own way (intake.validation).
FieldType = Literal[
    "id",
    "text",
    "category",
    "commune",
    "insee",
    "scope",
    "coordinate",
    "url",
    "email",
    "phone",
    "date",
    "status",
    "lifecycle",
    "score",
]

DEFAULT_MAX_LENGTH = 500


@dataclass(frozen=True)
class Field:
    """One column. `aliases` are header spellings besides `name` and `label`.

    `derived` columns are computed by geocoding: recognised on import and dropped without a
    warning (they are computed again), never validated. `place` columns tell where an
    initiative is: a file needs one of them. `note` replaces "non" in the doc's « obligatoire »
    column; `missing` and `hint` are the message and advice when a required value is empty.
    """

    name: str
    label: str
    type: FieldType
    meaning: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    max_length: int = DEFAULT_MAX_LENGTH
    multiline: bool = False
    bound: float | None = None
    place: bool = False
    derived: bool = False
    exported: bool = True
    example: str = ""
    note: str = ""
    missing: str = ""
    hint: str = ""
    # A date that cannot be after today (a check that has not happened yet).
    past: bool = False

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every header spelling of the column, the name first, without repeats."""
        keys: set[str] = set()
        unique: list[str] = []
        for spelling in (self.name, self.label, *self.aliases):
            if header_key(spelling) not in keys:
                keys.add(header_key(spelling))
                unique.append(spelling)
        return tuple(unique)


def header_key(text: str) -> str:
    """Header comparison key: case, accents, spaces, underscores, hyphens, apostrophes ignored."""
    return fold_key(text).replace(" ", "")


FIELDS: tuple[Field, ...] = (
    Field(
        "id",
        "Identifiant",
        "id",
        "identifiant stable de l’initiative",
        ("identifier", "ref", "reference"),
        max_length=64,
        example="pdc-2020-04-06-01",
        note="non (unique s’il est donné)",
    ),
    Field(
        "nom",
        "Nom",
        "text",
        "nom court affiché sur la carte",
        ("name", "title", "titre", "intitulé", "initiative"),
        required=True,
        max_length=200,
        example="Indelab : visières imprimées en 3D",
        missing="nom manquant",
        hint="donnez un nom court à l’initiative",
    ),
    Field(
        "categorie",
        "Catégorie",
        "category",
        "thème du communiqué",
        ("category", "thème", "type", "rubrique"),
        required=True,
        example="protection",
        missing="catégorie manquante",
    ),
    Field(
        "description",
        "Description",
        "text",
        "une à trois phrases",
        ("détails", "texte", "text", "résumé", "summary"),
        max_length=5000,
        multiline=True,
    ),
    Field(
        "commune",
        "Commune",
        "commune",
        "commune de l’initiative, ou qui représente le secteur",
        ("city", "town", "ville", "municipality", "localité", "locality"),
        place=True,
        example="Bruay-la-Buissière",
        note="**oui, sauf** si `code_insee` ou `latitude`+`longitude`",
    ),
    Field(
        "code_insee",
        "Code INSEE",
        "insee",
        "code officiel de la commune",
        ("insee", "code_commune", "citycode", "code_officiel_geographique"),
        place=True,
        example="62041",
    ),
    Field(
        "portee",
        "Portée",
        "scope",
        "étendue de l’initiative",
        ("scope", "échelle", "niveau"),
        example="secteur",
    ),
    Field(
        "zone",
        "Zone",
        "text",
        "le territoire couvert : département, arrondissement, intercommunalité ou communes "
        "séparées par « ; » (voir « Zones » plus bas)",
        ("secteur", "area", "sector", "territoire", "territory"),
        example="arrondissement de Calais",
        note="recommandé si `portee` = secteur ou arrondissement",
    ),
    Field(
        "adresse",
        "Adresse",
        "text",
        "lieu précis, tel que la source le donne",
        ("address", "street", "rue", "lieu", "place"),
        example="Lycée hôtelier du Touquet",
    ),
    Field(
        "latitude",
        "Latitude",
        "coordinate",
        "degrés décimaux",
        ("lat", "y"),
        bound=90.0,
        place=True,
        example="50.2910",
        note="non (avec `longitude`)",
    ),
    Field(
        "longitude",
        "Longitude",
        "coordinate",
        "degrés décimaux",
        ("lon", "lng", "long", "x"),
        bound=180.0,
        place=True,
        example="2.7775",
        note="non (avec `latitude`)",
    ),
    Field(
        "site_web",
        "Site web",
        "url",
        "site de l’initiative",
        ("website", "site", "url", "web", "site_internet", "lien", "link"),
        max_length=2000,
        example="https://www.indelab.fr/",
    ),
    Field(
        "email",
        "Courriel",
        "email",
        "adresse de contact",
        ("mail", "adresse_electronique"),
        max_length=254,
        example="contact@indelab.fr",
    ),
    Field(
        "telephone",
        "Téléphone",
        "phone",
        "numéro de contact",
        ("phone", "tél", "numéro", "contact_telephone"),
        example="03 21 85 53 70",
    ),
    Field(
        "date_publication",
        "Date de publication",
        "date",
        "date de la source",
        ("date", "published", "publication"),
        example="2020-04-06",
    ),
    Field(
        "source",
        "Source",
        "text",
        "d’où vient l’information",
        ("sources", "origine", "reference_source"),
        example="Communiqué de la préfecture du Pas-de-Calais du 6 avril 2020",
    ),
    Field(
        "date_debut",
        "Date de début",
        "date",
        "premier jour de l’initiative ; vide = depuis toujours",
        ("début", "start", "start_date", "depuis", "à partir du"),
        example="2020-03-23",
    ),
    Field(
        "date_fin",
        "Date de fin",
        "date",
        "dernier jour de l’initiative (inclus) ; vide = toujours en cours",
        ("fin", "end", "end_date", "jusqu’au"),
        example="2020-05-11",
        note="non (pas avant `date_debut`)",
    ),
    Field(
        "statut",
        "Statut",
        "lifecycle",
        "où en est l’initiative (voir « Statuts » plus bas)",
        ("status", "état", "situation"),
        example="en_cours",
    ),
    Field(
        "verifie_le",
        "Vérifié le",
        "date",
        "date de la dernière vérification par la préfecture",
        ("vérifiée le", "date_de_verification", "verification", "dernière vérification"),
        example="2026-11-30",
        note="non (pas après aujourd’hui)",
        past=True,
    ),
    Field(
        "arrondissement_code",
        "Code de l’arrondissement",
        "text",
        "code de l’arrondissement de la commune",
        derived=True,
        exported=False,
        example="627",
    ),
    Field(
        "arrondissement",
        "Arrondissement",
        "text",
        "arrondissement de la commune",
        derived=True,
        example="Béthune",
    ),
    # The area named by `zone`, resolved by carto.zones ("" when the row names none or when
    # it is not recognised: the row is then a point at its commune). Not exported: the
    # `zone` text is, and these are recomputed on import.
    Field(
        "zone_key",
        "Clé de la zone",
        "text",
        "identifiant stable de la zone reconnue",
        derived=True,
        exported=False,
        example="epci:200033579+epci:246200364",
    ),
    Field(
        "zone_label",
        "Zone reconnue",
        "text",
        "nom de la zone reconnue",
        derived=True,
        exported=False,
        example="CU d'Arras ; CA de Lens - Liévin",
    ),
    Field(
        "zone_communes",
        "Communes de la zone",
        "text",
        "codes INSEE des communes couvertes, séparés par des espaces",
        derived=True,
        exported=False,
        example="62001 62003",
    ),
    Field(
        "zone_arrondissements",
        "Arrondissements de la zone",
        "text",
        "codes des arrondissements couverts, séparés par des espaces",
        derived=True,
        exported=False,
        example="621 627",
    ),
    Field(
        "geocode_status",
        "Géocodage",
        "status",
        "comment le point a été trouvé",
        derived=True,
        example="exact",
    ),
    Field(
        "geocode_score",
        "Score de géocodage",
        "score",
        "confiance dans le point trouvé",
        derived=True,
        example="1.0",
    ),
)

FIELDS_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
# Columns a file may give, in canonical order (models.COLUMNS).
COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS if not f.derived)
# Columns added by geocoding (models.GEOCODED_COLUMNS).
DERIVED_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.derived)
# Every column an initiatives table holds once geocoded: what storage keeps and the review shows.
TABLE_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)
PLACE_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.place)
# Columns stored as floats; every other column is text.
NUMBER_COLUMNS: frozenset[str] = frozenset(
    f.name for f in FIELDS if f.type in ("coordinate", "score")
)
EXPORT_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.exported)

_BY_HEADER: dict[str, Field] = {header_key(spelling): f for f in FIELDS for spelling in f.spellings}


def field_for_header(header: str) -> Field | None:
    """The field a file's column header stands for ("Code INSEE", "E-mail"...), or None."""
    return _BY_HEADER.get(header_key(header))


def label(name: str) -> str:
    """The French label of a column ("code_insee" -> "Code INSEE"); unknown names unchanged."""
    field = FIELDS_BY_NAME.get(name)
    return field.label if field else name


# --- statut: where an initiative stands -------------------------------------------------------

# Stored values of `statut`, and their French labels. "" (not said) counts as running.
STATUT_EN_COURS = "en_cours"
STATUT_TERMINEE = "terminee"
STATUT_A_VERIFIER = "a_verifier"
STATUTS: tuple[str, ...] = (STATUT_EN_COURS, STATUT_TERMINEE, STATUT_A_VERIFIER)
STATUT_LABELS: dict[str, str] = {
    STATUT_EN_COURS: "En cours",
    STATUT_TERMINEE: "Terminée",
    STATUT_A_VERIFIER: "À vérifier",
}
# Other spellings accepted on import, compared by `statut_key` (case, accents, spaces, hyphens,
# underscores and a final "e"/"s" ignored: « Terminées », « termine », « TERMINÉ » are one).
STATUT_ALIASES: dict[str, tuple[str, ...]] = {
    STATUT_EN_COURS: (
        "en cours",
        "actif",
        "active",
        "ouvert",
        "ouverte",
        "en activité",
        "continue",
        "ongoing",
        "open",
    ),
    STATUT_TERMINEE: (
        "terminée",
        "fini",
        "finie",
        "fin",
        "clos",
        "close",
        "clôturé",
        "achevé",
        "arrêté",
        "fermé",
        "ended",
        "closed",
        "finished",
    ),
    STATUT_A_VERIFIER: (
        "à vérifier",
        "à confirmer",
        "inconnu",
        "incertain",
        "to check",
        "unknown",
    ),
}


def statut_key(text: str) -> str:
    """Comparison key of a statut spelling (see STATUT_ALIASES)."""
    key = header_key(text)
    if len(key) > 3 and key.endswith("s"):
        key = key[:-1]
    return key.rstrip("e") if len(key) > 3 else key


_STATUT_LOOKUP: dict[str, str] = {
    statut_key(spelling): value
    for value in STATUTS
    for spelling in (value, STATUT_LABELS[value], *STATUT_ALIASES[value])
}


def parse_statut(text: str) -> str | None:
    """The stored statut for a spelling (« En cours », « terminee », « fini »...), or None."""
    return _STATUT_LOOKUP.get(statut_key(text))


# --- docs/schema.md ------------------------------------------------------------------------------

SCHEMA_BEGIN = (
    "<!-- début de la partie générée par `python -m carto.fields docs/schema.md` depuis "
    "src/carto/fields.py : ne pas modifier à la main -->"
)
SCHEMA_END = "<!-- fin de la partie générée -->"


def _code(text: str) -> str:
    return f"`{text}`"


def _number(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


def _type_text(field: Field) -> str:
    from carto.models import SCOPES, GeocodeStatus  # models derives its columns from here

    bound = f"{field.bound:g}" if field.bound is not None else ""
    texts: dict[FieldType, str] = {
        "id": "texte : lettres, chiffres, `.`, `-`, `_`",
        "text": "texte, plusieurs lignes permises" if field.multiline else "texte",
        "category": "une des catégories ci-dessous",
        "commune": "nom officiel de commune",
        "insee": "5 caractères (`62193`, `2A004`)",
        "scope": ", ".join(map(_code, SCOPES)) + " ; vide = `commune`",
        "coordinate": f"nombre (`50.29` ou `50,29`) de -{bound} à {bound}",
        "url": "adresse `http://` ou `https://`",
        "email": "une adresse électronique",
        "phone": "numéro français",
        "date": "date",
        "status": ", ".join(map(_code, get_args(GeocodeStatus))),
        "lifecycle": ", ".join(map(_code, STATUTS)) + " ; vide = non précisé",
        "score": "nombre de 0 à 1",
    }
    text = texts[field.type]
    if not field.derived and field.type in ("id", "text", "commune", "url", "email", "phone"):
        text += f" ({_number(field.max_length)} caractères max.)"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _columns_table() -> list[str]:
    lines = [
        "| colonne | libellé | sens | type | obligatoire | autres noms acceptés | exemple |",
        "|---|---|---|---|---|---|---|",
    ]
    for field in FIELDS:
        if field.derived:
            continue
        required = "**oui**" if field.required else field.note or "non"
        lines.append(
            "| "
            + " | ".join(
                _cell(part)
                for part in (
                    _code(field.name),
                    field.label,
                    field.meaning,
                    _type_text(field),
                    required,
                    ", ".join(s for s in field.spellings if s not in (field.name, field.label)),
                    _code(field.example) if field.example else "",
                )
            )
            + " |"
        )
    return lines


def _derived_table() -> list[str]:
    lines = ["| colonne | libellé | sens | type |", "|---|---|---|---|"]
    lines += [
        f"| {_code(f.name)} | {f.label} | {f.meaning} | {_cell(_type_text(f))} |"
        for f in FIELDS
        if f.derived
    ]
    return lines


def _categories_table() -> list[str]:
    from carto.models import CATEGORIES

    lines = ["| valeur enregistrée | libellé | autres écritures acceptées |", "|---|---|---|"]
    lines += [f"| {_code(c.slug)} | {c.label} | {', '.join(c.aliases)} |" for c in CATEGORIES]
    return lines


def _scopes_table() -> list[str]:
    from carto.models import SCOPE_ALIASES, SCOPE_LABELS, SCOPES

    lines = ["| valeur enregistrée | libellé | autres écritures acceptées |", "|---|---|---|"]
    for scope in SCOPES:
        others = [a for a, s in SCOPE_ALIASES.items() if s == scope and a != scope]
        lines.append(f"| {_code(scope)} | {SCOPE_LABELS[scope]} | {', '.join(others)} |")
    return lines


def _statuts_table() -> list[str]:
    lines = ["| valeur enregistrée | libellé | autres écritures acceptées |", "|---|---|---|"]
    lines += [
        f"| {_code(v)} | {STATUT_LABELS[v]} | {', '.join(STATUT_ALIASES[v])} |" for v in STATUTS
    ]
    return lines


def schema_markdown() -> str:
    """The generated part of docs/schema.md: columns, categories and scopes, from the tables."""
    lines = [
        SCHEMA_BEGIN,
        "",
        "## Colonnes",
        "",
        "L’ordre des colonnes est libre. Les noms sont comparés **sans tenir compte des "
        "majuscules, des accents, des espaces, des tirets, des soulignés ni des apostrophes** : "
        "`Code INSEE`, `code-insee` et `CODE_INSEE` désignent la même colonne. Le libellé de "
        "chaque colonne est aussi accepté comme nom.",
        "",
        *_columns_table(),
        "",
        "Un texte plus long que son maximum est refusé, jamais tronqué.",
        "",
        "Les colonnes ajoutées par le géocodage sont reconnues (par leur nom ou leur libellé) et "
        "ignorées sans avertissement : elles sont recalculées. Toute autre colonne inconnue est "
        "ignorée avec un avertissement.",
        "",
        *_derived_table(),
        "",
        "### Catégories",
        "",
        "Les écritures sont comparées sans tenir compte des majuscules ni des accents, au "
        "singulier comme au pluriel, au masculin comme au féminin.",
        "",
        *_categories_table(),
        "",
        "### Portées",
        "",
        "Majuscules et accents indifférents ; une portée vide vaut `commune`.",
        "",
        *_scopes_table(),
        "",
        "### Statuts",
        "",
        "Majuscules, accents, espaces et pluriel indifférents (« Terminées », « termine », "
        "« FINI » sont acceptés) ; toute autre valeur est une erreur qui nomme la ligne. Un "
        "statut vide veut dire « non précisé » et compte comme « en cours » ; une initiative "
        "dont la date de fin est passée est terminée quel que soit son statut (voir « Le temps "
        "des initiatives » plus bas).",
        "",
        *_statuts_table(),
        "",
        SCHEMA_END,
    ]
    return "\n".join(lines) + "\n"


def with_schema(doc: str) -> str:
    """`doc` with its generated part (between the markers) replaced by `schema_markdown()`."""
    start = doc.find(SCHEMA_BEGIN)
    end = doc.find(SCHEMA_END)
    if start < 0 or end < start:
        raise ValueError("docs/schema.md: the markers of the generated part are missing")
    after = end + len(SCHEMA_END)
    if doc.startswith("\n", after):
        after += 1
    return doc[:start] + schema_markdown() + doc[after:]


def main(argv: list[str] | None = None) -> int:
    """`python -m carto.fields PATH` rewrites the generated part of PATH (docs/schema.md)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage : python -m carto.fields docs/schema.md", file=sys.stderr)
        return 2
    path = Path(args[0])
    path.write_text(with_schema(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
