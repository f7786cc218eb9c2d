"""Appearances reach the tiles: textures with their coordinates and samplers, X3D materials as
PBR factors, a missing image as the class colour; through every compression, decoded by
independent readers, and valid for the Khronos validator on real textured cities."""

from __future__ import annotations

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
    write_textured,
)
from gltf_validator import decode_glb_files, read_b3dm_files, validate_glb_files

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
    tolerance = 1e-4 if compress == "draco" else 0.0  # Draco: a 16-bit grid over the range
    order = [int(np.abs(expected - uv).sum(axis=1).argmin()) for uv in wall.uv]
    assert sorted(order) == [0, 1, 2, 3]
    np.testing.assert_allclose(wall.uv, expected[order], atol=tolerance)
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
    from PIL import Image

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
