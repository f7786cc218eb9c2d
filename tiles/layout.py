"""The geometry bufferViews of a GLB, one layout per compression mode.

Every layout takes the same parts (one primitive per material, vertices y-up in the tile frame)
and appends the vertex and index data to one GLB buffer; it returns the accessors, each part's
attribute map, the extensions it needs and how the node must place the decoded positions.

- ``none``: float32 positions and normals, float feature ids, 16/32-bit indices; float32
  texture coordinates (``TEXCOORD_0``) for the parts that carry them, in one more view.
- ``quantize``: as ``none`` with int8 normals (``KHR_mesh_quantization``).
- ``meshopt`` and ``draco``: :mod:`tiles.compress_meshopt` and :mod:`tiles.compress_draco`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from tiles.normals import quantize_normals
from tiles.typing import Accessor, Buffer, BufferView

__all__ = ["Compression", "Geometry", "IdAttribute", "Part"]

Compression = Literal["none", "quantize", "meshopt", "draco"]
IdAttribute = Literal["_FEATURE_ID_0", "_BATCHID"]  # EXT_mesh_features, or a b3dm's batch ids
ARRAY_BUFFER: Final = 34962
ELEMENT_ARRAY_BUFFER: Final = 34963
BYTE: Final = 5120
UNSIGNED_SHORT: Final = 5123
UNSIGNED_INT: Final = 5125
FLOAT: Final = 5126
QUANTIZATION: Final = "KHR_mesh_quantization"
IndexType = Literal[5123, 5125]


@dataclass(frozen=True, slots=True)
class Part:
    """The vertices and local indices of one primitive (one material)."""

    material: int
    positions: npt.NDArray[np.float32]  # (n, 3) y-up
    normals: npt.NDArray[np.float32]  # (n, 3) y-up, unit
    feature_ids: npt.NDArray[np.float32]  # (n,)
    indices: npt.NDArray[np.uint32]  # (m * 3,) local to this part
    uv: npt.NDArray[np.float32] | None = None  # (n, 2) TEXCOORD_0, glTF origin (upper left)
    image_px: tuple[int, int] | None = None  # (width, height) of the image TEXCOORD_0 samples


@dataclass(slots=True)
class Geometry:
    """What a layout wrote: accessors, each part's attributes and indices, extensions, node."""

    accessors: list[Accessor]
    refs: list[dict[str, int]]  # per part: POSITION, NORMAL, _FEATURE_ID_0, indices, TEXCOORD_0?
    used: list[str] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    primitive_extensions: list[dict[str, object]] = field(default_factory=list)
    offset_yup: tuple[float, float, float] = (0.0, 0.0, 0.0)  # node translation, metres
    scale: float = 1.0  # node scale (dequantizes positions)
    extra_buffers: list[Buffer] = field(default_factory=list)


def index_type(vertex_count: int) -> IndexType:
    """Return the index type of a primitive of ``vertex_count`` vertices.

    The largest index value is the primitive-restart value and MUST NOT be used (glTF 2.0
    §3.7.2.1), so 16-bit indices address at most 65535 vertices.
    """
    return UNSIGNED_SHORT if vertex_count <= 0xFFFF else UNSIGNED_INT


def index_type_of(parts: list[Part]) -> IndexType:
    """Return the index type shared by the parts' (concatenated) index views."""
    return index_type(max(len(p.positions) for p in parts))


class BinWriter:
    """Append bufferViews to one buffer, each at an aligned offset."""

    def __init__(self, buffer: int = 0) -> None:
        self.buffer = buffer
        self.chunks: list[bytes] = []
        self.length = 0
        self.views: list[BufferView] = []

    def add(
        self,
        data: bytes,
        alignment: int,
        *,
        byte_stride: int | None = None,
        target: Literal[34962, 34963] | None = None,
    ) -> int:
        padding = -self.length % alignment
        self.chunks.append(b"\x00" * padding)
        self.length += padding
        view: BufferView = {"buffer": self.buffer, "byteOffset": self.length,
                            "byteLength": len(data)}  # fmt: skip
        if byte_stride is not None:
            view["byteStride"] = byte_stride
        if target is not None:
            view["target"] = target
        self.views.append(view)
        self.chunks.append(data)
        self.length += len(data)
        return len(self.views) - 1

    def payload(self) -> bytes:
        data = b"".join(self.chunks)
        return data + b"\x00" * (-len(data) % 4)


