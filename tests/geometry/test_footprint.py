"""Footprints of a batch of objects are each object's own, whatever else is in the batch."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from twin.geometry import footprint_geojson, footprints_geojson

D = 1e-5  # about a metre, in degrees


def _rings(*rings: list[tuple[float, float]]) -> list[np.ndarray]:
    return [np.array(r, dtype=np.float64) * D + np.array([8.0, 49.0]) for r in rings]


SQUARE = [(0, 0), (4, 0), (4, 4), (0, 4)]
CASES = {
    # name: polygons, each a list of rings (exterior first)
    "square": [_rings(SQUARE)],
    "wall-only": [_rings([(0, 0), (4, 0), (4, 0), (0, 0)])],
    "courtyard": [_rings(SQUARE, [(1, 1), (1, 3), (3, 3), (3, 1)])],
    "overlapping-roofs": [_rings(SQUARE), _rings([(2, 2), (6, 2), (6, 6), (2, 6)])],
    "two-apart": [_rings(SQUARE), _rings([(10, 0), (12, 0), (12, 2), (10, 2)])],
    "bow-tie": [_rings([(0, 0), (4, 4), (4, 0), (0, 6)])],  # lobes of unequal size
    "spike": [_rings([(0, 0), (4, 0), (4, 4), (2, 4), (2, 7), (2, 4), (0, 4)])],
}


def _ragged(polygons: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rings = [ring for polygon in polygons for ring in polygon]
    ring_offsets = np.concatenate([[0], np.cumsum([len(r) for r in rings])])
    polygon_offsets = np.concatenate([[0], np.cumsum([len(p) for p in polygons])])
    return np.concatenate(rings), ring_offsets, polygon_offsets


@pytest.mark.parametrize("name", CASES)
def test_a_batch_gives_each_object_its_own_footprint(name: str) -> None:
    # The object between two others that overlap it: nothing of theirs may leak into it.
    batch = [CASES["overlapping-roofs"], CASES[name], CASES["square"]]
    lonlat, rings, polygons = _ragged([p for obj in batch for p in obj])
    objects = np.concatenate([[0], np.cumsum([len(obj) for obj in batch])])
    together = footprints_geojson(lonlat, rings, polygons, objects)
    apart = [footprint_geojson(*_ragged(obj)) for obj in batch]
    assert together == apart
    assert [repr(g) for g, _ in together] == [repr(g) for g, _ in apart]  # tuples stay tuples


@pytest.mark.parametrize("name", CASES)
def test_footprint_is_the_union_seen_from_above(name: str) -> None:
    # Polygons without area as written (walls) drop out; the others are repaired and unioned.
    polygons = [shapely.Polygon(p[0], p[1:]) for p in CASES[name]]
    drawn = np.array([p for p in polygons if p.area > 0], dtype=object)
    expected = shapely.union_all(shapely.make_valid(drawn))
    expected = shapely.union_all([g for g in shapely.get_parts(expected) if g.area > 0])
    geojson, area = footprint_geojson(*_ragged(CASES[name]))
    if expected.is_empty:
        assert (geojson, area) == (None, 0.0)
        return
    assert geojson is not None
    outline = shape(geojson)
    assert shapely.equals_exact(shapely.normalize(outline), shapely.normalize(expected), 1e-7)
    metres_per_degree2 = 111_195.0 * 111_195.0 * np.cos(np.radians(49.0))
    assert area == pytest.approx(expected.area * metres_per_degree2, rel=5e-3)


def test_no_polygon_no_footprint() -> None:
    none = np.zeros(1, dtype=np.int64)
    assert footprints_geojson(np.empty((0, 2)), none, none, np.array([0, 0])) == [(None, 0.0)]
