"""``twin import --format b3dm``: a 3D Tiles 1.0 tileset whose b3dm tiles 3d-tiles-tools reads,
whose GLBs pass the Khronos validator, and whose batch tables hold what the catalog says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gltf_validator import read_b3dm_files, validate_glb_files
from tileset_checks import check_tileset
from tileset_walk import content_tiles

from twin.cli import main
from twin.store import SQLiteStore

TECO = "citygml/teco_district1_LoD2.gml"


@pytest.mark.parametrize("compress", ["meshopt", "none"])
def test_b3dm_import_is_a_valid_3d_tiles_1_0_tileset(
    shared_data: Path, tmp_path: Path, compress: str
) -> None:
    argv = ["import", "--data-dir", str(tmp_path / "data"), "--dataset", "t", "--workers", "1"]
    argv += ["--format", "b3dm", "--compress", compress, "--max-features", "30"]
    assert main([*argv, str(shared_data / TECO)]) == 0
    store = SQLiteStore(tmp_path / "data")
    try:
        tileset_dir = store.tileset_dir("t")
        tileset = json.loads((tileset_dir / "tileset.json").read_text())
        assert tileset["asset"]["version"] == "1.0"
        check_tileset(tileset, tileset_dir, version="1.0")
        tiles = list(content_tiles(tileset_dir))
        assert len(tiles) > 1
        assert all(t["content"]["uri"].endswith(".b3dm") for t, _ in tiles)
        paths = [tileset_dir / t["content"]["uri"] for t, _ in tiles]
        read = read_b3dm_files(paths, tmp_path)
        assert [r.get("failure") for r in read] == [None] * len(paths)
        for report in validate_glb_files([r["glb"] for r in read]):
            assert report["numErrors"] == 0, report["messages"][:5]
        placed = 0
        for (tile, _), result in zip(tiles, read, strict=True):
            ids = result["properties"]["id"]
            assert result["featureTable"]["BATCH_LENGTH"] == len(ids)
            if tile.get("children"):  # inner tiles: LoD1 blocks with id and type only
                assert set(result["properties"]) == {"id", "type"}
                continue
            for k, object_id in enumerate(ids):
                record = store.get_object("t", object_id)
                assert (record.tile, record.feature_id) == (tile["content"]["uri"], k)
                placed += 1
        assert placed == 104  # every building of the district (MANIFEST.md: 104) in a leaf
    finally:
        store.close()