def vertex_accessors(
    parts: list[Part],
    views: tuple[int, int, int, int],
    position_type: Literal[5123, 5126],
    normal_type: Literal[5120, 5126],
) -> tuple[list[Accessor], list[dict[str, int]]]:
    """Accessors per part into the four given views (positions, normals, feature ids, indices).

    Positions of type UNSIGNED_SHORT are 8 bytes a vertex, int8 normals 4, floats 12.
    """
    index_type = index_type_of(parts)
    position_stride = 8 if position_type == UNSIGNED_SHORT else 12
    normal_stride = 4 if normal_type == BYTE else 12
    index_size = 2 if index_type == UNSIGNED_SHORT else 4
    accessors: list[Accessor] = []
    refs: list[dict[str, int]] = []
    vertex_start = index_start = 0
    for part in parts:
        n = len(part.positions)
        lo, hi = part.positions.min(axis=0), part.positions.max(axis=0)
        accessors += [
            {"bufferView": views[0], "byteOffset": position_stride * vertex_start,
             "componentType": position_type, "count": n, "type": "VEC3",
             "min": [float(v) for v in lo], "max": [float(v) for v in hi]},
            {"bufferView": views[1], "byteOffset": normal_stride * vertex_start,
             "componentType": normal_type, "count": n, "type": "VEC3"},
            {"bufferView": views[2], "byteOffset": 4 * vertex_start, "componentType": FLOAT,
             "count": n, "type": "SCALAR"},
            {"bufferView": views[3], "byteOffset": index_size * index_start,
             "componentType": index_type, "count": len(part.indices), "type": "SCALAR"},
        ]  # fmt: skip
        first = len(accessors) - 4
        if normal_type == BYTE:
            accessors[first + 1]["normalized"] = True
        refs.append({"POSITION": first, "NORMAL": first + 1, "_FEATURE_ID_0": first + 2,
                     "indices": first + 3})  # fmt: skip
        vertex_start += n
        index_start += len(part.indices)
    return accessors, refs


def textured_uv(parts: list[Part]) -> npt.NDArray[np.float32] | None:
    """Return the texture coordinates of the parts that have them, concatenated (n, 2) ``<f4``."""
    uvs = [p.uv for p in parts if p.uv is not None]
    return np.concatenate(uvs).astype("<f4") if uvs else None


def add_uv_accessors(
    parts: list[Part], view: int, accessors: list[Accessor], refs: list[dict[str, int]]
) -> None:
    """Declare ``TEXCOORD_0`` (float32 VEC2, 8 bytes a vertex) of each textured part in ``view``.

    ``view`` holds :func:`textured_uv` of ``parts``; each textured part's ref gains its accessor.
    """
    start = 0
    for part, ref in zip(parts, refs, strict=True):
        if part.uv is None:
            continue
        n = len(part.uv)
        accessors.append({"bufferView": view, "byteOffset": 8 * start, "componentType": FLOAT,
                          "count": n, "type": "VEC2"})  # fmt: skip
        ref["TEXCOORD_0"] = len(accessors) - 1
        start += n


def index_array(parts: list[Part]) -> npt.NDArray[np.unsignedinteger]:
    """Return the parts' local indices, concatenated, as little-endian :func:`index_type_of`."""
    dtype = "<u2" if index_type_of(parts) == UNSIGNED_SHORT else "<u4"
    return np.concatenate([p.indices for p in parts]).astype(dtype)


def write_plain(parts: list[Part], bin_: BinWriter, *, quantized_normals: bool) -> Geometry:
    """Write float32 positions, float32 or int8 normals, float feature ids, indices and UVs.

    Four views: POSITION (byteStride 12), NORMAL (12, or 4 for int8 padded to 4 bytes under
    ``KHR_mesh_quantization``, which allows exactly that for NORMAL), ``_FEATURE_ID_0`` (4),
    indices. ``byteStride`` is set because several accessors share one vertex bufferView
    (glTF 2.0 §3.6.2.4).
    """
    concat = np.concatenate
    first = bin_.add(concat([p.positions for p in parts]).astype("<f4").tobytes(), 4,
                     byte_stride=12, target=ARRAY_BUFFER)  # fmt: skip
    normals = concat([p.normals for p in parts])
    if quantized_normals:
        bin_.add(quantize_normals(normals).tobytes(), 4, byte_stride=4, target=ARRAY_BUFFER)
    else:
        bin_.add(normals.astype("<f4").tobytes(), 4, byte_stride=12, target=ARRAY_BUFFER)
    bin_.add(concat([p.feature_ids for p in parts]).astype("<f4").tobytes(), 4,
             byte_stride=4, target=ARRAY_BUFFER)  # fmt: skip
    bin_.add(index_array(parts).tobytes(), 4, target=ELEMENT_ARRAY_BUFFER)
    views = (first, first + 1, first + 2, first + 3)
    accessors, refs = vertex_accessors(parts, views, FLOAT, BYTE if quantized_normals else FLOAT)
    uv = textured_uv(parts)
    if uv is not None:
        view = bin_.add(uv.tobytes(), 4, byte_stride=8, target=ARRAY_BUFFER)
        add_uv_accessors(parts, view, accessors, refs)
    geometry = Geometry(accessors, refs)
    if quantized_normals:
        geometry.used, geometry.required = [QUANTIZATION], [QUANTIZATION]
    return geometry
