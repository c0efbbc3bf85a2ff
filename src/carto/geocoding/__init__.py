"""Geocoding: a commune and a point for each row, offline first, online addresses optionally.

The offline geocoder reads names, INSEE or postal codes and explicit coordinates against the
gazetteer of one département. The online geocoder (geopy: BAN or Nominatim) is only built on
request, sits behind one rate limiter and a persistent cache, and is never used by tests.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import sqlite3
import time
from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from carto.config import PROJECT_ROOT
from carto.errors import ConfigError, GeocodingError
from carto.gazetteer import MIN_TYPO_SIMILARITY, Gazetteer, normalize_name, similarity
from carto.models import GEOCODED_COLUMNS, Candidate, Commune, GeocodeStatus, GeoPoint, Issue

# A best fuzzy candidate is taken only with this score and this lead over the runner-up.
MIN_FUZZY_SCORE = MIN_TYPO_SIMILARITY
MIN_FUZZY_MARGIN = 0.05
# With a code that already narrows the choice, a name this close confirms a candidate.
MIN_CODE_NAME_SCORE = 0.8
# A declared commune is kept for explicit coordinates this close to its (simplified) outline.
DECLARED_COMMUNE_TOLERANCE_KM = 1.0
SUGGESTION_MIN_SCORE = 0.5
# Issue.code of a point outside the département that the editor has not confirmed.
OUTSIDE_DEPARTEMENT = "hors_departement"
OUTSIDE_HINT = (
    "Corrigez la latitude et la longitude, ou confirmez ce point hors du département "
    "s'il est juste."
)

_CODE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$", re.IGNORECASE)
_CODE_IN_TEXT = re.compile(r"(?<![\w])(\d{5}|2[AB]\d{3})(?![\w])", re.IGNORECASE)
_CEDEX = re.compile(r"\bcedex(?:\s*\d{1,2})?\b", re.IGNORECASE)


@dataclass(frozen=True)
class GeocodeResult:
    """Outcome of geocoding one row; `message` (French) explains failures and guesses.

    `column` names the input column the message is about (commune, code_insee, latitude).
    """

    commune: Commune | None
    point: GeoPoint | None
    status: GeocodeStatus
    score: float
    candidates: tuple[Candidate, ...] = ()
    message: str = ""
    column: str = "commune"
    code: str = ""  # Issue.code, e.g. OUTSIDE_DEPARTEMENT


class Geocoder(Protocol):
    """Anything that turns a row's place fields into a GeocodeResult."""

    @property
    def uses_address(self) -> bool:
        """Whether `adresse` can change the result (geocode_table memoises on it then)."""
        ...

    def geocode(
        self,
        *,
        commune: str | None = None,
        code_insee: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        adresse: str | None = None,
        outside_confirmed: bool = False,
    ) -> GeocodeResult:
        """`outside_confirmed`: the editor confirmed that the row's point lies outside the
        département; it is then kept, with a warning, instead of being an error."""
        ...


# --------------------------------------------------------------------------- offline


def _failed(
    message: str, *, column: str = "commune", candidates: tuple[Candidate, ...] = ()
) -> GeocodeResult:
    return GeocodeResult(None, None, "failed", 0.0, candidates, message, column)


def _resolved(
    commune: Commune,
    status: GeocodeStatus,
    score: float,
    *,
    candidates: tuple[Candidate, ...] = (),
    message: str = "",
    column: str = "commune",
) -> GeocodeResult:
    return GeocodeResult(commune, commune.point, status, score, candidates, message, column)


def _join(*parts: str) -> str:
    return " ; ".join(p for p in parts if p)


def _describe(candidates: tuple[Candidate, ...]) -> str:
    shown = [c for c in candidates if c.score >= 0.6][:3]
    return ", ".join(f"{c.commune.nom} ({round(c.score * 100)} %)" for c in shown)


