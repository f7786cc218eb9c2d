"""triangulate_many agrees with triangulate_polygons: same areas and orientation per polygon."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.geometry import triangle_areas, triangulate_polygons
from twin.geometry.batch import triangulate_many

ECEF = np.array([4_145_805.2, 612_064.4, 4_792_225.6])  # Karlsruhe: precision at ECEF scale

SQUARE = np.array([[0.0, 0, 0], [4, 0, 0], [4, 4, 0], [0, 4, 0]])
CASES = {
    "triangle": [[np.array([[0.0, 0, 0], [3, 0, 0], [0, 2, 1]])]],
    "vertical-quad": [[np.array([[0.0, 0, 0], [5, 0, 0], [5, 0, 3], [0, 0, 3]])]],
    "gable-pentagon": [[np.array([[0.0, 0, 0], [6, 0, 0], [6, 0, 3], [3, 0, 5], [0, 0, 3]])]],
    "concave-L": [[np.array([[0.0, 0, 0], [4, 0, 0], [4, 1, 0], [1, 1, 0], [1, 4, 0], [0, 4, 0]])]],
    "collinear-first-three": [
        [np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [2, 2, 0], [0, 2, 0]])]
    ],
    "hole": [[SQUARE, np.array([[1.0, 1, 0], [1, 2, 0], [2, 2, 0], [2, 1, 0]])]],
    "degenerate": [[np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])]],
    "clockwise": [[SQUARE[::-1].copy()]],
}


def ragged(polygons: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rings = [ring for polygon in polygons for ring in polygon]
    coords = np.concatenate(rings)
    ring_offsets = np.concatenate([[0], np.cumsum([len(r) for r in rings])]).astype(np.int64)
    polygon_offsets = np.concatenate([[0], np.cumsum([len(p) for p in polygons])]).astype(np.int64)
    return coords, ring_offsets, polygon_offsets


def per_polygon(coords: np.ndarray, faces: np.ndarray, owner: np.ndarray, count: int) -> np.ndarray:
    """Return (count, 4): summed face area vector (orientation) and area of each polygon."""
    a, b, c = (coords[faces[:, k]] for k in range(3))
    vectors = np.cross(b - a, c - a) / 2.0
    out = np.zeros((count, 4))
    np.add.at(out[:, :3], owner, vectors)
    out[:, 3] = np.bincount(owner, triangle_areas(coords, faces), minlength=count)
    return out


def assert_same(polygons: list[list[np.ndarray]]) -> None:
    coords, rings, polys = ragged(polygons)
    coords = coords + ECEF
    expected = triangulate_polygons(coords, rings, polys)
    got = triangulate_many(coords, rings, polys)
    assert got[0].dtype == np.uint32
    assert np.array_equal(np.unique(got[1]), np.unique(expected[1]))
    count = len(polys) - 1
    np.testing.assert_allclose(
        per_polygon(coords, *got, count), per_polygon(coords, *expected, count), atol=1e-6
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_hard_case_matches_earcut(name: str) -> None:
    assert_same(CASES[name])


def test_all_cases_together_match_earcut() -> None:
    assert_same([p for name in sorted(CASES) for p in CASES[name]])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(3, 9), min_size=1, max_size=12),
    st.floats(0.5, 50.0),
    st.floats(-np.pi, np.pi),
)
def test_regular_polygons_in_any_plane_match_earcut(
    sides: list[int], r: float, tilt: float
) -> None:
    c, s = np.cos(tilt), np.sin(tilt)
    rotation = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    polygons = []
    for k, n in enumerate(sides):
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        ring = np.column_stack([r * np.cos(t) + 100 * k, r * np.sin(t), np.zeros(n)])
        polygons.append([ring @ rotation.T])
    assert_same(polygons)


def test_empty_set_gives_no_faces() -> None:
    faces, owner = triangulate_many(np.empty((0, 3)), np.zeros(1, np.int64), np.zeros(1, np.int64))
    assert faces.shape == (0, 3)
    assert owner.shape == (0,)
