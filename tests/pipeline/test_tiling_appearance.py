"""Appearances reach the tiles: textures with their coordinates and samplers, X3D materials as
PBR factors, a missing image as the class colour; through every compression, decoded by
independent readers, and valid for the Khronos validator on real textured cities."""

from __future__ import annotations

import io
import json
from itertools import combinations
from pathlib import Path
from typing import Any

import glb_reader
import numpy as np
import pygltflib
import pytest
from appearance_documents import (
    DIFFUSE,
    EMISSIVE,
    SHININESS,
    TRANSPARENCY,
    WALL,
    WALL_UV,
    appearance,
    textured_building,
    write_district,
    write_textured,
)
from gltf_validator import decode_glb_files, read_b3dm_files, validate_glb_files
from PIL import Image
from tileset_walk import content_tiles

from twin.citygml import iter_city_objects
from twin.geo import reprojector_for
from twin.model import CityObject
from twin.pipeline import ImportOptions, TileBudget, import_files
from twin.pipeline.features import build_feature
from twin.store import SQLiteStore

C4J = "citygml/c4j_lod3_building_v2/c4j_lod3_building_v2.gml"
PLATEAU = "citygml/plateau_52397519_bldg_6697_op/plateau_52397519_bldg_6697_op.gml"
ROTTERDAM = "cityjson/cjio_rotterdam_subset/cjio_rotterdam_subset.json"  # 1 of 74 images given
DELFT_HALL = "cityjson/cjio_DH_01_subs.city.json"  # materials only
PLATEAU_VEGETATION = "citygml/plateau_52385628_veg_6697_op.gml"  # materials on CompositeSurfaces


def _import(paths: list[Path], store: SQLiteStore, compress: str = "none", **kw: Any) -> Path:
    options = ImportOptions(dataset="t", workers=1, compress=compress, **kw)  # type: ignore[arg-type]
    import_files(paths, store, options)
    return store.tileset_dir("t")


def _tiles(folder: Path) -> list[Path]:
    return sorted((folder / "content").glob("*.glb"))


def _srgb_to_linear(c: float) -> float:
    """IEC 61966-2-1, written here independently of the code under test."""
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _by_material(data: bytes) -> dict[str, glb_reader.DecodedPrimitive]:
    return {p.material["name"]: p for p in glb_reader.primitives(data)}


@pytest.mark.parametrize("compress", ["none", "quantize", "meshopt", "draco"])
def test_texture_coordinates_reach_their_vertices(
    tmp_path: Path, store: SQLiteStore, compress: str
) -> None:
    (tile,) = _tiles(_import([write_textured(tmp_path / "in")], store, compress))
    wall = _by_material(tile.read_bytes())["tex.png"]
    assert wall.uv is not None
    assert len(wall.uv) == 4  # the wall's four corners, not welded to other polygons
    expected = np.array([(s, 1.0 - t) for s, t in WALL_UV])  # glTF: origin upper left
    order = [int(np.abs(expected - uv).sum(axis=1).argmin()) for uv in wall.uv]
    assert sorted(order) == [0, 1, 2, 3]
    texels = np.linalg.norm((wall.uv - expected[order]) * (4, 2), axis=1)  # the 4×2 tex.png
    assert texels.max() <= (1 / 8 if compress == "draco" else 0.0)  # Draco: within 1/8 texel
    # Each coordinate sits on its corner: the scalene wall's side lengths match pairwise.
    corners = np.array(WALL)[order]
    for i, j in combinations(range(4), 2):
        gap = np.linalg.norm(wall.positions_yup[i] - wall.positions_yup[j])
        assert gap == pytest.approx(np.linalg.norm(corners[i] - corners[j]), abs=2e-3)


