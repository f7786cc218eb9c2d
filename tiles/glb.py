"""Encode one tile's triangle mesh as a binary glTF 2.0 (GLB) with feature ids and metadata.

Layout of the single BIN buffer (glTF 2.0 §3.6 Binary data storage, §4.4 GLB):

- bufferView 0: POSITION, VEC3 FLOAT, y-up (byteStride 12, ARRAY_BUFFER)
- bufferView 1: NORMAL, VEC3 FLOAT, y-up (byteStride 12, ARRAY_BUFFER); with
  ``quantize_normals``, VEC3 BYTE normalized padded to 4 bytes (byteStride 4) under
  ``KHR_mesh_quantization``, which allows exactly that for NORMAL
- bufferView 2: ``_FEATURE_ID_0``, SCALAR FLOAT (byteStride 4, ARRAY_BUFFER)
- bufferView 3: indices, UNSIGNED_SHORT or UNSIGNED_INT (ELEMENT_ARRAY_BUFFER)
- bufferView 4…: the ``EXT_structural_metadata`` property table, each 8-byte aligned

One primitive per material, each with its own accessors into those shared views, so the vertices
of a primitive are contiguous and its indices are local (smaller index type, exact min/max).
``byteStride`` is set because several accessors share one vertex bufferView (glTF 2.0 §3.6.2.4:
"When two or more vertex attribute accessors use the same bufferView, its byteStride MUST be
defined").

Feature ids are ``FLOAT``: ``EXT_mesh_features`` leaves the component type free but notes that
glTF vertex attributes cannot be ``UNSIGNED_INT`` and that "each element of a feature ID accessor
must align to 4-byte boundaries", so FLOAT (exact integers up to 2²⁴) costs the same as a padded
UNSIGNED_SHORT and covers every tile size twin writes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from tiles.axes import z_up_to_y_up
from tiles.metadata import PropertyTable, encode_property_table
from tiles.normals import face_normals, quantize_normals, unit_normals
from tiles.typing import Accessor, BufferView, FeatureId, Gltf, Node, Primitive
from tiles.typing import Material as MaterialJSON

__all__ = ["MAX_FEATURES", "Material", "TileMesh", "encode_glb"]

MAX_FEATURES = 2**24  # largest count of exactly representable float32 integer feature ids
_GLB_MAGIC, _GLB_VERSION = b"glTF", 2
_CHUNK_JSON, _CHUNK_BIN = 0x4E4F534A, 0x004E4942
_ARRAY_BUFFER: Final = 34962
_ELEMENT_ARRAY_BUFFER: Final = 34963
_FLOAT: Final = 5126
_BYTE: Final = 5120
_QUANTIZATION = "KHR_mesh_quantization"
_UNSIGNED_SHORT: Final = 5123
_UNSIGNED_INT: Final = 5125
_IndexType = Literal[5123, 5125]
_GENERATOR = "twin tiles"


@dataclass(frozen=True, slots=True)
class Material:
    """A flat PBR material: base colour only, non-metallic, fully rough."""

    name: str
    base_color: tuple[float, float, float, float]  # linear RGBA 0..1
    double_sided: bool = True  # city models have unreliable ring orientation


@dataclass(frozen=True, slots=True)
class TileMesh:
    """The triangles of one tile in its local z-up frame.

    Attributes
    ----------
    positions : (N, 3) float32
        Metres, z-up, relative to the tile centre (subtracted in float64 by the caller).
    normals : (N, 3) float32 or None
        Unit vertex normals. ``None`` means flat shading: the mesh is un-welded (every triangle
        gets its own three vertices) and each takes its face normal.
    faces : (M, 3) uint32
        Counter-clockwise vertex indices.
    feature_ids : (N,) uint32
        Feature (row of the property table) of each vertex.
    materials_per_face : (M,) uint16
        Index into ``materials`` of each face.
    materials : Sequence[Material]
    """

    positions: npt.NDArray[np.float32]
    normals: npt.NDArray[np.float32] | None
    faces: npt.NDArray[np.uint32]
    feature_ids: npt.NDArray[np.uint32]
    materials_per_face: npt.NDArray[np.uint16]
    materials: Sequence[Material]


@dataclass(frozen=True, slots=True)
class _Part:
    """The vertices and local indices of one primitive (one material)."""

    material: int
    positions: npt.NDArray[np.float32]  # (n, 3) y-up
    normals: npt.NDArray[np.float32]  # (n, 3) y-up
    feature_ids: npt.NDArray[np.float32]  # (n,)
    indices: npt.NDArray[np.uint32]  # (m * 3,) local to this part


def _check_mesh(mesh: TileMesh) -> None:
    n, m = len(mesh.positions), len(mesh.faces)
    if mesh.positions.shape != (n, 3) or mesh.faces.shape != (m, 3) or m == 0:
        raise ValueError(
            f"need positions (N, 3) and faces (M>0, 3), got {mesh.positions.shape} and "
            f"{mesh.faces.shape}"
        )
    if mesh.normals is not None and mesh.normals.shape != (n, 3):
        raise ValueError(f"normals must have shape {(n, 3)}, got {mesh.normals.shape}")
    if mesh.feature_ids.shape != (n,) or mesh.materials_per_face.shape != (m,):
        raise ValueError("feature_ids must have shape (N,) and materials_per_face (M,)")
    if not np.isfinite(mesh.positions).all():
        raise ValueError("positions must be finite")
    if int(mesh.faces.max()) >= n:
        raise ValueError(f"faces refer to vertex {int(mesh.faces.max())} of {n}")
    if int(mesh.materials_per_face.max()) >= len(mesh.materials):
        raise ValueError(f"materials_per_face refers past the {len(mesh.materials)} materials")
    if n and int(mesh.feature_ids.max()) >= MAX_FEATURES:
        raise ValueError(
            f"feature ids must be < 2**24 to be exact as FLOAT, got {mesh.feature_ids.max()}"
        )


def _split_by_material(mesh: TileMesh) -> list[_Part]:
    """Un-weld when normals are absent, then cut the mesh into one compact part per material."""
    positions, faces, fids = mesh.positions, mesh.faces.astype(np.int64), mesh.feature_ids
    if mesh.normals is None:
        flat = face_normals(positions, faces)
        positions, fids = positions[faces].reshape(-1, 3), fids[faces].reshape(-1)
        normals = np.repeat(flat, 3, axis=0)
        faces = np.arange(len(positions), dtype=np.int64).reshape(-1, 3)
    else:
        normals = unit_normals(mesh.normals)
    parts: list[_Part] = []
    for material in np.unique(mesh.materials_per_face):
        used, local = np.unique(faces[mesh.materials_per_face == material], return_inverse=True)
        parts.append(
            _Part(
                material=int(material),
                positions=z_up_to_y_up(positions[used].astype(np.float32)),
                normals=z_up_to_y_up(normals[used]).astype(np.float32),
                feature_ids=fids[used].astype(np.float32),
                indices=local.reshape(-1).astype(np.uint32),
            )
        )
    return parts


def _pad(data: bytes, alignment: int, fill: bytes = b"\x00") -> bytes:
    return data + fill * (-len(data) % alignment)


class _BinWriter:
    """Append bufferViews to one buffer, each at an aligned offset."""

    def __init__(self) -> None:
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
        view: BufferView = {"buffer": 0, "byteOffset": self.length, "byteLength": len(data)}
        if byte_stride is not None:
            view["byteStride"] = byte_stride
        if target is not None:
            view["target"] = target
        self.views.append(view)
        self.chunks.append(data)
        self.length += len(data)
        return len(self.views) - 1

    def payload(self) -> bytes:
        return _pad(b"".join(self.chunks), 4)


def _accessors(
    parts: list[_Part], index_type: _IndexType, quantized_normals: bool
) -> tuple[list[Accessor], list[dict[str, int]]]:
    """Accessors per part into views 0–3; returns them and each part's attribute/indices map."""
    normal_stride = 4 if quantized_normals else 12
    accessors: list[Accessor] = []
    refs: list[dict[str, int]] = []
    vertex_start = index_start = 0
    index_size = 2 if index_type == _UNSIGNED_SHORT else 4
    for part in parts:
        n = len(part.positions)
        lo = part.positions.min(axis=0)
        hi = part.positions.max(axis=0)
        accessors += [
            {"bufferView": 0, "byteOffset": 12 * vertex_start, "componentType": _FLOAT,
             "count": n, "type": "VEC3", "min": [float(v) for v in lo],
             "max": [float(v) for v in hi]},
            {"bufferView": 1, "byteOffset": normal_stride * vertex_start, "componentType": _FLOAT,
             "count": n, "type": "VEC3"},
            {"bufferView": 2, "byteOffset": 4 * vertex_start, "componentType": _FLOAT,
             "count": n, "type": "SCALAR"},
            {"bufferView": 3, "byteOffset": index_size * index_start,
             "componentType": index_type, "count": len(part.indices), "type": "SCALAR"},
        ]  # fmt: skip
        first = len(accessors) - 4
        if quantized_normals:
            accessors[first + 1]["componentType"] = _BYTE
            accessors[first + 1]["normalized"] = True
        refs.append(
            {
                "POSITION": first,
                "NORMAL": first + 1,
                "_FEATURE_ID_0": first + 2,
                "indices": first + 3,
            }
        )
        vertex_start += n
        index_start += len(part.indices)
    return accessors, refs


