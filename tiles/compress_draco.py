"""The ``draco`` geometry layout: ``KHR_draco_mesh_compression``, one Draco mesh per primitive.

Positions are quantized by Draco with as few bits as keep every vertex within the allowed error
(the rule of :mod:`tiles.compress_meshopt`: a grid step of ``extent / (2**bits - 1)`` moves a
vertex at most ``step / 2 * √3``; 1 mm by default, more for coarse content whose geometric error
is metres, and less the decoder's float32 rounding), normals with 10-bit octahedral coordinates,
texture coordinates on a grid fine enough that none samples more than 1/8 texel away
(:func:`uv_bits`: a repeating texture's coordinates span tens of units, where a fixed 16-bit grid
moved them by most of a texel), and feature ids travel losslessly as a generic FLOAT attribute
named in the extension's ``attributes`` map like POSITION and NORMAL.

The accessors stay declared without a bufferView ("If only compressed data is stored, the
accessors … must not define the bufferView"), and "must match the decompressed data": Draco may
reorder and merge vertices, so counts, index type and POSITION min/max are taken from decoding
the bytes just encoded (the specification's implementation note advises exactly that).
"""

from __future__ import annotations

import math
from typing import Final

import DracoPy  # type: ignore[import-not-found]
import numpy as np
import numpy.typing as npt

from tiles.layout import (
    FLOAT,
    BinWriter,
    Geometry,
    IdAttribute,
    Part,
    index_type,
)
from tiles.typing import Accessor

__all__ = [
    "DRACO",
    "FLOAT32_SLACK",
    "UV_MAX_ERROR_TEXELS",
    "position_bits",
    "uv_bits",
    "write_draco",
]

DRACO: Final = "KHR_draco_mesh_compression"
_FEATURE_ID_UID: Final = 0  # Draco unique id given to _FEATURE_ID_0; POSITION/NORMAL get theirs
_DRACO_POSITION, _DRACO_NORMAL, _DRACO_TEX_COORD = 0, 1, 3  # draco::GeometryAttribute::Type
FLOAT32_SLACK: Final = 2.0**-21  # decoded float32 rounding, as a share of the extent (√3 · 2.5 ulp)
UV_MAX_ERROR_TEXELS: Final = 1 / 8
"""How far (texels) a decoded texture coordinate may sample from the one encoded."""
UNKNOWN_IMAGE_PX: Final = (8192, 8192)
"""The image assumed when the sampled one is not known: 1/8 texel of it is 1 texel of 1024 px."""


def _grid_bits(extent: float, diagonal: float, max_error: float, float32_error: float) -> int:
    """Return the fewest Draco quantization bits whose grid moves no point further than
    ``max_error``.

    Draco spreads ``2**bits - 1`` steps over ``extent`` (the largest side of the attribute's
    bounding box; draco ``AttributeQuantizationTransform``) and rounds each component to the
    nearest step: half a step on each axis, ``step / 2 * diagonal`` in the error's unit. The
    decoder's float32 arithmetic may add ``float32_error``; that much of ``max_error`` is kept
    for it, but never more than half. Draco takes 1 to 30 bits.

    Examples
    --------
    >>> _grid_bits(1.0, 1.0, 0.5, 0.0), _grid_bits(0.0, 1.0, 0.5, 0.0)
    (1, 1)
    >>> _grid_bits(100.0, 1.0, 0.5, 0.0), _grid_bits(100.0, 1.0, 0.5, 1.0)
    (7, 8)
    """
    budget = max(max_error - float32_error, max_error / 2)
    steps = extent * diagonal / (2 * budget)
    needed = math.ceil(math.log2(steps + 1.0)) if steps > 0 else 1
    return min(max(needed, 1), 30)


def position_bits(extent_m: float, max_error_m: float = 0.001) -> int:
    """Return the fewest Draco quantization bits that move no vertex further than ``max_error_m``.

    Draco spreads ``2**bits - 1`` steps over the largest side of the bounding box, ``extent_m``,
    and rounds each coordinate to the nearest step: a vertex moves at most half a step on each
    axis, ``step / 2 * √3`` in all. The decoder then computes ``origin + q * step`` in float32,
    which may add a few roundings of the extent's magnitude (:data:`FLOAT32_SLACK` of it); that
    share of ``max_error_m`` is kept for them, but never more than half (a part so wide that
    float32 alone moves vertices by that much cannot be exact uncompressed either). Draco takes
    1 to 30 bits.

    Examples
    --------
    >>> position_bits(500.0), position_bits(1.0), position_bits(0.0)
    (20, 10, 1)
    >>> position_bits(500.0, max_error_m=0.5), position_bits(500.0, max_error_m=5.0)
    (10, 7)
    >>> position_bits(5000.0)  # float32 rounding alone is 2.4 mm here: half the budget is kept
    24
    """
    return _grid_bits(extent_m, math.sqrt(3), max_error_m, FLOAT32_SLACK * extent_m)