class OfflineGeocoder:
    """Geocoder backed by the gazetteer only: no network, deterministic."""

    uses_address = False

    def __init__(
        self,
        gazetteer: Gazetteer,
        *,
        min_score: float = MIN_FUZZY_SCORE,
        min_margin: float = MIN_FUZZY_MARGIN,
    ) -> None:
        self.gazetteer = gazetteer
        self.min_score = min_score
        self.min_margin = min_margin
        self._memo: dict[tuple[str | None, str | None], GeocodeResult] = {}

    @property
    def departement(self) -> str:
        return self.gazetteer.departement

    def geocode(
        self,
        *,
        commune: str | None = None,
        code_insee: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        adresse: str | None = None,
        outside_confirmed: bool = False,
    ) -> GeocodeResult:
        """Resolve a row: explicit coordinates win, then codes, then the commune name.

        A point outside the département is an error unless `outside_confirmed`.
        """
        name, code = clean_text(commune), clean_text(code_insee)
        lat, lon = clean_number(latitude), clean_number(longitude)
        if lat is not None and lon is not None:
            return self._from_point(lat, lon, name, code, outside_confirmed=outside_confirmed)
        result = self._memoised(name, code)
        if (lat is None) != (lon is None):
            present, absent = (
                ("latitude", "longitude") if lon is None else ("longitude", "latitude")
            )
            note = f"{absent} manquante : {present} ignorée, point placé à la commune"
            result = replace(result, message=_join(result.message, note))
        return result

    def _memoised(self, name: str | None, code: str | None) -> GeocodeResult:
        key = (name, code)
        if key not in self._memo:
            self._memo[key] = self._from_text(name, code)
        return self._memo[key]

    # -- coordinates

    def _from_point(
        self,
        lat: float,
        lon: float,
        name: str | None,
        code: str | None,
        *,
        outside_confirmed: bool = False,
    ) -> GeocodeResult:
        gaz = self.gazetteer
        where = f"({lat:g}, {lon:g})"
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return _failed(
                f"coordonnées {where} impossibles : latitude entre -90 et 90, "
                "longitude entre -180 et 180",
                column="latitude",
            )
        if not gaz.contains(lat, lon):
            if gaz.contains(lon, lat):
                return _failed(
                    f"coordonnées {where} hors du département {gaz.departement} : "
                    "latitude et longitude semblent inversées",
                    column="latitude",
                )
            return self._outside(lat, lon, name, code, confirmed=outside_confirmed)
        containing = gaz.nearest_commune(lat, lon)
        declared = self._memoised(name, code) if (name or code) else None
        point = GeoPoint(lat, lon)
        if declared is None:
            return GeocodeResult(containing, point, "manual", 1.0)
        if declared.commune is None:
            given = name or code or ""
            return GeocodeResult(
                containing,
                point,
                "manual",
                1.0,
                message=(
                    f"commune « {given} » non reconnue ; les coordonnées {where} sont à "
                    f"{containing.nom} : {containing.nom} retenue"
                ),
                column="commune" if name else "code_insee",
            )
        if declared.commune == containing or (
            gaz.distance_to_commune_km(declared.commune, lat, lon) <= DECLARED_COMMUNE_TOLERANCE_KM
        ):
            # An exact reading's notes (former commune, code ignored) still matter.
            note = declared.message if declared.status == "exact" else ""
            return GeocodeResult(declared.commune, point, "manual", 1.0, message=note)
        return GeocodeResult(
            containing,
            point,
            "manual",
            1.0,
            message=(
                f"les coordonnées {where} sont à {containing.nom}, pas à "
                f"{declared.commune.nom} : {containing.nom} retenue"
            ),
            column="latitude",
        )

    def _outside(
        self, lat: float, lon: float, name: str | None, code: str | None, *, confirmed: bool
    ) -> GeocodeResult:
        """A point outside the département: an error, or kept when the editor confirmed it."""
        gaz = self.gazetteer
        where = f"({lat:g}, {lon:g})"
        nearest = gaz.nearest_commune(lat, lon)
        distance = gaz.distance_to_departement_km(lat, lon)
        far = f"{distance:.1f}".replace(".", ",") if distance < 10 else f"{distance:.0f}"
        outside = (
            f"coordonnées {where} hors du département {gaz.departement}, à {far} km de sa "
            f"limite (commune la plus proche : {nearest.nom})"
        )
        if not confirmed:
            return GeocodeResult(
                None, None, "failed", 0.0, (), outside, "latitude", OUTSIDE_DEPARTEMENT
            )
        declared = self._memoised(name, code) if (name or code) else None
        if declared is not None and declared.commune is not None:
            commune, note = declared.commune, f"{declared.commune.nom} retenue"
        elif declared is not None:
            given = name or code or ""
            commune, note = nearest, f"commune « {given} » non reconnue : {nearest.nom} retenue"
        else:
            commune, note = nearest, f"{nearest.nom} retenue"
        return GeocodeResult(
            commune,
            GeoPoint(lat, lon),
            "manual",
            1.0,
            message=f"{outside} ; point gardé sur confirmation, {note}",
            column="latitude",
        )

    # -- codes and names

    def _from_text(self, name: str | None, code: str | None) -> GeocodeResult:
        dep = self.gazetteer.departement
        notes: list[str] = []
        codes: list[tuple[str, str]] = []  # (column, code)
        if code is not None:
            if _CODE.match(code):
                codes.append(("code_insee", code.upper()))
            elif name is None:
                return _failed(
                    f"code INSEE « {code} » invalide : 5 caractères attendus (ex. 62041)",
                    column="code_insee",
                )
            else:
                notes.append(f"code INSEE « {code} » invalide, ignoré")
        if name is not None:
            for found in _CODE_IN_TEXT.findall(name):
                codes.append(("commune", found.upper()))
            name = _strip_codes(name, dep) or None

        by_code = self._communes_for_codes(codes)
        unknown = [c for column, c in codes if not self._communes_for_codes([(column, c)])]
        if unknown and by_code:
            notes.append(f"code « {unknown[0]} » inconnu dans le département {dep}, ignoré")
        if by_code:
            if name is None:
                by_code = self._communes_for_codes(codes, preferred_only=True)
            return self._with_codes(by_code, name, codes, notes)
        if codes and name is None:
            column, value = codes[0]
            return _failed(f"code « {value} » introuvable dans le département {dep}", column=column)
        if unknown:
            notes.append(f"code « {unknown[0]} » introuvable dans le département {dep}, ignoré")
        if name is None:
            return _failed("commune manquante : indiquez la commune ou son code INSEE")
        result = self._from_name(name)
        return replace(result, message=_join(result.message, *notes))

    def _communes_for_codes(
        self, codes: list[tuple[str, str]], *, preferred_only: bool = False
    ) -> tuple[Commune, ...]:
        """Communes the codes designate: read as INSEE codes first in the code_insee column,
        as postal codes first elsewhere; `preferred_only` drops the other reading when the
        preferred one finds something."""
        found: list[Commune] = []
        for column, value in codes:
            by_insee = self.gazetteer.by_insee(value)
            insee = (by_insee,) if by_insee is not None else ()
            postal = self.gazetteer.by_postcode(value)
            first, second = (insee, postal) if column == "code_insee" else (postal, insee)
            readings = first if (preferred_only and first) else first + second
            for commune in readings:
                if commune not in found:
                    found.append(commune)
        return tuple(found)

    def _with_codes(
        self,
        communes: tuple[Commune, ...],
        name: str | None,
        codes: list[tuple[str, str]],
        notes: list[str],
    ) -> GeocodeResult:
        column, value = codes[0]
        all_candidates = tuple(Candidate(c, round(1 / len(communes), 3)) for c in communes)
        if name is None:
            if len(communes) == 1:
                former = [v for _, v in codes if self._is_former_code(v, communes[0])]
                if former:
                    notes.insert(0, _merged_note(f"code {former[0]}", communes[0]))
                return _resolved(communes[0], "exact", 1.0, message=_join(*notes), column=column)
            names = ", ".join(c.nom for c in communes)
            return _resolved(
                communes[0],
                "fuzzy",
                round(1 / len(communes), 3),
                candidates=all_candidates,
                message=_join(
                    f"le code « {value} » couvre plusieurs communes ({names}) : "
                    f"{communes[0].nom} retenue, précisez la commune",
                    *notes,
                ),
                column=column,
            )
        match = self.gazetteer.lookup(name)
        agreed = [c for c in match.communes if c in communes]
        if agreed:
            status: GeocodeStatus = "exact" if match.score == 1.0 else "fuzzy"
            if match.kind == "ancien_nom":
                notes.insert(0, self._former_name_note(name, agreed[0]))
            return _resolved(agreed[0], status, match.score, message=_join(*notes))
        key = normalize_name(name)
        scored = sorted(
            (Candidate(c, round(self._name_similarity(key, c), 3)) for c in communes),
            key=lambda cand: -cand.score,
        )
        if scored[0].score >= MIN_CODE_NAME_SCORE:
            return _resolved(
                scored[0].commune,
                "fuzzy",
                scored[0].score,
                candidates=tuple(scored),
                message=_join(f"« {name} » lu comme « {scored[0].commune.nom} »", *notes),
            )
        by_name = match.communes or tuple(
            c.commune for c in self.gazetteer.suggest(name, limit=3) if c.score >= MIN_FUZZY_SCORE
        )
        names = ", ".join(c.nom for c in communes)
        message = f"le code « {value} » ({names}) ne correspond pas à la commune « {name} »"
        if by_name:
            message += f", qui serait {by_name[0].nom} ({by_name[0].code_insee})"
        candidates = tuple(scored) + tuple(Candidate(c, match.score or 0.9) for c in by_name)
        return _failed(message, column=column, candidates=candidates)

    def _is_former_code(self, code: str, commune: Commune) -> bool:
        gaz = self.gazetteer
        return gaz.is_former_code(code) and gaz.by_insee(code) == commune

    def _former_name_note(self, name: str, commune: Commune) -> str:
        key = normalize_name(name)
        official = next(
            (
                n
                for n in self.gazetteer.anciens_noms(commune.code_insee)
                if normalize_name(n) == key
            ),
            name,
        )
        return _merged_note(official, commune)

    def _name_similarity(self, key: str, commune: Commune) -> float:
        names = (commune.nom, *self.gazetteer.anciens_noms(commune.code_insee))
        return max(similarity(key, normalize_name(n)) for n in names)

    def _from_name(self, name: str) -> GeocodeResult:
        dep = self.gazetteer.departement
        match = self.gazetteer.lookup(name)
        if len(match.communes) > 1:
            names = ", ".join(f"{c.nom} ({c.code_insee})" for c in match.communes)
            return _failed(
                f"plusieurs communes s'appellent « {name} » dans le département {dep} "
                f"({names}) : précisez le code INSEE",
                candidates=tuple(Candidate(c, match.score) for c in match.communes),
            )
        if match.communes:
            commune = match.communes[0]
            if match.kind == "ancien_nom":
                return _resolved(
                    commune, "exact", 1.0, message=self._former_name_note(name, commune)
                )
            if match.score == 1.0:
                return _resolved(commune, "exact", 1.0)
            return _resolved(
                commune,
                "fuzzy",
                match.score,
                candidates=(Candidate(commune, match.score),),
                message=f"« {name} » lu comme « {commune.nom} »",
            )
        candidates = self.gazetteer.suggest(name, limit=5)
        elsewhere = self.gazetteer.elsewhere(name)
        if candidates and not elsewhere:
            best = candidates[0]
            runner_up = candidates[1].score if len(candidates) > 1 else 0.0
            if best.score >= self.min_score and best.score - runner_up >= self.min_margin:
                return _resolved(
                    best.commune,
                    "fuzzy",
                    best.score,
                    candidates=candidates,
                    message=f"« {name} » lu comme « {best.commune.nom} » "
                    f"({round(best.score * 100)} %)",
                )
        message = f"commune « {name} » introuvable dans le département {dep}"
        if elsewhere:
            others = ", ".join(elsewhere[:5]) + (", …" if len(elsewhere) > 5 else "")
            message += f" (nom d'une commune d'un autre département : {others})"
        described = _describe(candidates)
        if described:
            message += f" ; vouliez-vous dire : {described} ?"
        return _failed(message, candidates=candidates)


