"""bbox queries: the box shortcut of ``twin_spatial`` agrees with shapely; the R*Tree follows
re-imports."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import shapely
from hypothesis import example, given
from hypothesis import strategies as st

from twin.model import DatasetInfo
from twin.store import SQLiteStore
from twin.store.features import FeatureQuery
from twin.store.features_filter import _spatial, query_wkb

from .test_server_ogc_items import IMPORTED, RECORDS

MOVED = [dataclasses.replace(r, bbox_wgs84=(9.0, 50.0, 0.0, 9.1, 50.1, 1.0), footprint=None)
         for r in RECORDS]  # fmt: skip

coordinate = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)


@example(  # a vertex on the edge of a flat box, one bit from GEOS's 16-digit WKT
    [(0.0, 1.0), (0.0, 2.0), (0.32203819357924385, 0.0)],
    (0.0, 0.0, 0.32203819357924385, 0.0),
    "intersects",
)
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
    got = _spatial(op, shapely.to_geojson(footprint), x0, y0, x1, y1, query_wkb(query))
    assert got == expected, json.dumps(shapely.geometry.mapping(footprint))


def test_bbox_index_follows_a_reimport(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    query = FeatureQuery("grid", bbox_crs84=(7.9, 48.9, 8.0002, 49.0002), limit=None)
    for stamp, records in ((IMPORTED, RECORDS), (IMPORTED + dt.timedelta(hours=1), MOVED)):
        info = DatasetInfo("grid", "Grid", "EPSG:4326", len(records), None, stamp)
        store.publish(info, records, store.staging_dir("grid"))
        expected = ["B00"] if records is RECORDS else []
        assert [r.id for r in store.features.page(query)] == expected
        assert store.features.count(query) == len(expected)
