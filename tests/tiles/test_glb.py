"""encode_glb: valid for the Khronos validator, and round-trips through pygltflib."""

from __future__ import annotations

import io
import json
import re
import struct
from pathlib import Path

import glb_reader
import numpy as np
import pytest
from gltf_validator import unexpected_messages, validate_glb_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tiles import Material, PropertyTable, Texture, TileMesh, encode_glb, y_up_to_z_up

GREY = Material("wall", (0.8, 0.8, 0.8, 1.0))
RED = Material("roof", (0.7, 0.1, 0.1, 1.0))
GLASS = Material("window", (0.3, 0.5, 0.9, 0.4), double_sided=False)
SHINY = Material("shiny", (0.8, 0.8, 0.8, 1.0), specular=0.5, specular_color=(1.0, 0.5, 0.25))


def _png(alpha: list[int]) -> bytes:
    """A 2×2 RGBA PNG with the given alpha values."""
    from PIL import Image

    image = Image.new("RGBA", (2, 2))
    image.putdata([(200, 100, 50, a) for a in alpha])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


FENCE = Material("fence", (1.0, 1.0, 1.0, 1.0), texture=Texture(
    _png([0, 255, 255, 0]), "image/png", alpha="MASK"))  # fmt: skip


def box_mesh(with_normals: bool) -> TileMesh:
    """Two unit cubes side by side: feature 0 and 1, walls grey, tops red."""
    corners = np.array(
        [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
        dtype=np.float32,
    )
    quads = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
    cube_faces = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    top = np.zeros(12, dtype=np.uint16)
    top[2:4] = 1
    shift = np.array([2, 0, 0], np.float32)
    positions = np.concatenate([corners, corners + shift])
    normals = None
    if with_normals:
        centred = positions - np.repeat([[0.5, 0.5, 0.5], [2.5, 0.5, 0.5]], 8, axis=0)
        normals = (centred / np.linalg.norm(centred, axis=1, keepdims=True)).astype(np.float32)
    return TileMesh(
        positions=positions,
        normals=normals,
        faces=np.concatenate([cube_faces, cube_faces + 8]).astype(np.uint32),
        feature_ids=np.repeat([0, 1], 8).astype(np.uint32),
        materials_per_face=np.concatenate([top, top]),
        materials=[GREY, RED, GLASS],
    )


def grid_mesh(n: int) -> TileMesh:
    """An n×n vertex grid (welded, with normals), one material, one feature per row."""
    xs, ys = np.meshgrid(np.arange(n, dtype=np.float32), np.arange(n, dtype=np.float32))
    positions = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n, np.float32)], axis=1)
    i = np.arange(n - 1)
    corner = (i[None, :] + n * i[:, None]).ravel()
    faces = np.concatenate(
        [
            np.stack([corner, corner + 1, corner + n + 1], 1),
            np.stack([corner, corner + n + 1, corner + n], 1),
        ]
    ).astype(np.uint32)
    normals = np.tile(np.array([[0, 0, 1]], np.float32), (n * n, 1))
    return TileMesh(
        positions=positions,
        normals=normals,
        faces=faces,
        feature_ids=(np.arange(n * n) // n).astype(np.uint32),
        materials_per_face=np.zeros(len(faces), np.uint16),
        materials=[GREY],
    )


def textured_box() -> TileMesh:
    """The two cubes: walls with a specular tint, tops with a texture cut out by its alpha."""
    mesh = box_mesh(False)
    uv = np.tile(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32), (4, 1))
    return TileMesh(mesh.positions, None, mesh.faces, mesh.feature_ids, mesh.materials_per_face,
                    [SHINY, FENCE], uv)  # fmt: skip


BUILDINGS = PropertyTable(
    "building",
    2,
    {
        "gen:Höhe": [12.5, None],
        "id": ["DEBY_LOD2_1", "DEBY_LOD2_2"],
        "storeys": [3, None],
        "listed": [True, False],
        "heated": [None, True],
        "built": ["1901-01-01", None],
    },
)

