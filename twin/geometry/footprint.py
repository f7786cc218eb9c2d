"""Footprints: the 2D outline of a city object, from its polygons seen from above."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from twin.types import Float64Array, IndexArray

__all__ = ["footprint_geojson", "union_geojson"]

_MIN_AREA_DEG2 = 1e-14  # ≈ 1 cm² near the equator: walls seen from above vanish below it
_DECIMALS = 7  # 1e-7° ≈ 1 cm


def footprint_geojson(
    lonlat: Float64Array, ring_offsets: IndexArray, polygon_offsets: IndexArray
) -> dict[str, object] | None:
    """Return the union of all polygons projected to the plane, as a GeoJSON geometry.

    Vertical polygons (walls) have no area from above and drop out; roofs and ground surfaces
    make the outline. Returns None when nothing has area (e.g. a single wall).

    Parameters
    ----------
    lonlat : (N, 2) float64
        Ring vertices in degrees (longitude, latitude), rings open.
    ring_offsets, polygon_offsets : int64
        Ragged layout as in :class:`twin.model.Surfaces`.

    Examples
    --------
    >>> ring = np.array([[0.0, 0], [1e-4, 0], [1e-4, 1e-4], [0, 1e-4]])
    >>> footprint_geojson(ring, np.array([0, 4]), np.array([0, 1]))["type"]
    'Polygon'
    """
    if len(polygon_offsets) < 2:
        return None
    closed, ring_ends = _close_rings(lonlat, ring_offsets)
    polygons = shapely.from_ragged_array(
        shapely.GeometryType.POLYGON, closed, (ring_ends, polygon_offsets)
    )
    polygons = shapely.make_valid(polygons[shapely.area(polygons) > _MIN_AREA_DEG2])
    if len(polygons) == 0:
        return None
    merged = shapely.union_all(polygons)
    return _as_geojson(merged)


def union_geojson(geometries: Sequence[Mapping[str, object]]) -> dict[str, object] | None:
    """Return the union of GeoJSON geometries (e.g. a Building's parts' footprints)."""
    if not geometries:
        return None
    return _as_geojson(shapely.union_all([shape(g) for g in geometries]))


def _close_rings(lonlat: Float64Array, ring_offsets: IndexArray) -> tuple[Float64Array, IndexArray]:
    """Repeat each ring's first vertex at its end, as shapely's ragged layout expects."""
    starts = ring_offsets[:-1]
    insert_at = ring_offsets[1:]
    closed = np.insert(lonlat, insert_at, lonlat[starts], axis=0)
    ends = ring_offsets + np.arange(len(ring_offsets))
    return closed, ends.astype(np.int64)


def _as_geojson(geometry: shapely.Geometry) -> dict[str, object] | None:
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
