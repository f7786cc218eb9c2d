"""b3dm (3D Tiles 1.0): the layout the specification requires, read back by 3d-tiles-tools, and a
GLB inside with ``_BATCHID`` that passes the Khronos validator."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import glb_reader
import numpy as np
import pytest
from gltf_validator import read_b3dm_files, unexpected_messages, validate_glb_files

from tiles import Material, PropertyTable, TileMesh, encode_b3dm, encode_glb

COLUMNS = {
    "id": ["a", "b", "c"],
    "type": ["Building", "BuildingPart", "Building"],
    "storeys": [3, 2, 7],  # int32 → binary INT
    "height": [9.5, 6.25, 21.0],  # → binary DOUBLE
    "roofType": ["1000", None, "3100"],  # missing → JSON null
    "year": [1990, None, 2001],  # numeric with a missing value → JSON
    "big": [2**40, 1, 2],  # beyond int32 → JSON numbers
    "heated": [True, False, None],
    "ratio": [0.5, float("nan"), 1.5],  # NaN is missing
    "extras": ["x", "y", "z"],  # a reserved batch table key
}
# 3d-tiles-tools names batch table properties by identifiers ("attribute.extras" → "_").
EXPECTED = {**COLUMNS, "ratio": [0.5, None, 1.5], "attribute_extras": ["x", "y", "z"]}
del EXPECTED["extras"]


def three_boxes() -> TileMesh:
    faces = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.uint32)
    square = np.array([[0, 0, 0], [4, 0, 0], [4, 4, 0], [0, 4, 0]], dtype=np.float32)
    offsets = np.array([[10.0 * k, 0.0, k] for k in range(3)])
    return TileMesh(
        positions=np.concatenate([square + o for o in offsets]).astype(np.float32),
        normals=None,
        faces=np.concatenate([faces + 4 * k for k in range(3)]),
        feature_ids=np.repeat(np.arange(3, dtype=np.uint32), 4),
        materials_per_face=np.zeros(6, dtype=np.uint16),
        materials=[Material("roof", (0.5, 0.2, 0.1, 1.0))],
    )


def _tile(compress: str = "none") -> tuple[bytes, bytes]:
    glb = encode_glb(three_boxes(), compress=compress, id_attribute="_BATCHID")  # type: ignore[arg-type]
    return glb, encode_b3dm(glb, PropertyTable("cityObject", 3, COLUMNS))


def test_layout_follows_the_specification() -> None:
    glb, tile = _tile()
    magic, version, length, ft_json, ft_bin, bt_json, bt_bin = struct.unpack_from("<4s6I", tile)
    assert (magic, version, length) == (b"b3dm", 1, len(tile))
    assert length % 8 == 0
    assert ft_bin == 0
    feature_end = 28 + ft_json
    batch_end = feature_end + bt_json + bt_bin
    assert feature_end % 8 == 0  # each section starts on an 8-byte boundary
    assert (feature_end + bt_json) % 8 == 0
    assert batch_end % 8 == 0  # the glb starts on one …
    assert tile[batch_end : batch_end + len(glb)] == glb
    assert tile[batch_end + len(glb) :] == b"\x00" * (length - batch_end - len(glb))  # … and ends
    assert json.loads(tile[28:feature_end]) == {"BATCH_LENGTH": 3}
    batch = json.loads(tile[feature_end : feature_end + bt_json])
    assert batch["storeys"] == {"byteOffset": 0, "componentType": "INT", "type": "SCALAR"}
    assert batch["height"]["componentType"] == "DOUBLE"
    assert batch["height"]["byteOffset"] % 8 == 0
    assert batch["roofType"] == ["1000", None, "3100"]
    assert batch["attribute.extras"] == ["x", "y", "z"]
    assert "extras" not in batch


def test_rtc_center_goes_to_the_feature_table() -> None:
    tile = encode_b3dm(_tile()[0], PropertyTable("c", 3, {"id": ["a", "b", "c"]}),
                       rtc_center=(4_145_805.25, 612_064.5, 4_792_225.75))  # fmt: skip
    ft_json = struct.unpack_from("<I", tile, 12)[0]
    assert json.loads(tile[28 : 28 + ft_json]) == {
        "BATCH_LENGTH": 3,
        "RTC_CENTER": [4_145_805.25, 612_064.5, 4_792_225.75],
    }


@pytest.mark.parametrize("compress", ["none", "meshopt", "draco"])
def test_3d_tiles_tools_reads_the_batch_table_and_the_glb_validates(
    tmp_path: Path, compress: str
) -> None:
    glb, tile = _tile(compress)
    path = tmp_path / "t.b3dm"
    path.write_bytes(tile)
    (read,) = read_b3dm_files([path], tmp_path)
    assert "failure" not in read, read
    assert read["featureTable"] == {"BATCH_LENGTH": 3}
    assert read["properties"] == EXPECTED
    assert Path(read["glb"]).read_bytes() == glb
    (report,) = validate_glb_files([read["glb"]])
    assert report["numErrors"] == 0, report["messages"][:5]
    assert report["numWarnings"] == 0, report["messages"][:5]
    gltf, _ = glb_reader.load(glb)
    draco_views = [p.extensions["KHR_draco_mesh_compression"]["bufferView"]
                   for p in gltf.meshes[0].primitives if p.extensions]  # fmt: skip
    unexplained = [m for m in unexpected_messages(report, draco_views)
                   if (m["code"], m["pointer"]) != ("UNUSED_OBJECT", "/buffers/0")]  # fmt: skip
    assert unexplained == []


def test_glb_carries_batch_ids_not_mesh_features() -> None:
    glb, _ = _tile()
    gltf, blob = glb_reader.load(glb)
    assert "EXT_mesh_features" not in gltf.extensionsUsed
    (prim,) = gltf.meshes[0].primitives
    assert prim.extensions in (None, {})
    batch_ids = glb_reader.read_accessor(gltf, blob, prim.attributes._BATCHID)
    assert sorted(set(batch_ids.tolist())) == [0.0, 1.0, 2.0]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="batch table"):
        encode_glb(three_boxes(), PropertyTable("c", 3, {"id": ["a", "b", "c"]}),
                   id_attribute="_BATCHID")  # fmt: skip
    with pytest.raises(ValueError, match="column 'id' has 2 values for 3 features"):
        encode_b3dm(_tile()[0], PropertyTable("c", 3, {"id": ["a", "b"]}))
    with pytest.raises(ValueError, match="magic 'glTF'"):
        encode_b3dm(b"nope", PropertyTable("c", 1, {"id": ["a"]}))
