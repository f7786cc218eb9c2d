"""Check polygons the way 3D validators do (ISO 19107 / val3dity codes) and say what is wrong.

Each check works on one polygon of a :class:`~twin.model.Surfaces` (open rings, exterior
first), projected onto its best-fit plane: too few points (GE_R_TOO_FEW_POINTS), consecutive
duplicate points (GE_R_CONSECUTIVE_POINTS_SAME), self-intersection (GE_R_SELF_INTERSECTION),
non-planarity (GE_P_NON_PLANAR_POLYGON_DISTANCE_PLANE), a hole outside its exterior
(GE_P_HOLE_OUTSIDE). The issues are strings for the import report; geometry is not changed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely

from twin.model import Surfaces
from twin.types import BoolArray, Float64Array

__all__ = ["PLANARITY_TOLERANCE_M", "polygon_issues", "shell_issues", "surfaces_issues"]

PLANARITY_TOLERANCE_M = 0.01
"""Largest distance of a vertex from its polygon's plane before the polygon is non-planar."""


def surfaces_issues(surfaces: Surfaces, limit: int = 20) -> tuple[str, ...]:
    """Return the issues of every polygon of ``surfaces``, each prefixed with its index.

    At most ``limit`` issues are listed; a final line counts the rest.
    """
    issues: list[str] = []
    for p in range(surfaces.polygon_count):
        first, last = surfaces.polygon_offsets[p], surfaces.polygon_offsets[p + 1]
        bounds = surfaces.ring_offsets[first : last + 1]
        rings = [surfaces.coords[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
        issues.extend(f"polygon {p}: {issue}" for issue in polygon_issues(rings))
    if len(issues) > limit:
        return (*issues[:limit], f"… and {len(issues) - limit} more polygon issue(s)")
    return tuple(issues)


def polygon_issues(rings: list[Float64Array]) -> list[str]:
    """Return what is wrong with one polygon given as open ``(n, 3)`` rings, exterior first.

    >>> square = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    >>> polygon_issues([square])
    []
    >>> polygon_issues([square[[0, 2, 1, 3]]])
    ['GE_R_SELF_INTERSECTION: ring 0 crosses itself']
    """
    issues = []
    for r, ring in enumerate(rings):
        if len(ring) < 3:
            issues.append(f"GE_R_TOO_FEW_POINTS: ring {r} has {len(ring)} point(s)")
        elif np.any(np.all(ring == np.roll(ring, -1, axis=0), axis=1)):
            issues.append(f"GE_R_CONSECUTIVE_POINTS_SAME: ring {r} repeats a point")
    if issues or not rings:
        return issues
    points = np.concatenate(rings)
    origin = points.mean(axis=0)
    _, spread, axes = np.linalg.svd(points - origin, full_matrices=False)
    if spread[1] <= 1e-9 * max(float(spread[0]), 1.0):
        return ["GE_R_DEGENERATE: the exterior ring has no area (collinear points)"]
    distance = float(np.abs((points - origin) @ axes[2]).max())
    if distance > PLANARITY_TOLERANCE_M:
        issues.append(
            f"GE_P_NON_PLANAR_POLYGON_DISTANCE_PLANE: a vertex lies {distance:.3f} m off the plane"
        )
    flat = [shapely.Polygon((ring - origin) @ axes[:2].T) for ring in rings]
    for r, ring in enumerate(flat):
        if not ring.is_valid:
            issues.append(f"GE_R_SELF_INTERSECTION: ring {r} crosses itself")
    if all(ring.is_valid for ring in flat):
        issues.extend(
            f"GE_P_HOLE_OUTSIDE: hole {h} lies outside the exterior"
            for h, hole in enumerate(flat[1:], start=1)
            if not flat[0].contains(hole)
        )
    return issues


def shell_issues(surfaces: Surfaces) -> tuple[str, ...]:
    """Return GE_S_NOT_CLOSED when some edge of a solid's shell is used by one polygon only.

    Edges are compared by their end points rounded to the millimetre, in either direction.

    >>> tri = Surfaces(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]), np.array([0, 3]),
    ...                np.array([0, 1]), np.zeros(1, dtype=np.uint8))
    >>> shell_issues(tri)
    ('GE_S_NOT_CLOSED: 3 edge(s) of the shell belong to one polygon only',)
    """
    offsets = surfaces.ring_offsets
    if len(offsets) < 2:
        return ()
    lengths = np.diff(offsets)
    start = np.arange(len(surfaces.coords))
    ring_of = np.repeat(np.arange(len(lengths)), lengths)
    following = np.where(start + 1 == offsets[ring_of + 1], offsets[ring_of], start + 1)
    keys = np.round(surfaces.coords * 1000.0).astype(np.int64)
    a, b = keys[start], keys[following]
    edges = np.where(_less(a, b)[:, None], np.concatenate([a, b], 1), np.concatenate([b, a], 1))
    _, counts = np.unique(edges, axis=0, return_counts=True)
    open_edges = int((counts == 1).sum())
    if open_edges == 0:
        return ()
    return (f"GE_S_NOT_CLOSED: {open_edges} edge(s) of the shell belong to one polygon only",)


def _less(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> BoolArray:
    """Return, row by row, whether ``a`` sorts before ``b`` lexicographically."""
    differs = a != b
    first = np.argmax(differs, axis=1)
    rows = np.arange(len(a))
    return np.asarray(a[rows, first] < b[rows, first])