def _merged_note(former: str, commune: Commune) -> str:
    return f"{former} → {commune.nom} (commune fusionnée)"


def _strip_codes(name: str, departement: str) -> str:
    """The name without postal/INSEE codes, "CEDEX" or a trailing "(62)" département tag."""
    text = _CODE_IN_TEXT.sub(" ", name)
    text = _CEDEX.sub(" ", text)
    text = re.sub(rf"[(\[]\s*{re.escape(departement)}\s*[)\]]", " ", text, flags=re.IGNORECASE)
    text = re.sub(rf"[\s,;-]+{re.escape(departement)}\s*$", " ", text, flags=re.IGNORECASE)
    return " ".join(text.replace(",", " ").split()).strip(" -;")


def clean_text(value: object) -> str | None:
    """A cell as stripped text, or None when empty/NaN; 62041.0 reads as "62041"."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bool):
        return None
    text = " ".join(str(value).split())
    return text or None


def clean_number(value: object) -> float | None:
    """A coordinate cell as a finite float, or None (accepts "50,29" as well as 50.29)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().replace(",", ".")
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------- tables


def geocode_table(
    df: pd.DataFrame,
    geocoder: Geocoder,
    *,
    first_row: int = 2,
    row_numbers: Sequence[int] | None = None,
    accept_outside: Collection[int] = frozenset(),
) -> tuple[pd.DataFrame, list[Issue]]:
    """Geocode every row of an initiatives table; issues use spreadsheet line numbers.

    Row i is line `first_row + i`, or `row_numbers[i]` when given (rows dropped upstream).
    `accept_outside` holds the lines whose point the editor confirmed although it lies outside
    the département: they are kept with a warning instead of an error.

    Resolved rows get the official commune name, its INSEE code, a point (the explicit one, or
    the commune's) and its arrondissement. Failed rows keep their text, get NaN coordinates,
    status "failed" and an error Issue; guesses (status "fuzzy") get a warning Issue.
    """
    rows = len(df)
    if row_numbers is not None and len(row_numbers) != rows:
        raise ValueError(f"row_numbers has {len(row_numbers)} items for {rows} rows")
    lines = list(row_numbers) if row_numbers is not None else [first_row + i for i in range(rows)]

    def column(name: str) -> list[Any]:
        return df[name].tolist() if name in df.columns else [None] * rows

    communes, codes = column("commune"), column("code_insee")
    lats, lons, addresses = column("latitude"), column("longitude"), column("adresse")
    uses_address = bool(getattr(geocoder, "uses_address", False))

    out: dict[str, list[Any]] = {
        name: [] for name in ("commune", "code_insee", "latitude", "longitude", *GEOCODED_COLUMNS)
    }
    issues: list[Issue] = []
    memo: dict[Hashable, GeocodeResult] = {}
    for i in range(rows):
        name, code = clean_text(communes[i]), clean_text(codes[i])
        lat, lon = clean_number(lats[i]), clean_number(lons[i])
        address = clean_text(addresses[i]) if uses_address else None
        confirmed = lines[i] in accept_outside
        key = (name, code, lat, lon, address, confirmed)
        result = memo.get(key)
        if result is None:
            # Only passed when set, so that geocoders predating the option keep working.
            extra = {"outside_confirmed": True} if confirmed else {}
            result = memo[key] = geocoder.geocode(
                commune=name, code_insee=code, latitude=lat, longitude=lon, adresse=address, **extra
            )
        commune = result.commune
        point = result.point if commune is not None else None
        out["commune"].append(commune.nom if commune else communes[i])
        out["code_insee"].append(commune.code_insee if commune else codes[i])
        out["latitude"].append(point.latitude if point else math.nan)
        out["longitude"].append(point.longitude if point else math.nan)
        out["arrondissement_code"].append(commune.arrondissement_code if commune else "")
        out["arrondissement"].append(commune.arrondissement if commune else "")
        out["geocode_status"].append(result.status)
        out["geocode_score"].append(float(result.score))
        issue = _issue_for(
            result,
            row=lines[i],
            raw={
                "commune": communes[i],
                "code_insee": codes[i],
                "latitude": lats[i],
                "longitude": lons[i],
            },
        )
        if issue is not None:
            issues.append(issue)

    geocoded = df.copy()
    for name, values in out.items():
        geocoded[name] = pd.Series(values, index=df.index, dtype=_DTYPES.get(name, object))
    return geocoded, issues


