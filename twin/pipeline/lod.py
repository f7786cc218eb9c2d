"""Coarse levels of detail: each object as an LoD1 block, and how far the block is from it.

A block is the object's footprint box (oriented along the principal axis of its vertices seen
from above) extruded from its lowest to its highest point: 8 vertices, 10 triangles (no floor).
Its error is a one-number Hausdorff estimate of the simplification, in metres: the larger of

- how far the object's upward-facing surfaces sink below the block's flat top (roof height
  variation: ridge minus eaves for a gable house), and
- how far the object's vertices lie inside the block's sides (an L shape, a courtyard).

Everything is vectorized across all objects of a tile.
"""

from __future__ import annotations

import numpy as np

from twin.model import SurfaceClass
from twin.types import Float64Array, IndexArray, UInt8Array, UInt32Array

__all__ = ["BLOCK_FACES", "Blocks", "block_meshes", "object_slices"]

# Corners 0–3 at the bottom, 4–7 on top, counter-clockwise seen from above; each face (top,
# then the four walls) gets its own four vertices so it keeps its own normal when welded.
_QUADS = np.array([[4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]])
BLOCK_FACES = np.array(
    [[4 * q, 4 * q + 1, 4 * q + 2] for q in range(5)]
    + [[4 * q, 4 * q + 2, 4 * q + 3] for q in range(5)],
    dtype=np.uint32,
)
_BLOCK_CLASSES = np.array(
    [SurfaceClass.ROOF] + [SurfaceClass.WALL] * 4 + [SurfaceClass.ROOF] + [SurfaceClass.WALL] * 4,
    dtype=np.uint8,
)
_VERTICES = 20
_UP = 0.3  # a face whose normal has a larger up component counts as a roof


class Blocks:
    """LoD1 blocks of K objects in a local z-up frame.

    Attributes
    ----------
    positions : (20K, 3) float64
        Four vertices for each of a block's five faces (top, four walls).
    faces : (10K, 3) uint32
    classes : (10K,) uint8
    errors_m : (K,) float64
        Distance between each object and its block (see the module docstring).
    sizes_m : (K,) float64
        Diagonal of each block.
    """

    def __init__(self, positions: Float64Array, errors_m: Float64Array, sizes_m: Float64Array):
        k = len(errors_m)
        self.positions = positions
        self.faces: UInt32Array = (
            BLOCK_FACES[None, :, :] + (_VERTICES * np.arange(k, dtype=np.uint32))[:, None, None]
        ).reshape(-1, 3)
        self.classes: UInt8Array = np.tile(_BLOCK_CLASSES, k)
        self.errors_m = errors_m
        self.sizes_m = sizes_m


def block_meshes(
    positions: Float64Array,
    vertex_offsets: IndexArray,
    faces: UInt32Array,
    face_offsets: IndexArray,
) -> Blocks:
    """Return the LoD1 block of each object of a concatenated mesh set.

    Parameters
    ----------
    positions : (N, 3) float64
        Vertices of all objects, local z-up metres (e.g. ENU of a tile).
    vertex_offsets : (K + 1,) int64
        Object ``k`` owns ``positions[vertex_offsets[k]:vertex_offsets[k + 1]]`` (at least one).
    faces : (M, 3) uint32
        Triangles into ``positions`` (global indices).
    face_offsets : (K + 1,) int64
        Object ``k`` owns ``faces[face_offsets[k]:face_offsets[k + 1]]``.

    Examples
    --------
    >>> box = np.array([[0.0, 0, 0], [10, 0, 0], [10, 4, 0], [0, 4, 0], [0, 0, 6], [10, 0, 6],
    ...                 [10, 4, 6], [0, 4, 6], [5, 2, 9]])
    >>> roof = np.array([[4, 5, 8], [5, 6, 8], [6, 7, 8], [7, 4, 8]], dtype=np.uint32)
    >>> b = block_meshes(box, np.array([0, 9]), roof, np.array([0, 4]))
    >>> b.positions.shape, b.faces.shape, b.errors_m.round(3).tolist(), b.sizes_m.round(2).tolist()
    ((20, 3), (10, 3), [3.0], [14.04])
    """
    counts = np.diff(vertex_offsets)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = vertex_offsets[:-1]
    xy = positions[:, :2]
    centre = np.add.reduceat(xy, starts, axis=0) / counts[:, None]
    d = xy - centre[owner]
    cov = np.add.reduceat(np.column_stack([d[:, 0] ** 2, d[:, 1] ** 2, d[:, 0] * d[:, 1]]), starts)
    theta = 0.5 * np.arctan2(2.0 * cov[:, 2], cov[:, 0] - cov[:, 1])
    c, s = np.cos(theta)[owner], np.sin(theta)[owner]
    uvz = np.column_stack([d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c, positions[:, 2]])
    lo, hi = np.minimum.reduceat(uvz, starts), np.maximum.reduceat(uvz, starts)
    corners_uv = np.stack(
        [
            lo[:, :2],
            np.column_stack([hi[:, 0], lo[:, 1]]),
            hi[:, :2],
            np.column_stack([lo[:, 0], hi[:, 1]]),
        ],
        axis=1,
    )  # (K, 4, 2)
    ct, st = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x = centre[:, :1] + corners_uv[..., 0] * ct - corners_uv[..., 1] * st
    y = centre[:, 1:] + corners_uv[..., 0] * st + corners_uv[..., 1] * ct
    z = np.concatenate([np.repeat(lo[:, 2:], 4, axis=1), np.repeat(hi[:, 2:], 4, axis=1)], axis=1)
    corners = np.stack([np.tile(x, 2), np.tile(y, 2), z], axis=2)  # (K, 8, 3)
    block = corners[:, _QUADS.reshape(-1)].reshape(-1, 3)
    # How far each vertex lies inside the block's nearest side, seen from above: an inner
    # corner of an L or a courtyard ring is that far from the block's walls.
    inset = np.minimum.reduce(
        [
            uvz[:, 0] - lo[owner, 0],
            hi[owner, 0] - uvz[:, 0],
            uvz[:, 1] - lo[owner, 1],
            hi[owner, 1] - uvz[:, 1],
        ]
    )
    sides = np.maximum.reduceat(inset, starts)
    sink = _roof_sink(positions, faces, face_offsets, hi[:, 2] - lo[:, 2], hi[:, 2])
    return Blocks(block, np.maximum(sides, sink), np.linalg.norm(hi - lo, axis=1))


def _roof_sink(
    positions: Float64Array,
    faces: UInt32Array,
    face_offsets: IndexArray,
    height: Float64Array,
    top: Float64Array,
) -> Float64Array:
    """Return per object how far its lowest upward-facing vertex lies below ``top``."""
    tri = positions[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normal, axis=1)
    up = normal[:, 2] > _UP * np.maximum(length, 1e-300)
    lowest = np.where(up, tri[:, :, 2].min(axis=1), np.inf)
    counts = np.diff(face_offsets)
    per = np.full(len(counts), np.inf)
    nonempty = counts > 0
    per[nonempty] = np.minimum.reduceat(lowest, face_offsets[:-1][nonempty])
    sink = np.where(np.isfinite(per), top - per, height)  # no roof: the block may be all wrong
    return np.asarray(np.maximum(sink, 0.0), dtype=np.float64)


def object_slices(lengths: IndexArray) -> IndexArray:
    """Return offsets (K + 1,) of runs of ``lengths``.

    >>> object_slices(np.array([2, 3])).tolist()
    [0, 2, 5]
    """
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
