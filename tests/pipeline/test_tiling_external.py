"""A synthetic city large enough to split: external tilesets keep every JSON file bounded, the
structural checks hold across files, and every building is reachable through them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gltf_validator import validate_glb_files
from synth import synth_city
from tileset_checks import check_tileset
from tileset_walk import content_tiles

from twin.cli import main
from twin.store import SQLiteStore

BUILDINGS = 800


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("city") / "city.gml"
    synth_city().write_city(path, BUILDINGS, seed=11)
    return path


def _tiles_in(tile: dict) -> int:  # type: ignore[type-arg]
    return 1 + sum(_tiles_in(c) for c in tile.get("children", []))


@pytest.mark.parametrize(("levels", "tile_format"), [(2, "glb"), (1, "b3dm")])
def test_large_city_splits_into_bounded_external_tilesets(
    city: Path, tmp_path: Path, levels: int, tile_format: str
) -> None:
    argv = ["import", "--data-dir", str(tmp_path), "--dataset", "c", "--workers", "1"]
    argv += ["--max-features", "6", "--levels-per-file", str(levels), "--format", tile_format]
    assert main([*argv, str(city)]) == 0
    store = SQLiteStore(tmp_path)
    try:
        tileset_dir = store.tileset_dir("c")
        files = sorted(tileset_dir.glob("*.json"))
        files = [f for f in files if f.name.startswith("tileset")]
        assert len(files) > 5  # the city did split
        bound = sum(4**k for k in range(levels + 2))  # levels, + references or leaves below
        for path in files:
            document = json.loads(path.read_text())
            assert _tiles_in(document["root"]) <= bound, path.name
            assert path.stat().st_size < 600 * bound, path.name  # bytes do not grow with N
        version = "1.0" if tile_format == "b3dm" else "1.1"
        main_json = json.loads((tileset_dir / "tileset.json").read_text())
        check_tileset(main_json, tileset_dir, version=version)
        tiles = list(content_tiles(tileset_dir))
        uris = {t["content"]["uri"] for t, _ in tiles}
        assert len(tiles) == len(uris) == len(list(tileset_dir.glob(f"content/*.{tile_format}")))
        records = [store.get_object("c", f"SYN_{i:07d}") for i in range(0, BUILDINGS, 37)]
        placed = [r.tile for r in records if r.tile is not None]  # else: all in its parts
        assert len(placed) > len(records) // 2
        assert set(placed) <= uris  # reachable through the external files
        if tile_format == "glb":
            leaves = sorted(tileset_dir / t["content"]["uri"] for t, _ in tiles[:40])
            for report in validate_glb_files(leaves):
                assert report["numErrors"] == 0, report["messages"][:5]
    finally:
        store.close()


def test_default_keeps_a_small_city_in_one_file(city: Path, tmp_path: Path) -> None:
    argv = ["import", "--data-dir", str(tmp_path), "--dataset", "c", "--workers", "1"]
    assert main([*argv, str(city)]) == 0
    store = SQLiteStore(tmp_path)
    try:
        names = [p.name for p in store.tileset_dir("c").glob("tileset*.json")]
    finally:
        store.close()
    assert names == ["tileset.json"]
