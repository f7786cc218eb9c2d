"""Turn the srsName spellings found in real CityGML into pyproj CRSs.

Handled spellings (EPSG codes may carry a version, e.g. ``EPSG:6.12:25832``):

- ``EPSG:25832``
- ``urn:ogc:def:crs:EPSG::25832`` and ``urn:x-ogc:def:crs:EPSG:6.12:25832``
- compound ``urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783``
- ``http://www.opengis.net/def/crs/EPSG/0/25832`` (http or https, any version)
- AdV URNs of the German surveying authorities, ``urn:adv:crs:ETRS89_UTM32*DE_DHHN2016_NH``
  (horizontal ``*`` vertical ``*`` optional geoid name)
"""

from __future__ import annotations

import functools
import re

from pyproj import CRS
from pyproj.crs import CompoundCRS
from pyproj.exceptions import CRSError as ProjCRSError

from twin.errors import CRSError

__all__ = ["CRS_HINT", "check_anchor_crs", "parse_srs_name"]

CRS_HINT = "pass the CRS with --crs, e.g. --crs EPSG:25832 or --crs EPSG:25832+7837"

_EPSG = r"EPSG:(?:[0-9.]*:)?(\d+)"
_PLAIN = re.compile(r"^EPSG:(\d+)$", re.IGNORECASE)
_URN = re.compile(r"^urn:(?:x-)?ogc:def:crs:" + _EPSG + r"$", re.IGNORECASE)
_COMPOUND = re.compile(
    r"^urn:(?:x-)?ogc:def:crs,crs:" + _EPSG + r",crs:" + _EPSG + r"$", re.IGNORECASE
)
_HTTP = re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/[^/]+/(\d+)$", re.IGNORECASE)

# AdV CRS register (GeoInfoDok, "Koordinatenreferenzsysteme") to EPSG codes.
_ADV_HORIZONTAL = {
    "ETRS89_UTM32": 25832,
    "ETRS89_UTM33": 25833,
    "ETRS89_LAT-LON": 4258,
    "DE_DHDN_3GK2": 31466,
    "DE_DHDN_3GK3": 31467,
    "DE_DHDN_3GK4": 31468,
    "DE_DHDN_3GK5": 31469,
    "DE_DHDN_LAT-LON": 4314,
}
_ADV_VERTICAL = {
    "DE_DHHN2016_NH": 7837,
    "DE_DHHN92_NH": 5783,
    "DE_DHN92_NH": 5783,  # AdV's older spelling of DHHN92 normal heights
    "DE_DHHN12_NOH": 5784,
    "DE_DHSN82_HN": 5785,
}


@functools.lru_cache(maxsize=64)
def parse_srs_name(srs_name: str) -> CRS:
    """Return the CRS an srsName denotes; raise CRSError naming it when unknown.

    >>> parse_srs_name("urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783").name
    'ETRS89 / UTM zone 32N + DHHN92 height'
    >>> parse_srs_name("urn:adv:crs:ETRS89_UTM32*DE_DHHN2016_NH*GCG2016").name
    'ETRS89 / UTM zone 32N + DHHN2016 height'
    """
    name = srs_name.strip()
    if name.startswith("#"):
        raise CRSError(
            f"srsName {srs_name!r} refers to a CRS defined inside the file (a local "
            "engineering CRS) that twin could not place on the globe: twin places one whose "
            "Cartesian X, Y, Z axes are in metres and whose datum has an anchor point "
            "naming its world CRS in codeSpace (the log says what this one lacks); "
            f"{CRS_HINT}"
        )
    codes = _epsg_codes(name)
    try:
        if codes is None:
            return CRS.from_user_input(name)
        horizontal = CRS.from_epsg(codes[0])
        if len(codes) == 1:
            return horizontal
        vertical = CRS.from_epsg(codes[1])
        return CompoundCRS(f"{horizontal.name} + {vertical.name}", [horizontal, vertical])
    except ProjCRSError as exc:
        raise CRSError(f"unknown CRS {srs_name!r}; {CRS_HINT}") from exc


def check_anchor_crs(srs_name: str) -> None:
    """Refuse a world CRS that a local engineering CRS cannot be placed in by translation.

    The local X, Y, Z metres are added to the anchor point, so the world CRS needs easting and
    northing (and up) axes in metres: a projected CRS, optionally with a vertical one.

    >>> check_anchor_crs("urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783")
    >>> check_anchor_crs("EPSG:4326")
    Traceback (most recent call last):
    ...
    twin.errors.CRSError: the anchor's CRS 'EPSG:4326' (WGS 84) has no easting and northing axes \
in metres to lay local X, Y, Z metres along; pass the CRS with --crs, e.g. --crs EPSG:25832 or \
--crs EPSG:25832+7837
    """
    crs = parse_srs_name(srs_name)
    horizontal = crs.sub_crs_list[0] if crs.is_compound else crs
    directions = sorted(axis.direction for axis in horizontal.axis_info)
    up = crs.axis_info[2:]
    if (
        directions != ["east", "north"]
        or any(axis.unit_name != "metre" for axis in crs.axis_info)
        or any(axis.direction != "up" for axis in up)
    ):
        raise CRSError(
            f"the anchor's CRS {srs_name!r} ({crs.name}) has no easting and northing axes in "
            f"metres to lay local X, Y, Z metres along; {CRS_HINT}"
        )


def _epsg_codes(name: str) -> tuple[int, ...] | None:
    for pattern in (_PLAIN, _URN, _COMPOUND, _HTTP):
        if match := pattern.match(name):
            return tuple(int(g) for g in match.groups())
    if name.lower().startswith("urn:adv:crs:"):
        return _adv_codes(name[len("urn:adv:crs:") :])
    return None


def _adv_codes(body: str) -> tuple[int, ...]:
    parts = body.upper().split("*")
    horizontal = _ADV_HORIZONTAL.get(parts[0])
    if horizontal is None:
        raise CRSError(f"unknown AdV CRS 'urn:adv:crs:{body}'; {CRS_HINT}")
    if len(parts) == 1:
        return (horizontal,)
    vertical = _ADV_VERTICAL.get(parts[1])
    if vertical is None:
        raise CRSError(f"unknown AdV height system {parts[1]!r} in 'urn:adv:crs:{body}'")
    return (horizontal, vertical)
