"""Commune names of the whole of France, by département: to tell where a name is when it is not
one of the gazetteer's own département (« Lille est dans le Nord (59) »).

The shipped files (src/carto/data/france/) hold only folded names and département codes; the
build (`carto gazetteer build`, build_france_names) writes them from the registry package.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from carto.errors import GazetteerError
from carto.gazetteer.lookups import DATA_DIR
from carto.gazetteer.names import normalize_name, similarity

FRANCE_DIR = DATA_DIR / "france"
FRANCE_NAMES_FILE = "noms-communes.csv"
FRANCE_DEPARTEMENTS_FILE = "departements.csv"
# Lowest similarity at which a name elsewhere is worth mentioning for a misspelt commune.
MIN_ELSEWHERE_SIMILARITY = 0.85
_TYPES = ("commune-actuelle", "commune-deleguee", "commune-associee")
# « dans le Nord », « dans la Somme », « dans l'Ain », « dans les Yvelines » (INSEE typeLiaison).
_ARTICLES = {2: "dans le ", 3: "dans la ", 4: "dans les ", 5: "dans l'"}
_PLACE_OVERRIDES = {
    "984": "dans les Terres australes et antarctiques françaises",
    "986": "à Wallis-et-Futuna",
    "987": "en Polynésie française",
    "988": "en Nouvelle-Calédonie",
    "989": "sur l'Île de Clipperton",
}
_LOWER_WORDS = frozenset({"de", "du", "des", "d", "en", "sur", "sous", "lez", "les", "et", "aux"})


@dataclass(frozen=True)
class Departement:
    code: str
    nom: str
    dans: str  # « dans le Nord », « en Seine-et-Marne », « à Paris »

    @property
    def label(self) -> str:
        """« Nord (59) »."""
        return f"{self.nom} ({self.code})"


@dataclass(frozen=True)
class NameElsewhere:
    """A commune name of other départements, as folded in the file, and those départements."""

    key: str
    departements: tuple[Departement, ...]
    score: float = 1.0

    @property
    def display(self) -> str:
        """The folded name made readable: « Lille », « Boulogne sur Mer »."""
        parts = self.key.split()
        return " ".join(
            w if i and w in _LOWER_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(parts)
        )

    def sentence(self, name: str | None = None) -> str:
        """« Lille est dans le Nord (59) » ; several: « … est dans le Nord (59) et dans … »."""
        shown = self.departements[:3]
        places = [f"{d.dans} ({d.code})" for d in shown]
        more = len(self.departements) - len(shown)
        where = ", ".join(places[:-1]) + (" et " if len(places) > 1 else "") + places[-1]
        if more:
            where += f" (et {more} autre(s) département(s))"
        return f"{name or self.display} est {where}" if places else ""


class FranceNames:
    """Folded commune names of France -> their départements (largest commune's name first)."""

    def __init__(self, names: dict[str, tuple[str, ...]], departements: dict[str, Departement]):
        self._names = names
        self._keys = list(names)
        self._departements = departements

    @classmethod
    def from_dir(cls, directory: Path = FRANCE_DIR) -> FranceNames:
        try:
            with (directory / FRANCE_DEPARTEMENTS_FILE).open(encoding="utf-8", newline="") as f:
                departements = {
                    row["code"]: Departement(row["code"], row["nom"], row["dans"])
                    for row in csv.DictReader(f)
                }
            with (directory / FRANCE_NAMES_FILE).open(encoding="utf-8", newline="") as f:
                names = {
                    row["nom_normalise"]: tuple(row["departements"].split())
                    for row in csv.DictReader(f)
                }
        except (OSError, KeyError) as exc:
            raise GazetteerError(
                f"Liste nationale des communes illisible dans « {directory} » : lancez "
                f"`carto gazetteer build --departement 62`. ({exc})",
                public="la liste nationale des communes est absente ou illisible sur le serveur. "
                "L'erreur est enregistrée dans le journal du serveur pour l'exploitant.",
            ) from exc
        return cls(names, departements)

    def departement(self, code: str) -> Departement | None:
        return self._departements.get(code)

    def _entry(self, key: str, score: float, exclude: str) -> NameElsewhere | None:
        deps = tuple(
            self._departements.get(code) or Departement(code, code, f"dans le {code}")
            for code in self._names.get(key, ())
            if code != exclude
        )
        return NameElsewhere(key, deps, score) if deps else None

    def exact(self, text: str, *, exclude: str = "") -> NameElsewhere | None:
        """Where a name is, outside the département `exclude`; None when nowhere else."""
        return self._entry(normalize_name(text), 1.0, exclude)

    def similar(
        self,
        text: str,
        *,
        exclude: str = "",
        min_score: float = MIN_ELSEWHERE_SIMILARITY,
        limit: int = 2,
    ) -> tuple[NameElsewhere, ...]:
        """Names elsewhere that the text may be a misspelling of, closest (then largest) first."""
        key = normalize_name(text)
        if not key:
            return ()
        rough = process.extract(
            key, self._keys, scorer=fuzz.ratio, limit=50, score_cutoff=min_score * 90
        )
        scored = sorted(
            ((round(similarity(key, choice), 3), index, choice) for choice, _, index in rough),
            key=lambda item: (-item[0], item[1]),
        )
        found: list[NameElsewhere] = []
        for score, _, choice in scored:
            if score < min_score:
                break
            entry = self._entry(choice, score, exclude)
            if entry is not None:
                found.append(entry)
            if len(found) >= limit:
                break
        return tuple(found)


@functools.lru_cache(maxsize=2)
def load_france_names(directory: Path = FRANCE_DIR) -> FranceNames:
    """The shipped national list (cached)."""
    return FranceNames.from_dir(directory)


def build_france_names(decoupage_dir: Path, *, out_dir: Path = FRANCE_DIR) -> tuple[Path, Path]:
    """Write the national name list from `@etalab/decoupage-administratif` (its `data` folder).

    One row per folded name, its départements sorted; rows ordered by the population of the
    largest commune of that name, so that the first of equally close names is the best known.
    """
    from carto.gazetteer.build import load_json  # build-only: not loaded by the running app

    communes = [e for e in load_json(decoupage_dir / "communes.json") if isinstance(e, dict)]
    departements = [
        e for e in load_json(decoupage_dir / "departements.json") if isinstance(e, dict)
    ]
    by_key: dict[str, set[str]] = {}
    largest: dict[str, int] = {}
    for entry in communes:
        if entry.get("type") not in _TYPES or not entry.get("departement"):
            continue
        key = normalize_name(str(entry.get("nom") or ""))
        if not key:
            continue
        by_key.setdefault(key, set()).add(str(entry["departement"]))
        largest[key] = max(largest.get(key, 0), int(entry.get("population") or 0))
    out_dir.mkdir(parents=True, exist_ok=True)
    names_path = out_dir / FRANCE_NAMES_FILE
    with names_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("nom_normalise", "departements"))
        for key in sorted(by_key, key=lambda k: (-largest[k], k)):
            writer.writerow((key, " ".join(sorted(by_key[key]))))
    deps_path = out_dir / FRANCE_DEPARTEMENTS_FILE
    with deps_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("code", "nom", "dans"))
        for entry in sorted(departements, key=lambda e: str(e.get("code"))):
            code, nom = str(entry["code"]), str(entry["nom"])
            writer.writerow((code, nom, _place_phrase(code, nom, entry.get("typeLiaison"))))
    return names_path, deps_path


def _place_phrase(code: str, nom: str, liaison: object) -> str:
    """« dans le Nord », « en Seine-et-Marne », « à Paris »: how to say « in » this département."""
    if code in _PLACE_OVERRIDES:
        return _PLACE_OVERRIDES[code]
    article = _ARTICLES.get(liaison if isinstance(liaison, int) else -1)
    if article:
        return article + nom
    if "-et-" in nom and not nom.startswith("Saint"):
        return f"en {nom}"
    return f"à {nom}"
