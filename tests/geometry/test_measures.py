"""Areas per surface class, closed shells and volumes of small hand-made solids.

A box of 2 × 3 × 4 m has roof and ground 6 m², walls 2·(2·4 + 3·4) = 40 m² and volume 24 m³,
wherever it stands and however it is turned; take a face away and it has no volume.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import shape

from twin.geometry import lonlat_area_m2, triangulate_polygons
from twin.geometry.measures import closed_shells, measure_meshes, weld
from twin.model import SurfaceClass

ROOF, WALL, GROUND = SurfaceClass.ROOF, SurfaceClass.WALL, SurfaceClass.GROUND
ECEF_OFFSET = np.array([4.0e6, 6.0e5, 4.9e6])  # roughly where Karlsruhe is in ECEF


def _box(dx: float, dy: float, dz: float) -> tuple[list[np.ndarray], list[int]]:
    """Return the six faces of a box as rings counter-clockwise seen from outside, and classes."""
    p = np.array([[x, y, z] for z in (0.0, dz) for y in (0.0, dy) for x in (0.0, dx)])
    quads = {
        GROUND: [0, 2, 3, 1],
        ROOF: [4, 5, 7, 6],
        WALL: [[0, 1, 5, 4], [1, 3, 7, 5], [3, 2, 6, 7], [2, 0, 4, 6]],
    }
    rings = [p[quads[GROUND]], p[quads[ROOF]], *(p[q] for q in quads[WALL])]
    return rings, [GROUND, ROOF, WALL, WALL, WALL, WALL]


def _measure(
    objects: list[tuple[list[np.ndarray], list[int]]], transform: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate each object's rings and measure all objects in one call."""
    coords, faces, classes, owner, vertex_offsets = [], [], [], [], [0]
    for k, (rings, ring_classes) in enumerate(objects):
        pts = np.concatenate(rings)
        if transform is not None:
            pts = pts @ transform.T
        pts = pts + ECEF_OFFSET
        ring_offsets = np.concatenate([[0], np.cumsum([len(r) for r in rings])])
        f, polygon = triangulate_polygons(pts, ring_offsets, np.arange(len(rings) + 1))
        faces.append(f + np.uint32(vertex_offsets[-1]))
        classes.append(np.asarray(ring_classes, np.uint8)[polygon])
        owner.append(np.full(len(f), k))
        coords.append(pts)
        vertex_offsets.append(vertex_offsets[-1] + len(pts))
    return measure_meshes(
        np.concatenate(coords),
        np.concatenate(faces),
        np.concatenate(classes),
        np.concatenate(owner),
        np.array(vertex_offsets),
        len(SurfaceClass),
    )


def test_box_has_exact_areas_and_volume() -> None:
    areas, volumes = _measure([_box(2.0, 3.0, 4.0)])
    assert areas[0, ROOF] == pytest.approx(6.0, abs=1e-6)
    assert areas[0, GROUND] == pytest.approx(6.0, abs=1e-6)
    assert areas[0, WALL] == pytest.approx(40.0, abs=1e-6)
    assert volumes[0] == pytest.approx(24.0, abs=1e-6)


def test_open_box_has_areas_but_no_volume() -> None:
    rings, classes = _box(2.0, 3.0, 4.0)
    areas, volumes = _measure([(rings[:1] + rings[2:], classes[:1] + classes[2:])])
    assert areas[0, ROOF] == 0.0
    assert areas[0, WALL] == pytest.approx(40.0, abs=1e-6)
    assert np.isnan(volumes[0])


def test_box_with_one_face_turned_inwards_has_no_volume() -> None:
    rings, classes = _box(2.0, 3.0, 4.0)
    rings[1] = rings[1][::-1]
    _, volumes = _measure([(rings, classes)])
    assert np.isnan(volumes[0])


def test_box_turned_inside_out_still_has_its_volume() -> None:
    rings, classes = _box(2.0, 3.0, 4.0)
    _, volumes = _measure([([r[::-1] for r in rings], classes)])
    assert volumes[0] == pytest.approx(24.0, abs=1e-6)


