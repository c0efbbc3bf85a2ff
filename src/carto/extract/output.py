"""Candidates written out: an importable CSV, a review CSV, and the « déjà sur la carte ? » check.

The importable CSV has only columns of the initiatives schema (carto.fields), so `carto
validate`, `carto import` and the Publier page read it without a warning about unknown columns:
the exact sentence is the description's source and is written to the review file, with the
confidence score, which the importer has no column for.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz

from carto.exports import neutralise
from carto.extract.candidates import CANDIDATE_COLUMNS, Candidate
from carto.text import cell_text, fold_key

# Columns of the review file: the importable ones, then what an editor judges a candidate by.
REVIEW_COLUMNS: tuple[str, ...] = (
    *CANDIDATE_COLUMNS,
    "phrase_source",
    "confiance",
    "theme_incertain",
    "lieu_ecrit",
    "remarques",
)
# Two names are « similar » at this token-set ratio (0-100) of their folded words.
SIMILAR_NAME = 80


def candidates_csv(candidates: Iterable[Candidate | Mapping[str, Any]]) -> str:
    """The importable CSV (comma-separated, UTF-8): one row per candidate."""
    buffer = io.StringIO()
    rows = [c.row() if isinstance(c, Candidate) else c for c in candidates]
    # The id column only when a row updates a published initiative (see onto_published).
    columns = (["id"] if any(cell_text(r.get("id", "")) for r in rows) else []) + list(
        CANDIDATE_COLUMNS
    )
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: neutralise(cell_text(row.get(c, ""))) for c in columns})
    return buffer.getvalue()


def review_csv(candidates: Iterable[Candidate]) -> str:
    """Every candidate with its source sentence, confidence and remarks (not for import)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(REVIEW_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for candidate in candidates:
        writer.writerow({c: neutralise(v) for c, v in review_row(candidate).items()})
    return buffer.getvalue()


def review_row(candidate: Candidate) -> dict[str, str]:
    return {
        **candidate.row(),
        "phrase_source": candidate.phrase,
        "confiance": f"{candidate.confiance:.2f}",
        "theme_incertain": "oui" if candidate.theme_incertain else "non",
        "lieu_ecrit": candidate.lieu_ecrit,
        "remarques": " ; ".join(candidate.remarques),
    }


def already_published(
    rows: Sequence[Mapping[str, Any]], published: Iterable[Mapping[str, Any]]
) -> list[str]:
    """For each candidate row, the name of a published initiative of the same commune whose
    name is similar (« Indelab » and « Indelab : visières imprimées en 3D »), else ""."""
    by_commune: dict[str, list[str]] = {}
    for row in published:
        commune = cell_text(row.get("code_insee")) or fold_key(cell_text(row.get("commune")))
        by_commune.setdefault(commune, []).append(cell_text(row.get("nom")))
    found: list[str] = []
    for row in rows:
        commune = cell_text(row.get("code_insee")) or fold_key(cell_text(row.get("commune")))
        name = fold_key(cell_text(row.get("nom")))
        best, best_score = "", 0.0
        for other in by_commune.get(commune, []):
            score = _similarity(name, other) if name else 0.0
            if score >= SIMILAR_NAME and score > best_score:
                best, best_score = other, score
        found.append(best)
    return found


def _similarity(name: str, other: str) -> float:
    """0-100: the words of one name within the other (« Indelab » in « Indelab : visières… »),
    or the name close to the other's head before « : » (« TERREOS » ~ « Tereos : … »)."""
    head = fold_key(other.split(":", 1)[0])
    return max(fuzz.token_set_ratio(name, fold_key(other)), fuzz.ratio(name, head))


def onto_published(row: Mapping[str, Any], published: Mapping[str, Any]) -> dict[str, str]:
    """A candidate that is an initiative already on the map, made into an update of it: the
    published id and values (so that a merge import updates it instead of adding a duplicate,
    and what editors wrote by hand stays), completed by what the communiqué gives that the
    published initiative lacks (a site, an e-mail, a phone...)."""
    merged = {c: cell_text(published.get(c, "")) for c in CANDIDATE_COLUMNS}
    for column in CANDIDATE_COLUMNS:
        if not merged[column].strip():
            merged[column] = cell_text(row.get(column, ""))
    merged["id"] = cell_text(published.get("id", ""))
    return merged


def published_by_name(
    rows: Sequence[Mapping[str, Any]], published: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any] | None]:
    """For each candidate row, the published row `already_published` names, or None."""
    names = already_published(rows, published)
    out: list[Mapping[str, Any] | None] = []
    for row, name in zip(rows, names, strict=True):
        commune = cell_text(row.get("code_insee")) or fold_key(cell_text(row.get("commune")))
        match = next(
            (
                p
                for p in published
                if name
                and cell_text(p.get("nom")) == name
                and (cell_text(p.get("code_insee")) or fold_key(cell_text(p.get("commune"))))
                == commune
            ),
            None,
        )
        out.append(match)
    return out
