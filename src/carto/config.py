"""Runtime settings: every CARTO_* variable is read here and only here (table in README.md)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from carto.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The folder holding app.py and data/: the checkout for an editable install (`make`); for a
# package installed into another venv (a service), the working directory the app runs from.
APP_ROOT = PROJECT_ROOT if (PROJECT_ROOT / "app.py").is_file() else Path.cwd()
TILES_CHOICES = ("osm", "none")
ONLINE_GEOCODERS = ("ban", "nominatim")
# Where `make run` keeps what the app writes, when CARTO_STATE_DIR is not set (git-ignored).
DEFAULT_STATE_DIR = APP_ROOT / "state"
DEFAULT_MARKERS_MAX_MB = 64
# An initiative not checked for this many weeks is listed « à vérifier » (carto.timeline).
DEFAULT_REVIEW_WEEKS = 8
# At most ten years between checks: past that a date computation would leave the calendar.
MAX_REVIEW_WEEKS = 520
# How long « Rester connecté sur cet appareil » keeps an editor signed in (0: not offered).
DEFAULT_EDITOR_COOKIE_DAYS = 7
# Who may show the app in a frame (Content-Security-Policy: frame-ancestors): only itself.
DEFAULT_FRAME_ANCESTORS = "'self'"
_FRAME_SOURCE = re.compile(
    r"'self'|'none'|\*|https?:|https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?"
)


@dataclass(frozen=True)
class Settings:
    data_path: Path
    departement: str
    tiles: str
    database_url: str
    # Everything the running app writes lives under this directory, never in the code tree.
    state_dir: Path
    # "" when offline (the default), else one of ONLINE_GEOCODERS.
    online_geocoder: str = ""
    markers_max_bytes: int = DEFAULT_MARKERS_MAX_MB * 2**20
    # The static public site (carto.site): rebuilt there after every publish and rollback when
    # set; its public address, for the <iframe> snippet given to editors.
    site_dir: Path | None = None
    site_url: str = ""
    review_weeks: int = DEFAULT_REVIEW_WEEKS
    editor_cookie_days: int = DEFAULT_EDITOR_COOKIE_DAYS
    frame_ancestors: str = DEFAULT_FRAME_ANCESTORS
    # A public-only instance (CARTO_PUBLIC_ONLY=1): the map, without the editors' pages.
    public_only: bool = False

    def store_options(self) -> dict[str, str]:
        """Store.open's arguments: the database, and the département that new ids start with."""
        return {"url": self.database_url, "id_prefix": self.departement.lower()}

    @property
    def markers_dir(self) -> Path:
        """Marker data files handed to browsers (one sub-folder per process)."""
        return self.state_dir / "markers"

    @property
    def geocoding_cache_dir(self) -> Path:
        """Persistent cache of the optional online geocoder."""
        return self.state_dir / "cache" / "geocoding"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        tiles = env.get("CARTO_TILES", "none").strip().lower() or "none"
        if tiles not in TILES_CHOICES:
            raise ConfigError(
                f"CARTO_TILES vaut « {tiles} » : valeurs possibles {', '.join(TILES_CHOICES)}."
            )
        state_raw = (env.get("CARTO_STATE_DIR") or "").strip()
        state_dir = Path(state_raw).expanduser() if state_raw else DEFAULT_STATE_DIR
        if not state_dir.is_absolute():
            state_dir = Path.cwd() / state_dir
        data_path = Path(env.get("CARTO_DATA") or APP_ROOT / "data" / "initiatives.csv")
        departement = (env.get("CARTO_DEPARTEMENT") or "62").strip().upper()
        # Without CARTO_DATABASE_URL, each data file gets its own SQLite store in the state
        # directory, so that pointing CARTO_DATA at another file shows that file, not a store
        # filled earlier.
        if env.get("CARTO_DATA"):
            tag = hashlib.sha256(str(data_path.resolve()).encode()).hexdigest()[:10]
            db_file = state_dir / f"carto-{tag}.sqlite"
        else:
            db_file = state_dir / "carto.sqlite"
        online = (env.get("CARTO_ONLINE_GEOCODER") or "").strip().lower()
        if online in ("none", "off", "0"):
            online = ""
        if online and online not in ONLINE_GEOCODERS:
            raise ConfigError(
                f"CARTO_ONLINE_GEOCODER vaut « {online} » : valeurs possibles "
                f"{', '.join(ONLINE_GEOCODERS)} (ou vide pour rester hors ligne)."
            )
        markers_mb = (env.get("CARTO_MARKERS_MAX_MB") or "").strip()
        try:
            markers_max = int(markers_mb) if markers_mb else DEFAULT_MARKERS_MAX_MB
        except ValueError:
            markers_max = 0
        if markers_max < 1:
            raise ConfigError(
                f"CARTO_MARKERS_MAX_MB vaut « {markers_mb} » : un nombre entier de Mo, au moins 1."
            )
        weeks_raw = (env.get("CARTO_REVIEW_WEEKS") or "").strip()
        try:
            review_weeks = int(weeks_raw) if weeks_raw else DEFAULT_REVIEW_WEEKS
        except ValueError:
            review_weeks = 0
        if not 1 <= review_weeks <= MAX_REVIEW_WEEKS:
            raise ConfigError(
                f"CARTO_REVIEW_WEEKS vaut « {weeks_raw} » : un nombre entier de semaines, de 1 "
                f"à {MAX_REVIEW_WEEKS}."
            )
        days_raw = (env.get("CARTO_EDITOR_COOKIE_DAYS") or "").strip()
        try:
            cookie_days = int(days_raw) if days_raw else DEFAULT_EDITOR_COOKIE_DAYS
        except ValueError:
            cookie_days = -1
        if not 0 <= cookie_days <= 90:
            raise ConfigError(
                f"CARTO_EDITOR_COOKIE_DAYS vaut « {days_raw} » : un nombre entier de jours, de 0 "
                "(les éditeurs ne restent pas connectés) à 90."
            )
        frame_ancestors = " ".join((env.get("CARTO_FRAME_ANCESTORS") or "").split())
        frame_ancestors = frame_ancestors or DEFAULT_FRAME_ANCESTORS
        for source in frame_ancestors.split():
            if not _FRAME_SOURCE.fullmatch(source):
                raise ConfigError(
                    f"CARTO_FRAME_ANCESTORS : « {source} » n'est pas une source frame-ancestors "
                    "reconnue. Valeurs possibles, séparées par des espaces : 'self', 'none', * "
                    "ou des origines (par ex. 'self' https://www.pas-de-calais.gouv.fr)."
                )
        site_raw = (env.get("CARTO_SITE_DIR") or "").strip()
        site_dir = Path(site_raw).expanduser() if site_raw else None
        if site_dir is not None and not site_dir.is_absolute():
            site_dir = Path.cwd() / site_dir
        return cls(
            data_path=data_path,
            departement=departement,
            tiles=tiles,
            database_url=env.get("CARTO_DATABASE_URL") or f"sqlite:///{db_file}",
            state_dir=state_dir,
            online_geocoder=online,
            markers_max_bytes=markers_max * 2**20,
            site_dir=site_dir,
            site_url=(env.get("CARTO_SITE_URL") or "").strip(),
            review_weeks=review_weeks,
            editor_cookie_days=cookie_days,
            frame_ancestors=frame_ancestors,
            public_only=read_flag(env, "CARTO_PUBLIC_ONLY"),
        )


def read_flag(env: Mapping[str, str], name: str) -> bool:
    """A yes/no variable: 1/oui/true/yes or 0/non/false/no (unset: no); ConfigError else."""
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "non", "false", "no"):
        return False
    if raw in ("1", "oui", "true", "yes"):
        return True
    raise ConfigError(f"{name} vaut « {raw} » : 1 (oui) ou 0 (non).")
