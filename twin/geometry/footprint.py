"""Footprints: the 2D outline of a city object, from its polygons seen from above."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import mapping, shape

from twin.types import Float64Array, IndexArray

Geometries = npt.NDArray[np.object_]

__all__ = [
    "close_rings",
    "footprint_geojson",
    "footprints_geojson",
    "lonlat_area_m2",
    "union_geojson",
]

_MIN_AREA_DEG2 = 1e-14  # ≈ 1 cm² near the equator: walls seen from above vanish below it
_DECIMALS = 7  # 1e-7° ≈ 1 cm
_A, _E2 = 6378137.0, 6.69437999014e-3  # WGS84 semi-major axis (m), first eccentricity squared
_POLYGON, _MULTIPOLYGON, _COLLECTION = (
    shapely.GeometryType.POLYGON,
    shapely.GeometryType.MULTIPOLYGON,
    shapely.GeometryType.GEOMETRYCOLLECTION,
)

Footprint = tuple[dict[str, object] | None, float]
"""A footprint as GeoJSON (None when nothing has area) and its area in m²."""


def footprint_geojson(
    lonlat: Float64Array, ring_offsets: IndexArray, polygon_offsets: IndexArray
) -> Footprint:
    """Return the union of all polygons projected to the plane, as GeoJSON, and its area (m²).

    Vertical polygons (walls) have no area from above and drop out; roofs and ground surfaces
    make the outline. Returns ``(None, 0.0)`` when nothing has area (e.g. a single wall). The
    area is the unrounded outline's, on the WGS84 ellipsoid (:func:`lonlat_area_m2`).

    Parameters
    ----------
    lonlat : (N, 2) float64
        Ring vertices in degrees (longitude, latitude), rings open.
    ring_offsets, polygon_offsets : int64
        Ragged layout as in :class:`twin.model.Surfaces`.

    Examples
    --------
    >>> ring = np.array([[0.0, 0], [1e-4, 0], [1e-4, 1e-4], [0, 1e-4]])
    >>> geojson, area = footprint_geojson(ring, np.array([0, 4]), np.array([0, 1]))
    >>> geojson["type"], round(area, 1)
    ('Polygon', 123.1)
    """
    whole = np.array([0, len(polygon_offsets) - 1], dtype=np.int64)
    return footprints_geojson(lonlat, ring_offsets, polygon_offsets, whole)[0]


def footprints_geojson(
    lonlat: Float64Array,
    ring_offsets: IndexArray,
    polygon_offsets: IndexArray,
    object_offsets: IndexArray,
) -> list[Footprint]:
    """Return :func:`footprint_geojson` of many objects at once.

    Object ``k`` owns polygons ``object_offsets[k]:object_offsets[k + 1]`` of the ragged set.
    The polygons of all objects are built, filtered and repaired in one call each, the
    outlines of all objects unioned in one call (GEOS unions each object's polygons in the
    same order as one object at a time, so the result is the same), rounded in one call;
    only the GeoJSON is put together object by object.

    >>> ring = np.array([[0.0, 0], [1e-4, 0], [1e-4, 1e-4], [0, 1e-4]])
    >>> two = footprints_geojson(np.vstack([ring, ring + 1.0]), np.array([0, 4, 8]),
    ...                          np.array([0, 1, 2]), np.array([0, 1, 1, 2]))
    >>> [(None if g is None else g["type"], round(a)) for g, a in two]
    [('Polygon', 123), (None, 0), ('Polygon', 123)]
    """
    n_objects = len(object_offsets) - 1
    found: list[Footprint] = [(None, 0.0)] * n_objects
    if len(polygon_offsets) < 2 or n_objects == 0:
        return found
    closed, ring_ends = close_rings(lonlat, ring_offsets)
    polygons = shapely.from_ragged_array(_POLYGON, closed, (ring_ends, polygon_offsets))
    owner = np.repeat(np.arange(n_objects), np.diff(object_offsets))
    flat = shapely.area(polygons) > _MIN_AREA_DEG2
    if not flat.any():
        return found
    owner = owner[flat]
    drawn = np.unique(owner)
    # One collection per object with area; union_all over axis 1 unions each collection.
    groups = np.empty(n_objects, dtype=object)
    shapely.geometrycollections(shapely.make_valid(polygons[flat]), indices=owner, out=groups)
    merged = shapely.union_all(groups[drawn, None], axis=1)
    kinds = shapely.get_type_id(merged)
    for k in np.flatnonzero(kinds == _COLLECTION):  # keep the polygonal part (rare)
        merged[k] = _polygonal_part(merged[k])
    keep = np.isin(shapely.get_type_id(merged), (_POLYGON, _MULTIPOLYGON))
    keep[keep] = ~shapely.is_empty(merged[keep])
    outlines, drawn = merged[keep], drawn[keep]
    if len(outlines) == 0:
        return found
    bounds, areas = shapely.bounds(outlines), shapely.area(outlines)
    geojsons = _geojson_many(shapely.set_precision(outlines, 10.0**-_DECIMALS))
    for k, geojson, box, area in zip(drawn, geojsons, bounds, areas, strict=True):
        found[k] = (geojson, _scaled_area_m2(box[1], box[3], area))
    return found


def lonlat_area_m2(geometry: Mapping[str, object]) -> float:
    """Return the area (m²) of a GeoJSON (multi)polygon in degrees, on the WGS84 ellipsoid.

    The outline is scaled by the ellipsoid's radii of curvature at its mid latitude: the
    area element is M·N·cos φ dφ dλ, and across a building φ changes by ~1e-5 rad, so the
    error is ~1e-5 relative.

    >>> square = {"type": "Polygon", "coordinates": [[[0, 0], [1e-4, 0], [1e-4, 1e-4], [0, 0]]]}
    >>> round(lonlat_area_m2(square), 2)
    61.55
    """
    outline = shape(geometry)
    _, y0, _, y1 = outline.bounds
    return _scaled_area_m2(y0, y1, outline.area)


def _scaled_area_m2(y0: float, y1: float, area_deg2: float) -> float:
    """Return an outline's area in m² from its area in degrees² and latitude range."""
    phi = np.radians((y0 + y1) / 2.0)
    w = 1.0 - _E2 * np.sin(phi) ** 2
    meridian, normal = _A * (1.0 - _E2) / w**1.5, _A / np.sqrt(w)
    return float(area_deg2 * np.radians(1.0) ** 2 * meridian * normal * np.cos(phi))