_DTYPES = {"latitude": "float64", "longitude": "float64", "geocode_score": "float64"}


def _issue_for(result: GeocodeResult, *, row: int, raw: Mapping[str, object]) -> Issue | None:
    if result.status == "failed":
        severity = "error"
    elif result.status == "fuzzy" or result.message:
        severity = "warning"
    else:
        return None
    if result.column == "latitude":
        lat, lon = raw.get("latitude"), raw.get("longitude")
        value = f"{_shown(lat)}, {_shown(lon)}"
    else:
        value = _shown(raw.get(result.column))
    suggestions = tuple(
        f"{c.commune.nom} ({round(c.score * 100)} %)"
        for c in result.candidates
        if c.score >= SUGGESTION_MIN_SCORE
    )
    hint = ""
    if result.status == "failed" and result.column == "commune" and value:
        hint = "Corrigez le nom de la commune ou indiquez son code INSEE."
    elif result.code == OUTSIDE_DEPARTEMENT:
        hint = OUTSIDE_HINT
    message = result.message or (
        f"commune interprétée comme « {result.commune.nom} »" if result.commune else ""
    )
    return Issue(
        severity="error" if severity == "error" else "warning",
        message=message,
        row=row,
        column=result.column,
        value=value or None,
        hint=hint,
        suggestions=suggestions,
        code=result.code,
    )


