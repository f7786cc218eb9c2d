"""Coarse levels: LoD1 blocks in inner tiles, errors from content, valid and nested tilesets."""

from __future__ import annotations

import json
from pathlib import Path

import glb_reader
import numpy as np
import pytest
from gltf_validator import validate_glb_files
from synth import synth_city
from tileset_checks import check_tileset

from twin.citygml import iter_city_objects
from twin.geo import reprojector_for
from twin.model import CityObject
from twin.pipeline.features import Feature, build_features
from twin.pipeline.lod import block_meshes
from twin.pipeline.spill import FeatureSpill, pack
from twin.pipeline.tiling import TileBudget, write_tileset


def _house(ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """A 10 × 4 × 6 m box with a gable roof rising ``ridge`` metres (vertices, faces)."""
    v = np.array(
        [[0, 0, 0], [10, 0, 0], [10, 4, 0], [0, 4, 0], [0, 0, 6], [10, 0, 6], [10, 4, 6],
         [0, 4, 6], [0, 2, 6 + ridge], [10, 2, 6 + ridge]],
        dtype=float,
    )  # fmt: skip
    roof = [[4, 5, 9], [4, 9, 8], [6, 7, 8], [6, 8, 9]]
    walls = [[0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]]
    return v, np.array(roof + walls, dtype=np.uint32)


@pytest.mark.parametrize(("ridge", "error"), [(0.0, 0.0), (3.0, 3.0), (0.5, 0.5)])
def test_block_error_is_the_roof_height_variation(ridge: float, error: float) -> None:
    v, f = _house(ridge)
    blocks = block_meshes(v, np.array([0, len(v)]), f, np.array([0, len(f)]))
    assert blocks.errors_m.tolist() == pytest.approx([error], abs=1e-9)


def test_blocks_contain_their_objects_and_face_outward() -> None:
    v, f = _house(2.0)
    angle = 0.4
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                         [0, 0, 1]])  # fmt: skip
    two = np.concatenate([v @ rotation.T, v + np.array([30.0, 0, 0])])
    faces = np.concatenate([f, f + len(v)])
    blocks = block_meshes(two, np.array([0, len(v), 2 * len(v)]), faces, np.array([0, 12, 24]))
    np.testing.assert_allclose(blocks.sizes_m, np.linalg.norm([10, 4, 8]), rtol=1e-9)
    tri = blocks.positions[blocks.faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centres = tri.mean(axis=1)
    block_centres = blocks.positions.reshape(2, 20, 3).mean(axis=1)
    outward = np.einsum("ij,ij->i", normals, centres - np.repeat(block_centres, 10, axis=0))
    assert (outward > 0).all()
    np.testing.assert_allclose(
        blocks.positions[:20].min(axis=0), (v @ rotation.T).min(axis=0), atol=1e-9
    )


def test_an_l_shape_counts_its_missing_corner() -> None:
    ring = np.array([[0, 0], [10, 0], [10, 4], [4, 4], [4, 10], [0, 10]], dtype=float)
    v = np.vstack([np.column_stack([ring, np.zeros(6)]), np.column_stack([ring, np.full(6, 3.0)])])
    roof = np.array([[6, 7, 8], [6, 8, 9], [6, 9, 11], [9, 10, 11]], dtype=np.uint32)
    blocks = block_meshes(v, np.array([0, 12]), roof, np.array([0, 4]))
    assert blocks.errors_m[0] > 3.0  # the inner corner (4, 4) lies metres inside the block


@pytest.fixture(scope="module")
def city_features(tmp_path_factory: pytest.TempPathFactory) -> list[Feature]:
    synth = synth_city()
    path = tmp_path_factory.mktemp("city") / "city.gml"
    synth.write_city(path, 150, seed=4)
    objs = [o for o in iter_city_objects(path) if isinstance(o, CityObject)]
    meshed = [o for o in objs if o.surfaces.polygon_count]
    assert meshed[0].srs_name is not None
    r = reprojector_for(meshed[0].srs_name, meshed[0].surfaces.coords)
    out = build_features(meshed, r)
    assert all(isinstance(f, Feature) for f in out)
    return [f for f in out if isinstance(f, Feature)]


def _write(features: list[Feature], out_dir: Path, budget: TileBudget, workers: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with FeatureSpill(out_dir) as spill:
        spill.add(pack(features))
        write_tileset(spill, out_dir, budget, workers=workers)


@pytest.mark.parametrize("workers", [1, 2])
def test_inner_tiles_hold_blocks_and_errors_shrink_downward(
    city_features: list[Feature], tmp_path: Path, workers: int
) -> None:
    budget = TileBudget(max_features=20)
    _write(city_features, tmp_path, budget, workers)
    tileset = json.loads((tmp_path / "tileset.json").read_text())
    check_tileset(tileset, tmp_path)

    def walk(tile: dict, depth: int = 0) -> None:  # type: ignore[type-arg]
        assert "content" in tile
        ids = glb_reader.property_table((tmp_path / tile["content"]["uri"]).read_bytes())[1]["id"]
        assert len(ids) <= budget.max_features
        if tile.get("children"):
            assert tile["refine"] == "REPLACE"
            assert tile["geometricError"] > 0
            assert set(ids) <= subtree_ids(tile)
            for child in tile["children"]:
                walk(child, depth + 1)
        else:
            assert tile["geometricError"] == 0

    def subtree_ids(tile: dict) -> set[str]:  # type: ignore[type-arg]
        if not tile.get("children"):
            data = (tmp_path / tile["content"]["uri"]).read_bytes()
            return set(glb_reader.property_table(data)[1]["id"])
        return set().union(*(subtree_ids(c) for c in tile["children"]))

    walk(tileset["root"])
    assert subtree_ids(tileset["root"]) == {f.obj.id for f in city_features}
    for result in validate_glb_files(sorted(tmp_path.glob("content/*.glb"))):
        assert result["numErrors"] == 0, result["messages"][:5]


def test_same_input_same_bytes_with_or_without_workers(
    city_features: list[Feature], tmp_path: Path
) -> None:
    budget = TileBudget(max_features=25)
    _write(city_features, tmp_path / "one", budget, workers=1)
    _write(city_features, tmp_path / "two", budget, workers=2)
    assert (tmp_path / "one/tileset.json").read_bytes() == (
        tmp_path / "two/tileset.json"
    ).read_bytes()
    names = sorted(p.name for p in (tmp_path / "one/content").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "two/content").iterdir())
