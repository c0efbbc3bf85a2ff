"""The field table: one spelling means one column, and docs/schema.md says what the code does."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from carto import fields
from carto.exports import EXPORT_COLUMNS, export_table
from carto.fields import FIELDS, field_for_header, header_key, schema_markdown, with_schema
from carto.intake.reading import read_table
from carto.intake.validation import parse_category, parse_scope, validate_table
from carto.models import CATEGORIES, SCOPE_ALIASES, SCOPES

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "docs" / "schema.md"


def test_schema_doc_is_generated_from_the_table() -> None:
    doc = SCHEMA.read_text(encoding="utf-8")
    assert with_schema(doc) == doc, "run: python -m carto.fields docs/schema.md"


@pytest.mark.parametrize(
    "spelling", [s for f in FIELDS if not f.derived for s in f.spellings], ids=str
)
def test_every_accepted_spelling_is_in_the_doc(spelling: str) -> None:
    field = field_for_header(spelling)
    assert field is not None
    row = next(
        line
        for line in SCHEMA.read_text(encoding="utf-8").splitlines()
        if line.startswith(f"| `{field.name}` |")
    )
    assert spelling in row


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("territory", "zone"),
        ("locality", "commune"),
        ("site_internet", "site_web"),
        ("adresse_electronique", "email"),
        ("E-mail", "email"),
        ("Date de publication", "date_publication"),
        ("Score de géocodage", "geocode_score"),
        ("remarques", None),
    ],
)
def test_field_for_header(header: str, column: str | None) -> None:
    found = field_for_header(header)
    assert (found.name if found else None) == column


def test_one_spelling_means_one_column() -> None:
    keys = Counter(header_key(s) for f in FIELDS for s in f.spellings)
    assert [key for key, count in keys.items() if count > 1] == []


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_no_alias_repeats_the_name_label_or_another_alias(field: fields.Field) -> None:
    # Matching ignores case, accents and punctuation: "e-mail" next to "email" says nothing more.
    keys = [header_key(a) for a in field.aliases]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & {header_key(field.name), header_key(field.label)}


def test_table_shapes() -> None:
    assert fields.TABLE_COLUMNS == fields.COLUMNS + fields.DERIVED_COLUMNS
    # Derived columns come last: a file's columns keep their order in every table.
    assert [f.derived for f in FIELDS] == sorted(f.derived for f in FIELDS)
    assert all(f.bound is not None for f in FIELDS if f.type == "coordinate")
    assert all(f.missing for f in FIELDS if f.required)


def test_validated_table_and_exports_follow_the_table_order() -> None:
    shuffled = pd.DataFrame(
        [{"Courriel": "a@b.fr", "Nom": "Paniers", "Catégorie": "isoles", "Commune": "Arras"}]
    )
    result = validate_table(shuffled)
    assert result.ok
    assert tuple(result.table.columns) == fields.COLUMNS
    header = export_table(result.table, fmt="csv", bom=False).decode().splitlines()[0]
    assert tuple(header.split(";")) == EXPORT_COLUMNS
    # Internal derived columns (codes, the resolved zone) are recomputed on import, not exported.
    internal = {"arrondissement_code", "zone_key", "zone_label", "zone_communes"}
    internal.add("zone_arrondissements")
    assert tuple(c for c in fields.TABLE_COLUMNS if c not in internal) == EXPORT_COLUMNS


def test_an_export_read_back_maps_every_column() -> None:
    table = pd.DataFrame([{"nom": "Paniers", "categorie": "isoles", "commune": "Arras"}])
    raw = read_table(export_table(table, fmt="csv"), filename="export.csv")
    result = validate_table(raw.frame, row_numbers=raw.row_numbers)
    assert result.issues == ()
    assert set(result.columns_found.values()) == set(fields.COLUMNS)


@pytest.mark.parametrize(
    ("category", "spelling"), [(c.slug, s) for c in CATEGORIES for s in (c.label, *c.aliases)]
)
def test_every_category_spelling_gives_its_category(category: str, spelling: str) -> None:
    assert parse_category(spelling) == category


@pytest.mark.parametrize(("spelling", "scope"), [*((s, s) for s in SCOPES), *SCOPE_ALIASES.items()])
def test_every_scope_spelling_gives_its_scope(spelling: str, scope: str) -> None:
    assert parse_scope(spelling.upper()) == scope


def test_generator_rewrites_only_its_part(tmp_path: Path) -> None:
    doc = SCHEMA.read_text(encoding="utf-8")
    stale = doc.replace("territoire, territory |", "territoire |")
    assert stale != doc
    path = tmp_path / "schema.md"
    path.write_text(stale, encoding="utf-8")
    assert fields.main([str(path)]) == 0
    assert path.read_text(encoding="utf-8") == doc
    assert schema_markdown() in doc


def test_generator_refuses_a_doc_without_markers(tmp_path: Path) -> None:
    path = tmp_path / "schema.md"
    path.write_text("# Schéma\n", encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        fields.main([str(path)])
    assert path.read_text(encoding="utf-8") == "# Schéma\n"