def outside_departement_rows(issues: Iterable[Issue]) -> tuple[int, ...]:
    """Lines whose point lies outside the département and awaits the editor's confirmation
    (what `accept_outside` of geocode_table and dataset.prepare takes)."""
    return tuple(
        sorted({i.row for i in issues if i.code == OUTSIDE_DEPARTEMENT and i.row is not None})
    )


def _shown(value: object) -> str:
    text = clean_text(value)
    return "" if text is None else text


# --------------------------------------------------------------------------- online

ONLINE_PROVIDERS: dict[str, float] = {"ban": 0.02, "nominatim": 1.0}
DEFAULT_CACHE_DIR = PROJECT_ROOT / ".cache" / "geocoding"


def _version() -> str:
    try:
        return metadata.version("carto-solidaire")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


@dataclass(frozen=True)
class OnlineLocation:
    """A point returned by an online geocoder, with the address it understood."""

    point: GeoPoint
    address: str


class GeocodeCache:
    """Persistent SQLite cache of online answers (misses included), keyed by provider+query."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS geocode_cache ("
                " provider TEXT NOT NULL, query TEXT NOT NULL,"
                " latitude REAL, longitude REAL, address TEXT, created REAL NOT NULL,"
                " PRIMARY KEY (provider, query))"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A short-lived connection per call: Streamlit runs sessions in several threads.
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    @staticmethod
    def key(query: str) -> str:
        return " ".join(query.split()).casefold()

    def get(self, provider: str, query: str) -> tuple[bool, OnlineLocation | None]:
        """(True, answer) when cached — answer None for a cached miss — else (False, None)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT latitude, longitude, address FROM geocode_cache"
                " WHERE provider = ? AND query = ?",
                (provider, self.key(query)),
            ).fetchone()
        if row is None:
            return False, None
        lat, lon, address = row
        if lat is None or lon is None:
            return True, None
        return True, OnlineLocation(GeoPoint(lat, lon), address or "")

    def put(self, provider: str, query: str, location: OnlineLocation | None) -> None:
        lat = location.point.latitude if location else None
        lon = location.point.longitude if location else None
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO geocode_cache VALUES (?, ?, ?, ?, ?, ?)",
                (
                    provider,
                    self.key(query),
                    lat,
                    lon,
                    location.address if location else None,
                    time.time(),
                ),
            )

    def __len__(self) -> int:
        with self._connect() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM geocode_cache").fetchone()
        return int(count)