def _material_json(material: Material) -> MaterialJSON:
    out: MaterialJSON = {
        "name": material.name,
        "pbrMetallicRoughness": {
            "baseColorFactor": [float(c) for c in material.base_color],
            "metallicFactor": 0.0,
            "roughnessFactor": 1.0,
        },
        "doubleSided": material.double_sided,
    }
    if material.base_color[3] < 1.0:
        out["alphaMode"] = "BLEND"
    return out


def _glb(document: Gltf, binary: bytes) -> bytes:
    """Frame the JSON and BIN chunks (glTF 2.0 §4.4: 4-byte aligned, JSON padded with spaces)."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    json_chunk = _pad(text.encode("utf-8"), 4, b" ")
    total = 12 + 8 + len(json_chunk) + 8 + len(binary)
    return b"".join(
        [
            _GLB_MAGIC + struct.pack("<II", _GLB_VERSION, total),
            struct.pack("<II", len(json_chunk), _CHUNK_JSON),
            json_chunk,
            struct.pack("<II", len(binary), _CHUNK_BIN),
            binary,
        ]
    )


def encode_glb(
    mesh: TileMesh,
    table: PropertyTable | None = None,
    *,
    translation: tuple[float, float, float] | None = None,
    quantized_normals: bool = False,
) -> bytes:
    """Encode ``mesh`` (and its property table) as GLB bytes.

    Parameters
    ----------
    mesh : TileMesh
        Triangles in the tile's local z-up frame.
    table : PropertyTable, optional
        One row per feature id; written as ``EXT_structural_metadata`` and referenced by every
        primitive's ``EXT_mesh_features`` feature id set.
    translation : (3,) float, optional
        Offset of the mesh in the tile frame (z-up, metres), written as the node translation
        (converted to y-up: node transforms apply before the y-up→z-up rotation).
    quantized_normals : bool
        Store normals as normalized int8 (``KHR_mesh_quantization``, required): 4 bytes a
        vertex instead of 12, directions within 0.5° of the float ones.

    Examples
    --------
    >>> mesh = TileMesh(
    ...     positions=np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32),
    ...     normals=None,
    ...     faces=np.array([[0, 1, 2]], dtype=np.uint32),
    ...     feature_ids=np.zeros(3, dtype=np.uint32),
    ...     materials_per_face=np.zeros(1, dtype=np.uint16),
    ...     materials=[Material("wall", (0.8, 0.8, 0.8, 1.0))],
    ... )
    >>> glb = encode_glb(mesh)
    >>> glb[:4], len(glb) % 4
    (b'glTF', 0)
    """
    _check_mesh(mesh)
    parts = _split_by_material(mesh)
    biggest = max(len(p.positions) for p in parts)
    # The largest index value is the primitive-restart value and MUST NOT be used (glTF 2.0
    # §3.7.2.1), so 16-bit indices address at most 65535 vertices.
    index_type: _IndexType = _UNSIGNED_SHORT if biggest <= 0xFFFF else _UNSIGNED_INT
    index_dtype = "<u2" if index_type == _UNSIGNED_SHORT else "<u4"

    bin_ = _BinWriter()
    concat = np.concatenate
    bin_.add(concat([p.positions for p in parts]).astype("<f4").tobytes(), 4,
             byte_stride=12, target=_ARRAY_BUFFER)  # fmt: skip
    normals = concat([p.normals for p in parts])
    if quantized_normals:
        bin_.add(quantize_normals(normals).tobytes(), 4, byte_stride=4, target=_ARRAY_BUFFER)
    else:
        bin_.add(normals.astype("<f4").tobytes(), 4, byte_stride=12, target=_ARRAY_BUFFER)
    bin_.add(concat([p.feature_ids for p in parts]).astype("<f4").tobytes(), 4,
             byte_stride=4, target=_ARRAY_BUFFER)  # fmt: skip
    bin_.add(concat([p.indices for p in parts]).astype(index_dtype).tobytes(), 4,
             target=_ELEMENT_ARRAY_BUFFER)  # fmt: skip
    accessors, refs = _accessors(parts, index_type, quantized_normals)

    used_materials = [p.material for p in parts]
    primitives: list[Primitive] = []
    for k, (part, ref) in enumerate(zip(parts, refs, strict=True)):
        feature_id: FeatureId = {
            "featureCount": int(np.unique(part.feature_ids).size),
            "attribute": 0,
        }
        if table is not None:
            feature_id["propertyTable"] = 0
        primitives.append(
            {
                "attributes": {name: ref[name] for name in ("POSITION", "NORMAL", "_FEATURE_ID_0")},
                "indices": ref["indices"],
                "material": k,
                "mode": 4,
                "extensions": {"EXT_mesh_features": {"featureIds": [feature_id]}},
            }
        )
    node: Node = {"mesh": 0}
    if translation is not None:
        node["translation"] = [float(v) for v in z_up_to_y_up(np.array([translation]))[0]]
    document: Gltf = {
        "asset": {"version": "2.0", "generator": _GENERATOR},
        "extensionsUsed": ["EXT_mesh_features"],
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [node],
        "meshes": [{"primitives": primitives}],
        "materials": [_material_json(mesh.materials[i]) for i in used_materials],
        "accessors": accessors,
        "bufferViews": bin_.views,
        "buffers": [],
    }
    if quantized_normals:
        document["extensionsUsed"].append(_QUANTIZATION)
        document["extensionsRequired"] = [_QUANTIZATION]
    if table is not None:
        if int(mesh.feature_ids.max()) >= table.count:
            raise ValueError(
                f"feature id {int(mesh.feature_ids.max())} has no row in a table of {table.count}"
            )
        metadata = encode_property_table(table, first_buffer_view=len(bin_.views))
        for payload in metadata.buffer_views:
            bin_.add(payload, 8)
        document["extensionsUsed"].append("EXT_structural_metadata")
        document["extensions"] = {"EXT_structural_metadata": metadata.extension}
    binary = bin_.payload()
    document["buffers"] = [{"byteLength": len(binary)}]
    return _glb(document, binary)
