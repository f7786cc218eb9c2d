"""Triangulate many polygons at once: vectorized fans for convex rings, earcut for the rest.

LoD2 city models are mostly triangles, quads and convex pentagons (gable walls). Calling earcut
once per polygon spends most of its time in Python; here every hole-free, strictly convex
polygon is fanned with array operations across the whole set, and only concave polygons and
polygons with holes go through :func:`twin.geometry.triangulate_polygons` one at a time.
"""

from __future__ import annotations

import numpy as np

from twin.geometry.triangulate import triangulate_polygons
from twin.types import Float64Array, IndexArray, UInt32Array

__all__ = ["ragged_arange", "triangulate_many"]

_MAX_FAN = 32  # longer convex rings go to earcut (rare; bounds the fan arrays)
_CONVEX_TOLERANCE = 1e-9  # a turn below this times the ring's size squared counts as straight


def ragged_arange(starts: IndexArray, lengths: IndexArray) -> IndexArray:
    """Return ``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])`` without a loop.

    >>> ragged_arange(np.array([10, 0, 5]), np.array([2, 0, 3])).tolist()
    [10, 11, 5, 6, 7]
    """
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    run_starts = np.cumsum(lengths) - lengths
    out = np.arange(total, dtype=np.int64) - np.repeat(run_starts - starts, lengths)
    return np.asarray(out, dtype=np.int64)


def _segments(values: Float64Array, lengths: IndexArray, ufunc: np.ufunc) -> Float64Array:
    """Reduce consecutive runs (all non-empty) of ``values`` with ``ufunc`` along axis 0."""
    starts = np.cumsum(lengths) - lengths
    return np.asarray(ufunc.reduceat(values, starts, axis=0), dtype=np.float64)


def _convex_fans(
    coords: Float64Array, starts: IndexArray, lengths: IndexArray
) -> tuple[UInt32Array, IndexArray, IndexArray]:
    """Fan the strictly convex rings among single rings ``coords[s:s+n]`` (every n >= 3).

    Returns the faces (global vertex indices), the ring (index into ``starts``) of each face,
    and the rings that are neither fanned nor degenerate (they need earcut).
    """
    index = ragged_arange(starts, lengths)
    pts = coords[index]
    ring = np.repeat(np.arange(len(starts)), lengths)
    centred = pts - (_segments(pts, lengths, np.add) / lengths[:, None])[ring]
    local_start = np.cumsum(lengths) - lengths
    position = np.arange(len(pts)) - local_start[ring]
    nxt = local_start[ring] + (position + 1) % lengths[ring]
    prv = local_start[ring] + (position - 1) % lengths[ring]
    normal = _segments(np.cross(centred, centred[nxt]), lengths, np.add)
    length = np.linalg.norm(normal, axis=1)
    scale = (_segments(pts, lengths, np.maximum) - _segments(pts, lengths, np.minimum)).max(axis=1)
    degenerate = length <= 1e-12 * np.maximum(scale, 1e-9) ** 2
    unit = normal / np.where(length > 0, length, 1.0)[:, None]
    turn = np.einsum(
        "ij,ij->i", np.cross(centred - centred[prv], centred[nxt] - centred), unit[ring]
    )
    sharpest = _segments(turn[:, None], lengths, np.minimum)[:, 0]
    convex = ~degenerate & (sharpest > _CONVEX_TOLERANCE * scale**2)
    fanned = np.flatnonzero(convex)
    per = lengths[fanned] - 2
    owner = np.repeat(fanned, per)
    j = ragged_arange(np.ones(len(fanned), dtype=np.int64), per)
    first = starts[owner]
    faces = np.column_stack([first, first + j, first + j + 1]).astype(np.uint32)
    return faces, owner, np.flatnonzero(~convex & ~degenerate)


def triangulate_many(
    coords: Float64Array, ring_offsets: IndexArray, polygon_offsets: IndexArray
) -> tuple[UInt32Array, IndexArray]:
    """Triangulate every polygon of a ragged polygon set; same contract as
    :func:`twin.geometry.triangulate_polygons`, much faster on many small convex polygons.

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
        Counter-clockwise about each polygon's Newell normal, grouped by polygon in order.
    polygon_index : (M,) int64
        The polygon of each triangle; degenerate polygons have none.

    Examples
    --------
    >>> pts = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1],
    ...                 [0, 1, 1]])
    >>> faces, owner = triangulate_many(pts, np.array([0, 4, 7]), np.array([0, 1, 2]))
    >>> faces.tolist(), owner.tolist()
    ([[0, 1, 2], [0, 2, 3], [4, 5, 6]], [0, 0, 1])
    """
    first_ring = polygon_offsets[:-1]
    starts = ring_offsets[first_ring]
    lengths = ring_offsets[first_ring + 1] - starts
    single = (np.diff(polygon_offsets) == 1) & (lengths >= 3) & (lengths <= _MAX_FAN)
    candidates = np.flatnonzero(single)
    faces_fan, ring_fan, concave = _convex_fans(coords, starts[candidates], lengths[candidates])
    owner_fan = candidates[ring_fan]
    rest = np.concatenate([candidates[concave], np.flatnonzero(~single)])
    all_faces, owners = [faces_fan], [owner_fan]
    for p in np.sort(rest):
        r0, r1 = int(polygon_offsets[p]), int(polygon_offsets[p + 1])
        v0, v1 = int(ring_offsets[r0]), int(ring_offsets[r1])
        ends = np.array([0, r1 - r0], dtype=np.int64)
        faces, _ = triangulate_polygons(coords[v0:v1], ring_offsets[r0 : r1 + 1] - v0, ends)
        all_faces.append(faces + np.uint32(v0))
        owners.append(np.full(len(faces), p, dtype=np.int64))
    faces_all = np.concatenate(all_faces).astype(np.uint32, copy=False)
    owner_all = np.concatenate(owners)
    order = np.argsort(owner_all, kind="stable")
    return faces_all[order], owner_all[order]
