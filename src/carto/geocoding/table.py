"""The pandas adapter: geocode every row of an initiatives table, one Issue per row to tell."""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from carto.errors import ZoneError
from carto.geocoding.offline import place_text
from carto.geocoding.types import OUTSIDE_DEPARTEMENT, Geocoder, GeocodeResult
from carto.models import GEOCODED_COLUMNS, Issue
from carto.text import parse_number
from carto.zones import Zone, resolve_zone, zone_issue

if TYPE_CHECKING:
    from carto.gazetteer import Gazetteer

SUGGESTION_MIN_SCORE = 0.5
OUTSIDE_HINT = (
    "Corrigez la latitude et la longitude, ou confirmez ce point hors du département "
    "s'il est juste."
)


def geocode_table(
    df: pd.DataFrame,
    geocoder: Geocoder,
    *,
    first_row: int = 2,
    row_numbers: Sequence[int] | None = None,
    accept_outside: Collection[int] = frozenset(),
    gazetteer: Gazetteer | None = None,
) -> tuple[pd.DataFrame, list[Issue]]:
    """Geocode every row of an initiatives table; issues use spreadsheet line numbers.

    Row i is line `first_row + i`, or `row_numbers[i]` when given (rows dropped upstream).
    `accept_outside` holds the lines whose point the editor confirmed although it lies outside
    the département: they are kept with a warning instead of an error.

    Resolved rows get the official commune name, its INSEE code, a point (the explicit one, or
    the commune's) and its arrondissement. Failed rows keep their text, get NaN coordinates,
    status "failed" and an error Issue; guesses (status "fuzzy") get a warning Issue.

    A `zone` naming an area (carto.zones) fills zone_key, zone_label, zone_communes and
    zone_arrondissements from `gazetteer` (by default the offline geocoder's); a zone not
    recognised gets a warning Issue and the row stays a point at its commune.
    """
    rows = len(df)
    if row_numbers is not None and len(row_numbers) != rows:
        raise ValueError(f"row_numbers has {len(row_numbers)} items for {rows} rows")
    lines = list(row_numbers) if row_numbers is not None else [first_row + i for i in range(rows)]

    def column(name: str) -> list[Any]:
        return df[name].tolist() if name in df.columns else [None] * rows

    communes, codes, zones = column("commune"), column("code_insee"), column("zone")
    gazetteer = gazetteer or _gazetteer_of(geocoder)
    zone_memo: dict[str, Zone | ZoneError] = {}
    lats, lons, addresses = column("latitude"), column("longitude"), column("adresse")
    uses_address = bool(getattr(geocoder, "uses_address", False))

    out: dict[str, list[Any]] = {
        name: [] for name in ("commune", "code_insee", "latitude", "longitude", *GEOCODED_COLUMNS)
    }
    issues: list[Issue] = []
    memo: dict[Hashable, GeocodeResult] = {}
    for i in range(rows):
        name, code = place_text(communes[i]), place_text(codes[i])
        lat, lon = parse_number(lats[i]), parse_number(lons[i])
        address = place_text(addresses[i]) if uses_address else None
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
        zone = _zone(place_text(zones[i]) or "", gazetteer, zone_memo)
        if isinstance(zone, ZoneError):
            issues.append(
                zone_issue(
                    zone,
                    row=lines[i],
                    value=place_text(zones[i]) or "",
                    commune=commune.nom if commune else "",
                )
            )
            zone = None
        out["zone_key"].append(zone.key if zone else "")
        out["zone_label"].append(zone.label if zone else "")
        out["zone_communes"].append(" ".join(zone.communes) if zone else "")
        out["zone_arrondissements"].append(" ".join(zone.arrondissements) if zone else "")
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


def _gazetteer_of(geocoder: Geocoder) -> Gazetteer | None:
    """The gazetteer of an offline geocoder, or of the offline part of a chain."""
    for candidate in (geocoder, getattr(geocoder, "offline", None)):
        found = getattr(candidate, "gazetteer", None)
        if found is not None:
            return found
    return None


def _zone(
    text: str, gazetteer: Gazetteer | None, memo: dict[str, Zone | ZoneError]
) -> Zone | ZoneError | None:
    """The zone a cell names, the error when it names none, None when empty (or no gazetteer)."""
    if not text or gazetteer is None:
        return None
    if text not in memo:
        try:
            memo[text] = resolve_zone(text, gazetteer)
        except ZoneError as error:
            memo[text] = error
    return memo[text]


_DTYPES = {"latitude": "float64", "longitude": "float64", "geocode_score": "float64"}


def _issue_for(result: GeocodeResult, *, row: int, raw: Mapping[str, object]) -> Issue | None:
    if result.status == "failed":
        severity = "error"
    elif result.status == "fuzzy" or result.message:
        severity = "warning"
    else:
        return None
    if result.column == "latitude":
        lat, lon = place_text(raw.get("latitude")), place_text(raw.get("longitude"))
        value = f"{lat or ''}, {lon or ''}"
    else:
        value = place_text(raw.get(result.column)) or ""
    suggestions = tuple(
        f"{c.commune.nom} ({round(c.score * 100)} %)"
        for c in result.candidates
        if c.score >= SUGGESTION_MIN_SCORE
    )
    hint = ""
    if result.status == "failed" and result.column == "commune" and value:
        hint = (
            "Corrigez le nom de la commune ou indiquez son code INSEE ; si l'initiative n'est "
            "pas dans le département, laissez la ligne de côté (« Exclure la ligne » sur la "
            "page, --exclure-ligne en ligne de commande)."
        )
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
    (what `accept_outside` of geocode_table and intake.pipeline.prepare takes)."""
    return tuple(
        sorted({i.row for i in issues if i.code == OUTSIDE_DEPARTEMENT and i.row is not None})
    )