class OnlineGeocoder:
    """A geopy geocoder (any object with geopy's `geocode(query, *, exactly_one, timeout)`)
    behind one rate limiter and an optional persistent cache."""

    def __init__(
        self,
        backend: Any,
        *,
        provider: str,
        cache: GeocodeCache | None = None,
        min_delay_seconds: float = 1.0,
        timeout: float = 10.0,
        max_retries: int = 2,
        error_wait_seconds: float | None = None,
    ) -> None:
        self.provider = provider
        self.cache = cache
        self.timeout = timeout
        # geopy is imported only when online geocoding is configured (memory of the map page).
        from geopy.extra.rate_limiter import RateLimiter

        self._limited = RateLimiter(
            backend.geocode,
            min_delay_seconds=min_delay_seconds,
            max_retries=max_retries,
            error_wait_seconds=max(
                min_delay_seconds, 5.0 if error_wait_seconds is None else error_wait_seconds
            ),
            swallow_exceptions=False,
        )

    @classmethod
    def for_provider(
        cls,
        provider: str,
        *,
        cache_dir: Path | None = DEFAULT_CACHE_DIR,
        min_delay_seconds: float | None = None,
        timeout: float = 10.0,
    ) -> OnlineGeocoder:
        """BAN (api-adresse.data.gouv.fr) or Nominatim through geopy, with the usual delays."""
        name = provider.strip().lower()
        if name not in ONLINE_PROVIDERS:
            raise ConfigError(
                f"Géocodeur en ligne « {provider} » inconnu : valeurs possibles "
                f"{', '.join(ONLINE_PROVIDERS)}."
            )
        user_agent = f"carto-solidaire/{_version()}"
        backend: Any
        if name == "ban":
            from geopy.geocoders import BANFrance

            backend = BANFrance(user_agent=user_agent, timeout=timeout)
        else:
            from geopy.geocoders import Nominatim

            backend = Nominatim(user_agent=user_agent, timeout=timeout)
        cache = GeocodeCache(cache_dir / "online.sqlite") if cache_dir is not None else None
        delay = ONLINE_PROVIDERS[name] if min_delay_seconds is None else min_delay_seconds
        return cls(backend, provider=name, cache=cache, min_delay_seconds=delay, timeout=timeout)

    def locate(self, query: str) -> OnlineLocation | None:
        """Point of a free-text address, None when the service knows no such place."""
        query = " ".join(query.split())
        if not query:
            return None
        if self.cache is not None:
            hit, cached = self.cache.get(self.provider, query)
            if hit:
                return cached
        from geopy.exc import GeopyError

        try:
            found = self._limited(query, exactly_one=True, timeout=self.timeout)
        except GeopyError as exc:
            raise GeocodingError(
                f"Le géocodeur en ligne « {self.provider} » a échoué pour « {query} » : "
                f"{exc or type(exc).__name__}."
            ) from exc
        location = None
        if found is not None:
            location = OnlineLocation(
                GeoPoint(float(found.latitude), float(found.longitude)),
                str(getattr(found, "address", "") or ""),
            )
        if self.cache is not None:
            self.cache.put(self.provider, query, location)
        return location


