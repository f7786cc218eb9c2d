"""Check polygons the way 3D validators do (ISO 19107 / val3dity codes) and say what is wrong.

Each check works on one polygon of a :class:`~twin.model.Surfaces` (open rings, exterior
first), projected onto its best-fit plane: too few points (GE_R_TOO_FEW_POINTS), consecutive
duplicate points (GE_R_CONSECUTIVE_POINTS_SAME), self-intersection (GE_R_SELF_INTERSECTION),
non-planarity (GE_P_NON_PLANAR_POLYGON_DISTANCE_PLANE), a hole outside its exterior
(GE_P_HOLE_OUTSIDE). The issues are strings for the import report; geometry is not changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from twin.geometry.measures import vertex_ids
from twin.model import Surfaces
from twin.types import BoolArray, Float64Array, IndexArray

__all__ = [
    "PLANARITY_TOLERANCE_M",
    "issues_of_many",
    "polygon_issues",
    "shell_issues",
    "shell_issues_many",
]

PLANARITY_TOLERANCE_M = 0.01
"""Largest distance of a vertex from its polygon's plane before the polygon is non-planar."""


def issues_of_many(many: Sequence[Surfaces], limit: int = 20) -> list[tuple[str, ...]]:
    """Return the issues of every polygon of each of ``many`` objects, prefixed with its index.

    All polygons of all objects are screened at once (ring lengths, repeated points, distance
    to the Newell plane, validity of the planar projection) — one screen over a batch costs
    little more than over one object; :func:`polygon_issues` then words the issues of the few
    that fail. At most ``limit`` issues are listed per object; a final line counts the rest.
    """
    if not many:
        return []
    suspects = _suspects(Surfaces.join(many))
    counts = np.fromiter((s.polygon_count for s in many), dtype=np.int64, count=len(many))
    first_polygon = np.concatenate([[0], np.cumsum(counts)])
    found: list[tuple[str, ...]] = []
    for k, surfaces in enumerate(many):
        base = int(first_polygon[k])
        issues: list[str] = []
        for p in np.flatnonzero(suspects[base : base + surfaces.polygon_count]):
            first, last = surfaces.polygon_offsets[p], surfaces.polygon_offsets[p + 1]
            bounds = surfaces.ring_offsets[first : last + 1]
            rings = [surfaces.coords[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
            issues.extend(f"polygon {p}: {issue}" for issue in polygon_issues(rings))
        if len(issues) > limit:
            issues[limit:] = [f"… and {len(issues) - limit} more polygon issue(s)"]
        found.append(tuple(issues))
    return found


def _suspects(surfaces: Surfaces) -> BoolArray:
    """Return, per polygon, whether any check of :func:`polygon_issues` might fail.

    A superset: every polygon :func:`polygon_issues` finds fault with is a suspect.
    """
    coords, ring_offsets, polygon_offsets = (
        surfaces.coords,
        surfaces.ring_offsets,
        surfaces.polygon_offsets,
    )
    n_polygons = surfaces.polygon_count
    if n_polygons == 0:
        return np.zeros(0, dtype=bool)
    ring_lengths = np.diff(ring_offsets)
    ring_polygon = np.repeat(np.arange(n_polygons), np.diff(polygon_offsets))
    if len(coords) == 0 or (ring_lengths < 3).any():
        bad_ring = ring_lengths < 3
        suspect = np.bincount(ring_polygon[bad_ring], minlength=n_polygons) > 0
        return suspect | _geometry_suspects(surfaces, ~suspect, ring_polygon)
    return _geometry_suspects(surfaces, np.ones(n_polygons, dtype=bool), ring_polygon)


def _geometry_suspects(
    surfaces: Surfaces, usable: BoolArray, ring_polygon: IndexArray
) -> BoolArray:
    """Screen the polygons marked ``usable`` (every ring has 3 or more points)."""
    coords, ring_offsets = surfaces.coords, surfaces.ring_offsets
    n_polygons = surfaces.polygon_count
    suspect = np.zeros(n_polygons, dtype=bool)
    ring_lengths = np.diff(ring_offsets)
    vertex_ring = np.repeat(np.arange(len(ring_lengths)), ring_lengths)
    vertex_polygon = ring_polygon[vertex_ring]
    keep = usable[vertex_polygon]
    if not keep.any():
        return suspect
    index = np.arange(len(coords))
    following = np.where(
        index + 1 == ring_offsets[vertex_ring + 1], ring_offsets[vertex_ring], index + 1
    )
    repeated = np.all(coords == coords[following], axis=1) & keep
    suspect[np.unique(vertex_polygon[repeated])] = True
    # Newell normal of each polygon's exterior ring, about the polygon's vertex mean.
    counts = np.bincount(vertex_polygon, minlength=n_polygons).astype(np.float64)
    centre = (
        np.stack(
            [np.bincount(vertex_polygon, coords[:, k], minlength=n_polygons) for k in range(3)], 1
        )
        / np.maximum(counts, 1.0)[:, None]
    )
    local = coords - centre[vertex_polygon]
    exterior = vertex_ring == surfaces.polygon_offsets[:-1][vertex_polygon]
    cross = np.cross(local, local[following]) * exterior[:, None]
    normal = np.stack([np.bincount(vertex_polygon, cross[:, k], n_polygons) for k in range(3)], 1)
    length = np.linalg.norm(normal, axis=1)
    extent = np.zeros(n_polygons)
    np.maximum.at(extent, vertex_polygon, np.abs(local).max(axis=1))
    degenerate = length <= 1e-9 * np.maximum(extent, 1.0) ** 2
    unit = normal / np.where(degenerate, 1.0, length)[:, None]
    distance = np.abs(np.einsum("ij,ij->i", local, unit[vertex_polygon]))
    off_plane = np.zeros(n_polygons)
    np.maximum.at(off_plane, vertex_polygon, distance)
    # polygon_issues fits its plane by least squares; the Newell plane is within a factor 2.
    suspect |= degenerate | (off_plane > PLANARITY_TOLERANCE_M / 2.0)
    # Three consecutive collinear vertices (a spike, an edge doubling back): whether such a ring
    # is valid turns on the rounding of its projection, which differs between this screen and
    # polygon_issues' plane, so polygon_issues decides.
    previous = np.empty_like(following)
    previous[following] = index
    bend = np.cross(local - local[previous], local[following] - local)
    straight = np.linalg.norm(bend, axis=1) <= 1e-9 * np.maximum(extent[vertex_polygon], 1.0) ** 2
    suspect[np.unique(vertex_polygon[straight & keep])] = True
    screen = usable & ~suspect
    if screen.any():
        suspect[screen] = ~_valid_in_plane(surfaces, screen, unit, local, vertex_polygon)
    return suspect


def _valid_in_plane(
    surfaces: Surfaces,
    screen: BoolArray,
    unit: Float64Array,
    local: Float64Array,
    vertex_polygon: IndexArray,
) -> BoolArray:
    """Return ``shapely.is_valid`` of each screened polygon projected onto its plane."""
    helper = np.where(np.abs(unit[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = np.cross(helper, unit)
    norm = np.linalg.norm(u, axis=1)
    u /= np.where(norm == 0.0, 1.0, norm)[:, None]  # zero only for unscreened degenerates
    v = np.cross(unit, u)
    keep = screen[vertex_polygon]
    owner = vertex_polygon[keep]
    flat = np.column_stack(
        [np.einsum("ij,ij->i", local[keep], u[owner]), np.einsum("ij,ij->i", local[keep], v[owner])]
    )
    ring_offsets, polygon_offsets = surfaces.ring_offsets, surfaces.polygon_offsets
    ring_kept = screen[np.repeat(np.arange(len(screen)), np.diff(polygon_offsets))]
    ring_lengths = np.diff(ring_offsets)[ring_kept]
    rings_per_polygon = np.diff(polygon_offsets)[screen]
    starts = np.concatenate([[0], np.cumsum(ring_lengths)[:-1]])
    closed = np.insert(flat, starts + ring_lengths, flat[starts], axis=0)
    closed_ends = np.concatenate([[0], np.cumsum(ring_lengths + 1)])
    polygons = shapely.from_ragged_array(
        shapely.GeometryType.POLYGON,
        closed,
        (closed_ends, np.concatenate([[0], np.cumsum(rings_per_polygon)])),
    )
    return np.asarray(shapely.is_valid(polygons), dtype=bool)


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
    """Return GE_S_NOT_CLOSED when some edge of a solid's shell is used by one polygon only,
    GE_S_POLYGON_WRONG_ORIENTATION when some polygon's orientation disagrees with its
    neighbours'.

    Edges are compared by their end points rounded to the millimetre, in either direction.

    >>> tri = Surfaces(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]), np.array([0, 3]),
    ...                np.array([0, 1]), np.zeros(1, dtype=np.uint8))
    >>> shell_issues(tri)
    ('GE_S_NOT_CLOSED: 3 edge(s) of the shell belong to one polygon only',)
    """
    every = np.arange(surfaces.polygon_count, dtype=np.int64)
    return shell_issues_many(surfaces, every, np.array([0, len(every)], dtype=np.int64))[0]


def shell_issues_many(
    surfaces: Surfaces, shell_polygons: IndexArray, shell_offsets: IndexArray
) -> list[tuple[str, ...]]:
    """Return :func:`shell_issues` of many shells at once.

    Shell ``k`` is made of the polygons ``shell_polygons[shell_offsets[k]:shell_offsets[k + 1]]``
    of ``surfaces`` (e.g. the solids of a whole batch of objects, joined). Vertices are told
    apart per shell, so edges of different shells never meet.
    """
    n_shells = len(shell_offsets) - 1
    shells = surfaces.select(shell_polygons)
    offsets = shells.ring_offsets
    if len(shells.coords) == 0:
        return [()] * n_shells
    lengths = np.diff(offsets)
    start = np.arange(len(shells.coords))
    ring_of = np.repeat(np.arange(len(lengths)), lengths)
    following = np.where(start + 1 == offsets[ring_of + 1], offsets[ring_of], start + 1)
    shell_of_polygon = np.repeat(np.arange(n_shells), np.diff(shell_offsets))
    shell_of_ring = np.repeat(shell_of_polygon, np.diff(shells.polygon_offsets))
    shell_of = shell_of_ring[ring_of]
    millimetres = np.round(shells.coords * 1000.0).astype(np.int64)
    vertex = vertex_ids(np.column_stack([shell_of, millimetres]))
    a, b = vertex[start], vertex[following]
    n = np.int64(vertex.max() + 1)
    _, first, counts = np.unique(
        np.minimum(a, b) * n + np.maximum(a, b), return_index=True, return_counts=True
    )
    open_edges = np.bincount(shell_of[first[counts == 1]], minlength=n_shells)
    # In a consistently oriented shell every edge is walked once each way (ISO 19107: the
    # polygons' normals all point outwards); the same direction twice means a flipped polygon.
    _, first, directed = np.unique(a * n + b, return_index=True, return_counts=True)
    same_way = np.bincount(shell_of[first[directed > 1]], minlength=n_shells)
    found: list[tuple[str, ...]] = []
    for k in range(n_shells):
        issues = []
        if open_edges[k]:
            issues.append(
                f"GE_S_NOT_CLOSED: {open_edges[k]} edge(s) of the shell belong to one polygon only"
            )
        if same_way[k]:
            issues.append(
                f"GE_S_POLYGON_WRONG_ORIENTATION: {same_way[k]} edge(s) walked twice the same "
                "way (a polygon faces inwards)"
            )
        found.append(tuple(issues))
    return found
