"""meshopt and Draco compression: valid, decodable by the codecs' own decoders, and equal to the
uncompressed tile within the quantization step (positions), exactly (feature ids) and within a
few degrees (normals)."""

from __future__ import annotations

import io
from pathlib import Path

import glb_reader
import numpy as np
import pytest
from gltf_validator import decode_glb_files, unexpected_messages, validate_glb_files
from PIL import Image

from tiles import Material, Texture, TileMesh, encode_glb

MATERIALS = [Material("wall", (0.8, 0.8, 0.7, 1.0)), Material("roof", (0.5, 0.2, 0.1, 1.0))]
_BOX_FACES = np.array(
    [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
     [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]], dtype=np.uint32
)  # fmt: skip


def city_mesh(seed: int, buildings: int = 80, span_m: float = 400.0) -> TileMesh:
    """Boxes of 5–20 m footprint and 4–40 m height over ``span_m``; tops are roofs."""
    rng = np.random.default_rng(seed)
    positions, faces, fids = [], [], []
    for k in range(buildings):
        x, y = rng.uniform(-span_m / 2, span_m / 2, 2)
        w, d = rng.uniform(5, 20, 2)
        z0, h = rng.uniform(0, 5), rng.uniform(4, 40)
        corners = [(x, y), (x + w, y), (x + w, y + d), (x, y + d)]
        box = [(cx, cy, z0) for cx, cy in corners] + [(cx, cy, z0 + h) for cx, cy in corners]
        faces.append(_BOX_FACES + 8 * k)
        positions.append(box)
        fids.append(np.full(8, k))
    materials = np.tile(np.array([0, 0, 1, 1] + [0] * 8, dtype=np.uint16), buildings)
    return TileMesh(
        positions=np.array(positions, dtype=np.float32).reshape(-1, 3),
        normals=None,
        faces=np.concatenate(faces),
        feature_ids=np.concatenate(fids).astype(np.uint32),
        materials_per_face=materials,
        materials=MATERIALS,
    )


def _extent_m(plain: list[glb_reader.DecodedPrimitive]) -> float:
    return float(np.ptp(np.concatenate([p.positions_yup for p in plain]), axis=0).max())


def _tolerance_m(compress: str, plain: list[glb_reader.DecodedPrimitive], limit: float) -> float:
    """Largest distance a vertex may move: Draco's grid (and the float32 rounding of the decoded
    coordinates) may move it by ``limit``; meshopt's 16-bit grid
    moves a vertex at most half a step ×√3, and is used only within ``limit`` (else positions
    stay float32 and do not move)."""
    if compress == "draco":
        return limit
    grid = _extent_m(plain) / 65535 / 2 * np.sqrt(3) * 1.001
    return grid if grid <= limit else 1e-6  # float32 as stored: the same numbers


def _distances_m(
    a: glb_reader.DecodedPrimitive, b: glb_reader.DecodedPrimitive, fid: float
) -> np.ndarray:
    """Distances (n_b, n_a) between the vertices of feature ``fid`` in ``b`` and in ``a``."""
    mine, theirs = b.positions_yup[b.feature_ids == fid], a.positions_yup[a.feature_ids == fid]
    return np.asarray(np.linalg.norm(mine[:, None, :] - theirs[None, :, :], axis=2))


@pytest.mark.parametrize(("seed", "span_m", "limit_m"), [(1, 400.0, 0.001), (2, 40.0, 0.001),
                                                         (3, 400.0, 0.01)])  # fmt: skip
