"""Triangulate planar polygons with holes: Newell normal, projection to the plane, earcut.

Pure numpy plus the earcut binding; no I/O. Loops run over polygons (each does array work),
never over vertices.
"""

from __future__ import annotations

import mapbox_earcut
import numpy as np

from twin.types import Float64Array, IndexArray, UInt32Array

__all__ = ["newell_normal", "polygon_area", "triangle_areas", "triangulate_polygons"]


def newell_normal(ring: Float64Array) -> Float64Array:
    """Return the (unnormalised) Newell normal of an open ring (N, 3); its length is 2 × area.

    Robust for non-convex rings and rings whose first vertices are collinear.

    >>> newell_normal(np.array([[0.0, 0, 0], [2, 0, 0], [2, 1, 0], [0, 1, 0]])).tolist()
    [0.0, 0.0, 4.0]
    """
    centred = ring - ring.mean(axis=0)
    normal: Float64Array = np.cross(centred, np.roll(centred, -1, axis=0)).sum(axis=0)
    return normal


def polygon_area(rings: list[Float64Array]) -> float:
    """Return the area of a planar polygon: exterior ring minus its holes (m² for metres).

    >>> square = np.array([[0.0, 0, 0], [4, 0, 0], [4, 4, 0], [0, 4, 0]])
    >>> hole = np.array([[1.0, 1, 0], [1, 2, 0], [2, 2, 0], [2, 1, 0]])
    >>> polygon_area([square, hole])
    15.0
    """
    normal = newell_normal(rings[0])
    unit = normal / np.linalg.norm(normal)
    holes = sum(abs(float(newell_normal(r) @ unit)) for r in rings[1:])
    return float(np.linalg.norm(normal) - holes) / 2.0


def triangle_areas(vertices: Float64Array, faces: UInt32Array) -> Float64Array:
    """Return the area of each triangle (M,) of ``faces`` (M, 3) into ``vertices`` (N, 3)."""
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    return np.asarray(0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1), dtype=np.float64)


def triangulate_polygons(
    coords: Float64Array, ring_offsets: IndexArray, polygon_offsets: IndexArray
) -> tuple[UInt32Array, IndexArray]:
    """Triangulate every polygon of a ragged polygon set.

    Parameters
    ----------
    coords : (N, 3) float64
        Vertices of open rings in a Cartesian frame (e.g. ECEF), metres.
    ring_offsets : (R + 1,) int64
    polygon_offsets : (P + 1,) int64
        Layout as in :class:`twin.model.Surfaces`.

    Returns
    -------
    faces : (M, 3) uint32
        Indices into ``coords``, counter-clockwise about each polygon's Newell normal (so a
        CityGML ring seen counter-clockwise from outside yields outward-facing triangles).
    polygon_index : (M,) int64
        The polygon each triangle belongs to. Degenerate polygons (no area) yield none.

    Examples
    --------
    >>> box_side = np.array([[0.0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]])
    >>> faces, owner = triangulate_polygons(box_side, np.array([0, 4]), np.array([0, 1]))
    >>> faces.shape, owner.tolist()
    ((2, 3), [0, 0])
    """
    all_faces: list[UInt32Array] = []
    owners: list[IndexArray] = []
    for p in range(len(polygon_offsets) - 1):
        r0, r1 = int(polygon_offsets[p]), int(polygon_offsets[p + 1])
        v0, v1 = int(ring_offsets[r0]), int(ring_offsets[r1])
        faces = _triangulate_one(coords[v0:v1], ring_offsets[r0 + 1 : r1 + 1] - v0)
        if len(faces):
            all_faces.append(faces + np.uint32(v0))
            owners.append(np.full(len(faces), p, dtype=np.int64))
    if not all_faces:
        return np.empty((0, 3), dtype=np.uint32), np.empty(0, dtype=np.int64)
    return np.concatenate(all_faces), np.concatenate(owners)


def _triangulate_one(vertices: Float64Array, ring_ends: IndexArray) -> UInt32Array:
    """Triangulate one polygon: ``vertices`` (N, 3) of its rings, ``ring_ends`` their ends."""
    exterior = vertices[: ring_ends[0]]
    normal = newell_normal(exterior)
    length = float(np.linalg.norm(normal))
    scale = float(np.ptp(exterior, axis=0).max()) if len(exterior) else 0.0
    if len(exterior) < 3 or length <= 1e-12 * max(scale, 1e-9) ** 2:
        return np.empty((0, 3), dtype=np.uint32)
    n = normal / length
    if len(vertices) == 3:
        return np.array([[0, 1, 2]], dtype=np.uint32)
    # A right-handed basis (u, v, n) of the polygon's plane: counter-clockwise about n in 3D
    # stays counter-clockwise in (u, v).
    helper = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(helper, n)
    u /= np.linalg.norm(u)
    v = np.cross(n, u)
    local = vertices - vertices.mean(axis=0)
    flat = np.column_stack([local @ u, local @ v])
    indices = mapbox_earcut.triangulate_float64(flat, ring_ends.astype(np.uint32))
    faces = np.asarray(indices, dtype=np.uint32).reshape(-1, 3)
    return _orient(faces, flat)


def _orient(faces: UInt32Array, flat: Float64Array) -> UInt32Array:
    """Make every triangle counter-clockwise in the plane (earcut does not promise one way)."""
    a, b, c = flat[faces[:, 0]], flat[faces[:, 1]], flat[faces[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    flipped = cross < 0
    faces[flipped] = faces[flipped][:, [0, 2, 1]]
    return faces
