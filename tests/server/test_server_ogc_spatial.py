"""The bounding-box shortcut of ``twin_spatial`` agrees with shapely on every footprint."""

from __future__ import annotations

import json

import shapely
from hypothesis import given
from hypothesis import strategies as st

from twin.store.features_filter import _spatial

coordinate = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)


@given(
    st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=6),
    st.tuples(coordinate, coordinate, coordinate, coordinate),
    st.sampled_from(["intersects", "within", "disjoint"]),
)
def test_shortcut_agrees_with_shapely(
    ring: list[tuple[float, float]], box: tuple[float, float, float, float], op: str
) -> None:
    footprint = shapely.convex_hull(shapely.multipoints(ring))
    if not isinstance(footprint, shapely.Polygon) or footprint.area == 0:
        return
    query = shapely.box(min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]),
                        max(box[1], box[3]))  # fmt: skip
    expected = int(bool(getattr(shapely, op)(footprint, query)))
    x0, y0, x1, y1 = footprint.bounds
    got = _spatial(op, shapely.to_geojson(footprint), x0, y0, x1, y1, query.wkt)
    assert got == expected, json.dumps(shapely.geometry.mapping(footprint))
