"""Synthetic initiatives over the real communes of a département, and stores holding them.

Rows look like an editor's spreadsheet: names of 20-80 characters, accented descriptions of
100-600 characters, some contacts, the five categories, ~10 % sector scope, most rows placed by
commune name (some with an INSEE code, some with explicit coordinates near the commune).
Files live in .cache/bench of this checkout (ignored by git) and are rebuilt only when missing.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from carto.gazetteer import Gazetteer
from carto.intake.pipeline import ALL_COLUMNS, LoadedTable, prepare
from carto.intake.reading import RawTable, read_table
from carto.models import CATEGORIES, COLUMNS
from carto.publishing.storage import Store

CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "bench"
# Bump when the generator changes, so cached files are rebuilt.
GENERATOR_VERSION = 1
SEED = 20200406

SECTOR_SHARE = 0.10
INSEE_SHARE = 0.4
POINT_SHARE = 0.1
CONTACT_SHARE = 0.35

_ACTIVITIES = (
    "Fabrication de visières",
    "Atelier couture de masques",
    "Épicerie solidaire",
    "Livraison de courses aux aînés",
    "Collecte de denrées",
    "Repas offerts aux soignants",
    "Appels de convivialité",
    "Garde d'enfants des soignants",
    "Douches pour les routiers",
    "Prêt de véhicules",
    "Distribution de gel hydro-alcoolique",
    "Soutien scolaire à distance",
    "Réseau d'entraide du quartier",
    "Hébergement d'urgence",
    "Plats à emporter pour les chauffeurs",
)
_ACTORS = (
    "l'association Les Voisins Solidaires",
    "le comité des fêtes",
    "la boulangerie Lefèbvre",
    "le lycée professionnel",
    "les bénévoles de la Croix-Rouge",
    "la maison de quartier",
    "le club de football",
    "une entreprise de plasturgie",
    "le CCAS",
    "l'Amicale laïque",
    "la paroisse Saint-Éloi",
    "des étudiantes infirmières",
)
_SENTENCES = (
    "Les bénévoles se relaient chaque jour pour répondre aux demandes des habitants.",
    "L'initiative est née d'un appel lancé sur les réseaux sociaux au début du confinement.",
    "Les personnes âgées isolées peuvent s'inscrire par téléphone auprès de la mairie.",
    "Près de deux cents visières ont déjà été remises à l'hôpital et aux Ehpad voisins.",
    "Le matériel a été prêté par un fablab et par des particuliers du secteur.",
    "Les routiers trouvent sur l'aire un accès aux sanitaires et un café chaud.",
    "Les dons sont triés puis répartis entre les familles signalées par les travailleurs sociaux.",
    "Une permanence téléphonique est assurée du lundi au samedi, de 9 h à 18 h.",
    "Les repas sont préparés par un restaurateur dont l'établissement est fermé.",
    "Chacun respecte les gestes barrières : masque, gel et distance d'un mètre.",
    "La préfecture salue cet élan de générosité qui a essaimé dans tout le département.",
    "Des élèves de l'école élémentaire ont dessiné des cartes pour les résidents.",
    "Le dispositif pourrait être prolongé après la levée des restrictions.",
    "Un numéro vert oriente les bénéficiaires vers l'association la plus proche.",
)
_ZONES = (
    "Calaisis",
    "Audomarois",
    "Boulonnais",
    "Artois",
    "Bassin minier",
    "Ternois",
    "Montreuillois",
)
_SCOPES = ("secteur", "arrondissement", "departement")


def _text_of_length(rng: random.Random, parts: tuple[str, ...], low: int, high: int) -> str:
    target = rng.randint(low, high)
    text = rng.choice(parts)
    while len(text) < target:
        text = f"{text} {rng.choice(parts)}"
    if len(text) > high:
        text = text[:high].rstrip()
    return text


def _name(rng: random.Random, commune: str) -> str:
    name = f"{rng.choice(_ACTIVITIES)} — {commune}"
    if len(name) < 20 or rng.random() < 0.5:
        name = f"{name}, par {rng.choice(_ACTORS)}"
    return name[:80].rstrip(" ,—")


def generate_rows(gazetteer: Gazetteer, size: int, *, seed: int = SEED) -> list[dict[str, str]]:
    """`size` spreadsheet rows (all text), communes drawn with probability ~ population."""
    rng = random.Random(seed * 1_000_003 + size)
    communes = list(gazetteer.communes)
    weights = [max(c.population, 1) for c in communes]
    picks = rng.choices(communes, weights=weights, k=size)
    slugs = [c.slug for c in CATEGORIES]
    rows = []
    for i, commune in enumerate(picks):
        row = dict.fromkeys(COLUMNS, "")
        row["id"] = f"bench-{size}-{i:06d}"
        row["nom"] = _name(rng, commune.nom)
        row["categorie"] = slugs[i % len(slugs)] if i < len(slugs) else rng.choice(slugs)
        row["description"] = _text_of_length(rng, _SENTENCES, 100, 600)
        row["commune"] = commune.nom
        if rng.random() < INSEE_SHARE:
            row["code_insee"] = commune.code_insee
        if rng.random() < SECTOR_SHARE:
            row["portee"] = rng.choice(_SCOPES)
            row["zone"] = rng.choice(_ZONES)
        else:
            row["portee"] = "commune"
        if rng.random() < POINT_SHARE:
            # About 100 m from the commune's point: inside the commune for all but the tiniest.
            row["latitude"] = f"{commune.point.latitude + rng.uniform(-0.0008, 0.0008):.6f}"
            row["longitude"] = f"{commune.point.longitude + rng.uniform(-0.0012, 0.0012):.6f}"
        if rng.random() < CONTACT_SHARE:
            row["site_web"] = f"https://www.entraide-{i}.example.fr/"
            row["email"] = f"contact{i}@entraide.example.fr"
            row["telephone"] = f"03 21 {rng.randint(10, 99)} {rng.randint(10, 99)} {i % 100:02d}"
        row["date_publication"] = "2020-04-06"
        row["source"] = "Jeu de données synthétique du banc d'essai"
        rows.append(row)
    return rows


def csv_path(size: int) -> Path:
    return CACHE_DIR / f"initiatives-{size}-v{GENERATOR_VERSION}.csv"


def write_csv(gazetteer: Gazetteer, size: int) -> Path:
    """The CSV of `size` rows (cached)."""
    path = csv_path(size)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(generate_rows(gazetteer, size))
    tmp.replace(path)
    return path


def read_csv(path: Path) -> RawTable:
    """The CSV read by the app's reader, without the upload limits (50k rows are ~30 MB)."""
    return read_table(path, max_bytes=1 << 30, max_rows=1_000_000)