def uv_bits(uv: npt.NDArray[np.floating], image_px: tuple[int, int] | None = None) -> int:
    """Return the fewest Draco bits that keep every texture coordinate within
    :data:`UV_MAX_ERROR_TEXELS` of the ``(width, height)`` image it samples.

    One grid covers both components (Draco quantizes over the largest side of their range),
    so a half step moves a coordinate by ``step / 2 * hypot(width, height)`` texels at most.
    The decoder's float32 rounding scales with the coordinates' magnitude, not their range
    (:data:`FLOAT32_SLACK` of it, as for positions). An unknown image counts as
    :data:`UNKNOWN_IMAGE_PX`.

    Examples
    --------
    >>> square = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> uv_bits(square, (1024, 1024)), uv_bits(square * 50, (1024, 1024))
    (13, 19)
    >>> uv_bits(square * 50), uv_bits(square * 50, (64, 64)), uv_bits(square[:1])
    (23, 15, 1)
    """
    width, height = UNKNOWN_IMAGE_PX if image_px is None else image_px
    texels_per_unit = math.hypot(width, height)
    extent = float(np.ptp(uv, axis=0).max())
    magnitude = float(np.abs(uv).max())
    slack = FLOAT32_SLACK * magnitude * texels_per_unit
    return _grid_bits(extent, texels_per_unit, UV_MAX_ERROR_TEXELS, slack)


def write_draco(
    parts: list[Part],
    bin_: BinWriter,
    id_attribute: IdAttribute = "_FEATURE_ID_0",
    max_error_m: float = 0.001,
) -> Geometry:
    """Write each part as a Draco mesh, no vertex moved further than ``max_error_m``; return the
    accessors and primitive extensions."""
    accessors: list[Accessor] = []
    refs: list[dict[str, int]] = []
    extensions: list[dict[str, object]] = []
    for part in parts:
        positions = part.positions.astype(np.float64)
        extent = float(np.ptp(positions, axis=0).max())
        uv = None if part.uv is None else part.uv.astype(np.float64)
        data = DracoPy.encode(
            positions,
            part.indices.reshape(-1, 3),
            quantization_bits=position_bits(extent, max_error_m),
            compression_level=7,
            normals=part.normals.astype(np.float64),
            normal_quantization_bits=10,
            generic_attributes={_FEATURE_ID_UID: part.feature_ids.reshape(-1, 1)},
            tex_coord=uv,
            tex_coord_quantization_bits=None if uv is None else uv_bits(uv, part.image_px),
        )
        decoded = DracoPy.decode(data)
        uids = {a["attribute_type"]: a["unique_id"] for a in decoded.attributes}
        n = len(decoded.points)
        lo, hi = decoded.points.min(axis=0), decoded.points.max(axis=0)
        first = len(accessors)
        accessors += [
            {"componentType": FLOAT, "count": n, "type": "VEC3",
             "min": [float(v) for v in lo], "max": [float(v) for v in hi]},
            {"componentType": FLOAT, "count": n, "type": "VEC3"},
            {"componentType": FLOAT, "count": n, "type": "SCALAR"},
            {"componentType": index_type(n), "count": int(decoded.faces.size), "type": "SCALAR"},
        ]  # fmt: skip
        refs.append({"POSITION": first, "NORMAL": first + 1, "_FEATURE_ID_0": first + 2,
                     "indices": first + 3})  # fmt: skip
        view = bin_.add(data, 4)
        attributes = {"POSITION": uids[_DRACO_POSITION], "NORMAL": uids[_DRACO_NORMAL],
                      id_attribute: _FEATURE_ID_UID}  # fmt: skip
        if part.uv is not None:
            accessors.append({"componentType": FLOAT, "count": n, "type": "VEC2"})
            refs[-1]["TEXCOORD_0"] = len(accessors) - 1
            attributes["TEXCOORD_0"] = uids[_DRACO_TEX_COORD]
        extensions.append({DRACO: {"bufferView": view, "attributes": attributes}})
    return Geometry(
        accessors, refs, used=[DRACO], required=[DRACO], primitive_extensions=extensions
    )