CASES = {
    "flat_two_materials": (box_mesh(False), None, None),
    "normals_with_table": (box_mesh(True), BUILDINGS, None),
    "translated_with_table": (box_mesh(False), BUILDINGS, (10.0, -5.0, 2.5)),
    "uint32_indices": (grid_mesh(300), None, None),
    "specular_and_masked_texture": (textured_box(), None, None),
}


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / f"{name}.glb"
    path.write_bytes(data)
    return path


def metadata_views(data: bytes) -> list[int]:
    gltf, _ = glb_reader.load(data)
    ext = (gltf.extensions or {}).get("EXT_structural_metadata")
    if ext is None:
        return []
    return [
        index
        for table in ext["propertyTables"]
        for prop in table.get("properties", {}).values()
        for key, index in prop.items()
        if key in ("values", "stringOffsets")
    ]


def test_every_case_passes_the_khronos_validator(tmp_path: Path) -> None:
    blobs = {
        name: encode_glb(mesh, table, translation=t) for name, (mesh, table, t) in CASES.items()
    }
    paths = [write(tmp_path, name, data) for name, data in blobs.items()]
    reports = validate_glb_files(paths)
    for (name, data), report in zip(blobs.items(), reports, strict=True):
        assert report["numErrors"] == 0, (name, report["messages"])
        assert report["numWarnings"] == 0, (name, report["messages"])
        assert unexpected_messages(report, metadata_views(data)) == [], name


def test_glb_container_is_aligned_and_padded() -> None:
    data = encode_glb(box_mesh(False), BUILDINGS)
    magic, version, total = struct.unpack_from("<4sII", data)
    json_length, json_type = struct.unpack_from("<II", data, 12)
    text = data[20 : 20 + json_length]
    bin_length, bin_type = struct.unpack_from("<II", data, 20 + json_length)
    assert (magic, version, total, json_type, bin_type) == (
        b"glTF",
        2,
        len(data),
        0x4E4F534A,
        0x004E4942,
    )
    assert json_length % 4 == 0
    assert bin_length % 4 == 0
    assert text.rstrip(b" ") == text.rstrip()  # padded with spaces only
    document = json.loads(text)
    assert document["extensionsUsed"] == ["EXT_mesh_features", "EXT_structural_metadata"]
    assert "extensionsRequired" not in document
    assert all(v["byteOffset"] % 4 == 0 for v in document["bufferViews"])
    assert document["buffers"] == [{"byteLength": bin_length}]


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_through_pygltflib(name: str) -> None:
    mesh, table, translation = CASES[name]
    decoded = glb_reader.primitives(encode_glb(mesh, table, translation=translation))
    # Rebuild the triangle soup from both sides and compare as sorted sets of triangles.
    expected = []
    for face, material in zip(mesh.faces, mesh.materials_per_face, strict=True):
        tri = mesh.positions[face]
        expected.append(
            (int(material), tri.tobytes(), tuple(int(f) for f in mesh.feature_ids[face]))
        )
    got = []
    for prim in decoded:
        material = [m.name for m in mesh.materials].index(prim.material["name"])
        positions = y_up_to_z_up(prim.stored_positions)
        assert prim.position_min == positions_min(prim.stored_positions)
        assert prim.position_max == positions_max(prim.stored_positions)
        for face in prim.indices.reshape(-1, 3):
            fids = tuple(int(f) for f in prim.feature_ids[face])
            got.append((material, positions[face].astype(np.float32).tobytes(), fids))
        assert np.allclose(np.linalg.norm(prim.normals_yup, axis=1), 1.0, atol=1e-6)
        (feature_set,) = prim.feature_id_sets
        assert feature_set["attribute"] == 0
        assert feature_set["featureCount"] == len(np.unique(prim.feature_ids))
        assert ("propertyTable" in feature_set) == (table is not None)
    assert sorted(got) == sorted(expected)


def positions_min(p: np.ndarray) -> list[float]:
    return [float(v) for v in p.min(axis=0)]


def positions_max(p: np.ndarray) -> list[float]:
    return [float(v) for v in p.max(axis=0)]