def test_materials_samplers_and_images_are_written(tmp_path: Path, store: SQLiteStore) -> None:
    source = write_textured(tmp_path / "in")
    (tile,) = _tiles(_import([source], store))
    data = tile.read_bytes()
    gltf = pygltflib.GLTF2.load_from_bytes(data)
    by_name = {m.name: m for m in gltf.materials}
    roof = by_name["x3d-material"]
    expected = [*(_srgb_to_linear(c) for c in DIFFUSE), 1.0 - TRANSPARENCY]
    np.testing.assert_allclose(roof.pbrMetallicRoughness.baseColorFactor, expected, atol=1e-6)
    np.testing.assert_allclose(
        roof.emissiveFactor, [_srgb_to_linear(c) for c in EMISSIVE], atol=1e-6
    )
    assert roof.pbrMetallicRoughness.roughnessFactor == pytest.approx(1.0 - SHININESS)
    assert roof.alphaMode == "BLEND"
    wall = by_name["tex.png"]
    assert wall.pbrMetallicRoughness.baseColorFactor == [1.0, 1.0, 1.0, 1.0]
    texture = gltf.textures[wall.pbrMetallicRoughness.baseColorTexture.index]
    sampler, image = gltf.samplers[texture.sampler], gltf.images[texture.source]
    assert (sampler.wrapS, sampler.wrapT) == (33648, 33648)  # MIRRORED_REPEAT
    assert image.mimeType == "image/png"
    assert (
        glb_reader.view_bytes(gltf, gltf.binary_blob(), image.bufferView)
        == (source.parent / "tex.png").read_bytes()
    )
    assert "ground" in by_name  # no appearance: the class colour
    _, columns, _ = glb_reader.property_table(data)
    assert columns["id"] == ["b-1"]
    for primitive in glb_reader.primitives(data):
        assert set(primitive.feature_ids.tolist()) == {0.0}


def test_a_missing_image_is_reported_and_its_wall_keeps_the_wall_colour(
    tmp_path: Path, store: SQLiteStore
) -> None:
    source = write_textured(tmp_path / "in", image=False)
    folder = _import([source], store)
    (tile,) = _tiles(folder)
    gltf = pygltflib.GLTF2.load_from_bytes(tile.read_bytes())
    assert not gltf.images
    assert not gltf.textures
    assert {m.name for m in gltf.materials} == {"wall", "x3d-material", "ground"}
    report = json.loads((folder / "import-report.json").read_text())
    assert report["appearance"]["missing_images"] == [
        {"image": str(source.parent / "tex.png"), "surfaces": 1, "drawn_as": "class colour"}
    ]
    assert report["objects"]["imported"] == 1


def test_an_appearance_theme_the_input_lacks_is_a_warning_naming_those_it_has(
    tmp_path: Path, store: SQLiteStore
) -> None:
    folder = _import([write_textured(tmp_path / "in")], store, appearance_theme="Photo")
    report = json.loads((folder / "import-report.json").read_text())
    assert report["appearance"]["theme"] is None
    assert report["warnings"] == [
        "--appearance-theme 'Photo': no appearance of that theme in the input (its themes: "
        "'photo'); surfaces keep their class colours"
    ]
    gltf = pygltflib.GLTF2.load_from_bytes(_tiles(folder)[0].read_bytes())
    assert not gltf.textures


def test_a_truncated_png_is_reported_unreadable_and_kept_out_of_the_tiles(
    tmp_path: Path, store: SQLiteStore
) -> None:
    source = write_textured(tmp_path / "in")
    image = source.parent / "tex.png"
    image.write_bytes(image.read_bytes()[:40])
    folder = _import([source], store)
    gltf = pygltflib.GLTF2.load_from_bytes(_tiles(folder)[0].read_bytes())
    assert not gltf.images
    report = json.loads((folder / "import-report.json").read_text())["appearance"]
    assert report["unreadable_images"] == [
        {"image": str(image), "surfaces": 1, "drawn_as": "class colour"}
    ]


def test_a_tiff_texture_is_converted_to_png(tmp_path: Path, store: SQLiteStore) -> None:
    source = write_textured(tmp_path / "in")
    Image.new("RGB", (4, 2), (10, 20, 30)).save(source.parent / "tex.tif")
    source.write_text(source.read_text().replace("tex.png", "tex.tif"))
    folder = _import([source], store)
    (tile,) = _tiles(folder)
    gltf = pygltflib.GLTF2.load_from_bytes(tile.read_bytes())
    (image,) = gltf.images
    assert image.mimeType == "image/png"
    report = json.loads((folder / "import-report.json").read_text())
    assert report["appearance"]["converted_to_png"] == [str(source.parent / "tex.tif")]


