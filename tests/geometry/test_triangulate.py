"""Triangulation truths: areas, counts, orientation, holes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.geometry import newell_normal, polygon_area, triangle_areas, triangulate_polygons


def ragged(polygons: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pack polygons (lists of rings) into the layout of twin.model.Surfaces."""
    rings = [ring for polygon in polygons for ring in polygon]
    coords = np.concatenate(rings)
    ring_offsets = np.concatenate([[0], np.cumsum([len(r) for r in rings])])
    polygon_offsets = np.concatenate([[0], np.cumsum([len(p) for p in polygons])])
    return coords, ring_offsets, polygon_offsets


def box(dx: float, dy: float, dz: float) -> list[list[np.ndarray]]:
    """Six faces of an axis-aligned box, rings counter-clockwise seen from outside."""
    v = np.array(
        [
            [0, 0, 0],
            [dx, 0, 0],
            [dx, dy, 0],
            [0, dy, 0],
            [0, 0, dz],
            [dx, 0, dz],
            [dx, dy, dz],
            [0, dy, dz],
        ],
        dtype=float,
    )
    faces = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]]
    return [[v[f]] for f in faces]


def test_box_building_gives_twelve_outward_triangles_and_its_exact_area() -> None:
    coords, rings, polys = ragged(box(6.0, 8.0, 3.0))
    faces, owner = triangulate_polygons(coords, rings, polys)
    assert faces.shape == (12, 3)
    assert np.bincount(owner).tolist() == [2] * 6
    assert triangle_areas(coords, faces).sum() == pytest.approx(2 * (6 * 8 + 6 * 3 + 8 * 3))
    # Outward: each triangle's normal points away from the box centre.
    a, b, c = (coords[faces[:, k]] for k in range(3))
    normals = np.cross(b - a, c - a)
    centre_to_triangle = (a + b + c) / 3 - np.array([3.0, 4.0, 1.5])
    assert (np.einsum("ij,ij->i", normals, centre_to_triangle) > 0).all()


def test_wall_with_window_hole_is_the_wall_minus_the_window() -> None:
    wall = np.array([[0, 0, 0], [10, 0, 0], [10, 0, 3], [0, 0, 3]], dtype=float)
    window = np.array([[2, 0, 1], [2, 0, 2], [4, 0, 2], [4, 0, 1]], dtype=float)
    coords, rings, polys = ragged([[wall, window]])
    faces, _ = triangulate_polygons(coords, rings, polys)
    assert triangle_areas(coords, faces).sum() == pytest.approx(30.0 - 2.0)
    assert polygon_area([wall, window]) == pytest.approx(28.0)
    # No triangle covers the window's centre.
    centre = np.array([3.0, 0.0, 1.5])
    a, b, c = (coords[faces[:, k]] for k in range(3))
    inside = [_contains_xz(t, centre) for t in zip(a, b, c, strict=True)]
    assert not any(inside)


def _contains_xz(triangle: tuple[np.ndarray, ...], p: np.ndarray) -> bool:
    (x1, _, z1), (x2, _, z2), (x3, _, z3) = triangle
    d1 = (p[0] - x2) * (z1 - z2) - (x1 - x2) * (p[2] - z2)
    d2 = (p[0] - x3) * (z2 - z3) - (x2 - x3) * (p[2] - z3)
    d3 = (p[0] - x1) * (z3 - z1) - (x3 - x1) * (p[2] - z1)
    return bool((d1 > 0 and d2 > 0 and d3 > 0) or (d1 < 0 and d2 < 0 and d3 < 0))


def test_ring_whose_first_three_vertices_are_collinear() -> None:
    ring = np.array([[0, 0, 5], [1, 0, 5], [2, 0, 5], [2, 2, 5], [0, 2, 5]], dtype=float)
    coords, rings, polys = ragged([[ring]])
    faces, _ = triangulate_polygons(coords, rings, polys)
    assert triangle_areas(coords, faces).sum() == pytest.approx(4.0)
    assert newell_normal(ring)[2] > 0


def test_degenerate_polygon_yields_no_triangles() -> None:
    line = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2]], dtype=float)
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    coords, rings, polys = ragged([[line], [square]])
    _faces, owner = triangulate_polygons(coords, rings, polys)
    assert owner.tolist() == [1, 1]


@st.composite
def tilted_star_polygons(draw: st.DrawFn) -> np.ndarray:
    """A star-shaped (possibly non-convex) ring on an arbitrary plane far from the origin.

    Angles step around the circle with jitter so that no gap reaches π: the ring stays simple.
    """
    n = draw(st.integers(4, 24))
    radii = np.array(draw(st.lists(st.floats(1.0, 50.0), min_size=n, max_size=n)))
    jitter = np.array(draw(st.lists(st.floats(0.0, 0.45), min_size=n, max_size=n)))
    angles = (np.arange(n) + jitter) * (2 * np.pi / n)
    flat = np.column_stack([radii * np.cos(angles), radii * np.sin(angles), np.zeros(n)])
    axis = np.array(draw(st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(0.1, 1))))
    axis /= np.linalg.norm(axis)
    helper = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(helper, axis)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    origin = np.array([4_000_000.0, 500_000.0, 4_900_000.0])  # ECEF-like magnitudes
    return origin + flat @ np.vstack([u, v, axis])


@settings(max_examples=200, deadline=None)
@given(tilted_star_polygons())
def test_triangle_areas_sum_to_the_polygon_area_and_face_its_way(ring: np.ndarray) -> None:
    area = polygon_area([ring])
    if area < 1.0:
        return  # too thin to carry meaning at ECEF magnitudes
    coords, rings, polys = ragged([[ring]])
    faces, _ = triangulate_polygons(coords, rings, polys)
    assert triangle_areas(coords, faces).sum() == pytest.approx(area, rel=1e-6)
    a, b, c = (coords[faces[:, k]] for k in range(3))
    normals = np.cross(b - a, c - a)
    assert (normals @ newell_normal(ring) >= 0).all()
