"""Triangle and vertex normals: computed, renormalized, and quantized for glTF."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["face_normals", "quantize_normals", "unit_normals", "vertex_normals"]


def face_normals(
    positions: npt.NDArray[np.floating], faces: npt.NDArray[np.integer]
) -> npt.NDArray[np.float64]:
    """Return the ``(M, 3)`` unit normals of triangles; degenerate ones get ``(0, 0, 1)``.

    Examples
    --------
    >>> p = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0]], dtype=np.float32)
    >>> face_normals(p, np.array([[0, 1, 2], [0, 1, 3]]))
    array([[0., 0., 1.],
           [0., 0., 1.]])
    """
    tri = positions[faces].astype(np.float64)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(cross, axis=1)
    ok = length > 0
    out = np.zeros_like(cross)
    out[:, 2] = 1.0  # glTF normals must be unit length; a zero-area face gets "up"
    out[ok] = cross[ok] / length[ok, None]
    return out


def unit_normals(normals: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Renormalize in float64 (the validator checks unit length); zero vectors become up."""
    n = normals.astype(np.float64)
    length = np.linalg.norm(n, axis=1)
    ok = length > 0
    out = np.zeros_like(n)
    out[:, 2] = 1.0
    out[ok] = n[ok] / length[ok, None]
    return out


def quantize_normals(normals: npt.NDArray[np.floating]) -> npt.NDArray[np.int8]:
    """Return unit normals ``(N, 3)`` as normalized int8 padded to 4 bytes per vertex, ``(N, 4)``.

    glTF decodes a normalized BYTE ``c`` as ``max(c / 127, -1)`` (glTF 2.0 §3.11); components
    are rounded to the nearest step, so directions stay within about half a degree.

    Examples
    --------
    >>> quantize_normals(np.array([[0.0, 0.0, 1.0], [0.6, 0.8, 0.0]])).tolist()
    [[0, 0, 127, 0], [76, 102, 0, 0]]
    """
    q = np.clip(np.rint(np.asarray(normals, dtype=np.float64) * 127.0), -127, 127)
    out = np.zeros((len(q), 4), dtype=np.int8)
    out[:, :3] = q
    return out


def vertex_normals(
    positions: npt.NDArray[np.floating], faces: npt.NDArray[np.integer]
) -> npt.NDArray[np.float32]:
    """Return ``(N, 3)`` unit vertex normals: the area-weighted mean of the faces around each.

    On a mesh whose polygons do not share vertices (each ring has its own), every vertex takes
    its polygon's normal, so the mesh renders flat without being un-welded. A vertex no face
    uses gets ``(0, 0, 1)``.

    Examples
    --------
    >>> p = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float64)
    >>> vertex_normals(p, np.array([[0, 1, 2], [0, 2, 3]])).tolist()
    [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
    """
    tri = positions[faces].astype(np.float64)
    area_vectors = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    corners = faces.reshape(-1)
    weights = np.repeat(area_vectors, 3, axis=0)
    summed = np.column_stack(
        [np.bincount(corners, weights[:, k], minlength=len(positions)) for k in range(3)]
    ).astype(np.float64)
    return unit_normals(summed).astype(np.float32)
