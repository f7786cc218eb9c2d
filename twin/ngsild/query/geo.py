"""The NGSI-LD geo-query language (ETSI GS CIM 009 v1.8, clause 4.10).

A geo-query relates an entity's GeoProperty (the *target* geometry, ``location`` by default)
to a *reference* geometry given by ``geometry`` and ``coordinates`` (GeoJSON, RFC 7946, WGS84
longitude/latitude). Topological relations are shapely's (OGC Simple Features, the [14] of the
clause) on longitude/latitude, as PostGIS ``geometry`` computes them.

``near`` distances are metres on a sphere of radius :data:`EARTH_RADIUS_M`: the closest pair of
points is found on a local equirectangular projection centred on the reference geometry, and
their great-circle (haversine) distance is measured. Against the WGS84 ellipsoid this is within
0.5 % (the sphere's own error); the closest-pair choice is exact for points and good to well
under a metre for city-sized geometries. ``maxDistance==d`` matches when the target comes within
``d`` of the reference (as PostGIS ``ST_DWithin`` in Stellio and Scorpio), ``minDistance==d``
when it stays farther than ``d`` (disjoint from the buffer, clause 4.10).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias, get_args

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.ops import nearest_points

from twin.errors import QueryError
from twin.types import Float64Array

__all__ = [
    "EARTH_RADIUS_M",
    "GeoQuery",
    "GeoRelation",
    "GeometryType",
    "coordinates_problem",
    "distance_m",
    "evaluate_geo",
    "geometry_problem",
    "parse_geoquery",
]

EARTH_RADIUS_M: Final = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""

GeoRelation: TypeAlias = Literal[
    "near", "within", "contains", "intersects", "equals", "disjoint", "overlaps"
]
GeometryType: TypeAlias = Literal[
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"
]
_DEPTH: Final[dict[str, int]] = {
    "Point": 1,
    "MultiPoint": 2,
    "LineString": 2,
    "MultiLineString": 3,
    "Polygon": 3,
    "MultiPolygon": 4,
}
# nearRel of clause 4.10; PositiveNumber is an RFC 8259 number without minus, not zero.
_NEAR: Final = re.compile(
    r"near;(?P<which>maxDistance|minDistance)==(?P<d>(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)"
)


@dataclass(frozen=True, slots=True)
class GeoQuery:
    """A parsed geo-query.

    Attributes
    ----------
    georel : GeoRelation
        The relation the target must have to the reference.
    geometry : GeometryType
        The reference geometry's GeoJSON type.
    coordinates : Any
        The reference coordinates as parsed JSON (nested lists, lon/lat degrees).
    geoproperty : str
        The target GeoProperty's name, as given (compact it like ``q`` names).
    max_distance_m, min_distance_m : float or None
        The ``near`` bound, metres; exactly one is set when ``georel == "near"``.
    reference : shapely geometry
        The reference geometry, built once.
    """

    georel: GeoRelation
    geometry: GeometryType
    coordinates: Any = field(compare=False)
    geoproperty: str = "location"
    max_distance_m: float | None = None
    min_distance_m: float | None = None
    reference: Any = field(default=None, compare=False, repr=False)


def _error(message: str) -> QueryError:
    return QueryError(f"invalid geo-query: {message}")


def parse_geoquery(
    georel: str, geometry: str, coordinates: str, geoproperty: str = "location"
) -> GeoQuery:
    """Parse the ``georel``, ``geometry``, ``coordinates`` and ``geoproperty`` parameters.

    Raises
    ------
    QueryError
        If any parameter is malformed; the message says which and why.

    Examples
    --------
    >>> q = parse_geoquery("near;maxDistance==2000", "Point", "[8,40]")
    >>> q.georel, q.max_distance_m, q.reference.wkt
    ('near', 2000.0, 'POINT (8 40)')
    >>> parse_geoquery("within", "Point", "8,40")
    Traceback (most recent call last):
    twin.errors.QueryError: invalid geo-query: coordinates must be a JSON array, e.g. [8,40]
    """
    max_m = min_m = None
    relation: GeoRelation
    if georel.startswith("near"):
        match = _NEAR.fullmatch(georel)
        if match is None or float(match["d"]) <= 0 or not math.isfinite(float(match["d"])):
            raise _error(
                f"georel '{georel}' needs ';maxDistance==<metres>' or ';minDistance==<metres>'"
            )
        relation = "near"
        if match["which"] == "maxDistance":
            max_m = float(match["d"])
        else:
            min_m = float(match["d"])
    elif georel in get_args(GeoRelation):
        relation = georel  # type: ignore[assignment]
    else:
        choices = ", ".join(get_args(GeoRelation))
        raise _error(f"unknown georel '{georel}'; expected one of {choices}")
    if geometry not in _DEPTH:
        raise _error(f"unknown geometry '{geometry}'; expected one of {', '.join(_DEPTH)}")
    if not geoproperty:
        raise _error("geoproperty is empty")
    parsed, reference = _reference(geometry, coordinates)
    return GeoQuery(relation, geometry, parsed, geoproperty, max_m, min_m, reference)  # type: ignore[arg-type]


def _reference(geometry: str, coordinates: str) -> tuple[Any, Any]:
    if not coordinates.startswith("["):
        raise _error("coordinates must be a JSON array, e.g. [8,40]")
    try:
        parsed = json.loads(coordinates)
    except json.JSONDecodeError as exc:
        raise _error(f"coordinates are not a JSON array: {exc.msg} at {exc.pos}") from exc
    problem = coordinates_problem(geometry, parsed)
    if problem is not None:
        raise _error(problem)
    try:
        reference = shape({"type": geometry, "coordinates": parsed})
    except (ValueError, TypeError, shapely.errors.ShapelyError) as exc:
        raise _error(f"coordinates do not make a {geometry}: {exc}") from exc
    if reference.is_empty:
        raise _error(f"coordinates make an empty {geometry}")
    if not reference.is_valid:
        raise _error(f"invalid {geometry}: {shapely.is_valid_reason(reference)}")
    return parsed, reference


def geometry_problem(geometry: Mapping[str, Any]) -> str | None:
    """Return why a GeoJSON geometry object is not one RFC 7946 allows, or None when it is.

    Its ``coordinates`` are checked as :func:`coordinates_problem` says, the members of a
    ``GeometryCollection`` each in turn.

    >>> geometry_problem({"type": "Point", "coordinates": [200, 10]})
    'position [200, 10] is outside lon [-180, 180], lat [-90, 90]'
    >>> geometry_problem({"type": "GeometryCollection", "geometries": []}) is None
    True
    """
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        members = geometry.get("geometries")
        if not isinstance(members, list):
            return "a GeometryCollection needs a geometries array"
        problems = (
            geometry_problem(m) if isinstance(m, Mapping) else f"{json.dumps(m)} is no geometry"
            for m in members
        )
        return next((p for p in problems if p is not None), None)
    if kind not in _DEPTH:
        return f"unknown geometry {kind!r}; expected one of {', '.join(_DEPTH)}"
    return coordinates_problem(kind, geometry.get("coordinates"))


def coordinates_problem(geometry: str, coordinates: Any) -> str | None:
    """Return why ``coordinates`` do not make a GeoJSON ``geometry``, or None when they do.

    RFC 7946 §3.1: positions of 2 or 3 numbers, longitude and latitude in range, lines of 2
    positions or more, rings closed and of 4 positions or more.
    """
    return _positions_problem(coordinates, _DEPTH[geometry], geometry) or _parts_problem(
        coordinates, geometry
    )


def _positions_problem(value: Any, depth: int, geometry: str) -> str | None:
    """Check nesting depth, and that positions are 2-3 numbers within lon/lat bounds."""
    if depth == 1:
        ok = isinstance(value, list) and 2 <= len(value) <= 3
        if not ok or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return f"{json.dumps(value)} is not a position [lon, lat] in the {geometry}"
        if not (-180 <= value[0] <= 180 and -90 <= value[1] <= 90):
            return f"position {json.dumps(value)} is outside lon [-180, 180], lat [-90, 90]"
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, list) for v in value):
        return f"coordinates nest too shallowly for a {geometry}"
    problems = (_positions_problem(item, depth - 1, geometry) for item in value)
    return next((p for p in problems if p is not None), None)


def _parts_problem(coordinates: Any, geometry: str) -> str | None:
    """Check that lines have two positions and rings four, closed (RFC 7946 section 3.1)."""
    lines = {"LineString": [coordinates], "MultiLineString": coordinates}.get(geometry, [])
    if any(len(line) < 2 for line in lines):
        return f"a line of the {geometry} has fewer than 2 positions"
    polygons = {"Polygon": [coordinates], "MultiPolygon": coordinates}.get(geometry, [])
    for ring in (ring for polygon in polygons for ring in polygon):
        if len(ring) < 4 or ring[0] != ring[-1]:
            return f"a ring of the {geometry} is not closed or has fewer than 4 positions"
    return None


def evaluate_geo(query: GeoQuery, entity: Mapping[str, Any]) -> bool:
    """Tell whether an entity's GeoProperty has the query's relation to the reference.

    An entity without the GeoProperty, or whose value is no readable GeoJSON geometry, does not
    match (clause 4.10). With several instances (``datasetId``), any matching instance matches.

    Examples
    --------
    >>> q = parse_geoquery("near;maxDistance==1000", "Point", "[13.4, 52.52]")
    >>> here = {"location": {"type": "GeoProperty",
    ...                      "value": {"type": "Point", "coordinates": [13.4, 52.525]}}}
    >>> evaluate_geo(q, here)
    True
    """
    node = entity.get(query.geoproperty)
    instances = node if isinstance(node, list) else [node]
    return any(_matches(query, target) for target in map(_target_geometry, instances) if target)


def _target_geometry(node: Any) -> Any:
    value = node.get("value") if isinstance(node, Mapping) else None
    if not isinstance(value, Mapping):
        return None
    try:
        geometry = shape(value)
    except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.ShapelyError):
        return None
    return None if geometry.is_empty else geometry


def _matches(query: GeoQuery, target: Any) -> bool:
    ref = query.reference
    if query.georel == "near":
        metres = distance_m(target, ref)
        if query.max_distance_m is not None:
            return metres <= query.max_distance_m
        assert query.min_distance_m is not None
        return metres > query.min_distance_m
    if query.georel == "equals":
        return bool(target.equals(ref))
    return bool(getattr(target, query.georel)(ref))


def distance_m(a: Any, b: Any) -> float:
    """Return the shortest distance in metres between two lon/lat geometries (0 if they touch).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> round(distance_m(Point(8.0, 40.0), Point(8.0, 40.008993)))
    1000
    """
    if a.intersects(b):
        return 0.0
    lon0, lat0 = b.centroid.x, b.centroid.y
    scale = math.cos(math.radians(lat0))

    def to_local(xy: Float64Array) -> Float64Array:
        dlon = (xy[:, 0] - lon0 + 180.0) % 360.0 - 180.0
        return np.column_stack([dlon * scale, xy[:, 1] - lat0])

    pa, pb = nearest_points(shapely.transform(a, to_local), shapely.transform(b, to_local))
    lon_a, lat_a = lon0 + pa.x / max(scale, 1e-12), lat0 + pa.y
    lon_b, lat_b = lon0 + pb.x / max(scale, 1e-12), lat0 + pb.y
    return _haversine_m(lon_a, lat_a, lon_b, lat_b)


def _haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