@pytest.mark.parametrize(
    ("name", "images", "crs"),
    [(C4J, 8, None), (PLATEAU, 3, None), (ROTTERDAM, 1, "EPSG:7415")],  # Rotterdam: no CRS
)
def test_real_textured_cities_pass_the_validator(
    shared_data: Path, store: SQLiteStore, tmp_path: Path, name: str, images: int, crs: str | None
) -> None:
    folder = _import([shared_data / name], store, "meshopt", crs=crs)
    tiles = _tiles(folder)
    textured = [p for p in tiles if pygltflib.GLTF2.load_from_bytes(p.read_bytes()).images]
    found = {
        bytes(glb_reader.view_bytes(g, g.binary_blob(), i.bufferView))
        for p in textured
        for g in [pygltflib.GLTF2.load_from_bytes(p.read_bytes())]
        for i in g.images
    }
    assert len(found) == images  # every image, each stored once per tile that uses it
    decoded = decode_glb_files(tiles, tmp_path)
    assert [d.get("failure") for d in decoded] == [None] * len(tiles)
    for report in validate_glb_files([d["out"] for d in decoded]):
        assert report["numErrors"] == 0, report["messages"][:5]
    report = json.loads((folder / "import-report.json").read_text())["appearance"]
    assert report["textured_surfaces"] > 0
    assert report["images"] - len(report["missing_images"]) == images
    missing = {m["image"] for m in report["missing_images"]}
    assert all(not Path(m).exists() for m in missing)  # each listed once, with its surfaces


@pytest.mark.parametrize(("name", "crs"), [(DELFT_HALL, "EPSG:7415"), (PLATEAU_VEGETATION, None)])
def test_materials_reach_the_tiles(
    shared_data: Path, store: SQLiteStore, tmp_path: Path, name: str, crs: str | None
) -> None:
    folder = _import([shared_data / name], store, "meshopt", crs=crs)
    names = {
        m.name
        for p in _tiles(folder)
        for m in pygltflib.GLTF2.load_from_bytes(p.read_bytes()).materials
    }
    assert "x3d-material" in names
    decoded = decode_glb_files(_tiles(folder), tmp_path)
    for report in validate_glb_files([d["out"] for d in decoded]):
        assert report["numErrors"] == 0, report["messages"][:5]
    report = json.loads((folder / "import-report.json").read_text())["appearance"]
    assert report["material_surfaces"] > 0
    assert report["unknown_targets"]["count"] == 0


def test_texture_bytes_count_the_part_of_the_image_a_feature_covers(tmp_path: Path) -> None:
    source = write_textured(tmp_path / "in")
    (obj,) = iter_city_objects(source)
    assert isinstance(obj, CityObject)
    feature = build_feature(obj, reprojector_for("EPSG:25832", obj.surfaces.coords))
    assert feature.mesh is not None
    size = (source.parent / "tex.png").stat().st_size
    s, t = np.array(WALL_UV).T
    assert feature.texture_bytes == int(size * np.ptp(s) * np.ptp(t))
    assert feature.estimated_bytes == len(feature.mesh.faces) * 3 * 28 + feature.texture_bytes
    assert feature.obj.appearance is None  # the mesh carries it to the tile encoder


def test_inner_block_tiles_stay_untextured(shared_data: Path, store: SQLiteStore) -> None:
    folder = _import([shared_data / C4J], store, "meshopt", budget=TileBudget(max_features=1))
    tileset = json.loads((folder / "tileset.json").read_text())
    root = tileset["root"]
    assert root["children"]  # the building and its installation, each in a leaf
    images = {
        tile["content"]["uri"]: len(
            pygltflib.GLTF2.load_from_bytes((folder / tile["content"]["uri"]).read_bytes()).images
        )
        for tile in [root, *root["children"]]
    }
    assert images.pop(root["content"]["uri"]) == 0
    assert max(images.values()) > 0


def test_b3dm_tiles_carry_the_textures(tmp_path: Path, store: SQLiteStore) -> None:
    folder = _import([write_textured(tmp_path / "in")], store, tile_format="b3dm")
    (tile,) = sorted((folder / "content").glob("*.b3dm"))
    (read,) = read_b3dm_files([tile], tmp_path)
    glb = Path(read["glb"]).read_bytes()
    assert len(pygltflib.GLTF2.load_from_bytes(glb).images) == 1
    (report,) = validate_glb_files([read["glb"]])
    assert report["numErrors"] == 0, report["messages"][:5]


def _material(tile: Path, name: str) -> dict[str, Any]:
    (json_length,) = np.frombuffer(tile.read_bytes()[12:16], dtype="<u4")
    document = json.loads(tile.read_bytes()[20 : 20 + int(json_length)])
    return next(m for m in document["materials"] if m["name"] == name) | {"_doc": document}