@pytest.mark.parametrize("compress", ["meshopt", "draco"])
def test_decoded_tile_matches_the_uncompressed_one(
    compress: str, seed: int, span_m: float, limit_m: float
) -> None:
    mesh = city_mesh(seed, span_m=span_m)
    plain = glb_reader.primitives(encode_glb(mesh, compress="none"))
    packed = glb_reader.primitives(
        encode_glb(mesh, compress=compress, max_position_error_m=limit_m)  # type: ignore[arg-type]
    )
    tolerance = _tolerance_m(compress, plain, limit_m)
    assert tolerance <= limit_m
    assert [p.material["name"] for p in packed] == [p.material["name"] for p in plain]
    for a, b in zip(plain, packed, strict=True):
        assert len(b.indices) == len(a.indices)
        assert sorted(set(b.feature_ids.tolist())) == sorted(set(a.feature_ids.tolist()))
        assert np.array_equal(b.feature_ids, np.round(b.feature_ids))  # exact integers
        for fid in np.unique(a.feature_ids):
            mine, theirs = b.feature_ids == fid, a.feature_ids == fid
            distance = _distances_m(a, b, fid)
            assert distance.min(axis=1).max() <= tolerance, (fid, distance.min(axis=1).max())
            assert distance.min(axis=0).max() <= tolerance  # no vertex of the source is lost
            # Flat-shaded corners repeat a position with other normals: among the source
            # vertices at this position, one has (nearly) this normal.
            unit = b.normals_yup[mine] / np.linalg.norm(b.normals_yup[mine], axis=1)[:, None]
            cos = np.where(distance <= tolerance, unit @ a.normals_yup[theirs].T, -1.0)
            assert np.degrees(np.arccos(np.clip(cos.max(axis=1), -1, 1))).max() < 1.0
        triangles = b.positions_yup[b.indices.reshape(-1, 3)]
        area = np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0],
                                       triangles[:, 2] - triangles[:, 0]), axis=1)  # fmt: skip
        assert (area > 0).all()  # no triangle collapsed by quantization


@pytest.mark.parametrize("compress", ["meshopt", "draco"])
def test_compressed_tile_is_valid_before_and_after_decoding(compress: str, tmp_path: Path) -> None:
    data = encode_glb(city_mesh(3), compress=compress)  # type: ignore[arg-type]
    path = tmp_path / f"{compress}.glb"
    path.write_bytes(data)
    gltf, _ = glb_reader.load(data)
    extension = "EXT_meshopt_compression" if compress == "meshopt" else "KHR_draco_mesh_compression"
    assert extension in gltf.extensionsRequired
    draco_views = [
        p.extensions["KHR_draco_mesh_compression"]["bufferView"]
        for p in gltf.meshes[0].primitives
        if "KHR_draco_mesh_compression" in p.extensions
    ]
    (report,) = validate_glb_files([path])
    assert report["numErrors"] == 0, report["messages"][:5]
    # Without a property table, only the meshopt extension reads the GLB buffer.
    unexplained = [m for m in unexpected_messages(report, draco_views)
                   if (m["code"], m["pointer"]) != ("UNUSED_OBJECT", "/buffers/0")]  # fmt: skip
    assert unexplained == []
    (decoded,) = decode_glb_files([path], tmp_path)
    assert "failure" not in decoded, decoded
    assert extension in decoded["extensionsUsed"]
    assert decoded["vertices"] == sum(len(p.positions_yup) for p in glb_reader.primitives(data))
    (again,) = validate_glb_files([decoded["out"]])
    assert again["numErrors"] == 0, again["messages"][:5]
    assert again["numWarnings"] == 0, again["messages"][:5]


@pytest.mark.parametrize(("span_m", "grid"), [(40.0, True), (400.0, False)])
def test_meshopt_positions_use_the_grid_only_within_a_millimetre(span_m: float, grid: bool) -> None:
    gltf, _ = glb_reader.load(encode_glb(city_mesh(6, span_m=span_m), compress="meshopt"))
    position = gltf.accessors[gltf.meshes[0].primitives[0].attributes.POSITION]
    assert position.componentType == (5123 if grid else 5126)
    assert (gltf.nodes[0].scale is not None) == grid


def test_meshopt_views_follow_the_extension_rules() -> None:
    gltf, blob = glb_reader.load(encode_glb(city_mesh(4, span_m=40.0), compress="meshopt"))
    assert set(gltf.extensionsRequired) == {"EXT_meshopt_compression", "KHR_mesh_quantization"}
    fallback = gltf.buffers[1]
    assert fallback.uri is None
    assert fallback.extensions == {"EXT_meshopt_compression": {"fallback": True}}
    packed = [v for v in gltf.bufferViews if v.extensions]
    assert len(packed) == 4
    for view in packed:
        ext = view.extensions["EXT_meshopt_compression"]
        assert view.buffer == 1  # the fallback buffer
        assert ext["buffer"] == 0  # the data, in the GLB
        assert view.byteLength == ext["byteStride"] * ext["count"]
        assert view.byteOffset + view.byteLength <= fallback.byteLength
        assert ext["byteOffset"] + ext["byteLength"] <= len(blob)
        assert view.byteStride in (None, ext["byteStride"])
        if ext["mode"] == "ATTRIBUTES":
            assert ext["byteStride"] % 4 == 0
        else:
            assert ext["mode"] == "TRIANGLES"
            assert ext["count"] % 3 == 0
    node = gltf.nodes[0]
    assert node.scale[0] == node.scale[1] == node.scale[2] > 0


