"""The chain: the commune offline, then the street address online when a provider is set."""

from __future__ import annotations

from dataclasses import replace

from carto.errors import GeocodingError
from carto.geocoding.offline import OfflineGeocoder, place_text
from carto.geocoding.online import OnlineGeocoder
from carto.geocoding.types import GeocodeResult

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
        address = place_text(adresse)
        town = result.commune
        if self.online is None or address is None or town is None or result.status == "manual":
            return result
        postcode = town.codes_postaux[0] if town.codes_postaux else ""
        try:
            location = self.online.locate(f"{address}, {postcode} {town.nom}")
        except GeocodingError as exc:
            note = f"adresse non localisée en ligne ({exc}) : point de la commune conservé"
            return result.with_note(note)
        if location is None:
            note = f"adresse « {address} » introuvable en ligne : point de la commune conservé"
            return result.with_note(note)
        lat, lon = location.point.latitude, location.point.longitude
        distance = self.offline.gazetteer.distance_to_commune_km(town, lat, lon)
        if distance > ONLINE_MAX_DISTANCE_KM:
            note = (
                f"adresse « {address} » localisée hors de {town.nom} ({distance:.0f} km) : "
                "point de la commune conservé"
            )
            return result.with_note(note)
        return replace(result, point=location.point)
