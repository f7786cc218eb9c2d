"""tileset_files: a deep tree split into external tilesets, bounded per file, same tree."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from tileset_checks import check_tileset
from tileset_walk import content_tiles

from tiles import Tile, enu_frame, tileset_files
from tiles.tileset import WGS84_A

ROOT_REGION = (0.20, 0.85, 0.30, 0.95, 0.0, 100.0)


def quad_tree(region: tuple[float, ...], depth: int, error: float, path: str = "t") -> Tile:
    """A full quadtree of ``depth`` levels: regions quartered, errors halved, ENU frames."""
    w, s, e, n, lo, hi = region
    lon, lat = (w + e) / 2, (s + n) / 2
    centre = WGS84_A * np.array(
        [math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)]
    )
    frame = enu_frame(centre)
    if depth == 1:
        return Tile(region, 0.0, frame, f"content/{path}.glb")  # type: ignore[arg-type]
    quarters = [(w, s, lon, lat), (lon, s, e, lat), (w, lat, lon, n), (lon, lat, e, n)]
    children = [
        quad_tree((*q, lo, hi), depth - 1, error / 2, f"{path}{k}") for k, q in enumerate(quarters)
    ]
    return Tile(region, error, frame, f"content/{path}.glb", children)  # type: ignore[arg-type]


def touch_contents(tmp_path: Path, tile: Tile) -> None:
    if tile.content_uri is not None:
        (tmp_path / tile.content_uri).parent.mkdir(exist_ok=True)
        (tmp_path / tile.content_uri).write_bytes(b"glTF")
    for child in tile.children:
        touch_contents(tmp_path, child)


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_split_tree_is_the_same_tree_in_bounded_files(tmp_path: Path, levels: int) -> None:
    root = quad_tree(ROOT_REGION, depth=5, error=64.0)
    whole, split = tmp_path / "whole", tmp_path / "split"
    for folder, n in ((whole, 0), (split, levels)):
        folder.mkdir()
        touch_contents(folder, root)
        for name, document in tileset_files(root, geometric_error=128.0,
                                            levels_per_file=n).items():  # fmt: skip
            (folder / name).write_text(json.dumps(document))
    names = sorted(p.name for p in split.glob("*.json"))
    assert len(names) > 1
    # In a file: `levels` levels of a quadtree, plus the level below as leaves or references.
    bound = sum(4**k for k in range(levels + 1))
    for name in names:
        document = json.loads((split / name).read_text())
        assert _count(document["root"]) <= bound, name
    check_tileset(json.loads((split / "tileset.json").read_text()), split)

    def tiles_of(folder: Path) -> dict[str, np.ndarray]:
        return {t["content"]["uri"]: world for t, world in content_tiles(folder)}

    expected, got = tiles_of(whole), tiles_of(split)
    assert sorted(got) == sorted(expected)
    assert len(got) == sum(4**k for k in range(5))
    for uri, world in expected.items():  # transforms compose across files to the same frames
        np.testing.assert_allclose(got[uri], world, rtol=0, atol=1e-6)


def _count(tile: dict) -> int:  # type: ignore[type-arg]
    return 1 + sum(_count(c) for c in tile.get("children", []))


def test_without_a_split_there_is_one_file() -> None:
    root = quad_tree(ROOT_REGION, depth=3, error=8.0)
    assert list(tileset_files(root, geometric_error=16.0)) == ["tileset.json"]
    with pytest.raises(ValueError, match="levels_per_file must be >= 0"):
        tileset_files(root, geometric_error=16.0, levels_per_file=-1)


def test_check_tileset_follows_external_files_and_reports_their_problems(tmp_path: Path) -> None:
    root = quad_tree(ROOT_REGION, depth=3, error=8.0)
    touch_contents(tmp_path, root)
    files = tileset_files(root, geometric_error=16.0, levels_per_file=1)
    main = files["tileset.json"]
    child = main["root"]["children"][0]
    assert child["content"]["uri"] == "tileset-0.json"
    assert "transform" not in child  # only the external root's transform applies
    files["tileset-0.json"]["asset"]["version"] = "1.0"
    files["tileset-0.json"]["root"]["geometricError"] = 1000.0
    files["tileset-1.json"]["root"]["children"][0]["content"]["uri"] = "tileset.json"  # a cycle
    child["children"] = [main["root"]["children"][1]]
    for name, document in files.items():
        (tmp_path / name).write_text(json.dumps(document))
    with pytest.raises(AssertionError) as info:
        check_tileset(main, tmp_path)
    text = str(info.value)
    for part in (
        "tileset-0.json:asset.version must be '1.1', got '1.0'",
        "tileset-0.json:root: geometricError 1000.0 grows above its parent's 4.0",
        "root.children[0]: a tile with an external tileset cannot have children",
        "makes a cycle",
    ):
        assert part in text
