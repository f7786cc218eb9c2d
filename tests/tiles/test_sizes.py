"""A tile's bytes split among its features: whole bytes that add up to the tile, each part
(property table, images) matching what an independent reader finds in the file."""

from __future__ import annotations

import io
import struct
from dataclasses import replace

import numpy as np
import pygltflib
import pytest
from PIL import Image
from test_glb_compressed import city_mesh

from tiles import Material, PropertyTable, Texture, TileMesh, encode_b3dm, encode_glb
from tiles.sizes import PARTS, apportion, feature_sizes

BUILDINGS = 80


def _png(size: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _textured(mesh: TileMesh, image: bytes, buildings: list[int]) -> TileMesh:
    """Give the faces of ``buildings`` a third material, textured with ``image``."""
    face_feature = mesh.feature_ids[mesh.faces[:, 0]]
    per_face = np.where(np.isin(face_feature, buildings), 2, mesh.materials_per_face)
    texture = Texture(image, "image/png")
    return replace(
        mesh,
        materials=[*mesh.materials, Material("photo", (1.0, 1.0, 1.0, 1.0), texture=texture)],
        materials_per_face=per_face.astype(np.uint16),
        uv=np.random.default_rng(0).random((len(mesh.positions), 2)).astype(np.float32),
    )


def _table(long_id: int | None = None) -> PropertyTable:
    ids = [f"b{k}" if k != long_id else "x" * 2000 for k in range(BUILDINGS)]
    heights = [float(k) for k in range(BUILDINGS)]
    return PropertyTable("building", BUILDINGS, {"id": ids, "height": heights})


def _glb_parts(glb: bytes) -> tuple[int, int]:
    """Return the bytes of the property table's and the images' bufferViews (pygltflib)."""
    gltf = pygltflib.GLTF2.load_from_bytes(glb)
    metadata = gltf.extensions.get("EXT_structural_metadata", {})
    table_views = {
        view
        for table in metadata.get("propertyTables", [])
        for prop in table["properties"].values()
        for key in ("values", "stringOffsets")
        if (view := prop.get(key)) is not None
    }
    images = [image.bufferView for image in gltf.images]
    length = [v.byteLength for v in gltf.bufferViews]
    return sum(length[v] for v in table_views), sum(length[v] for v in images)


@pytest.mark.parametrize("compress", ["none", "quantize", "meshopt", "draco"])
def test_glb_bytes_are_split_exactly(compress: str) -> None:
    image = _png(64, 1)
    mesh = _textured(city_mesh(1, BUILDINGS), image, [3, 7])
    table = _table()
    glb = encode_glb(mesh, table, compress=compress)  # type: ignore[arg-type]
    sizes = feature_sizes(glb, mesh, table)
    assert sizes.bytes.shape == (BUILDINGS, len(PARTS))
    assert sizes.bytes.min() >= 0
    assert int(sizes.bytes.sum()) == len(glb)
    properties, images = _glb_parts(glb)
    assert int(sizes.bytes[:, PARTS.index("properties")].sum()) == properties
    textures = sizes.bytes[:, PARTS.index("textures")]
    assert int(textures.sum()) == images == len(image)
    assert np.flatnonzero(textures).tolist() == [3, 7]  # the only buildings drawn with it
    assert sizes.triangles.tolist() == [12] * BUILDINGS  # boxes


def test_b3dm_bytes_are_split_exactly() -> None:
    mesh, table = city_mesh(2, BUILDINGS), _table()
    glb = encode_glb(mesh, compress="meshopt", id_attribute="_BATCHID")
    tile = encode_b3dm(glb, table)
    sizes = feature_sizes(tile, mesh, table)
    assert int(sizes.bytes.sum()) == len(tile)
    bt_json, bt_bin = struct.unpack_from("<2I", tile, 20)  # b3dm header: batch table lengths
    assert int(sizes.bytes[:, PARTS.index("properties")].sum()) == bt_json + bt_bin


def test_each_feature_carries_its_own_weight() -> None:
    """A building with 25 times the triangles, or a 2,000-character id, weighs more."""
    mesh = city_mesh(3, BUILDINGS)
    dense = mesh.feature_ids[mesh.faces[:, 0]] == 5
    many = np.repeat(np.flatnonzero(dense), 24)  # the same triangles again: more to encode
    heavy = replace(
        mesh,
        faces=np.concatenate([mesh.faces, mesh.faces[many]]),
        materials_per_face=np.concatenate([mesh.materials_per_face, mesh.materials_per_face[many]]),
    )
    table = _table(long_id=9)
    sizes = feature_sizes(encode_glb(heavy, table, compress="none"), heavy, table)
    geometry = sizes.bytes[:, PARTS.index("geometry")]
    properties = sizes.bytes[:, PARTS.index("properties")]
    assert np.argmax(geometry) == 5
    assert sizes.triangles[5] == 12 * 25
    assert geometry[5] > 10 * np.median(geometry)
    assert np.argmax(properties) == 9
    assert properties[9] > 2000


@pytest.mark.parametrize(
    ("total", "weights"), [(0, [1, 2]), (1, [0.5, 0.5]), (1009, [1, 2, 3, 0, 7]), (5, [0, 0, 0])]
)
def test_apportion_is_whole_and_exact(total: int, weights: list[float]) -> None:
    shares = apportion(total, weights)
    assert shares.dtype == np.int64
    assert int(shares.sum()) == total
    w = np.asarray(weights, dtype=float)
    ideal = total * w / w.sum() if w.sum() else np.full(len(w), total / len(w))
    assert np.abs(shares - ideal).max() < 1.0
