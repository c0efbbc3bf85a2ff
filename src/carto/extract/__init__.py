"""Communiqués (PDF, HTML, Word, OpenDocument, text) turned into candidate initiatives.

- documents: read a file into clean text blocks (page furniture dropped), every read bounded;
- worker: the same reading in a lean process with CPU, memory and wall-clock limits;
- places: communes, sectors, intercommunalités and the département named in a sentence;
- candidates: the blocks split into candidate initiatives (theme, place, contacts, source);
- output: candidates as an importable CSV, and the « déjà sur la carte ? » check.

The candidates (and the gazetteer, pandas) load only when asked for: the worker process imports
carto.extract.documents alone.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from carto.extract.documents import Document, DocumentError, read_document, read_path

if TYPE_CHECKING:
    from carto.extract.candidates import (
        CANDIDATE_COLUMNS,
        Candidate,
        Extraction,
        extract_candidates,
    )

__all__ = [
    "CANDIDATE_COLUMNS",
    "Candidate",
    "Document",
    "DocumentError",
    "Extraction",
    "extract_candidates",
    "read_document",
    "read_path",
]

_LAZY = {"CANDIDATE_COLUMNS", "Candidate", "Extraction", "extract_candidates"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module("carto.extract.candidates"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
