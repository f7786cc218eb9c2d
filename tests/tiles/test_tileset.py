"""tileset_json and enu_frame: 3D Tiles 1.1 structure, relative transforms, ENU frames."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tileset_checks import check_tileset

from tiles import Tile, enu_frame, tileset_json
from tiles.tileset import WGS84_A, WGS84_F

REGION = (0.20, 0.85, 0.21, 0.86, 0.0, 80.0)
WEST_HALF = (0.20, 0.85, 0.205, 0.86, 0.0, 60.0)


def geodetic_to_ecef(lon: float, lat: float, h: float) -> np.ndarray:
    e2 = WGS84_F * (2 - WGS84_F)
    n = WGS84_A / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    return np.array(
        [
            (n + h) * math.cos(lat) * math.cos(lon),
            (n + h) * math.cos(lat) * math.sin(lon),
            (n * (1 - e2) + h) * math.sin(lat),
        ]
    )


def world_frames() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = enu_frame(geodetic_to_ecef(0.205, 0.855, 0.0))
    b = enu_frame(geodetic_to_ecef(0.2025, 0.855, 10.0))
    c = enu_frame(geodetic_to_ecef(0.2026, 0.8551, 20.0))
    return a, b, c


def tree() -> Tile:
    a, b, c = world_frames()
    leaf = Tile(WEST_HALF, 0.0, c, "a/leaf.glb")
    middle = Tile(WEST_HALF, 5.0, b, "a/middle.glb", [leaf], refine="ADD")
    untransformed = Tile(REGION, 5.0, None, "b.glb")
    return Tile(REGION, 20.0, a, None, [middle, untransformed])


def column_major(values: list[float]) -> np.ndarray:
    return np.array(values).reshape(4, 4).T


def test_tileset_passes_structural_checks(tmp_path: Path) -> None:
    for uri in ("a/leaf.glb", "a/middle.glb", "b.glb"):
        (tmp_path / uri).parent.mkdir(exist_ok=True)
        (tmp_path / uri).write_bytes(b"glTF")
    tileset = tileset_json(tree(), geometric_error=100.0, extras={"dataset": "demo"})
    (tmp_path / "tileset.json").write_text(json.dumps(tileset))
    check_tileset(json.loads((tmp_path / "tileset.json").read_text()), tmp_path)
    assert tileset["asset"]["version"] == "1.1"
    assert tileset["extras"] == {"dataset": "demo"}
    assert tileset["root"]["children"][0]["refine"] == "ADD"
    assert tileset["root"]["boundingVolume"] == {"region": list(REGION)}


def test_relative_transforms_compose_back_to_world() -> None:
    a, b, c = world_frames()
    root = tileset_json(tree(), geometric_error=100.0)["root"]
    middle, untransformed = root["children"]
    (leaf,) = middle["children"]
    root_world = column_major(root["transform"])
    middle_world = root_world @ column_major(middle["transform"])
    leaf_world = middle_world @ column_major(leaf["transform"])
    np.testing.assert_allclose(root_world, a, rtol=0, atol=1e-9)
    np.testing.assert_allclose(middle_world, b, rtol=0, atol=1e-6)
    np.testing.assert_allclose(leaf_world, c, rtol=0, atol=1e-6)
    assert "transform" not in untransformed


def test_transform_is_column_major() -> None:
    m = np.eye(4)
    m[:3, 3] = [1.0, 2.0, 3.0]
    root = tileset_json(Tile(REGION, 1.0, m, None), geometric_error=1.0)["root"]
    assert root["transform"][12:15] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("root", "tileset_error", "message"),
    [
        (Tile(REGION, 20.0, None, None), 10.0, "root: geometricError 20.0 must be in [0, 10.0]"),
        (
            Tile(REGION, 5.0, None, None, [Tile(REGION, 6.0, None, None)]),
            10.0,
            "root.children[0]: geometricError 6.0 must be in [0, 5.0]",
        ),
        (Tile(REGION, -1.0, None, None), 10.0, "root: geometricError -1.0 must be in [0, 10.0]"),
        (Tile((0, 1, 0.1, 0.5, 0, 1), 1.0, None, None), 1.0, "root: invalid region"),
        (Tile(REGION, 1.0, np.eye(3), None), 1.0, "root: transform must be a finite (4, 4) matrix"),
    ],
)
def test_bad_trees_are_rejected(root: Tile, tileset_error: float, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        tileset_json(root, geometric_error=tileset_error)


def test_check_tileset_reports_every_problem(tmp_path: Path) -> None:
    bad = {
        "asset": {"version": "1.0"},
        "geometricError": 1.0,
        "root": {
            "boundingVolume": {"region": list(WEST_HALF)},
            "geometricError": 2.0,
            "refine": "replace",
            "content": {"uri": "missing.glb"},
            "children": [{"boundingVolume": {"region": list(REGION)}, "geometricError": 0.0}],
        },
    }
    with pytest.raises(AssertionError) as info:
        check_tileset(bad, tmp_path)
    text = str(info.value)
    for part in (
        "asset.version",
        "grows above",
        "refine must be",
        "missing.glb",
        "not inside parent",
    ):
        assert part in text


@given(
    lon=st.floats(-math.pi, math.pi),
    lat=st.floats(-math.pi / 2, math.pi / 2),
    h=st.floats(-500.0, 9000.0),
)
def test_enu_frame_is_orthonormal_and_up_is_the_geodetic_normal(
    lon: float, lat: float, h: float
) -> None:
    frame = enu_frame(geodetic_to_ecef(lon, lat, h))
    rotation = frame[:3, :3]
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    normal = [math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)]
    np.testing.assert_allclose(rotation[:, 2], normal, atol=1e-9)
    np.testing.assert_allclose(frame[3], [0, 0, 0, 1])


def test_enu_frame_rejects_the_earth_centre() -> None:
    with pytest.raises(ValueError, match="centre of the Earth"):
        enu_frame(np.zeros(3))
