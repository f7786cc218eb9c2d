"""Plausible live readings of a building at an instant: energy use, occupancy, climate.

Pure functions of the building's profile, the time and a seeded random generator:

- ``occupancy`` (0–1, unit ``C62``, UN/CEFACT "one"): offices fill on weekdays around
  midday and empty at night and weekends; homes are full at night, half-empty by day, full
  again in the evening;
- ``energyUse`` (kWh over the last hour, ``KWH``): floor area × an hourly intensity by use
  (offices 0.012, homes 0.006 kWh/m²) × (0.35 + 0.65 × occupancy);
- ``indoorTemperature`` (°C, ``CEL``): about 20.5 °C, warmer with people and in the afternoon;
- ``co2`` (ppm, ``59``): 420 ppm outdoors plus up to ~800 ppm from occupants.

Floor area is the footprint area times storeys (``measuredHeight`` / 3 m, at least one); a
building without them counts as 200 m² over two storeys.

>>> import datetime as dt, random
>>> office = BuildingProfile("urn:ngsi-ld:Building:d:B1", 1000.0, "office")
>>> r = readings_at(office, dt.datetime(2024, 1, 3, 12, tzinfo=dt.UTC), random.Random(1))
>>> sorted(r), r["occupancy"]["unitCode"], 0.6 < r["occupancy"]["value"] <= 1.0
(['co2', 'energyUse', 'indoorTemperature', 'occupancy'], 'C62', True)
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ["BuildingProfile", "profile_of", "readings_at"]

Use = Literal["office", "residential"]

_INTENSITY_KWH_M2_H: Final[dict[Use, float]] = {"office": 0.012, "residential": 0.006}
_STOREY_M: Final = 3.0
_EARTH_R_M: Final = 6_371_008.8
# CityGML/ALKIS building function codes of homes: 1000 (Wohngebäude) and 31001_1xxx.
_RESIDENTIAL_CODES: Final = ("1000", "31001_1")


@dataclass(frozen=True, slots=True)
class BuildingProfile:
    """What the readings depend on: the entity, its floor area (m²) and its use."""

    entity_id: str
    floor_area_m2: float
    use: Use


def _ring_area_m2(ring: list[list[float]]) -> float:
    """Return the area of a lon/lat ring (degrees), equirectangular around its mean latitude."""
    if len(ring) < 4:
        return 0.0
    lat0 = math.radians(sum(p[1] for p in ring) / len(ring))
    xs = [math.radians(p[0]) * _EARTH_R_M * math.cos(lat0) for p in ring]
    ys = [math.radians(p[1]) * _EARTH_R_M for p in ring]
    return abs(sum(xs[i] * ys[i + 1] - xs[i + 1] * ys[i] for i in range(len(ring) - 1))) / 2


def profile_of(entity: Mapping[str, Any], index: int) -> BuildingProfile:
    """Return the profile of a ``Building`` entity in keyValues form.

    ``index`` breaks ties: buildings without a known function alternate between uses.
    """
    location = entity.get("location") or {}
    area = 0.0
    if isinstance(location, Mapping) and location.get("type") == "Polygon":
        area = _ring_area_m2(location["coordinates"][0])
    height = entity.get("measuredHeight")
    storeys = max(1, round(height / _STOREY_M)) if isinstance(height, int | float) else 2
    floor_area = (area if area > 10 else 100.0) * storeys
    function = str(entity.get("function") or "")
    if function:
        use: Use = "residential" if function.startswith(_RESIDENTIAL_CODES) else "office"
    else:
        use = "residential" if index % 3 else "office"
    return BuildingProfile(entity["id"], floor_area, use)


def _occupancy(use: Use, when: dt.datetime) -> float:
    hour = when.hour + when.minute / 60
    weekend = when.weekday() >= 5
    if use == "office":
        return 0.05 if weekend else 0.05 + 0.85 * math.exp(-(((hour - 13) / 3.2) ** 2))
    evening = 0.85 * math.exp(-(((hour - 20.5) / 2.5) ** 2))
    night = 0.9 if hour < 7 or hour >= 23 else 0.0
    day = 0.55 if weekend else 0.35
    return max(day, evening, night)


def readings_at(
    profile: BuildingProfile, when: dt.datetime, rng: random.Random
) -> dict[str, dict[str, Any]]:
    """Return the four readings as NGSI-LD Properties with ``observedAt`` and ``unitCode``."""
    occupancy = min(1.0, max(0.0, _occupancy(profile.use, when) + rng.gauss(0, 0.04)))
    energy = (
        profile.floor_area_m2
        * _INTENSITY_KWH_M2_H[profile.use]
        * (0.35 + 0.65 * occupancy)
        * (1 + rng.gauss(0, 0.05))
    )
    afternoon = math.sin(math.pi * (when.hour - 8) / 12) if 8 <= when.hour <= 20 else 0.0
    temperature = 20.5 + 1.2 * occupancy + 0.6 * afternoon + rng.gauss(0, 0.15)
    co2 = 420 + 800 * occupancy * (1 + rng.gauss(0, 0.1))
    observed = when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def prop(value: float, unit: str, digits: int) -> dict[str, Any]:
        return {"type": "Property", "value": round(value, digits), "observedAt": observed,
                "unitCode": unit}  # fmt: skip

    return {
        "energyUse": prop(max(0.0, energy), "KWH", 2),
        "occupancy": prop(occupancy, "C62", 3),  # UN/CEFACT C62 "one": a fraction, not P1 (percent)
        "indoorTemperature": prop(temperature, "CEL", 2),
        "co2": prop(max(400.0, co2), "59", 0),
    }
