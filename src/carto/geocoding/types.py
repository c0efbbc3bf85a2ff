"""What every geocoder shares: the result of one row, the Geocoder protocol, an online answer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from carto.models import Candidate, Commune, GeocodeStatus, GeoPoint

# Issue.code of a point outside the département that the editor has not confirmed.
OUTSIDE_DEPARTEMENT = "hors_departement"
# Issue.code of a name read exactly once its spelling is corrected (« Bethune → Béthune »).
SPELLING_CORRECTED = "commune_corrigee"
# What editors read for each geocode status (reports, `carto geocode`): one, several.
GEOCODE_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "exact": ("reconnue", "reconnues"),
    "fuzzy": ("devinée (à vérifier)", "devinées (à vérifier)"),
    "manual": (
        "placée par des coordonnées ou un choix de l'éditeur",
        "placées par des coordonnées ou un choix de l'éditeur",
    ),
    "failed": ("introuvable", "introuvables"),
}


def geocode_summary(counts: dict[str, int]) -> str:
    """« 19 reconnues, 1 introuvable », in the order of GEOCODE_STATUS_LABELS."""
    parts = [
        f"{counts[status]} {one if counts[status] == 1 else many}"
        for status, (one, many) in GEOCODE_STATUS_LABELS.items()
        if counts.get(status)
    ]
    return ", ".join(parts) or "aucune"


def join_notes(*parts: str) -> str:
    """Notes of one result joined into its message, empty ones left out."""
    return " ; ".join(p for p in parts if p)


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

    def with_note(self, *notes: str) -> GeocodeResult:
        """The same result with `notes` added to its message."""
        return replace(self, message=join_notes(self.message, *notes))


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


@dataclass(frozen=True)
class OnlineLocation:
    """A point returned by an online geocoder, with the address it understood."""

    point: GeoPoint
    address: str
