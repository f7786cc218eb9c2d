"""Attribute the bytes of an encoded tile to its features: what a tileset's bytes are made of.

A tile's bytes fall into four parts, read from the tile itself (glTF 2.0 §4.4 GLB chunks and
bufferViews; 3D Tiles 1.0 b3dm header for its batch table):

- ``geometry``: the GLB buffer less the property table and images (vertex and index data,
  compressed or not, and the alignment between views);
- ``properties``: the ``EXT_structural_metadata`` bufferViews, or a b3dm's batch table;
- ``textures``: the embedded images;
- ``other``: the rest — headers, the glTF JSON (schema, accessors, materials), a b3dm's feature
  table.

Each part is split among the features in whole bytes (largest remainders, so the parts of all
features add up to the tile's length exactly): geometry by what each feature's vertices and
triangles would take uncompressed (:data:`VERTEX_BYTES` a vertex, :data:`TRIANGLE_BYTES` a
triangle), properties by the length of each feature's row (a string's UTF-8 bytes and its
offset, :data:`NUMBER_BYTES` for anything else), each image among the features whose faces use
it (by their triangles), and ``other`` in proportion to the rest.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from tiles.glb import TileMesh
from tiles.metadata import PropertyTable

__all__ = ["PARTS", "FeatureSizes", "apportion", "feature_sizes"]

PARTS: Final = ("geometry", "properties", "textures", "other")
VERTEX_BYTES: Final = 28  # float32 position and normal, float feature id
UV_BYTES: Final = 8  # float32 texture coordinates
TRIANGLE_BYTES: Final = 12  # three 32-bit indices
NUMBER_BYTES: Final = 8  # a property value that is not a string
STRING_OFFSET_BYTES: Final = 4
_B3DM_HEADER: Final = 28
_GLB_HEADER: Final = 12


@dataclass(frozen=True, slots=True)
class FeatureSizes:
    """Bytes and triangles of each of a tile's K features.

    Attributes
    ----------
    bytes : (K, 4) int64
        Bytes of each feature per part of :data:`PARTS`; they add up to the tile's length.
    triangles : (K,) int64
        Triangles of each feature.
    """

    bytes: npt.NDArray[np.int64]
    triangles: npt.NDArray[np.int64]


def apportion(total: int, weights: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Split ``total`` bytes in whole numbers proportional to ``weights`` (largest remainders).

    All-zero weights split evenly. The result adds up to ``total`` exactly.

    Examples
    --------
    >>> apportion(10, [1, 1, 1]).tolist(), apportion(7, [0, 0]).tolist()
    ([4, 3, 3], [4, 3])
    >>> apportion(100, [3.0, 0.0, 1.0]).tolist()
    [75, 0, 25]
    """
    w = np.asarray(weights, dtype=np.float64)
    if not len(w):
        raise ValueError(f"cannot split {total} bytes among no features")
    if w.sum() <= 0:
        w = np.ones_like(w)
    exact = total * (w / w.sum())
    out: npt.NDArray[np.int64] = np.floor(exact).astype(np.int64)
    left = total - int(out.sum())
    out[np.argsort(-(exact - out), kind="stable")[:left]] += 1
    return out


def feature_sizes(content: bytes, mesh: TileMesh, table: PropertyTable | None) -> FeatureSizes:
    """Return how many of ``content``'s bytes each feature of ``mesh`` accounts for.

    ``content`` is a GLB or b3dm encoded from ``mesh`` (and ``table``, whose rows are the
    features: in the GLB, or in the b3dm's batch table).
    """
    count = table.count if table is not None else int(mesh.feature_ids.max()) + 1
    face_feature = mesh.feature_ids[mesh.faces[:, 0]]
    triangles = np.bincount(face_feature, minlength=count).astype(np.int64)
    vertices = (
        3 * triangles
        if mesh.normals is None  # flat shading: encode_glb gives each triangle its vertices
        else np.bincount(mesh.feature_ids, minlength=count)
    )
    vertex_bytes = VERTEX_BYTES + (UV_BYTES if mesh.uv is not None else 0)
    geometry_weight = vertex_bytes * vertices + TRIANGLE_BYTES * triangles
    totals = _parts(content)
    out = np.zeros((count, len(PARTS)), dtype=np.int64)
    out[:, 0] = apportion(totals.geometry, geometry_weight)
    if totals.properties:
        rows = _row_bytes(table) if table is not None else np.ones(count)
        out[:, 1] = apportion(totals.properties, rows)
    for image, size in totals.images:
        users = _image_triangles(mesh, face_feature, image, count)
        out[:, 2] += apportion(size, users if users.any() else geometry_weight)
    out[:, 3] = apportion(len(content) - totals.total, out[:, :3].sum(axis=1))
    return FeatureSizes(out, triangles)


@dataclass(frozen=True, slots=True)
class _Parts:
    geometry: int
    properties: int
    images: list[tuple[bytes, int]]  # each embedded image and its bufferView's length

    @property
    def total(self) -> int:
        return self.geometry + self.properties + sum(size for _, size in self.images)


def _parts(content: bytes) -> _Parts:
    """Return the geometry, property and image bytes of a GLB or b3dm."""
    batch_table = 0
    if content[:4] == b"b3dm":
        ft_json, ft_bin, bt_json, bt_bin = struct.unpack_from("<4I", content, 12)
        batch_table = bt_json + bt_bin
        content = content[_B3DM_HEADER + ft_json + ft_bin + bt_json + bt_bin :]
    if content[:4] != b"glTF":
        raise ValueError("content must be a GLB or a b3dm")
    json_length = struct.unpack_from("<I", content, _GLB_HEADER)[0]
    document: dict[str, Any] = json.loads(content[_GLB_HEADER + 8 : _GLB_HEADER + 8 + json_length])
    bin_start = _GLB_HEADER + 8 + json_length
    bin_length = struct.unpack_from("<I", content, bin_start)[0] if len(content) > bin_start else 0
    blob = content[bin_start + 8 : bin_start + 8 + bin_length]
    views = document.get("bufferViews", [])
    metadata = document.get("extensions", {}).get("EXT_structural_metadata", {})
    table_views = {
        index
        for table in metadata.get("propertyTables", [])
        for prop in table.get("properties", {}).values()
        for key in ("values", "arrayOffsets", "stringOffsets")
        if (index := prop.get(key)) is not None
    }
    properties = sum(views[i]["byteLength"] for i in table_views)
    images = []
    for image in document.get("images", []):
        view = views[image["bufferView"]]
        start = view.get("byteOffset", 0)
        images.append((blob[start : start + view["byteLength"]], view["byteLength"]))
    geometry = bin_length - properties - sum(size for _, size in images)
    return _Parts(geometry, properties + batch_table, images)


def _row_bytes(table: PropertyTable) -> npt.NDArray[np.float64]:
    """Return the bytes of each row: strings' UTF-8 and offsets, a number's width otherwise."""
    out = np.zeros(table.count)
    for values in table.columns.values():
        out += [
            len(v.encode("utf-8")) + STRING_OFFSET_BYTES if isinstance(v, str) else NUMBER_BYTES
            for v in values
        ]
    return out


def _image_triangles(
    mesh: TileMesh, face_feature: npt.NDArray[np.uint32], image: bytes, count: int
) -> npt.NDArray[np.int64]:
    """Return per feature the triangles drawn with a material whose texture is ``image``."""
    textured = [
        k
        for k, m in enumerate(mesh.materials)
        if m.texture is not None and m.texture.image == image
    ]
    faces = np.isin(mesh.materials_per_face, textured)
    return np.bincount(face_feature[faces], minlength=count).astype(np.int64)