def test_flat_normals_point_out_of_each_face() -> None:
    (walls, top) = glb_reader.primitives(encode_glb(box_mesh(False)))
    normals = y_up_to_z_up(top.normals_yup)
    assert np.allclose(normals, [0, 0, 1], atol=1e-7)
    assert len(walls.positions_yup) == 3 * 20  # un-welded: 20 wall triangles, 3 vertices each


def test_index_type_follows_vertex_count() -> None:
    small, _ = glb_reader.load(encode_glb(grid_mesh(10)))
    large, _ = glb_reader.load(encode_glb(grid_mesh(300)))
    assert small.accessors[small.meshes[0].primitives[0].indices].componentType == 5123
    assert large.accessors[large.meshes[0].primitives[0].indices].componentType == 5125


def test_translation_is_written_y_up() -> None:
    gltf, _ = glb_reader.load(encode_glb(box_mesh(False), translation=(1.0, 2.0, 3.0)))
    assert gltf.nodes[0].translation == [1.0, 3.0, -2.0]


def test_only_used_materials_are_written() -> None:
    gltf, _ = glb_reader.load(encode_glb(box_mesh(False)))
    assert [m.name for m in gltf.materials] == ["wall", "roof"]
    assert gltf.materials[0].doubleSided is True
    assert gltf.materials[0].pbrMetallicRoughness.metallicFactor == 0.0


def test_translucent_material_blends() -> None:
    mesh = box_mesh(False)
    glassy = TileMesh(mesh.positions, None, mesh.faces, mesh.feature_ids,
                      np.full_like(mesh.materials_per_face, 2), mesh.materials)  # fmt: skip
    gltf, _ = glb_reader.load(encode_glb(glassy))
    assert gltf.materials[0].alphaMode == "BLEND"
    assert gltf.materials[0].doubleSided is False


def test_specular_is_an_optional_extension_on_its_material_only() -> None:
    gltf, _ = glb_reader.load(encode_glb(textured_box()))
    shiny, fence = gltf.materials
    assert shiny.extensions == {
        "KHR_materials_specular": {"specularFactor": 0.5, "specularColorFactor": [1.0, 0.5, 0.25]}
    }
    assert not fence.extensions
    assert "KHR_materials_specular" in gltf.extensionsUsed
    assert not gltf.extensionsRequired  # a client without it still draws the material


def test_no_specular_no_extension() -> None:
    gltf, _ = glb_reader.load(encode_glb(box_mesh(False)))
    assert "KHR_materials_specular" not in (gltf.extensionsUsed or [])
    assert all(not m.extensions for m in gltf.materials)


@pytest.mark.parametrize(
    ("base_alpha", "image_alpha", "mode"),
    [(1.0, "OPAQUE", None), (1.0, "MASK", "MASK"), (1.0, "BLEND", "BLEND"), (0.5, "MASK", "BLEND")],
)
def test_the_alpha_mode_comes_from_base_colour_and_image(
    base_alpha: float, image_alpha: str, mode: str | None
) -> None:
    texture = Texture(_png([255] * 4), "image/png", alpha=image_alpha)  # type: ignore[arg-type]
    material = Material("m", (1.0, 1.0, 1.0, base_alpha), texture=texture)
    box = textured_box()
    mesh = replace(box, materials=[material, material])
    data = encode_glb(mesh)
    (json_length,) = struct.unpack("<I", data[12:16])  # GLB: the JSON chunk comes first
    written = json.loads(data[20 : 20 + json_length])
    assert written["materials"][0].get("alphaMode") == mode  # absent: OPAQUE, the default