@pytest.mark.parametrize(
    ("alphas", "mode"),
    [
        (None, None),
        ([255, 255, 255, 255], None),
        ([0, 255, 0, 255], "MASK"),
        ([0, 90, 255, 255], "BLEND"),
    ],
    ids=["RGB", "alpha all 255", "alpha 0 or 255", "alpha partial"],
)
def test_the_alpha_of_a_texture_image_sets_the_alpha_mode(
    tmp_path: Path, store: SQLiteStore, alphas: list[int] | None, mode: str | None
) -> None:
    source = write_textured(tmp_path / "in")
    if alphas is not None:  # the 4×2 image: first row's alpha as given, second row opaque
        image = Image.new("RGBA", (4, 2), (200, 30, 40, 255))
        image.putdata([(200, 30, 40, a) for a in alphas] + [(200, 30, 40, 255)] * 4)
        image.save(source.parent / "tex.png")
    (tile,) = _tiles(_import([source], store))
    assert _material(tile, "tex.png").get("alphaMode") == mode  # absent: OPAQUE
    (report,) = validate_glb_files([tile])
    assert report["numErrors"] == 0, report["messages"][:5]


def test_x3d_specular_colour_becomes_khr_materials_specular(
    tmp_path: Path, store: SQLiteStore
) -> None:
    document = textured_building([appearance(specular="0.5 0.25 0")])
    (tile,) = _tiles(_import([write_textured(tmp_path / "in", document)], store))
    roof = _material(tile, "x3d-material")
    linear = [_srgb_to_linear(c) for c in (0.5, 0.25, 0.0)]
    specular = roof["extensions"]["KHR_materials_specular"]
    assert specular["specularFactor"] == pytest.approx(linear[0], abs=1e-6)
    tint = [c / linear[0] for c in linear]
    np.testing.assert_allclose(specular["specularColorFactor"], tint, atol=1e-5)
    assert "KHR_materials_specular" in roof["_doc"]["extensionsUsed"]
    assert "KHR_materials_specular" not in roof["_doc"].get("extensionsRequired", [])
    (report,) = validate_glb_files([tile])
    assert report["numErrors"] == 0, report["messages"][:5]
    unknown = [m["message"] for m in report["messages"] if m["code"] == "UNSUPPORTED_EXTENSION"]
    assert not [m for m in unknown if "KHR_materials_specular" in m]  # known: it was checked


def test_white_specular_writes_no_extension(tmp_path: Path, store: SQLiteStore) -> None:
    (tile,) = _tiles(_import([write_textured(tmp_path / "in")], store))  # specularColor 1 1 1
    roof = _material(tile, "x3d-material")
    assert "extensions" not in roof
    assert "KHR_materials_specular" not in roof["_doc"]["extensionsUsed"]


ATLAS = (64, 32)
"""Width and height of the atlas the wall takes a small part of."""
ATLAS_UV = [(0.5 + (8.5 + dx) / 64, (4.5 + dy) / 32) for dx, dy in [(0, 0), (7, 0), (5, 3), (0, 1)]]
"""The wall's texture coordinates: texel centres in columns 40..47, rows 4..7 (from the bottom)."""


def _atlas() -> Image.Image:
    """An RGB atlas whose every texel differs (red = column, green = row, blue = both)."""
    width, height = ATLAS
    atlas = Image.new("RGB", ATLAS)
    atlas.putdata(
        [(x * 4, y * 8, (x * 7 + y * 13) % 256) for y in range(height) for x in range(width)]
    )
    return atlas


@pytest.mark.parametrize("compress", ["none", "draco"])  # Draco: UVs within 1/8 texel
def test_a_shared_atlas_is_cropped_to_the_texels_the_tile_uses(
    tmp_path: Path, store: SQLiteStore, compress: str
) -> None:
    document = textured_building([appearance(wall_uv=ATLAS_UV)])
    source = write_textured(tmp_path / "in", document)
    _atlas().save(source.parent / "tex.png")
    (tile,) = _tiles(_import([source], store, compress))
    gltf = pygltflib.GLTF2.load_from_bytes(tile.read_bytes())
    (image,) = gltf.images
    embedded = Image.open(
        io.BytesIO(glb_reader.view_bytes(gltf, gltf.binary_blob(), image.bufferView))
    )
    # Columns 40..47 and rows 24..27 from the top, two texels of border around them.
    assert embedded.size == (8 + 4, 4 + 4)
    assert embedded.tobytes() == _atlas().crop((38, 22, 50, 30)).tobytes()
    sampler = gltf.samplers[gltf.textures[0].sampler]
    assert (sampler.wrapS, sampler.wrapT) == (33071, 33071)  # CLAMP_TO_EDGE: all inside
    wall = _by_material(tile.read_bytes())["tex.png"]
    assert wall.uv is not None
    for u, v in wall.uv:  # each corner still samples its own texel of the atlas
        column, row = int(u * embedded.width), int(v * embedded.height)
        expected = {(38 + column, 22 + row)}
        assert expected <= {(int(s * 64), 32 - 1 - int(t * 32)) for s, t in ATLAS_UV}
        assert embedded.getpixel((column, row)) == _atlas().getpixel(expected.pop())
    (decoded,) = decode_glb_files([tile], tmp_path)
    (report,) = validate_glb_files([decoded["out"]])
    assert report["numErrors"] == 0, report["messages"][:5]