@dataclass(frozen=True)
class BenchDataset:
    """One size: its CSV, the SQLite store holding it as version 1, and the geocoded table."""

    size: int
    csv: Path
    database_url: str
    table: pd.DataFrame

    @property
    def placed(self) -> pd.DataFrame:
        return self.table[self.table["latitude"].notna() & self.table["longitude"].notna()]


def prepare_dataset(gazetteer: Gazetteer, size: int) -> BenchDataset:
    """CSV + store for `size` rows, built through the app's own pipeline (cached on disk)."""
    path = write_csv(gazetteer, size)
    db_file = CACHE_DIR / f"store-{size}-v{GENERATOR_VERSION}.sqlite"
    url = f"sqlite:///{db_file}"
    store = Store.open(url)
    try:
        if store.current() is None:
            loaded: LoadedTable = prepare(read_csv(path), gazetteer)
            store.bootstrap_from(loaded.clean_rows()[list(ALL_COLUMNS)], note="banc d'essai")
        table = store.load()
    finally:
        store.close()
    return BenchDataset(size=size, csv=path, database_url=url, table=table)


SEED_CSV = Path(__file__).resolve().parents[1] / "data" / "initiatives.csv"
SEED_SIZE = 0  # the key of the seed in the bench's tables ("graine" in the report)


def prepare_seed(gazetteer: Gazetteer, csv_file: Path = SEED_CSV) -> BenchDataset:
    """The seed the app serves by default (data/initiatives.csv), in a store like the others.

    The store's name carries a digest of the file, so editing the seed rebuilds it.
    """
    import hashlib

    digest = hashlib.sha256(csv_file.read_bytes()).hexdigest()[:10]
    db_file = CACHE_DIR / f"store-seed-{digest}.sqlite"
    db_file.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{db_file}"
    store = Store.open(url)
    try:
        if store.current() is None:
            loaded: LoadedTable = prepare(read_csv(csv_file), gazetteer)
            store.bootstrap_from(loaded.clean_rows()[list(ALL_COLUMNS)], note="banc d'essai")
        table = store.load()
    finally:
        store.close()
    return BenchDataset(size=SEED_SIZE, csv=csv_file, database_url=url, table=table)
