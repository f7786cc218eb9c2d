"""The ``meshopt`` geometry layout: ``EXT_meshopt_compression`` over ``KHR_mesh_quantization``.

Positions become unsigned 16-bit integers on a uniform grid over the tile's extent, which the
node's scale and translation map back to metres (``KHR_mesh_quantization`` allows non-normalized
UNSIGNED_SHORT POSITION), when that grid moves no vertex further than ``max_error_m``: a step of
``extent / 65535`` moves a vertex at most ``step / 2 * √3``. Otherwise (a tile wider than about
75 m for the default 1 mm) positions stay float32, exact as without compression, and only the
codec shrinks them. Normals are normalized int8 (4 bytes a vertex); feature ids and texture
coordinates stay FLOAT (texture coordinates outside 0..1 repeat, so no normalized type fits). Each
part's triangles and vertices are first reordered for the vertex cache and first use, which is
what makes the meshoptimizer codecs small (EXT_meshopt_compression, "Compressing geometry data").

Every vertex and index bufferView is compressed (mode ATTRIBUTES, or TRIANGLES for indices) into
the GLB buffer, and itself points into a fallback buffer with no data (EXT_meshopt_compression,
"Fallback buffers": a placeholder of index 1 or above, large enough for the uncompressed views,
tagged ``fallback``; as it has no URI, the extension is required).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Final, Literal

import meshopt  # type: ignore[import-untyped]
import numpy as np

from tiles.layout import (
    ARRAY_BUFFER,
    BYTE,
    ELEMENT_ARRAY_BUFFER,
    FLOAT,
    QUANTIZATION,
    UNSIGNED_SHORT,
    BinWriter,
    Geometry,
    Part,
    add_uv_accessors,
    index_array,
    textured_uv,
    vertex_accessors,
)
from tiles.normals import quantize_normals

__all__ = ["MESHOPT", "write_meshopt"]

MESHOPT: Final = "EXT_meshopt_compression"
GRID_STEPS: Final = 65535


def _reorder(part: Part) -> Part:
    """Return the part with triangles in vertex-cache order and vertices in first-use order."""
    indices, remap, unique = meshopt.reorder_mesh(part.indices, triangles=True, optsize=False)
    order = np.empty(unique, dtype=np.int64)
    order[remap[: len(part.positions)]] = np.arange(len(part.positions))
    uv = None if part.uv is None else part.uv[order]
    return replace(part, positions=part.positions[order], normals=part.normals[order],
                   feature_ids=part.feature_ids[order], indices=indices, uv=uv)  # fmt: skip


def quantize_positions(
    positions: np.ndarray,
) -> tuple[np.ndarray, tuple[float, float, float], float]:
    """Return ``(N, 3)`` positions as uint16 grid coordinates, the grid origin and its step.

    ``positions ≈ q * step + origin`` within ``step / 2`` on each axis.

    Examples
    --------
    >>> q, origin, step = quantize_positions(np.array([[0.0, 0, 0], [655.35, 1, 2]]))
    >>> q.tolist(), origin, round(step, 6)
    ([[0, 0, 0], [65535, 100, 200]], (0.0, 0.0, 0.0), 0.01)
    """
    points = np.asarray(positions, dtype=np.float64)
    lo = points.min(axis=0)
    extent = float((points.max(axis=0) - lo).max())
    step = extent / GRID_STEPS if extent > 0 else 1.0
    q = np.clip(np.rint((points - lo) / step), 0, GRID_STEPS).astype(np.uint16)
    return q, (float(lo[0]), float(lo[1]), float(lo[2])), step


def write_meshopt(parts: list[Part], bin_: BinWriter, max_error_m: float = 0.001) -> Geometry:
    """Write the parts' geometry as compressed bufferViews; return what the GLB must declare."""
    parts = [_reorder(p) for p in parts]
    positions = np.concatenate([p.positions for p in parts])
    q, origin, step = quantize_positions(positions)
    on_grid = step / 2 * math.sqrt(3) <= max_error_m
    if on_grid:
        stored = np.zeros((len(q), 4), dtype="<u2")  # VEC3 UNSIGNED_SHORT, 4-byte aligned rows
        stored[:, :3] = q
    else:
        stored = positions.astype("<f4")
    normals = quantize_normals(np.concatenate([p.normals for p in parts]))
    feature_ids = np.concatenate([p.feature_ids for p in parts]).astype("<f4")
    indices = index_array(parts)
    fallback = BinWriter(buffer=1)
    views = []
    for data, mode, target in (
        (stored, "ATTRIBUTES", ARRAY_BUFFER),
        (normals, "ATTRIBUTES", ARRAY_BUFFER),
        (feature_ids.reshape(-1, 1), "ATTRIBUTES", ARRAY_BUFFER),
        (indices, "TRIANGLES", ELEMENT_ARRAY_BUFFER),
    ):
        views.append(_compressed_view(bin_, fallback, data, mode, target))  # type: ignore[arg-type]
    if not on_grid:
        accessors, refs = vertex_accessors(parts, tuple(views), FLOAT, BYTE)  # type: ignore[arg-type]
        origin, step = (0.0, 0.0, 0.0), 1.0
    else:  # accessor min/max of POSITION are in grid units: give the layout grid coordinates
        grid_parts, start = [], 0
        for part in parts:
            n = len(part.positions)
            grid_parts.append(replace(part, positions=q[start : start + n].astype(np.float32)))
            start += n
        accessors, refs = vertex_accessors(grid_parts, tuple(views), UNSIGNED_SHORT, BYTE)  # type: ignore[arg-type]
    uv = textured_uv(parts)
    if uv is not None:  # float32 texture coordinates: exact, the codec alone shrinks them
        view = _compressed_view(bin_, fallback, uv, "ATTRIBUTES", ARRAY_BUFFER)
        add_uv_accessors(parts, view, accessors, refs)
    return Geometry(
        accessors,
        refs,
        used=[MESHOPT, QUANTIZATION],
        required=[MESHOPT, QUANTIZATION],
        offset_yup=origin,
        scale=step,
        extra_buffers=[
            {"byteLength": fallback.length, "extensions": {MESHOPT: {"fallback": True}}}
        ],
    )


def _compressed_view(
    bin_: BinWriter,
    fallback: BinWriter,
    data: np.ndarray,
    mode: Literal["ATTRIBUTES", "TRIANGLES"],
    target: Literal[34962, 34963],
) -> int:
    """Add ``data`` compressed to ``bin_`` and declare its uncompressed place in ``fallback``."""
    stride = data.dtype.itemsize * (data.shape[1] if data.ndim == 2 else 1)
    encoded = meshopt.encode_gltf_buffer(data, mode)
    index = bin_.add(encoded, 4)
    packed = bin_.views[index]
    vertex = target == ARRAY_BUFFER
    fallback.add(bytes(data.nbytes), 4, byte_stride=stride if vertex else None, target=target)
    view = fallback.views[-1]
    view["extensions"] = {
        MESHOPT: {
            "buffer": 0,
            "byteOffset": packed["byteOffset"],
            "byteLength": packed["byteLength"],
            "byteStride": stride,
            "mode": mode,
            "count": len(data),
        }
    }
    bin_.views[index] = view
    return index