def test_a_repeating_texture_keeps_its_whole_image(tmp_path: Path, store: SQLiteStore) -> None:
    repeated = [(s * 3, t) for s, t in ATLAS_UV]  # s up to 2.3: the image repeats
    source = write_textured(tmp_path / "in", textured_building([appearance(wall_uv=repeated)]))
    _atlas().save(source.parent / "tex.png")
    (tile,) = _tiles(_import([source], store))
    gltf = pygltflib.GLTF2.load_from_bytes(tile.read_bytes())
    (image,) = gltf.images
    assert (
        glb_reader.view_bytes(gltf, gltf.binary_blob(), image.bufferView)
        == (source.parent / "tex.png").read_bytes()
    )
    wall = _by_material(tile.read_bytes())["tex.png"]
    assert wall.uv is not None
    assert wall.uv[:, 0].max() == pytest.approx(max(s for s, _ in repeated), abs=1e-6)


def test_texture_bytes_count_a_repeating_image_whole(tmp_path: Path) -> None:
    repeated = [(s * 3, t) for s, t in WALL_UV]
    source = write_textured(tmp_path / "in", textured_building([appearance(wall_uv=repeated)]))
    (obj,) = iter_city_objects(source)
    assert isinstance(obj, CityObject)
    feature = build_feature(obj, reprojector_for("EPSG:25832", obj.surfaces.coords))
    assert feature.texture_bytes == (source.parent / "tex.png").stat().st_size


def test_a_real_atlas_is_cropped_and_its_coordinates_follow(
    shared_data: Path, store: SQLiteStore
) -> None:
    # PLATEAU gives each building an atlas; 14201-bldg-158971-1.jpg (1024×1024) is used on
    # 0.79 × 0.68 of its area, so its tile embeds a crop on the JPEG's 16-pixel blocks.
    folder = _import([shared_data / PLATEAU], store)
    name = "14201-bldg-158971-1.jpg"
    source = Image.open(
        shared_data / PLATEAU.rsplit("/", 1)[0] / "52397519_bldg_6697_appearance" / name
    )
    for tile in _tiles(folder):
        gltf = pygltflib.GLTF2.load_from_bytes(tile.read_bytes())
        for primitive in glb_reader.primitives(tile.read_bytes()):
            if primitive.material["name"] != name:
                continue
            texture = gltf.textures[
                primitive.material["pbrMetallicRoughness"]["baseColorTexture"]["index"]
            ]
            data = glb_reader.view_bytes(
                gltf, gltf.binary_blob(), gltf.images[texture.source].bufferView
            )
            embedded = Image.open(io.BytesIO(data))
            assert embedded.width < source.width
            assert embedded.height < source.height
            assert embedded.width % 16 == 0
            assert embedded.height % 16 == 0
            assert primitive.uv is not None
            assert primitive.uv.min() >= 0.0
            assert primitive.uv.max() <= 1.0
            return
    raise AssertionError(f"{name} is in no tile")


def test_a_real_png_with_soft_alpha_blends(shared_data: Path, store: SQLiteStore) -> None:
    # c4j's testtown-005.png is RGBA with alpha 0 on 9,153 texels, 255 on 5,310 and partial
    # on 1,921 (its soft edges): BLEND. Its JPEGs have no alpha: OPAQUE.
    (tile,) = [
        t for t in _tiles(_import([shared_data / C4J], store)) if b"testtown-005" in t.read_bytes()
    ]
    document = _material(tile, "testtown-005.png")["_doc"]
    modes = {m["name"]: m.get("alphaMode") for m in document["materials"]}
    assert modes["testtown-005.png"] == "BLEND"
    jpegs = {mode for name, mode in modes.items() if name.endswith(".jpg")}
    assert jpegs == {None}