def replace(mesh: TileMesh, **changes: object) -> TileMesh:
    fields = {f: getattr(mesh, f) for f in TileMesh.__dataclass_fields__}
    return TileMesh(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"faces": np.zeros((0, 3), np.uint32), "materials_per_face": np.zeros(0, np.uint16)},
         "need positions (N, 3) and faces (M>0, 3)"),
        ({"faces": np.array([[0, 1, 99]], np.uint32), "materials_per_face": np.zeros(1, np.uint16)},
         "faces refer to vertex 99 of 16"),
        ({"materials_per_face": np.full(24, 5, np.uint16)},
         "materials_per_face refers past the 3 materials"),
        ({"feature_ids": np.zeros(3, np.uint32)}, "feature_ids must have shape (N,)"),
        ({"normals": np.zeros((2, 3), np.float32)}, "normals must have shape (16, 3)"),
        ({"feature_ids": np.full(16, 2**24, np.uint32)}, "feature ids must be < 2**24"),
    ],
)  # fmt: skip
def test_bad_meshes_are_rejected(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        encode_glb(replace(box_mesh(False), **changes))


def test_feature_id_without_table_row_is_rejected() -> None:
    table = PropertyTable("building", 1, {"id": ["only"]})
    with pytest.raises(ValueError, match="feature id 1 has no row in a table of 1"):
        encode_glb(box_mesh(False), table)


@st.composite
def random_meshes(draw: st.DrawFn) -> TileMesh:
    n = draw(st.integers(3, 40))
    m = draw(st.integers(1, 60))
    coords = st.floats(-1000, 1000, allow_nan=False, width=32)
    positions = draw(hnp.arrays(np.float32, (n, 3), elements=coords))
    faces = draw(hnp.arrays(np.uint32, (m, 3), elements=st.integers(0, n - 1)))
    n_materials = draw(st.integers(1, 3))
    with_normals = draw(st.booleans())
    normals = None
    if with_normals:
        unit = st.floats(-1, 1, allow_nan=False, width=32)
        normals = draw(hnp.arrays(np.float32, (n, 3), elements=unit))
    return TileMesh(
        positions=positions,
        normals=normals,
        faces=faces,
        feature_ids=draw(hnp.arrays(np.uint32, (n,), elements=st.integers(0, 5))),
        materials_per_face=draw(
            hnp.arrays(np.uint16, (m,), elements=st.integers(0, n_materials - 1))
        ),
        materials=[Material(f"m{i}", (0.5, 0.5, 0.5, 1.0)) for i in range(n_materials)],
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_meshes())
def test_random_meshes_round_trip(mesh: TileMesh) -> None:
    decoded = glb_reader.primitives(encode_glb(mesh))
    expected = sorted(
        (int(mat), mesh.positions[face].tobytes(), mesh.feature_ids[face].tobytes())
        for face, mat in zip(mesh.faces, mesh.materials_per_face, strict=True)
    )
    got = []
    for prim in decoded:
        material = int(prim.material["name"][1:])
        positions = y_up_to_z_up(prim.stored_positions)
        fids = prim.feature_ids.astype(np.uint32)
        for face in prim.indices.reshape(-1, 3):
            got.append((material, positions[face].tobytes(), fids[face].tobytes()))
        assert np.allclose(np.linalg.norm(prim.normals_yup, axis=1), 1.0, atol=1e-6)
    assert sorted(got) == expected


def seeded_mesh(seed: int) -> TileMesh:
    """A reproducible random mesh with a degenerate triangle and a zero normal in it."""
    rng = np.random.default_rng(seed)
    n, m = 30, 50
    faces = rng.integers(0, n, (m, 3)).astype(np.uint32)
    faces[0] = [0, 0, 1]  # degenerate
    normals = rng.normal(size=(n, 3)).astype(np.float32) if seed % 2 else None
    if normals is not None:
        normals[0] = 0.0
    return TileMesh(
        positions=rng.uniform(-500, 500, (n, 3)).astype(np.float32),
        normals=normals,
        faces=faces,
        feature_ids=rng.integers(0, 7, n).astype(np.uint32),
        materials_per_face=rng.integers(0, 3, m).astype(np.uint16),
        materials=[GREY, RED, GLASS],
    )


def test_random_meshes_pass_the_validator(tmp_path: Path) -> None:
    paths = [write(tmp_path, f"random{i}", encode_glb(seeded_mesh(i))) for i in range(6)]
    for report in validate_glb_files(paths):
        assert report["numErrors"] == 0, report["messages"]
        assert report["numWarnings"] == 0, report["messages"]
        assert {m["code"] for m in unexpected_messages(report)} <= {
            "ACCESSOR_INDEX_TRIANGLE_DEGENERATE"
        }
