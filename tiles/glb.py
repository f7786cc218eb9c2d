"""Encode one tile's triangle mesh as a binary glTF 2.0 (GLB) with feature ids and metadata.

One primitive per material, each with its own accessors, so the vertices of a primitive are
contiguous and its indices are local (smaller index type, exact min/max). The geometry is laid out
in the single BIN buffer (glTF 2.0 §4.4 GLB) by one of the layouts of :mod:`tiles.layout` —
plain, int8 normals, meshopt or Draco — followed by the ``EXT_structural_metadata`` property
table, each of its bufferViews 8-byte aligned.

Feature ids are ``FLOAT``: ``EXT_mesh_features`` leaves the component type free but notes that
glTF vertex attributes cannot be ``UNSIGNED_INT`` and that "each element of a feature ID accessor
must align to 4-byte boundaries", so FLOAT (exact integers up to 2²⁴) costs the same as a padded
UNSIGNED_SHORT and covers every tile size twin writes. Under Draco they travel as a generic
attribute named in the extension's attribute map, under meshopt as one more compressed view.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from tiles.axes import z_up_to_y_up
from tiles.compress_draco import write_draco
from tiles.compress_meshopt import write_meshopt
from tiles.images import AlphaMode, ImageMime, image_size
from tiles.layout import BinWriter, Compression, Geometry, IdAttribute, Part, write_plain
from tiles.metadata import PropertyTable, encode_property_table
from tiles.normals import face_normals, unit_normals
from tiles.typing import FeatureId, Gltf, MaterialsSpecular, Node, Primitive, Sampler
from tiles.typing import Image as ImageJSON
from tiles.typing import Material as MaterialJSON
from tiles.typing import Texture as TextureJSON

__all__ = ["MAX_FEATURES", "WRAP", "Compression", "Material", "Texture", "TileMesh", "encode_glb"]

MAX_FEATURES = 2**24  # largest count of exactly representable float32 integer feature ids
_GLB_MAGIC, _GLB_VERSION = b"glTF", 2
_CHUNK_JSON, _CHUNK_BIN = 0x4E4F534A, 0x004E4942
_GENERATOR = "twin tiles"


WRAP: dict[str, Literal[10497, 33648, 33071]] = {
    "repeat": 10497,
    "mirror": 33648,
    "clamp": 33071,
}
"""Sampler wrap codes (glTF 2.0 §5.26 sampler.wrapS: REPEAT, MIRRORED_REPEAT, CLAMP_TO_EDGE)."""


@dataclass(frozen=True, slots=True)
class Texture:
    """A base-colour texture: a PNG or JPEG image and how it repeats (:data:`WRAP` codes).

    ``alpha`` says what the image's alpha channel holds (:func:`tiles.images.alpha_mode`):
    ``OPAQUE`` (none, or all 255), ``MASK`` (only 0 and 255) or ``BLEND`` (anything between).
    """

    image: bytes
    mime_type: ImageMime
    wrap_s: Literal[10497, 33648, 33071] = 10497
    wrap_t: Literal[10497, 33648, 33071] = 10497
    alpha: AlphaMode = "OPAQUE"


@dataclass(frozen=True, slots=True)
class Material:
    """A non-metallic PBR material: base colour (times a texture), roughness, emission.

    ``specular`` and ``specular_color`` are ``KHR_materials_specular``'s ``specularFactor``
    and ``specularColorFactor`` (linear RGB); the extension is written only when they differ
    from its defaults (1 and white, glTF's plain dielectric).
    """

    name: str
    base_color: tuple[float, float, float, float]  # linear RGBA 0..1
    double_sided: bool = True  # city models have unreliable ring orientation
    roughness: float = 1.0
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)  # linear RGB 0..1
    texture: Texture | None = None  # sampled with TEXCOORD_0
    specular: float = 1.0
    specular_color: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def has_specular(self) -> bool:
        """Whether the material needs ``KHR_materials_specular`` (not the defaults)."""
        return self.specular != 1.0 or self.specular_color != (1.0, 1.0, 1.0)

    @property
    def alpha_mode(self) -> AlphaMode:
        """Return how the material's alpha is drawn (glTF 2.0 §3.9.4 / material.alphaMode).

        A base colour with alpha below 1 blends. Otherwise the texture decides: an image whose
        alpha is only 0 or 255 is drawn with ``MASK`` (at the default cutoff 0.5 it shows the
        same texels as ``BLEND`` would, but keeps depth writes and needs no back-to-front
        sorting: clients draw blended primitives in a separate, order-dependent pass), one
        with partial alpha with ``BLEND``.
        """
        if self.base_color[3] < 1.0:
            return "BLEND"
        return "OPAQUE" if self.texture is None else self.texture.alpha


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
    uv : (N, 2) float32 or None
        Texture coordinates per vertex in glTF's convention (origin at the image's upper left),
        written as ``TEXCOORD_0`` for the primitives whose material has a texture.
    """

    positions: npt.NDArray[np.float32]
    normals: npt.NDArray[np.float32] | None
    faces: npt.NDArray[np.uint32]
    feature_ids: npt.NDArray[np.uint32]
    materials_per_face: npt.NDArray[np.uint16]
    materials: Sequence[Material]
    uv: npt.NDArray[np.float32] | None = None


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
    if mesh.uv is not None and (mesh.uv.shape != (n, 2) or not np.isfinite(mesh.uv).all()):
        raise ValueError(f"uv must be finite with shape {(n, 2)}, got {mesh.uv.shape}")
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


def _split_by_material(mesh: TileMesh) -> list[Part]:
    """Un-weld when normals are absent, then cut the mesh into one compact part per material."""
    positions, faces, fids = mesh.positions, mesh.faces.astype(np.int64), mesh.feature_ids
    uv = mesh.uv
    if mesh.normals is None:
        flat = face_normals(positions, faces)
        uv = None if uv is None else uv[faces].reshape(-1, 2)
        positions, fids = positions[faces].reshape(-1, 3), fids[faces].reshape(-1)
        normals = np.repeat(flat, 3, axis=0)
        faces = np.arange(len(positions), dtype=np.int64).reshape(-1, 3)
    else:
        normals = unit_normals(mesh.normals)
    parts: list[Part] = []
    for material in np.unique(mesh.materials_per_face):
        used, local = np.unique(faces[mesh.materials_per_face == material], return_inverse=True)
        texture = mesh.materials[int(material)].texture
        textured = uv is not None and texture is not None
        parts.append(
            Part(
                material=int(material),
                positions=z_up_to_y_up(positions[used].astype(np.float32)),
                normals=z_up_to_y_up(normals[used]).astype(np.float32),
                feature_ids=fids[used].astype(np.float32),
                indices=local.reshape(-1).astype(np.uint32),
                uv=uv[used].astype(np.float32) if textured and uv is not None else None,
                image_px=None if texture is None else image_size(texture.image),
            )
        )
    return parts


def _pad(data: bytes, alignment: int, fill: bytes = b"\x00") -> bytes:
    return data + fill * (-len(data) % alignment)


def _material_json(material: Material, texture: int | None = None) -> MaterialJSON:
    out: MaterialJSON = {
        "name": material.name,
        "pbrMetallicRoughness": {
            "baseColorFactor": [float(c) for c in material.base_color],
            "metallicFactor": 0.0,
            "roughnessFactor": float(material.roughness),
        },
        "doubleSided": material.double_sided,
    }
    if texture is not None:
        out["pbrMetallicRoughness"]["baseColorTexture"] = {"index": texture}
    if any(material.emissive):
        out["emissiveFactor"] = [float(c) for c in material.emissive]
    if (alpha := material.alpha_mode) != "OPAQUE":
        out["alphaMode"] = alpha
    if material.has_specular:
        specular: MaterialsSpecular = {}
        if material.specular != 1.0:
            specular["specularFactor"] = float(material.specular)
        if material.specular_color != (1.0, 1.0, 1.0):
            specular["specularColorFactor"] = [float(c) for c in material.specular_color]
        out["extensions"] = {"KHR_materials_specular": specular}
    return out


@dataclass(slots=True)
class _Textures:
    """The tile's images, samplers and textures, each stored once (images in the BIN buffer)."""

    images: list[ImageJSON]
    samplers: list[Sampler]
    textures: list[TextureJSON]

    @classmethod
    def write(
        cls, materials: Sequence[Material], bin_: BinWriter
    ) -> tuple[_Textures, list[int | None]]:
        """Store the textures of ``materials``; return them and each material's texture index."""
        out = cls([], [], [])
        images: dict[bytes, int] = {}
        samplers: dict[tuple[int, int], int] = {}
        textures: dict[tuple[int, int], int] = {}
        indices: list[int | None] = []
        for material in materials:
            texture = material.texture
            if texture is None:
                indices.append(None)
                continue
            if (image := images.get(texture.image)) is None:
                view = bin_.add(texture.image, 8)
                out.images.append({"bufferView": view, "mimeType": texture.mime_type})
                image = images[texture.image] = len(out.images) - 1
            wrap = (texture.wrap_s, texture.wrap_t)
            if (sampler := samplers.get(wrap)) is None:
                out.samplers.append({"magFilter": 9729, "minFilter": 9987,
                                     "wrapS": texture.wrap_s, "wrapT": texture.wrap_t})  # fmt: skip
                sampler = samplers[wrap] = len(out.samplers) - 1
            if (index := textures.get((image, sampler))) is None:
                out.textures.append({"sampler": sampler, "source": image})
                index = textures[(image, sampler)] = len(out.textures) - 1
            indices.append(index)
        return out, indices


def _untextured(material: Material) -> Material:
    """Return ``material`` without its texture (a part without texture coordinates)."""
    return material if material.texture is None else replace(material, texture=None)


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


def _write_geometry(
    parts: list[Part],
    bin_: BinWriter,
    compress: Compression,
    id_attribute: IdAttribute,
    max_error_m: float,
) -> Geometry:
    if compress == "meshopt":
        return write_meshopt(parts, bin_, max_error_m)
    if compress == "draco":
        return write_draco(parts, bin_, id_attribute, max_error_m)
    if compress in ("none", "quantize"):
        return write_plain(parts, bin_, quantized_normals=compress == "quantize")
    raise ValueError(
        f"compress must be one of {', '.join(get_args(Compression))}, got {compress!r}"
    )


def _node(geometry: Geometry, translation: tuple[float, float, float] | None) -> Node:
    """The node: the caller's translation (z-up) plus the layout's dequantization (y-up)."""
    offset = np.array(geometry.offset_yup, dtype=np.float64)
    if translation is not None:
        offset = offset + z_up_to_y_up(np.array([translation], dtype=np.float64))[0]
    node: Node = {"mesh": 0}
    if offset.any():
        node["translation"] = [float(v) for v in offset]
    if geometry.scale != 1.0:
        node["scale"] = [geometry.scale] * 3
    return node


def encode_glb(
    mesh: TileMesh,
    table: PropertyTable | None = None,
    *,
    translation: tuple[float, float, float] | None = None,
    compress: Compression = "none",
    id_attribute: IdAttribute = "_FEATURE_ID_0",
    max_position_error_m: float = 0.001,
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
    compress : "none", "quantize", "meshopt" or "draco"
        ``quantize``: normals as normalized int8 (``KHR_mesh_quantization``), 4 bytes a vertex
        instead of 12, positions exact. ``meshopt``: ``EXT_meshopt_compression`` over int8
        normals and positions on a 16-bit grid when it moves no vertex further than
        ``max_position_error_m``, else float32. ``draco``: ``KHR_draco_mesh_compression`` with
        positions on the coarsest grid within ``max_position_error_m``, texture coordinates
        within 1/8 texel of their image (:func:`tiles.compress_draco.uv_bits`).
    id_attribute : "_FEATURE_ID_0" or "_BATCHID"
        ``_BATCHID`` writes the feature ids as 3D Tiles 1.0 batch ids (for a b3dm, whose batch
        table holds the attributes) instead of ``EXT_mesh_features``; ``table`` must be None.
    max_position_error_m : float
        How far ``meshopt`` and ``draco`` may move a vertex (metres; 1 mm by default).

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
    >>> glb = encode_glb(mesh, compress="meshopt")
    >>> glb[:4], len(glb) % 4
    (b'glTF', 0)
    """
    _check_mesh(mesh)
    if id_attribute == "_BATCHID" and table is not None:
        raise ValueError("a b3dm's glb has batch ids; its attributes go to the batch table")
    parts = _split_by_material(mesh)
    bin_ = BinWriter()
    geometry = _write_geometry(parts, bin_, compress, id_attribute, max_position_error_m)
    primitives: list[Primitive] = []
    for k, (part, ref) in enumerate(zip(parts, geometry.refs, strict=True)):
        feature_id: FeatureId = {
            "featureCount": int(np.unique(part.feature_ids).size),
            "attribute": 0,
        }
        if table is not None:
            feature_id["propertyTable"] = 0
        attributes = {
            "POSITION": ref["POSITION"],
            "NORMAL": ref["NORMAL"],
            id_attribute: ref["_FEATURE_ID_0"],
        }
        if "TEXCOORD_0" in ref:
            attributes["TEXCOORD_0"] = ref["TEXCOORD_0"]
        primitive: Primitive = {
            "attributes": attributes,
            "indices": ref["indices"],
            "material": k,
            "mode": 4,
        }
        extensions: dict[str, object] = {}
        if id_attribute == "_FEATURE_ID_0":
            extensions["EXT_mesh_features"] = {"featureIds": [feature_id]}
        if geometry.primitive_extensions:
            extensions.update(geometry.primitive_extensions[k])
        if extensions:
            primitive["extensions"] = extensions  # type: ignore[typeddict-item]
        primitives.append(primitive)
    document: Gltf = {
        "asset": {"version": "2.0", "generator": _GENERATOR},
        "extensionsUsed": [
            *(["EXT_mesh_features"] if id_attribute == "_FEATURE_ID_0" else []),
            *geometry.used,
        ],
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [_node(geometry, translation)],
        "meshes": [{"primitives": primitives}],
        "materials": [],
        "accessors": geometry.accessors,
        "bufferViews": bin_.views,
        "buffers": [],
    }
    used = [
        mesh.materials[p.material] if p.uv is not None else _untextured(mesh.materials[p.material])
        for p in parts
    ]
    textures, texture_of = _Textures.write(used, bin_)
    document["materials"] = [_material_json(m, t) for m, t in zip(used, texture_of, strict=True)]
    if any(m.has_specular for m in used):  # optional: a client without it draws the core model
        document["extensionsUsed"].append("KHR_materials_specular")
    if textures.textures:
        document["textures"] = textures.textures
        document["images"] = textures.images
        document["samplers"] = textures.samplers
    if geometry.required:
        document["extensionsRequired"] = list(geometry.required)
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
    if not document["extensionsUsed"]:
        del document["extensionsUsed"]  # glTF 2.0: arrays, when given, are not empty
    binary = bin_.payload()
    document["buffers"] = [{"byteLength": len(binary)}, *geometry.extra_buffers]
    return _glb(document, binary)
