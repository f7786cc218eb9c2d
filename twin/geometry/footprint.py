"""Footprints: the 2D outline of a city object, from its polygons seen from above."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from twin.types import Float64Array, IndexArray

__all__ = ["close_rings", "footprint_geojson", "lonlat_area_m2", "union_geojson"]

_MIN_AREA_DEG2 = 1e-14  # ≈ 1 cm² near the equator: walls seen from above vanish below it
_DECIMALS = 7  # 1e-7° ≈ 1 cm
_A, _E2 = 6378137.0, 6.69437999014e-3  # WGS84 semi-major axis (m), first eccentricity squared


def footprint_geojson(
    lonlat: Float64Array, ring_offsets: IndexArray, polygon_offsets: IndexArray
) -> tuple[dict[str, object] | None, float]:
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
    if len(polygon_offsets) < 2:
        return None, 0.0
    closed, ring_ends = close_rings(lonlat, ring_offsets)
    polygons = shapely.from_ragged_array(
        shapely.GeometryType.POLYGON, closed, (ring_ends, polygon_offsets)
    )
    polygons = shapely.make_valid(polygons[shapely.area(polygons) > _MIN_AREA_DEG2])
    if len(polygons) == 0:
        return None, 0.0
    merged = _polygonal_part(shapely.union_all(polygons))
    if merged is None or merged.is_empty:
        return None, 0.0
    return _as_geojson(merged), _area_m2(merged)


def lonlat_area_m2(geometry: Mapping[str, object]) -> float:
    """Return the area (m²) of a GeoJSON (multi)polygon in degrees, on the WGS84 ellipsoid.

    The outline is scaled by the ellipsoid's radii of curvature at its mid latitude: the
    area element is M·N·cos φ dφ dλ, and across a building φ changes by ~1e-5 rad, so the
    error is ~1e-5 relative.

    >>> square = {"type": "Polygon", "coordinates": [[[0, 0], [1e-4, 0], [1e-4, 1e-4], [0, 0]]]}
    >>> round(lonlat_area_m2(square), 2)
    61.55
    """
    return _area_m2(shape(geometry))


def _area_m2(geometry: shapely.Geometry) -> float:
    _, y0, _, y1 = geometry.bounds
    phi = np.radians((y0 + y1) / 2.0)
    w = 1.0 - _E2 * np.sin(phi) ** 2
    meridian, normal = _A * (1.0 - _E2) / w**1.5, _A / np.sqrt(w)
    return float(geometry.area * np.radians(1.0) ** 2 * meridian * normal * np.cos(phi))


def union_geojson(geometries: Sequence[Mapping[str, object]]) -> dict[str, object] | None:
    """Return the union of GeoJSON geometries (e.g. a Building's parts' footprints)."""
    if not geometries:
        return None
    return _as_geojson(shapely.union_all([shape(g) for g in geometries]))


def close_rings(points: Float64Array, ring_offsets: IndexArray) -> tuple[Float64Array, IndexArray]:
    """Repeat each ring's first vertex at its end, as shapely's ragged layout expects."""
    starts = ring_offsets[:-1]
    insert_at = ring_offsets[1:]
    closed = np.insert(points, insert_at, points[starts], axis=0)
    ends = ring_offsets + np.arange(len(ring_offsets))
    return closed, ends.astype(np.int64)


def _as_geojson(geometry: shapely.Geometry) -> dict[str, object] | None:
    """Return the polygonal part of ``geometry`` as GeoJSON, rounded to about 1 cm."""
    polygonal = _polygonal_part(geometry)
    if polygonal is None or polygonal.is_empty:
        return None
    rounded = shapely.set_precision(polygonal, 10.0**-_DECIMALS)
    return dict(mapping(rounded))


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry | None:
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    if geometry.geom_type == "GeometryCollection":
        parts = [g for g in geometry.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        return shapely.union_all(parts) if parts else None
    return None
