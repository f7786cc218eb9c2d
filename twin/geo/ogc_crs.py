"""OGC CRS URIs for OGC API – Features Part 2: resolve them, describe them, transform to them.

Coordinates keep each CRS's authority axis order, as Part 2 asks: CRS84 is longitude,
latitude; EPSG:4326 latitude, longitude; EPSG:3857 and projected CRSs easting, northing (unless
their authority says otherwise).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as ProjCRSError

from twin.errors import CRSError
from twin.geo.crs import parse_srs_name
from twin.geo.reproject import add_system_grids, authority_northing_first
from twin.types import Float64Array

__all__ = [
    "CRS84_URI",
    "axis_names",
    "crs_uri",
    "projjson",
    "transform_bbox",
    "transform_geojson",
    "transform_xy",
]

CRS84_URI: Final = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG_URI: Final = "http://www.opengis.net/def/crs/EPSG/0/"


@functools.lru_cache(maxsize=64)
def _crs(uri: str) -> CRS:
    if uri == CRS84_URI:
        return CRS.from_user_input("OGC:CRS84")
    try:
        return parse_srs_name(uri)
    except CRSError:
        raise
    except ProjCRSError as exc:  # pragma: no cover - parse_srs_name translates these
        raise CRSError(f"unknown CRS {uri!r}") from exc


def crs_uri(srs_name: str) -> str | None:
    """Return the OGC URI of the horizontal part of an srsName, None when it has no EPSG code.

    >>> crs_uri("urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783")
    'http://www.opengis.net/def/crs/EPSG/0/25832'
    >>> crs_uri("EPSG:4326")
    'http://www.opengis.net/def/crs/EPSG/0/4326'
    """
    try:
        crs = parse_srs_name(srs_name)
    except CRSError:
        return None
    horizontal = crs.sub_crs_list[0] if crs.is_compound else crs
    code = horizontal.to_epsg()
    return None if code is None else f"{_EPSG_URI}{code}"


def projjson(uri: str) -> dict[str, Any]:
    """Return the PROJJSON of a CRS URI (for GeoParquet's ``crs``).

    >>> projjson(CRS84_URI)["id"]
    {'authority': 'OGC', 'code': 'CRS84'}
    """
    found: dict[str, Any] = _crs(uri).to_json_dict()
    return found


@functools.lru_cache(maxsize=64)
def _transformer(from_uri: str, to_uri: str) -> Transformer:
    add_system_grids()  # the grids the import's reprojection uses (BETA2007 for DHDN …)
    return Transformer.from_crs(_crs(from_uri), _crs(to_uri))


def transform_xy(
    xy: Float64Array, from_uri: str, to_uri: str, easting_first: bool = False
) -> Float64Array:
    """Return ``(N, 2|3) float64`` coordinates transformed between CRS URIs (heights kept).

    Axis orders are each CRS's own; a third column (height) passes through unchanged. With
    ``easting_first``, the result's first column is the easting or longitude whatever the
    axis order of ``to_uri`` (the order WKB-based formats such as GeoParquet require).

    >>> transform_xy(np.array([[8.0, 49.0]]), CRS84_URI, _EPSG_URI + "4326").tolist()
    [[49.0, 8.0]]
    >>> transform_xy(np.array([[8.0, 49.0]]), CRS84_URI, _EPSG_URI + "4326", True).tolist()
    [[8.0, 49.0]]
    """
    moved = xy
    if from_uri != to_uri:
        a, b = _transformer(from_uri, to_uri).transform(xy[:, 0], xy[:, 1])
        moved = np.column_stack([a, b, xy[:, 2:]]).astype(np.float64)
    if easting_first and authority_northing_first(_crs(to_uri)):
        moved = moved[:, [1, 0, *range(2, moved.shape[1])]]
    return moved


def transform_geojson(geometry: Mapping[str, Any], from_uri: str, to_uri: str) -> dict[str, Any]:
    """Return a GeoJSON geometry with its coordinates transformed (heights kept).

    >>> g = {"type": "Point", "coordinates": [0.0, 0.0]}
    >>> transform_geojson(g, CRS84_URI, _EPSG_URI + "3857")["coordinates"]
    [0.0, 0.0]
    """
    shape = shapely.geometry.shape(geometry)
    moved = shapely.transform(shape, lambda xy: transform_xy(xy, from_uri, to_uri), include_z=True)
    found: dict[str, Any] = _lists(shapely.geometry.mapping(moved))
    return found


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


@functools.lru_cache(maxsize=64)
def axis_names(uri: str) -> tuple[str, str]:
    """Return the names of a CRS's two horizontal axes, in its order.

    A geographic CRS has ``longitude`` and ``latitude``; others their axes' own names.

    >>> axis_names(_EPSG_URI + "4326"), axis_names(_EPSG_URI + "3857")
    (('latitude', 'longitude'), ('easting', 'northing'))
    """
    crs = _crs(uri)
    axes = crs.axis_info[:2]
    if crs.is_geographic:
        return _geographic_axis(axes[0].direction), _geographic_axis(axes[1].direction)
    return axes[0].name.lower(), axes[1].name.lower()


def _geographic_axis(direction: str) -> str:
    return "longitude" if direction in ("east", "west") else "latitude"


def transform_bbox(
    bbox: tuple[float, float, float, float], from_uri: str, to_uri: str
) -> tuple[float, float, float, float]:
    """Return the box (in ``to_uri`` axis order) covering a box, its edges densified.

    A box whose lower longitude is above its upper one crosses the antimeridian (OGC API -
    Features Part 1, 7.15.3); it stays so when ``to_uri`` is geographic too.

    >>> transform_bbox((49.0, 8.0, 49.5, 8.5), _EPSG_URI + "4326", CRS84_URI)
    (8.0, 49.0, 8.5, 49.5)
    >>> transform_bbox((-10.0, 170.0, 10.0, -170.0), _EPSG_URI + "4326", CRS84_URI)
    (170.0, -10.0, -170.0, 10.0)
    """
    if from_uri == to_uri:
        return bbox
    lon = axis_names(from_uri).index("longitude") if _crs(from_uri).is_geographic else None
    if lon is None or bbox[lon] <= bbox[lon + 2]:
        x0, y0, x1, y1 = _transformer(from_uri, to_uri).transform_bounds(*bbox, densify_pts=21)
        return float(x0), float(y0), float(x1), float(y1)
    a0, a1, b0, b1 = bbox  # each part on its own, then joined
    if lon == 0:
        east_part, west_part = (a0, a1, 180.0, b1), (-180.0, a1, b0, b1)
    else:
        east_part, west_part = (a0, a1, b0, 180.0), (a0, -180.0, b0, b1)
    east = transform_bbox(east_part, from_uri, to_uri)
    west = transform_bbox(west_part, from_uri, to_uri)
    low = [min(a, b) for a, b in zip(east[:2], west[:2], strict=True)]
    high = [max(a, b) for a, b in zip(east[2:], west[2:], strict=True)]
    if _crs(to_uri).is_geographic:  # the destination's longitude runs west (east part) > east
        to_lon = axis_names(to_uri).index("longitude")
        low[to_lon], high[to_lon] = east[to_lon], west[to_lon + 2]
    return low[0], low[1], high[0], high[1]
