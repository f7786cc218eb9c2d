"""A city object's LoD surfaces as one MultiPolygon Z, for analysts who want the 3D shape.

Coordinates are longitude and latitude in degrees and ellipsoidal height in metres (OGC CRS84h),
rounded to 1e-8° and 1 mm (the source rarely carries more), and the geometry is kept as WKB:
compact in the catalog, and read only when a client asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from twin.geometry.footprint import close_rings
from twin.types import Float64Array, IndexArray

__all__ = ["merge_surfaces_wkb", "surfaces_wkb", "surfaces_wkb_many"]

_DECIMALS = (8, 8, 3)  # lon, lat in degrees (≈ 1 mm); height in metres


def surfaces_wkb(
    lonlath: Float64Array, ring_offsets: IndexArray, polygon_offsets: IndexArray
) -> bytes:
    """Return every polygon (with its holes) as one MultiPolygon Z in WKB.

    Parameters
    ----------
    lonlath : (N, 3) float64
        Ring vertices: longitude, latitude (degrees), ellipsoidal height (m); rings open.
    ring_offsets, polygon_offsets : int64
        Ragged layout as in :class:`twin.model.Surfaces`.

    Examples
    --------
    >>> tri = np.array([[8.0, 49.0, 100.0], [8.001, 49.0, 100.0], [8.0, 49.001, 105.0]])
    >>> shapely.from_wkb(surfaces_wkb(tri, np.array([0, 3]), np.array([0, 1]))).wkt
    'MULTIPOLYGON Z (((8 49 100, 8.001 49 100, 8 49.001 105, 8 49 100)))'
    """
    whole = np.array([0, len(polygon_offsets) - 1], dtype=np.int64)
    return surfaces_wkb_many(lonlath, ring_offsets, polygon_offsets, whole)[0]


def surfaces_wkb_many(
    lonlath: Float64Array,
    ring_offsets: IndexArray,
    polygon_offsets: IndexArray,
    object_offsets: IndexArray,
) -> list[bytes]:
    """Return :func:`surfaces_wkb` of many objects, all in one pass.

    Object ``k`` owns polygons ``object_offsets[k]:object_offsets[k + 1]``.

    >>> tri = np.array([[8.0, 49.0, 100.0], [8.001, 49.0, 100.0], [8.0, 49.001, 105.0]])
    >>> two = surfaces_wkb_many(np.vstack([tri, tri]), np.array([0, 3, 6]), np.array([0, 1, 2]),
    ...                         np.array([0, 1, 2]))
    >>> two[0] == two[1] == surfaces_wkb(tri, np.array([0, 3]), np.array([0, 1]))
    True
    """
    rounded = np.column_stack([np.round(lonlath[:, k], d) for k, d in enumerate(_DECIMALS)])
    closed, ring_ends = close_rings(rounded, ring_offsets)
    polygons = shapely.from_ragged_array(
        shapely.GeometryType.POLYGON, closed, (ring_ends, polygon_offsets)
    )
    n_objects = len(object_offsets) - 1
    owner = np.repeat(np.arange(n_objects), np.diff(object_offsets))
    multi = np.full(n_objects, shapely.MultiPolygon(), dtype=object)  # kept where none
    shapely.multipolygons(polygons, indices=owner, out=multi)
    return [bytes(b) for b in shapely.to_wkb(multi, output_dimension=3)]


def merge_surfaces_wkb(parts: Sequence[bytes]) -> bytes | None:
    """Return the polygons of several MultiPolygon Z (e.g. a Building's parts) as one.

    >>> a = shapely.to_wkb(shapely.from_wkt("MULTIPOLYGON Z (((0 0 1, 1 0 1, 0 1 1, 0 0 1)))"))
    >>> shapely.from_wkb(merge_surfaces_wkb([a, a])).wkt.count("((")
    2
    """
    if not parts:
        return None
    polygons = shapely.get_parts(shapely.from_wkb(list(parts)))
    return bytes(shapely.to_wkb(shapely.multipolygons(polygons), output_dimension=3))