def test_objects_are_measured_apart_in_one_call() -> None:
    rings, classes = _box(1.0, 1.0, 1.0)
    open_box = (rings[1:], classes[1:])
    areas, volumes = _measure([_box(2.0, 3.0, 4.0), open_box, _box(10.0, 10.0, 3.0)])
    assert volumes[0] == pytest.approx(24.0, abs=1e-6)
    assert np.isnan(volumes[1])
    assert volumes[2] == pytest.approx(300.0, abs=1e-6)
    assert areas[:, GROUND] == pytest.approx([6.0, 0.0, 100.0], abs=1e-6)


def test_two_separate_closed_boxes_in_one_object_add_up() -> None:
    (a, ca), (b, cb) = _box(2.0, 3.0, 4.0), _box(1.0, 1.0, 1.0)
    b = [r + np.array([10.0, 0.0, 0.0]) for r in b]
    _, volumes = _measure([(a + b, ca + cb)])
    assert volumes[0] == pytest.approx(25.0, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    st.tuples(*(st.floats(0.5, 80.0) for _ in range(3))),
    st.integers(0, 2**32 - 1),
)
@example(size=(0.5, 34.0, 77.0), seed=0)  # a thin roof: its relative error is the largest
def test_measures_do_not_depend_on_position_or_rotation(
    size: tuple[float, float, float], seed: int
) -> None:
    dx, dy, dz = size
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    rotation = q * np.sign(np.diag(r))
    rotation[:, 0] *= np.linalg.det(rotation)  # a proper rotation (det +1)
    areas, volumes = _measure([_box(dx, dy, dz)], rotation)
    # Placed at ECEF magnitude, each coordinate is rounded to the float64 grid there (half a
    # spacing, ~0.5 nm): a face's area can move by that times its perimeter, a volume by that
    # times the surface area — the box the measures see is not exactly dx × dy × dz.
    ulp = float(np.spacing(np.linalg.norm(ECEF_OFFSET)))
    roof, walls = dx * dy, 2 * (dx + dy) * dz
    assert volumes[0] == pytest.approx(dx * dy * dz, rel=1e-9, abs=4 * ulp * (2 * roof + walls))
    assert areas[0, ROOF] == pytest.approx(roof, rel=1e-9, abs=4 * ulp * 2 * (dx + dy))
    assert areas[0, WALL] == pytest.approx(walls, rel=1e-9, abs=4 * ulp * 4 * (dx + dy + 2 * dz))


def test_weld_joins_points_within_a_millimetre_of_one_object_only() -> None:
    pts = np.array([[0.0, 0, 0], [0.0002, 0, 0], [0.004, 0, 0], [0.0, 0, 0]]) + ECEF_OFFSET
    ids = weld(pts, np.array([0, 0, 0, 1]), np.stack([ECEF_OFFSET, ECEF_OFFSET]))
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2], ids[3]}) == 3


def test_closed_shells_needs_each_edge_twice_in_opposite_directions() -> None:
    tetra = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    doubled = np.concatenate([tetra, tetra])  # every edge used four times
    one = np.zeros(len(tetra), np.int64)
    assert closed_shells(tetra, one, 1).tolist() == [True]
    assert closed_shells(doubled, np.zeros(8, np.int64), 1).tolist() == [False]
    assert closed_shells(np.zeros_like(tetra), one, 1).tolist() == [False]  # all collapsed


@settings(max_examples=30, deadline=None)
@given(
    st.floats(-60.0, 60.0),
    st.floats(-179.0, 179.0),
    st.lists(st.tuples(st.floats(0.0, 4e-4), st.floats(0.0, 4e-4)), min_size=3, max_size=8),
)
def test_lonlat_area_agrees_with_the_geodesic_area(
    lat: float, lon: float, offsets: list[tuple[float, float]]
) -> None:
    ring = [[lon + dx, lat + dy] for dx, dy in offsets]
    polygon = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    geometry = shape(polygon)
    if not geometry.is_valid or geometry.area < 1e-10:
        return
    geodesic = abs(Geod(ellps="WGS84").geometry_area_perimeter(geometry)[0])
    assert lonlat_area_m2(polygon) == pytest.approx(geodesic, rel=1e-4, abs=1e-3)