@pytest.mark.parametrize("compress", ["meshopt", "draco"])
def test_compression_makes_tiles_much_smaller(compress: str) -> None:
    mesh = city_mesh(5)
    quantized = len(encode_glb(mesh, compress="quantize"))
    assert len(encode_glb(mesh, compress=compress)) < 0.5 * quantized  # type: ignore[arg-type]


@pytest.mark.parametrize("limit_m", [0.05, 0.5])
def test_draco_grid_is_as_coarse_as_the_allowed_error(limit_m: float) -> None:
    """Coarse content (LoD1 blocks, error in metres) may move further than 1 mm: Draco spends
    fewer bits, and its own decoder puts no vertex further than allowed."""
    mesh = city_mesh(7)
    plain = glb_reader.primitives(encode_glb(mesh, compress="none"))
    fine = encode_glb(mesh, compress="draco")
    coarse = encode_glb(mesh, compress="draco", max_position_error_m=limit_m)
    moved = max(
        _distances_m(a, b, fid).min(axis=1).max()
        for a, b in zip(plain, glb_reader.primitives(coarse), strict=True)
        for fid in np.unique(a.feature_ids)
    )
    # The fewest bits within the limit: one bit fewer would double the step, so some of the
    # hundreds of vertices move by more than a quarter of the limit.
    assert limit_m / 4 < moved <= _tolerance_m("draco", plain, limit_m)
    assert len(coarse) < len(fine)


def _facade(span_uv: float, image_px: tuple[int, int]) -> TileMesh:
    """A welded 20 × 20-vertex facade, 10 m square, whose texture repeats ``span_uv`` times."""
    rng = np.random.default_rng(11)
    x, z = np.meshgrid(np.linspace(0, 10, 20), np.linspace(0, 10, 20))
    positions = np.column_stack([x.ravel(), np.zeros(x.size), z.ravel()])
    uv = positions[:, [0, 2]] / 10 * span_uv + rng.uniform(0, 0.01, (x.size, 2))
    cells = np.arange(x.size).reshape(20, 20)[:-1, :-1].ravel()
    faces = np.concatenate([np.column_stack([cells, cells + 1, cells + 21]),
                            np.column_stack([cells, cells + 21, cells + 20])])  # fmt: skip
    png = io.BytesIO()
    Image.new("RGB", image_px, (200, 180, 160)).save(png, format="PNG")
    texture = Texture(png.getvalue(), "image/png")
    return TileMesh(
        positions=positions.astype(np.float32),
        normals=np.tile(np.array([[0.0, -1.0, 0.0]], dtype=np.float32), (x.size, 1)),
        faces=faces.astype(np.uint32),
        feature_ids=np.zeros(x.size, dtype=np.uint32),
        materials_per_face=np.zeros(len(faces), dtype=np.uint16),
        materials=[Material("brick", (1.0, 1.0, 1.0, 1.0), texture=texture)],
        uv=uv.astype(np.float32),
    )


@pytest.mark.parametrize("span_uv", [1.0, 50.0, 300.0])
@pytest.mark.parametrize("image_px", [(1024, 1024), (2048, 512)])
def test_draco_texture_coordinates_stay_within_an_eighth_of_a_texel(
    span_uv: float, image_px: tuple[int, int]
) -> None:
    """A repeating texture spans tens of UV units: a 16-bit grid over that range moved each
    coordinate by up to 0.4 texel of a 1024-px image; the grid now follows range and image."""
    mesh = _facade(span_uv, image_px)
    (plain,) = glb_reader.primitives(encode_glb(mesh, compress="none"))
    (packed,) = glb_reader.primitives(encode_glb(mesh, compress="draco"))
    assert len(packed.uv) == len(plain.uv) == 400  # type: ignore[arg-type]
    assert glb_reader.texel_errors(plain, packed, image_px).max() <= 1 / 8
