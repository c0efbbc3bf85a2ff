"""Runtime settings read from the environment (documented in README.md)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from carto.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TILES_CHOICES = ("osm", "none")


@dataclass(frozen=True)
class Settings:
    data_path: Path
    departement: str
    tiles: str
    database_url: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        tiles = env.get("CARTO_TILES", "osm").strip().lower() or "osm"
        if tiles not in TILES_CHOICES:
            raise ConfigError(
                f"CARTO_TILES vaut « {tiles} » : valeurs possibles {', '.join(TILES_CHOICES)}."
            )
        data_path = Path(env.get("CARTO_DATA") or PROJECT_ROOT / "data" / "initiatives.csv")
        departement = (env.get("CARTO_DEPARTEMENT") or "62").strip().upper()
        # Without CARTO_DATABASE_URL, each data file gets its own SQLite store under data/, so
        # that pointing CARTO_DATA at another file shows that file, not a store filled earlier.
        if env.get("CARTO_DATA"):
            tag = hashlib.sha256(str(data_path.resolve()).encode()).hexdigest()[:10]
            db_file = PROJECT_ROOT / "data" / f"carto-{tag}.sqlite"
        else:
            db_file = PROJECT_ROOT / "data" / "carto.sqlite"
        default_db = f"sqlite:///{db_file}"
        return cls(
            data_path=data_path,
            departement=departement,
            tiles=tiles,
            database_url=env.get("CARTO_DATABASE_URL") or default_db,
        )
