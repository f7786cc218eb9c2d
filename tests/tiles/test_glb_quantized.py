"""KHR_mesh_quantization normals: valid, close to the float ones, positions untouched (≤ 1 mm)."""

from __future__ import annotations

import json

import glb_reader
import numpy as np
import pytest
from gltf_validator import validate_glb_files
from hypothesis import given, settings
from hypothesis import strategies as st

import tiles
from tiles import Material, TileMesh, encode_glb, quantize_normals


def _mesh(seed: int, n_faces: int = 200) -> TileMesh:
    rng = np.random.default_rng(seed)
    positions = rng.uniform(-400, 400, (n_faces * 3, 3)).astype(np.float32)
    return TileMesh(
        positions=positions,
        normals=None,
        faces=np.arange(n_faces * 3, dtype=np.uint32).reshape(-1, 3),
        feature_ids=np.repeat(np.arange(n_faces, dtype=np.uint32), 3),
        materials_per_face=(np.arange(n_faces) % 2).astype(np.uint16),
        materials=[Material("roof", (0.5, 0.2, 0.1, 1.0)), Material("wall", (0.8, 0.8, 0.7, 1.0))],
    )


def test_quantized_glb_declares_the_extension_and_validates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = encode_glb(_mesh(1), compress="quantize")
    gltf, _ = glb_reader.load(data)
    assert gltf.extensionsRequired == ["KHR_mesh_quantization"]
    assert "KHR_mesh_quantization" in gltf.extensionsUsed
    normal = gltf.accessors[gltf.meshes[0].primitives[0].attributes.NORMAL]
    assert (normal.componentType, normal.normalized) == (5120, True)
    path = tmp_path / "q.glb"
    path.write_bytes(data)
    (report,) = validate_glb_files([path])
    assert report["numErrors"] == 0, report["messages"][:5]
    assert report["numWarnings"] == 0, report["messages"][:5]


@pytest.mark.parametrize("seed", [2, 3])
def test_quantized_normals_stay_within_a_degree_and_positions_are_exact(seed: int) -> None:
    mesh = _mesh(seed)
    plain = glb_reader.primitives(encode_glb(mesh))
    small = glb_reader.primitives(encode_glb(mesh, compress="quantize"))
    for a, b in zip(plain, small, strict=True):
        np.testing.assert_array_equal(a.positions_yup, b.positions_yup)
        np.testing.assert_array_equal(a.indices, b.indices)
        unit = b.normals_yup / np.linalg.norm(b.normals_yup, axis=1, keepdims=True)
        cos = np.clip(np.einsum("ij,ij->i", unit, a.normals_yup), -1.0, 1.0)
        assert np.degrees(np.arccos(cos)).max() < 1.0


def test_quantized_is_smaller() -> None:
    mesh = _mesh(4)
    assert len(encode_glb(mesh, compress="quantize")) < 0.8 * len(encode_glb(mesh))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=3, max_size=3).filter(lambda v: np.linalg.norm(v) > 0.1))
def test_quantize_normals_decodes_to_nearly_unit_vectors(v: list[float]) -> None:
    n = np.array([v]) / np.linalg.norm(v)
    q = quantize_normals(n)
    assert q.dtype == np.int8
    assert q[0, 3] == 0
    decoded = np.maximum(q[:, :3] / 127.0, -1.0)
    assert abs(np.linalg.norm(decoded) - 1.0) < 0.01
    assert float(decoded[0] @ n[0]) / np.linalg.norm(decoded) > np.cos(np.radians(1.0))


@pytest.mark.parametrize("compress", ["none", "quantize", "meshopt", "draco"])
def test_ecef_vertices_survive_encode_and_decode_within_a_millimetre(compress: str) -> None:
    rng = np.random.default_rng(5)
    origin = np.array([4_145_805.2, 612_064.4, 4_792_225.6])  # Karlsruhe, ECEF
    ecef = origin + rng.uniform(-600, 600, (900, 3))  # a 1.2 km tile
    frame = tiles.enu_frame(ecef.mean(axis=0))
    local = ((ecef - frame[:3, 3]) @ frame[:3, :3]).astype(np.float32)
    mesh = TileMesh(local, None, np.arange(900, dtype=np.uint32).reshape(-1, 3),
                    np.zeros(900, dtype=np.uint32), np.zeros(300, dtype=np.uint16),
                    [Material("x", (1, 1, 1, 1))])  # fmt: skip
    (prim,) = glb_reader.primitives(encode_glb(mesh, compress=compress))  # type: ignore[arg-type]
    yup = prim.positions_yup.astype(np.float64)
    zup = np.column_stack([yup[:, 0], -yup[:, 2], yup[:, 1]])
    decoded = zup @ frame[:3, :3].T + frame[:3, 3]
    # Draco may reorder vertices: match each decoded vertex to its nearest source vertex (the
    # random points lie metres apart, so the nearest one is its source).
    nearest = np.linalg.norm(decoded[:, None, :] - ecef[None, :, :], axis=2).min(axis=1)
    assert len(decoded) == len(ecef)
    assert nearest.max() < 1e-3
    assert json.dumps(frame.tolist())  # the frame is plain float64