@functools.lru_cache(maxsize=4)
def _shared_online(provider: str, cache_dir: Path | None) -> OnlineGeocoder:
    return OnlineGeocoder.for_provider(provider, cache_dir=cache_dir)


def online_geocoder_from_env(
    env: Mapping[str, str] | None = None, *, cache_dir: Path | None = DEFAULT_CACHE_DIR
) -> OnlineGeocoder | None:
    """The process-wide online geocoder named by CARTO_ONLINE_GEOCODER (ban|nominatim), if any.

    One instance per provider, hence one rate limiter shared by every caller.
    """
    values = os.environ if env is None else env
    provider = (values.get("CARTO_ONLINE_GEOCODER") or "").strip().lower()
    if provider in ("", "none", "off", "0"):
        return None
    if provider not in ONLINE_PROVIDERS:
        raise ConfigError(
            f"CARTO_ONLINE_GEOCODER vaut « {provider} » : valeurs possibles "
            f"{', '.join(ONLINE_PROVIDERS)} (ou vide pour rester hors ligne)."
        )
    return _shared_online(provider, cache_dir)


# --------------------------------------------------------------------------- chain

# An online point farther than this from the commune's outline is not trusted.
ONLINE_MAX_DISTANCE_KM = 2.0


class ChainGeocoder:
    """Offline geocoding of the commune, then the address online when one is configured."""

    def __init__(self, offline: OfflineGeocoder, online: OnlineGeocoder | None = None) -> None:
        self.offline = offline
        self.online = online

    @property
    def uses_address(self) -> bool:
        return self.online is not None

    def geocode(
        self,
        *,
        commune: str | None = None,
        code_insee: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        adresse: str | None = None,
        outside_confirmed: bool = False,
    ) -> GeocodeResult:
        """Offline result; its point replaced by the address's when found in the commune."""
        result = self.offline.geocode(
            commune=commune,
            code_insee=code_insee,
            latitude=latitude,
            longitude=longitude,
            outside_confirmed=outside_confirmed,
        )
        address = clean_text(adresse)
        town = result.commune
        if self.online is None or address is None or town is None or result.status == "manual":
            return result
        postcode = town.codes_postaux[0] if town.codes_postaux else ""
        try:
            location = self.online.locate(f"{address}, {postcode} {town.nom}")
        except GeocodingError as exc:
            note = f"adresse non localisée en ligne ({exc}) : point de la commune conservé"
            return replace(result, message=_join(result.message, note))
        if location is None:
            note = f"adresse « {address} » introuvable en ligne : point de la commune conservé"
            return replace(result, message=_join(result.message, note))
        lat, lon = location.point.latitude, location.point.longitude
        distance = self.offline.gazetteer.distance_to_commune_km(town, lat, lon)
        if distance > ONLINE_MAX_DISTANCE_KM:
            note = (
                f"adresse « {address} » localisée hors de {town.nom} ({distance:.0f} km) : "
                "point de la commune conservé"
            )
            return replace(result, message=_join(result.message, note))
        return replace(result, point=location.point)
