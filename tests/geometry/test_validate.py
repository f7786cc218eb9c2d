"""Polygon and shell checks return val3dity-coded issues, one concern per fixture."""

from __future__ import annotations

import numpy as np
import pytest

from twin.geometry.validate import polygon_issues, shell_issues
from twin.model import Surfaces

SQUARE = np.array([[0.0, 0, 0], [4, 0, 0], [4, 4, 0], [0, 4, 0]])


@pytest.mark.parametrize(
    ("rings", "issue"),
    [
        ([SQUARE[:2]], "GE_R_TOO_FEW_POINTS: ring 0 has 2 point(s)"),
        ([SQUARE[[0, 1, 1, 2, 3]]], "GE_R_CONSECUTIVE_POINTS_SAME: ring 0 repeats a point"),
        ([SQUARE[[0, 2, 1, 3]]], "GE_R_SELF_INTERSECTION: ring 0 crosses itself"),
        (
            [SQUARE, SQUARE + np.array([10.0, 0, 0])],
            "GE_P_HOLE_OUTSIDE: hole 1 lies outside the exterior",
        ),
        (
            [SQUARE + np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0.5], [0, 0, 0]])],
            "GE_P_NON_PLANAR_POLYGON_DISTANCE_PLANE: a vertex lies 0.125 m off the plane",
        ),
    ],
    ids=["too-few", "duplicate", "bow-tie", "hole-outside", "non-planar"],
)
def test_polygon_defect_is_named(rings: list[np.ndarray], issue: str) -> None:
    assert polygon_issues(rings) == [issue]


def test_wall_with_a_window_hole_is_valid() -> None:
    hole = np.array([[1.0, 1, 0], [1, 2, 0], [2, 2, 0], [2, 1, 0]])
    assert polygon_issues([SQUARE, hole]) == []


def _cube(faces: int) -> Surfaces:
    c = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1)], dtype=np.float64)
    quads = [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [1, 3, 7, 5], [3, 2, 6, 7], [2, 0, 4, 6]]
    coords = np.concatenate([c[q] for q in quads[:faces]])
    offsets = np.arange(0, 4 * faces + 1, 4, dtype=np.int64)
    return Surfaces(coords, offsets, np.arange(faces + 1), np.zeros(faces, dtype=np.uint8))


def test_closed_cube_has_no_shell_issue() -> None:
    assert shell_issues(_cube(6)) == ()


def test_cube_missing_a_face_is_not_closed() -> None:
    assert shell_issues(_cube(5)) == (
        "GE_S_NOT_CLOSED: 4 edge(s) of the shell belong to one polygon only",
    )
