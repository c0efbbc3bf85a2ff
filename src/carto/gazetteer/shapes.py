"""Point-in-polygon engine on GeoJSON (multi)polygons and distances in km, standard library only.

The running app answers "which commune?" and "in the département?" with it, without shapely.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from carto.models import GeoPoint

Ring = list[tuple[float, float]]  # (longitude, latitude) pairs, closed

# Kilometres per degree of latitude, and of longitude at the equator (equirectangular).
_KM_PER_DEGREE_LAT = 110.574
_KM_PER_DEGREE_LON = 111.32


class Shape:
    """Rings of a (multi)polygon with an even-odd point test, indexed by latitude bands."""

    def __init__(self, rings: Sequence[Ring]) -> None:
        self.rings = [r for r in rings if len(r) >= 4]
        self._band_count = max(1, min(64, sum(len(r) for r in self.rings) // 16))
        xs = [x for r in self.rings for x, _ in r]
        ys = [y for r in self.rings for _, y in r]
        if not xs:
            self.bbox = (math.inf, math.inf, -math.inf, -math.inf)
            self._bands: list[list[tuple[float, float, float, float]]] = []
            return
        self.bbox = (min(xs), min(ys), max(xs), max(ys))
        self._band_height = max((self.bbox[3] - self.bbox[1]) / self._band_count, 1e-12)
        self._bands = [[] for _ in range(self._band_count)]
        for ring in self.rings:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
                for band in range(self._band(min(y1, y2)), self._band(max(y1, y2)) + 1):
                    self._bands[band].append((x1, y1, x2, y2))

    def _band(self, y: float) -> int:
        return min(self._band_count - 1, max(0, int((y - self.bbox[1]) / self._band_height)))

    def in_bbox(self, lon: float, lat: float, margin: float = 0.0) -> bool:
        """Whether the point lies in the bounding box widened by margin degrees."""
        x0, y0, x1, y1 = self.bbox
        return x0 - margin <= lon <= x1 + margin and y0 - margin <= lat <= y1 + margin

    def contains(self, lon: float, lat: float) -> bool:
        """Whether the point lies inside (even-odd rule: holes are outside)."""
        if not self.in_bbox(lon, lat):
            return False
        inside = False
        for x1, y1, x2, y2 in self._bands[self._band(lat)]:
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside

    def distance_km(self, lon: float, lat: float) -> float:
        """Distance from the point to the outline (0 inside), equirectangular approximation."""
        if self.contains(lon, lat):
            return 0.0
        kx = _KM_PER_DEGREE_LON * math.cos(math.radians(lat))
        ky = _KM_PER_DEGREE_LAT
        best = math.inf
        for ring in self.rings:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
                ax, ay = (x1 - lon) * kx, (y1 - lat) * ky
                bx, by = (x2 - lon) * kx, (y2 - lat) * ky
                dx, dy = bx - ax, by - ay
                length2 = dx * dx + dy * dy
                t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
                best = min(best, math.hypot(ax + t * dx, ay + t * dy))
        return best


def shape_of(geometry: dict[str, Any] | None) -> Shape:
    """Shape of a GeoJSON Polygon or MultiPolygon geometry; empty for anything else."""
    if not geometry:
        return Shape([])
    if geometry["type"] == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        polygons = []
    return Shape([[(float(x), float(y)) for x, y in ring] for poly in polygons for ring in poly])


def point_distance_km(point: GeoPoint, lat: float, lon: float) -> float:
    """Distance in km between two points (equirectangular: fine at a département's scale)."""
    kx = _KM_PER_DEGREE_LON * math.cos(math.radians(lat))
    return math.hypot((point.longitude - lon) * kx, (point.latitude - lat) * _KM_PER_DEGREE_LAT)
