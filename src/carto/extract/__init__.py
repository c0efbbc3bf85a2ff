"""Communiqués (PDF, HTML, Word, OpenDocument, text) turned into candidate initiatives.

- documents: read a file into clean text blocks (page furniture dropped);
- places: communes, sectors, intercommunalités and the département named in a sentence;
- candidates: the blocks split into candidate initiatives (theme, place, contacts, source);
- output: candidates as an importable CSV, and the « déjà sur la carte ? » check.
"""

from __future__ import annotations

from carto.extract.candidates import CANDIDATE_COLUMNS, Candidate, Extraction, extract_candidates
from carto.extract.documents import Document, DocumentError, read_document, read_path

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
