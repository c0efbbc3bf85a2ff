"""Validation: header spellings, each row rule (good and bad values), the shipped dataset."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carto.fields import FIELDS
from carto.intake.reading import read_path
from carto.intake.validation import ValidationResult, match_headers, validate_table
from carto.models import CATEGORIES, COLUMNS
from carto.text import is_email, is_safe_url

ROOT = Path(__file__).resolve().parents[1]

BASE_ROW: dict[str, str] = {
    "id": "t-01",
    "nom": "Paniers solidaires",
    "categorie": "isoles",
    "description": "Livraison de pâtes, œufs et soupes à l’EHPAD.",
    "commune": "Guînes",
    "code_insee": "",
    "portee": "commune",
    "zone": "",
    "adresse": "",
    "latitude": "",
    "longitude": "",
    "site_web": "",
    "email": "",
    "telephone": "",
    "date_publication": "2020-04-06",
    "source": "Communiqué",
}


def validate_row(**changes: str) -> ValidationResult:
    return validate_table(pd.DataFrame([{**BASE_ROW, **changes}], dtype=object))


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("nom", "nom"),
        ("Name", "nom"),
        ("Intitulé", "nom"),
        ("Catégorie", "categorie"),
        ("THÈME", "categorie"),
        ("category", "categorie"),
        ("City", "commune"),
        ("Ville", "commune"),
        ("Code INSEE", "code_insee"),
        ("code-insee", "code_insee"),
        ("citycode", "code_insee"),
        ("Portée", "portee"),
        ("scope", "portee"),
        ("Secteur", "zone"),
        ("Address", "adresse"),
        ("LAT", "latitude"),
        ("lng", "longitude"),
        ("Site web", "site_web"),
        ("URL", "site_web"),
        ("E-mail", "email"),
        ("Courriel", "email"),
        ("Téléphone", "telephone"),
        ("phone", "telephone"),
        ("Date de publication", "date_publication"),
        ("published", "date_publication"),
        ("Source", "source"),
        # Spellings the code accepted while docs/schema.md did not list them.
        ("territory", "zone"),
        ("locality", "commune"),
        ("Localité", "commune"),
        ("site_internet", "site_web"),
        ("Adresse électronique", "email"),
        ("code officiel géographique", "code_insee"),
        ("contact téléphone", "telephone"),
        ("Référence source", "source"),
    ],
)
def test_header_alias_is_recognised(header: str, canonical: str) -> None:
    mapping, issues = match_headers([header])
    assert mapping == {header: canonical}
    assert issues == []


def test_every_canonical_name_and_label_matches_itself() -> None:
    mapping, issues = match_headers(list(COLUMNS))
    assert mapping == {c: c for c in COLUMNS}
    assert issues == []
    labels = [f.label for f in FIELDS if not f.derived]
    mapping, issues = match_headers(labels)
    assert list(mapping.values()) == list(COLUMNS)
    assert issues == []


@pytest.mark.parametrize(
    ("headers", "severity", "column"),
    [
        (["nom", "Remarques internes"], "warning", "Remarques internes"),
        (["nom", "Name"], "error", "Name"),
        (["nom", "nom (2)"], "error", "nom (2)"),
        (["Ville", "commune"], "error", "commune"),
    ],
)
def test_header_problems(headers: list[str], severity: str, column: str) -> None:
    mapping, issues = match_headers(headers)
    assert [(i.severity, i.column) for i in issues] == [(severity, column)]
    assert column not in mapping


def test_geocoded_columns_are_dropped_silently() -> None:
    mapping, issues = match_headers(["nom", "arrondissement", "geocode_status", "Géocodage"])
    assert mapping == {"nom": "nom"}
    assert issues == []


def test_unknown_column_warning_names_it_and_suggests() -> None:
    mapping, issues = match_headers(["nom", "comune"])
    (issue,) = issues
    assert mapping == {"nom": "nom"}
    assert str(issue) == (
        "Avertissement (colonne « comune ») : colonne ignorée : ce nom de colonne n’est pas "
        "reconnu — noms reconnus : " + ", ".join(COLUMNS) + " (voir docs/schema.md)"
    )
    assert issue.suggestions[0] == "commune"


# (changes to a valid row, column to look at, expected cleaned value, expected issue or None)
RULES: list[tuple[dict[str, str], str, object, tuple[str, str] | None]] = [
    ({}, "categorie", "isoles", None),
    ({"nom": ""}, "nom", "", ("error", "nom")),
    ({"nom": "x" * 200}, "nom", "x" * 200, None),
    ({"nom": "x" * 201}, "nom", "", ("error", "nom")),
    ({"nom": "Nom\nsur deux lignes"}, "nom", "Nom sur deux lignes", None),
    ({"nom": "Aide\u202eeviL"}, "nom", "AideeviL", ("warning", "nom")),
    ({"nom": "Ai\u2066de\u2069"}, "nom", "Aide", ("warning", "nom")),
    ({"description": "a\x00b\nc"}, "description", "ab\nc", ("warning", "description")),
    ({"description": "ligne 1\r\nligne 2"}, "description", "ligne 1\nligne 2", None),
    ({"description": "é" * 5001}, "description", "", ("error", "description")),
    ({"categorie": "protection"}, "categorie", "protection", None),
    ({"categorie": "SOIGNANTS"}, "categorie", "soignants", None),
    ({"categorie": "Personnes isolées"}, "categorie", "isoles", None),
    ({"categorie": "confinées"}, "categorie", "confines", None),
    (
        {"categorie": "Solidaires avec les personnes confinées"},
        "categorie",
        "confines",
        None,
    ),
    ({"categorie": "Solidaire avec les transporteurs routiers"}, "categorie", "routiers", None),
    ({"categorie": "truckers"}, "categorie", "routiers", None),
    ({"categorie": "culture"}, "categorie", "", ("error", "categorie")),
    ({"categorie": ""}, "categorie", "", ("error", "categorie")),
    ({"commune": "", "code_insee": "62041"}, "code_insee", "62041", None),
    ({"commune": ""}, "commune", "", ("error", "commune")),
    ({"code_insee": "1001"}, "code_insee", "01001", ("warning", "code_insee")),
    ({"code_insee": "2a004"}, "code_insee", "2A004", None),
    ({"code_insee": "Arras"}, "code_insee", "", ("error", "code_insee")),
    ({"commune": "", "latitude": "50.29", "longitude": "2.78"}, "latitude", 50.29, None),
    ({"latitude": "50,29", "longitude": "2,78"}, "longitude", 2.78, None),
    ({"latitude": "-0.5", "longitude": "−1,5"}, "longitude", -1.5, None),
    ({"latitude": "abc", "longitude": "2.78"}, "latitude", math.nan, ("error", "latitude")),
    ({"latitude": "nan", "longitude": "2.78"}, "latitude", math.nan, ("error", "latitude")),
    ({"latitude": "inf", "longitude": "2.78"}, "latitude", math.nan, ("error", "latitude")),
    ({"latitude": "1e308", "longitude": "2.78"}, "latitude", math.nan, ("error", "latitude")),
    ({"latitude": "90.5", "longitude": "2.78"}, "latitude", math.nan, ("error", "latitude")),
    ({"latitude": "50.2", "longitude": "180.1"}, "longitude", math.nan, ("error", "longitude")),
    ({"latitude": "50,2,9", "longitude": "2.78"}, "latitude", math.nan, ("error", "latitude")),
    ({"latitude": "50.29"}, "latitude", math.nan, ("error", "longitude")),
    ({"site_web": "https://www.indelab.fr/"}, "site_web", "https://www.indelab.fr/", None),
    ({"site_web": "http://jeveuxaider.gouv.fr"}, "site_web", "http://jeveuxaider.gouv.fr/", None),
    (
        {"site_web": "www.indelab.fr"},
        "site_web",
        "https://www.indelab.fr/",
        ("warning", "site_web"),
    ),
    (
        {"site_web": "meloko.fr/contact?x=1"},
        "site_web",
        "https://meloko.fr/contact?x=1",
        ("warning", "site_web"),
    ),
    ({"site_web": "javascript:alert(1)"}, "site_web", "", ("error", "site_web")),
    ({"site_web": "JaVaScRiPt:alert(1)"}, "site_web", "", ("error", "site_web")),
    ({"site_web": "java\tscript:alert(1)"}, "site_web", "", ("error", "site_web")),
    ({"site_web": "data:text/html,<script>"}, "site_web", "", ("error", "site_web")),
    ({"site_web": "ftp://ftp.exemple.fr/"}, "site_web", "", ("error", "site_web")),
    ({"site_web": "https://"}, "site_web", "", ("error", "site_web")),
    ({"site_web": "https://exemple fr"}, "site_web", "", ("error", "site_web")),
    ({"email": "contact@indelab.fr"}, "email", "contact@indelab.fr", None),
    ({"email": "mailto:contact@indelab.fr"}, "email", "contact@indelab.fr", None),
    ({"email": "contact@"}, "email", "", ("error", "email")),
    ({"email": "a@b.fr, c@d.fr"}, "email", "", ("error", "email")),
    ({"telephone": "03 21 85 53 70"}, "telephone", "03 21 85 53 70", None),
    ({"telephone": "+33 3 21 85 53 70"}, "telephone", "03 21 85 53 70", None),
    ({"telephone": "+33 (0)3 21 85 53 70"}, "telephone", "03 21 85 53 70", None),
    ({"telephone": "03.21.85.53.70"}, "telephone", "03 21 85 53 70", None),
    ({"telephone": "0033321855370"}, "telephone", "03 21 85 53 70", None),
    ({"telephone": "115"}, "telephone", "115", None),
    ({"telephone": "321855370"}, "telephone", "03 21 85 53 70", ("warning", "telephone")),
    (
        {"telephone": "appeler la mairie"},
        "telephone",
        "appeler la mairie",
        ("warning", "telephone"),
    ),
    ({"date_publication": "06/04/2020"}, "date_publication", "2020-04-06", None),
    ({"date_publication": "6 avril 2020"}, "date_publication", "2020-04-06", None),
    ({"date_publication": "1er avril 2020"}, "date_publication", "2020-04-01", None),
    ({"date_publication": "6 AVR. 2020"}, "date_publication", "2020-04-06", None),
    ({"date_publication": "2020-04-06 00:00:00"}, "date_publication", "2020-04-06", None),
    ({"date_publication": "31/02/2020"}, "date_publication", "", ("warning", "date_publication")),
    ({"date_publication": "bientôt"}, "date_publication", "", ("warning", "date_publication")),
    ({"portee": ""}, "portee", "commune", None),
    ({"portee": "Département"}, "portee", "departement", None),
    ({"portee": "secteur", "zone": "Calaisis"}, "portee", "secteur", None),
    ({"portee": "secteur"}, "portee", "secteur", ("warning", "zone")),
    ({"portee": "région"}, "portee", "", ("error", "portee")),
    ({"portee": "Départementale"}, "portee", "departement", None),
    ({"portee": "intercommunalité", "zone": "Calaisis"}, "portee", "secteur", None),
    ({"categorie": "Gestes barrières"}, "categorie", "protection", None),
    ({"categorie": "Santé"}, "categorie", "soignants", None),
    # A category refused as too long is not also reported missing.
    ({"categorie": "x" * 501}, "categorie", "", ("error", "categorie")),
    ({"site_web": "https://a.fr/x\u2003y"}, "site_web", "", ("error", "site_web")),
    ({"id": "pdc-2020-04-06-01"}, "id", "pdc-2020-04-06-01", None),
    ({"id": "a b"}, "id", "", ("error", "id")),
    ({"zone": "  Calaisis  "}, "zone", "Calaisis", None),
]


@pytest.mark.parametrize(("changes", "column", "expected", "issue"), RULES)
def test_row_rule(
    changes: dict[str, str], column: str, expected: object, issue: tuple[str, str] | None
) -> None:
    result = validate_row(**changes)
    value = result.table.at[0, column]
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(value)
    elif isinstance(expected, float):
        assert value == pytest.approx(expected)
    else:
        assert value == expected
    found = [(i.severity, i.column) for i in result.issues]
    assert found == ([issue] if issue else [])
    assert result.ok == (issue is None or issue[0] == "warning")
    for problem in result.issues:
        assert problem.row == 2
        assert "ligne 2" in str(problem)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"nom": ""},
            "Erreur (ligne 2, colonne « nom », valeur «  ») : nom manquant — donnez un nom court "
            "à l’initiative",
        ),
        (
            {"categorie": ""},
            "Erreur (ligne 2, colonne « categorie », valeur «  ») : catégorie manquante — "
            "valeurs acceptées : protection (Mesures de protection), soignants (Personnels "
            "soignants), confines (Personnes confinées), isoles (Personnes isolées), routiers "
            "(Transporteurs routiers)",
        ),
        (
            {"site_web": "https://www.pas-de-calais.gouv.fr@evil.example/"},
            "Erreur (ligne 2, colonne « site_web », valeur « https://www.pas-de-calais.gouv.fr"
            "@evil.example/ ») : adresse de site refusée : le « @ » la ferait mener à "
            "« evil.example » — donnez l’adresse du site seule, sans identifiant ni « @ »",
        ),
        (
            {"latitude": "95", "longitude": "2.7"},
            "Erreur (ligne 2, colonne « latitude », valeur « 95 ») : hors des valeurs possibles "
            "(de -90 à 90) — vérifiez que latitude et longitude ne sont pas inversées",
        ),
        (
            {"nom": "x" * 201},
            "Erreur (ligne 2, colonne « nom », valeur « " + "x" * 77 + "… ») : texte trop long "
            "(201 caractères, maximum 200) — raccourcissez le texte",
        ),
    ],
)
def test_messages_say_row_column_value_and_what_to_do(
    changes: dict[str, str], expected: str
) -> None:
    (issue,) = validate_row(**changes).issues
    assert str(issue) == expected


@pytest.mark.parametrize("spec", [f for f in FIELDS if not f.derived], ids=lambda f: f.name)
def test_every_column_refuses_text_beyond_its_maximum(spec) -> None:
    too_long = spec.max_length + 1
    result = validate_row(**{spec.name: "x" * too_long})
    assert [(i.severity, i.column, i.message) for i in result.issues] == [
        ("error", spec.name, f"texte trop long ({too_long} caractères, maximum {spec.max_length})")
    ]


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://www.indelab.fr/", True),
        ("HTTP://exemple.fr/page?x=1#haut", True),
        ("http://localhost/", True),
        ("https://exemple.fr:8443/carte", True),
        ("www.indelab.fr", False),  # import completes it; a page links only to a full address
        ("javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("ftp://ftp.exemple.fr/", False),
        ("https://www.pas-de-calais.gouv.fr@evil.example/", False),
        ("https://exemple.fr/a b", False),
        ("https://exemple.fr/a\u00a0b", False),
        ("https://", False),
        ("https://intranet/", False),
        ("", False),
    ],
)
def test_is_safe_url_is_the_rule_import_applies(url: str, safe: bool) -> None:
    assert is_safe_url(url) is safe
    # What import keeps from a full address is that address (with "/" after a bare host).
    result = validate_row(site_web=url)
    assert bool(result.table.at[0, "site_web"]) is (safe or url == "www.indelab.fr")


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("contact@indelab.fr", True),
        ("jean.o'neil+carto@mairie-guînes.fr", True),
        ("contact@", False),
        ("a@b.fr, c@d.fr", False),
        ("contact@indelab", False),
        ("mailto:contact@indelab.fr", False),  # import strips it first
        ("contact@indelab.fr\n", False),
        ("<script>@x.fr", False),
    ],
)
def test_is_email_is_the_rule_import_applies(email: str, valid: bool) -> None:
    assert is_email(email) is valid


def test_unknown_category_lists_values_and_suggests() -> None:
    result = validate_row(categorie="protectoin")
    (issue,) = result.errors
    assert issue.value == "protectoin"
    assert "protection" in issue.suggestions
    for category in CATEGORIES:
        assert category.slug in issue.hint


def test_result_table_has_canonical_columns_and_types() -> None:
    frame = pd.DataFrame(
        [{"Name": "Aire", "Category": "routiers", "City": "Arras", "lat": "50,3", "lon": "2,8"}]
    )
    result = validate_table(frame)
    assert tuple(result.table.columns) == COLUMNS
    assert result.table.at[0, "latitude"] == pytest.approx(50.3)
    assert result.table["latitude"].dtype == "float64"
    assert result.table.at[0, "portee"] == "commune"
    assert result.columns_found == {
        "Name": "nom",
        "Category": "categorie",
        "City": "commune",
        "lat": "latitude",
        "lon": "longitude",
    }


@pytest.mark.parametrize(
    ("columns", "missing"),
    [
        (["categorie", "commune"], {"nom"}),
        (["nom", "commune"], {"categorie"}),
        (["nom", "categorie"], {"commune"}),
        (["nom", "categorie", "latitude"], {"commune"}),
        (["description"], {"nom", "categorie", "commune"}),
    ],
)
def test_missing_required_columns_are_file_level_errors(
    columns: list[str], missing: set[str]
) -> None:
    frame = pd.DataFrame([dict.fromkeys(columns, "x")])
    result = validate_table(frame)
    assert not result.ok
    file_level = {i.column for i in result.errors if i.row is None}
    assert file_level == missing
    assert not result.table_usable
    # No row-level repetition of a file-level problem.
    assert not [i for i in result.errors if i.row is not None and i.column in missing]


def test_duplicates_and_row_numbers() -> None:
    frame = pd.DataFrame(
        [
            {**BASE_ROW, "id": "a"},
            {**BASE_ROW, "id": "a", "nom": "Autre"},
            {**BASE_ROW, "id": "b", "nom": "PANIERS solidaires", "commune": "Guines"},
            dict.fromkeys(BASE_ROW, ""),
        ]
    )
    result = validate_table(frame, row_numbers=[2, 4, 7, 9])
    assert [(i.severity, i.row, i.column) for i in result.issues] == [
        ("error", 4, "id"),
        ("warning", 7, "nom"),
    ]
    assert "ligne 2" in result.errors[0].message
    assert "ligne 2" in result.warnings[0].message
    assert result.row_numbers == (2, 4, 7)  # the blank row is not kept
    assert result.error_rows == frozenset({4})
    assert result.table_usable  # row errors only: the other rows can still be geocoded


def test_first_row_offsets_numbering() -> None:
    result = validate_table(pd.DataFrame([{**BASE_ROW, "nom": ""}]), first_row=5)
    assert result.errors[0].row == 5


def test_empty_table_is_valid_but_empty() -> None:
    result = validate_table(pd.DataFrame(columns=list(COLUMNS)))
    assert result.ok
    assert len(result.table) == 0
    assert tuple(result.table.columns) == COLUMNS


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(list(COLUMNS)), st.text(max_size=40), min_size=1))
def test_validation_never_raises(row: dict[str, str]) -> None:
    result = validate_table(pd.DataFrame([row], dtype=object))
    assert tuple(result.table.columns) == COLUMNS
    for issue in result.issues:
        # Every message says what is wrong, where, in French.
        text = str(issue)
        assert text.startswith("Erreur (" if issue.severity == "error" else "Avertissement (")
        assert issue.message and issue.message in text
        assert issue.column in COLUMNS
        if issue.row is not None:
            assert issue.row == 2 and "ligne 2" in text


def test_shipped_dataset_is_valid() -> None:
    raw = read_path(ROOT / "data" / "initiatives.csv")
    assert list(raw.frame.columns) == list(COLUMNS)
    result = validate_table(raw.frame, row_numbers=raw.row_numbers)
    assert result.errors == ()
    assert result.warnings == ()
    table = result.table
    assert len(table) >= 16
    assert set(table["categorie"]) == {c.slug for c in CATEGORIES}
    assert table["id"].is_unique
    assert set(table["date_publication"]) == {"2020-04-06"}
    assert all(table["commune"] != "")
    by_name = dict(zip(table["nom"], table["commune"], strict=True))
    assert any("Tereos" in n and c == "Lillers" for n, c in by_name.items())
    assert any("Roquette" in n and c == "Lestrem" for n, c in by_name.items())
    guines = table[table["commune"] == "Guînes"]
    assert set(guines["telephone"]) == {"03 21 85 53 70"}
    assert "https://www.indelab.fr/" in set(table["site_web"])
    assert "contact@indelab.fr" in set(table["email"])
    sectors = table[table["portee"] == "secteur"]
    # Every sector names its area in words the gazetteer knows (tests/test_zones.py).
    assert len(sectors) >= 6 and all(sectors["zone"] != "")


def test_shipped_dataset_codes_match_the_gazetteer() -> None:
    gazetteer = ROOT / "src" / "carto" / "data" / "62" / "communes.csv"
    if not gazetteer.exists():
        pytest.skip("gazetteer not built yet (make gazetteer)")
    names = pd.read_csv(gazetteer, dtype=str).set_index("code_insee")["nom"].to_dict()
    raw = read_path(ROOT / "data" / "initiatives.csv")
    table = validate_table(raw.frame, row_numbers=raw.row_numbers).table
    for commune, code in zip(table["commune"], table["code_insee"], strict=True):
        assert names.get(code) == commune, (commune, code)
