"""Measures of city objects' triangle meshes: area per surface class, closed shells, volume.

Everything is vectorized across many objects at once (the faces of object ``k`` are those
whose ``owner`` is ``k``), so an import measures a batch of buildings in a few array passes.

Areas are summed from triangles in ECEF metres: a triangle's area does not depend on the
Cartesian frame, and float64 ECEF differences keep well under a millimetre. Volumes are
computed relative to a vertex of each object (a local frame), so the divergence-theorem sum
does not cancel terms of 10¹⁹ m³ against each other.

A shell is closed when, after welding vertices closer than a millimetre, every edge is used
by exactly two triangles and in opposite directions (each directed edge once, its reverse
once). Only then is the enclosed volume defined; otherwise it is NaN.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from twin.geometry.triangulate import triangle_areas
from twin.types import BoolArray, Float64Array, IndexArray, UInt8Array, UInt32Array

__all__ = [
    "WELD_TOLERANCE_M",
    "class_areas",
    "closed_shells",
    "enclosed_volumes",
    "measure_meshes",
    "vertex_ids",
    "weld",
]

WELD_TOLERANCE_M = 0.001
"""Vertices of one object that round to the same millimetre are the same vertex."""


def class_areas(
    positions: Float64Array,
    faces: UInt32Array,
    classes: UInt8Array,
    owner: IndexArray,
    n_objects: int,
    n_classes: int,
) -> Float64Array:
    """Return the summed triangle area of each object per surface class, ``(n_objects, n_classes)``.

    >>> square = np.array([[0.0, 0, 0], [2, 0, 0], [2, 3, 0], [0, 3, 0]])
    >>> faces = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.uint32)
    >>> class_areas(square, faces, np.array([1, 2], np.uint8), np.zeros(2, np.int64), 1, 3)
    array([[0., 3., 3.]])
    """
    cell = owner * n_classes + classes.astype(np.int64)
    sums = np.bincount(cell, triangle_areas(positions, faces), minlength=n_objects * n_classes)
    return np.asarray(sums.reshape(n_objects, n_classes), dtype=np.float64)


def weld(positions: Float64Array, vertex_owner: IndexArray, origins: Float64Array) -> IndexArray:
    """Return a vertex id per position: equal for positions of one object within a millimetre.

    ``origins`` (n_objects, 3) is a point of each object; positions are rounded relative to it.

    >>> pts = np.array([[0.0, 0, 0], [1, 0, 0], [1.0000001, 0, 0], [1, 0, 0]])
    >>> weld(pts, np.array([0, 0, 0, 1]), np.zeros((2, 3))).tolist()
    [0, 1, 1, 2]
    """
    local = (positions - origins[vertex_owner]) / WELD_TOLERANCE_M
    return vertex_ids(np.column_stack([vertex_owner, np.round(local).astype(np.int64)]))


def vertex_ids(keys: npt.NDArray[np.int64]) -> IndexArray:
    """Number the distinct rows of ``(n, k)`` integer ``keys`` (equal rows, equal numbers), in
    the rows' sorted order; one lexsort, much faster than ``np.unique(axis=0)``.

    >>> vertex_ids(np.array([[5, 1], [0, 2], [5, 1]])).tolist()
    [1, 0, 1]
    """
    order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    new = np.ones(len(keys), dtype=bool)
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    ids = np.empty(len(keys), dtype=np.int64)
    ids[order] = np.cumsum(new) - 1
    return ids


def closed_shells(welded_faces: IndexArray, owner: IndexArray, n_objects: int) -> BoolArray:
    """Return, per object, whether its triangles form closed, consistently oriented shells.

    ``welded_faces`` (M, 3) are vertex ids from :func:`weld`; triangles that weld to a line
    or point are ignored. An object without triangles is not closed.

    >>> tetra = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    >>> closed_shells(tetra, np.zeros(4, np.int64), 1).tolist()
    [True]
    >>> closed_shells(tetra[:3], np.zeros(3, np.int64), 1).tolist()
    [False]
    """
    a, b, c = welded_faces[:, 0], welded_faces[:, 1], welded_faces[:, 2]
    proper = (a != b) & (b != c) & (c != a)
    faces, face_owner = welded_faces[proper], owner[proper]
    counted = np.bincount(face_owner, minlength=n_objects) > 0
    start = faces.reshape(-1)
    end = faces[:, [1, 2, 0]].reshape(-1)
    edge_owner = np.repeat(face_owner, 3)
    span = np.int64(max(int(welded_faces.max(initial=0)) + 1, 1))
    forward, backward = start * span + end, end * span + start
    order = np.sort(forward)
    repeated = np.zeros(len(forward), dtype=bool)
    if len(order) > 1:
        twice = order[1:][order[1:] == order[:-1]]
        repeated = np.isin(forward, twice)
    unmatched = ~np.isin(backward, order, assume_unique=False)
    bad = np.bincount(edge_owner, (repeated | unmatched).astype(np.float64), minlength=n_objects)
    return np.asarray(counted & (bad == 0), dtype=bool)


def enclosed_volumes(
    positions: Float64Array,
    faces: UInt32Array,
    owner: IndexArray,
    origins: Float64Array,
    closed: BoolArray,
) -> Float64Array:
    """Return the volume each object's shell encloses (m³ for metres), NaN where not closed.

    The divergence theorem: the sum of signed tetrahedra from the object's origin to each
    triangle. Its sign says whether the triangles face outwards; the volume is its magnitude.

    >>> cube = np.array([[x, y, z] for x in (0.0, 2) for y in (0.0, 3) for z in (0.0, 4)])
    >>> faces = np.array([[0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3], [0, 4, 5], [0, 5, 1],
    ...                   [2, 3, 7], [2, 7, 6], [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5]],
    ...                  dtype=np.uint32)
    >>> enclosed_volumes(cube, faces, np.zeros(12, np.int64), np.ones((1, 3)), np.ones(1, bool))
    array([24.])
    """
    n_objects = len(origins)
    a, b, c = (positions[faces[:, k]] - origins[owner] for k in range(3))
    signed = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0
    volume = np.abs(np.bincount(owner, signed, minlength=n_objects))
    return np.where(closed, volume, np.nan)


def measure_meshes(
    positions: Float64Array,
    faces: UInt32Array,
    classes: UInt8Array,
    owner: IndexArray,
    vertex_offsets: IndexArray,
    n_classes: int,
) -> tuple[Float64Array, Float64Array]:
    """Return the area per class ``(n, n_classes)`` and the volume ``(n,)`` of ``n`` objects.

    Object ``k`` owns vertices ``vertex_offsets[k]:vertex_offsets[k + 1]`` (at least one) and
    the faces whose ``owner`` is ``k``; its volume is NaN unless its shells are closed.
    """
    n_objects = len(vertex_offsets) - 1
    origins = positions[vertex_offsets[:-1]]
    vertex_owner = np.repeat(np.arange(n_objects), np.diff(vertex_offsets))
    welded = weld(positions, vertex_owner, origins)[faces]
    closed = closed_shells(welded, owner, n_objects)
    areas = class_areas(positions, faces, classes, owner, n_objects, n_classes)
    return areas, enclosed_volumes(positions, faces, owner, origins, closed)