def union_geojson(geometries: Sequence[Mapping[str, object]]) -> dict[str, object] | None:
    """Return the union of GeoJSON geometries (e.g. a Building's parts' footprints)."""
    if not geometries:
        return None
    polygonal = _polygonal_part(shapely.union_all([shape(g) for g in geometries]))
    if polygonal is None or polygonal.is_empty:
        return None
    return _geojson_many(np.array([shapely.set_precision(polygonal, 10.0**-_DECIMALS)]))[0]


def close_rings(points: Float64Array, ring_offsets: IndexArray) -> tuple[Float64Array, IndexArray]:
    """Repeat each ring's first vertex at its end, as shapely's ragged layout expects."""
    starts = ring_offsets[:-1]
    insert_at = ring_offsets[1:]
    closed = np.insert(points, insert_at, points[starts], axis=0)
    ends = ring_offsets + np.arange(len(ring_offsets))
    return closed, ends.astype(np.int64)


def _geojson_many(geometries: Geometries) -> list[dict[str, object]]:
    """Return each of ``geometries`` (polygons, multipolygons) as ``shapely.geometry.mapping``
    words it: a Polygon's rings as a tuple, a MultiPolygon's polygons as a list, each ring a
    tuple of ``(x, y)`` tuples.

    The coordinates of all geometries are read in one call, then sliced ring by ring.

    >>> square = shapely.box(0, 0, 1, 1)
    >>> _geojson_many(np.array([square])) == [dict(mapping(square))]
    True
    """
    found: list[dict[str, object]] = [{}] * len(geometries)
    plain = ~shapely.is_empty(geometries)
    for k in np.flatnonzero(~plain):
        found[k] = dict(mapping(geometries[k]))
    if not plain.any():
        return found
    kind, coords, offsets = shapely.to_ragged_array(geometries[plain])
    points = list(zip(coords[:, 0].tolist(), coords[:, 1].tolist(), strict=True))
    rings = [tuple(points[a:b]) for a, b in itertools.pairwise(offsets[0].tolist())]
    polygons = [tuple(rings[a:b]) for a, b in itertools.pairwise(offsets[1].tolist())]
    parts = offsets[2].tolist() if kind == _MULTIPOLYGON else list(range(len(polygons) + 1))
    multi = shapely.get_type_id(geometries[plain]) == _MULTIPOLYGON
    for k, a, b, is_multi in zip(np.flatnonzero(plain), parts, parts[1:], multi, strict=False):
        if is_multi:
            found[k] = {"type": "MultiPolygon", "coordinates": polygons[a:b]}
        else:
            found[k] = {"type": "Polygon", "coordinates": polygons[a]}
    return found


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry | None:
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    if geometry.geom_type == "GeometryCollection":
        parts = [g for g in geometry.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        return shapely.union_all(parts) if parts else None
    return None