def test_a_jpeg_pillow_cannot_decode_goes_in_whole_as_before(
    tmp_path: Path, store: SQLiteStore
) -> None:
    document = textured_building([appearance(image="tex.jpg", wall_uv=ATLAS_UV)])
    source = write_textured(tmp_path / "in", document)
    out = io.BytesIO()
    _atlas().save(out, format="JPEG")
    cut = out.getvalue()[: len(out.getvalue()) // 2]  # cut short: Pillow stops decoding
    (source.parent / "tex.jpg").write_bytes(cut)
    (tile,) = _tiles(_import([source], store))
    gltf = pygltflib.GLTF2.load_from_bytes(tile.read_bytes())
    (image,) = gltf.images
    assert glb_reader.view_bytes(gltf, gltf.binary_blob(), image.bufferView) == cut
    wall = _by_material(tile.read_bytes())["tex.jpg"]
    assert wall.uv is not None
    expected = sorted((s, 1.0 - t) for s, t in ATLAS_UV)  # not remapped
    np.testing.assert_allclose(sorted(map(tuple, wall.uv)), expected, atol=1e-6)


def test_a_district_atlas_is_not_copied_whole_into_every_tile(
    shared_data: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    # 4 × 4 one-wall buildings share c4j's 1024×1024 facade photo, each its own 256×256 cell;
    # 4 buildings a tile. Whole, the atlas would be embedded 4 times; cropped, about once.
    atlas = shared_data / C4J.rsplit("/", 1)[0] / "appearances" / "testtown-001.jpg"
    source = write_district(tmp_path / "in", atlas, 4)
    folder = _import([source], store, "meshopt", budget=TileBudget(max_features=4))
    textured = []
    for tile in _tiles(folder):
        gltf = pygltflib.GLTF2.load_from_bytes(tile.read_bytes())
        textured += [gltf.bufferViews[i.bufferView].byteLength for i in gltf.images]
    assert len(textured) == 4
    assert sum(textured) < 1.5 * atlas.stat().st_size
    decoded = decode_glb_files(_tiles(folder), tmp_path)
    for report in validate_glb_files([d["out"] for d in decoded]):
        assert report["numErrors"] == 0, report["messages"][:5]


def _contents(folder: Path) -> list[tuple[object, bytes]]:
    """Each content tile's bounding volume and glb bytes, in tree order."""
    return [(tile["boundingVolume"], (folder / tile["content"]["uri"]).read_bytes())
            for tile, _ in content_tiles(folder)]  # fmt: skip


def _image_px(data: bytes) -> dict[str, tuple[int, int]]:
    """The (width, height) of the image each textured material of a tile samples, by name."""
    gltf = pygltflib.GLTF2.load_from_bytes(data)
    out = {}
    for material in gltf.materials:
        texture = material.pbrMetallicRoughness.baseColorTexture
        if texture is not None:
            image = gltf.images[gltf.textures[texture.index].source]
            view = glb_reader.view_bytes(gltf, gltf.binary_blob(), image.bufferView)
            out[material.name] = Image.open(io.BytesIO(view)).size
    return out


@pytest.mark.parametrize("name", [C4J, PLATEAU])
def test_draco_texture_coordinates_of_real_cities_stay_within_an_eighth_of_a_texel(
    shared_data: Path, store: SQLiteStore, tmp_path: Path, name: str
) -> None:
    plain = _contents(_import([shared_data / name], store))
    folder = _import([shared_data / name], store, "draco")
    decoded = decode_glb_files(_tiles(folder), tmp_path)
    for report in validate_glb_files([d["out"] for d in decoded]):
        assert report["numErrors"] == 0, report["messages"][:5]
    packed = _contents(folder)
    assert [volume for volume, _ in packed] == [volume for volume, _ in plain]  # the same tree
    errors = []
    for (_, data), (_, source) in zip(packed, plain, strict=True):
        images, by_name = _image_px(data), _by_material(source)
        for primitive in glb_reader.primitives(data):
            if primitive.uv is not None:
                name = primitive.material["name"]
                errors.append(glb_reader.texel_errors(by_name[name], primitive, images[name]))
    assert errors, "some tile is textured"
    assert np.concatenate(errors).max() <= 1 / 8
