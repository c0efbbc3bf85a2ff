"""Online geocoding of street addresses through geopy (BAN or Nominatim), optional.

Built only when Settings name a provider; geopy is imported then, not before (it weighs on
the memory of every page). One rate limiter per provider, answers kept in a GeocodeCache.
Tests never call it: they pass a local object with geopy's interface.
"""

from __future__ import annotations

import functools
from importlib import metadata
from pathlib import Path
from typing import Any

from carto.config import ONLINE_GEOCODERS, Settings
from carto.errors import ConfigError, GeocodingError
from carto.geocoding.cache import GeocodeCache
from carto.geocoding.types import OnlineLocation
from carto.models import GeoPoint

# Seconds between two requests: BAN accepts 50 a second, Nominatim's policy is one a second.
_MIN_DELAYS = {"ban": 0.02, "nominatim": 1.0}
# The providers Settings accept (config.ONLINE_GEOCODERS), each with its delay.
ONLINE_PROVIDERS: dict[str, float] = {name: _MIN_DELAYS[name] for name in ONLINE_GEOCODERS}


def _version() -> str:
    try:
        return metadata.version("carto-solidaire")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


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
        # geopy is imported only when online geocoding is configured (memory of every page).
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
        cache_dir: Path | None,
        min_delay_seconds: float | None = None,
        timeout: float = 10.0,
    ) -> OnlineGeocoder:
        """BAN (api-adresse.data.gouv.fr) or Nominatim through geopy, with the usual delays;
        answers cached in `cache_dir` (None: not kept)."""
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


def online_geocoder(settings: Settings) -> OnlineGeocoder | None:
    """The online geocoder `settings.online_geocoder` names, None when offline (the default).

    One instance per provider, hence one rate limiter shared by every caller; answers are
    cached under `settings.geocoding_cache_dir`, in the state directory.
    """
    if not settings.online_geocoder:
        return None
    return _shared_online(settings.online_geocoder, settings.geocoding_cache_dir)
