"""Decode twin's GLB through pygltflib (an independent reader) for round-trip tests.

Accessors and the EXT_structural_metadata property table are decoded by hand from the buffer
views, following the glTF 2.0 and 3D Metadata specifications, not by calling ``tiles``.
Compressed geometry is decoded with the codecs' own decoders: ``EXT_meshopt_compression``
bufferViews through meshoptimizer (the ``meshopt`` binding), ``KHR_draco_mesh_compression``
primitives through Draco (``DracoPy``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import DracoPy
import meshopt
import numpy as np
import pygltflib

_DTYPES = {5120: "<i1", 5121: "<u1", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3}
_METADATA_DTYPES = {"INT32": "<i4", "INT64": "<i8", "FLOAT64": "<f8", "UINT8": "<u1"}


@dataclass
class DecodedPrimitive:
    positions_yup: (
        np.ndarray
    )  # (n, 3) float64, in the scene: the node's scale and translation applied
    stored_positions: np.ndarray  # (n, 3) as the accessor holds them (float32 or grid integers)
    normals_yup: np.ndarray  # (n, 3) float32
    feature_ids: np.ndarray  # (n,) float32
    indices: np.ndarray  # (m * 3,)
    material: dict[str, Any]
    feature_id_sets: list[dict[str, Any]]
    position_min: list[float]
    position_max: list[float]
    uv: np.ndarray | None = None  # (n, 2) float32 TEXCOORD_0, when the primitive has it


def load(data: bytes) -> tuple[pygltflib.GLTF2, bytes]:
    gltf = pygltflib.GLTF2.load_from_bytes(data)
    return gltf, gltf.binary_blob()


def view_bytes(gltf: pygltflib.GLTF2, blob: bytes, index: int) -> bytes:
    """The bytes of a bufferView, decompressed when it is an EXT_meshopt_compression view."""
    view = gltf.bufferViews[index]
    packed = (view.extensions or {}).get("EXT_meshopt_compression")
    if packed is not None:
        start = packed.get("byteOffset", 0)
        data = blob[start : start + packed["byteLength"]]
        rows = meshopt.decode_gltf_buffer(
            data, packed["count"], packed["byteStride"], packed["mode"], packed.get("filter")
        )
        out = np.ascontiguousarray(rows).tobytes()
        assert len(out) == view.byteLength, "fallback view length == count * byteStride"
        return out
    start = view.byteOffset or 0
    return blob[start : start + view.byteLength]


def read_accessor(gltf: pygltflib.GLTF2, blob: bytes, index: int) -> np.ndarray:
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    dtype = np.dtype(_DTYPES[accessor.componentType])
    width = _WIDTH[accessor.type]
    stride = view.byteStride or dtype.itemsize * width
    data = view_bytes(gltf, blob, accessor.bufferView)
    start = accessor.byteOffset or 0
    raw = np.frombuffer(data, dtype=np.uint8, count=stride * accessor.count, offset=start)
    rows = raw.reshape(accessor.count, stride)[:, : dtype.itemsize * width]
    values = rows.copy().view(dtype).reshape(accessor.count, width)
    if accessor.normalized and accessor.componentType == 5120:  # KHR_mesh_quantization BYTE
        values = np.maximum(values / 127.0, -1.0).astype(np.float32)
    return values[:, 0] if width == 1 else values


def _draco_attributes(
    gltf: pygltflib.GLTF2, blob: bytes, prim: pygltflib.Primitive
) -> dict[str, np.ndarray] | None:
    """Decode a KHR_draco_mesh_compression primitive: {attribute name or "indices": values}."""
    ext = (prim.extensions or {}).get("KHR_draco_mesh_compression")
    if ext is None:
        return None
    mesh = DracoPy.decode(view_bytes(gltf, blob, ext["bufferView"]))
    out = {"indices": mesh.faces.reshape(-1)}
    for name, uid in ext["attributes"].items():
        values = mesh.get_attribute_by_unique_id(uid)["data"]
        out[name] = values[:, 0] if values.shape[1] == 1 else values
        assert len(values) == gltf.accessors[getattr(prim.attributes, name)].count, name
    return out


def _node_transform(gltf: pygltflib.GLTF2) -> tuple[np.ndarray, np.ndarray]:
    node = gltf.nodes[0]
    assert node.matrix is None, "twin writes translation and scale"
    assert node.rotation is None, "twin writes translation and scale"
    return np.array(node.scale or [1.0] * 3), np.array(node.translation or [0.0] * 3)


def primitives(data: bytes) -> list[DecodedPrimitive]:
    gltf, blob = load(data)
    scale, translation = _node_transform(gltf)
    out = []
    for prim in gltf.meshes[0].primitives:
        attrs = prim.attributes
        position = gltf.accessors[attrs.POSITION]
        values = _draco_attributes(gltf, blob, prim) or {
            "POSITION": read_accessor(gltf, blob, attrs.POSITION),
            "NORMAL": read_accessor(gltf, blob, attrs.NORMAL),
            "_FEATURE_ID_0": read_accessor(gltf, blob, attrs._FEATURE_ID_0),
            "indices": read_accessor(gltf, blob, prim.indices),
        }
        if attrs.TEXCOORD_0 is not None and "TEXCOORD_0" not in values:
            values["TEXCOORD_0"] = read_accessor(gltf, blob, attrs.TEXCOORD_0)
        stored = values["POSITION"]
        out.append(
            DecodedPrimitive(
                positions_yup=stored.astype(np.float64) * scale + translation,
                stored_positions=stored,
                normals_yup=values["NORMAL"],
                feature_ids=values["_FEATURE_ID_0"],
                indices=values["indices"],
                material=gltf.materials[prim.material].to_dict(),
                feature_id_sets=prim.extensions["EXT_mesh_features"]["featureIds"],
                position_min=position.min,
                position_max=position.max,
                uv=values.get("TEXCOORD_0"),
            )
        )
    return out


def _column(
    gltf: pygltflib.GLTF2,
    blob: bytes,
    definition: dict[str, Any],
    storage: dict[str, Any],
    count: int,
) -> list[Any]:
    values = view_bytes(gltf, blob, storage["values"])
    kind = definition["type"]
    no_data = definition.get("noData")
    if kind == "BOOLEAN":
        bits = np.unpackbits(np.frombuffer(values, np.uint8), bitorder="little")[:count]
        return [bool(b) for b in bits]
    if kind == "STRING":
        assert storage.get("stringOffsetType", "UINT32") == "UINT32"
        offsets = np.frombuffer(view_bytes(gltf, blob, storage["stringOffsets"]), "<u4")
        assert len(offsets) == count + 1
        texts = [values[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
        return [None if t == no_data else t for t in texts]
    if kind == "ENUM":
        enum = gltf.extensions["EXT_structural_metadata"]["schema"]["enums"][definition["enumType"]]
        names = {v["value"]: v["name"] for v in enum["values"]}
        codes = np.frombuffer(values, _METADATA_DTYPES[enum.get("valueType", "UINT16")])[:count]
        decoded = [names[int(c)] for c in codes]
        lookup = {"true": True, "false": False}
        return [None if n == no_data else lookup[n] for n in decoded]
    assert kind == "SCALAR"
    array = np.frombuffer(values, _METADATA_DTYPES[definition["componentType"]])
    assert len(array) == count
    return [None if v == no_data else v.item() for v in array]


def property_table(data: bytes) -> tuple[str, dict[str, list[Any]], dict[str, Any]]:
    """Return (class id, {original name: values}, the root extension) of the only table."""
    gltf, blob = load(data)
    ext = gltf.extensions["EXT_structural_metadata"]
    (table,) = ext["propertyTables"]
    cls = ext["schema"]["classes"][table["class"]]
    columns = {}
    for prop_id, storage in table.get("properties", {}).items():
        view = gltf.bufferViews[storage["values"]]
        assert (view.byteOffset or 0) % 8 == 0, "property bufferViews are 8-byte aligned"
        definition = cls["properties"][prop_id]
        name = definition.get("name", prop_id)
        columns[name] = _column(gltf, blob, definition, storage, table["count"])
    return table["class"], columns, ext


def texel_errors(
    plain: DecodedPrimitive,
    packed: DecodedPrimitive,
    image_px: tuple[int, int],
    tolerance_m: float = 0.002,
) -> np.ndarray:
    """How far (texels of ``image_px``) each vertex of ``packed`` samples from the nearest-UV
    vertex of ``plain`` at its position (a position may carry several UVs)."""
    assert plain.uv is not None
    assert packed.uv is not None
    scale = np.array(image_px, dtype=np.float64)
    out = []
    for start in range(0, len(packed.uv), 256):  # (256, n) distances at a time
        mine = slice(start, start + 256)
        gap_m = np.linalg.norm(packed.positions_yup[mine, None] - plain.positions_yup[None], axis=2)
        texels = np.linalg.norm((packed.uv[mine, None] - plain.uv[None]) * scale, axis=2)
        out.append(np.where(gap_m <= tolerance_m, texels, np.inf).min(axis=1))
    return np.concatenate(out)
