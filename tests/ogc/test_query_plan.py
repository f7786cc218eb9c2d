"""Feature queries on measures use the catalog's indexes: SQLite's own plan says which.

A grid city of 400 buildings with measures; each case reads ``EXPLAIN QUERY PLAN`` of the
statement :class:`twin.store.SQLiteFeatures` runs, and checks the answer against plain Python.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from twin.model import BuildingRecord, DatasetInfo, Measures
from twin.store import SQLiteStore
from twin.store.features import FeatureQuery, SortKey
from twin.store.features_cql2 import parse_filter, to_sql
from twin.store.features_filter import register_functions
from twin.store.generations import CURRENT

N = 400
KNOWN = ("height", "volume", "footprintArea", "yearOfConstruction")
BOX = (8.0, 49.0, 8.0021, 49.0021)  # the first 3 x 3 buildings of the 20 x 20 grid


def _record(i: int) -> BuildingRecord:
    x, y = 8.0 + (i % 20) * 0.001, 49.0 + (i // 20) * 0.001
    ring = [[x, y], [x + 0.0005, y], [x + 0.0005, y + 0.0005], [x, y + 0.0005], [x, y]]
    height = float(3 + (i * 7) % 41)  # 3..43 m, many ties
    return BuildingRecord(
        dataset="grid",
        id=f"B{i:03d}",
        type="Building",
        bbox_wgs84=(x, y, 100.0, x + 0.0005, y + 0.0005, 100.0 + height),
        footprint={"type": "Polygon", "coordinates": [ring]},
        attributes={"yearOfConstruction": 1900 + i % 120},
        measures=Measures(height, 100.0, 100.0, 40 * height, 100.0, 100.0 * height),
    )


RECORDS = [_record(i) for i in range(N)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SQLiteStore:
    data = tmp_path_factory.mktemp("plan") / "data"
    store = SQLiteStore(data)
    info = DatasetInfo("grid", "Grid", "EPSG:4326", N, None, dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    store.publish(info, RECORDS, store.staging_dir("grid"))  # with its R*Tree, and ANALYZE
    return store


def _query(filter_text: str | None = None, sortby: str = "", bbox: bool = False) -> FeatureQuery:
    keys = tuple(SortKey(k.lstrip("-"), k.startswith("-")) for k in sortby.split(",") if k)
    where = None if filter_text is None else to_sql(parse_filter(filter_text), KNOWN)
    return FeatureQuery("grid", bbox_crs84=BOX if bbox else None, where=where, sortby=keys)


def _plan(store: SQLiteStore, query: FeatureQuery, count: bool) -> list[str]:
    where, order = query.sql_where(), query.sql_order()
    if count:
        sql, params = f"SELECT count(*) FROM objects WHERE {where.sql}", where.params
    else:
        sql = f"SELECT * FROM objects WHERE {where.sql} ORDER BY {order.sql} LIMIT 10"
        params = (*where.params, *order.params)
    db = sqlite3.connect(store.data_dir / "twin.db")
    register_functions(db)
    try:
        return [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params)]
    finally:
        db.close()


def _height(r: BuildingRecord) -> float:
    assert r.measures.height_m is not None
    return r.measures.height_m


def _in_box(r: BuildingRecord) -> bool:
    return r.bbox_wgs84[0] <= BOX[2] and r.bbox_wgs84[1] <= BOX[3]


@pytest.mark.parametrize(
    ("filter_text", "sortby", "count", "index"),
    [
        ("height > 30", "", True, "objects_height (dataset=? AND height>?)"),
        ("volume >= 2000 AND volume < 3000", "", True, "objects_volume (dataset=? AND volume>?"),
        (None, "-volume", False, "objects_volume (dataset=?)"),
        ("height > 30", "height", False, "objects_height (dataset=? AND height>?)"),
        (None, "footprintArea", False, "objects_footprint_area (dataset=?)"),
    ],
)
def test_measure_filters_and_sorts_read_their_index(
    store: SQLiteStore, filter_text: str | None, sortby: str, count: bool, index: str
) -> None:
    plan = _plan(store, _query(filter_text, sortby), count)
    assert any(index in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan  # nothing sorted


@pytest.mark.parametrize(
    ("filter_text", "sortby", "count"),
    [("height > 30", "", True), ("height > 30", "", False), (None, "-height", False)],
)
def test_a_bbox_starts_from_the_rtree_not_the_measure_index(
    store: SQLiteStore, filter_text: str | None, sortby: str, count: bool
) -> None:
    plan = _plan(store, _query(filter_text, sortby, bbox=True), count)
    assert "SEARCH objects USING PRIMARY KEY (dataset=? AND id=?)" in plan, plan
    assert any("SCAN r VIRTUAL TABLE" in step for step in plan), plan
    assert not any("objects_height" in step for step in plan), plan


def test_descending_sort_pages_match_python(store: SQLiteStore) -> None:
    expected = sorted(RECORDS, key=lambda r: (_height(r), r.id), reverse=True)
    pages = [
        store.features.page(dataclasses.replace(_query(sortby="-height"), offset=o, limit=150))
        for o in (0, 150, 300)
    ]
    assert [r.id for page in pages for r in page] == [r.id for r in expected]


def test_bbox_filter_sort_matches_python(store: SQLiteStore) -> None:
    query = dataclasses.replace(_query("height > 20", "-height", bbox=True), limit=None)
    kept = [r for r in RECORDS if _in_box(r) and _height(r) > 20]
    expected = sorted(kept, key=lambda r: (_height(r), r.id), reverse=True)
    assert [r.id for r in store.features.page(query)] == [r.id for r in expected]
    assert store.features.count(query) == len(expected) > 0


def test_statistics_come_back_when_a_catalog_without_them_is_opened(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    info = DatasetInfo("grid", "Grid", "EPSG:4326", N, None, dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    store.publish(info, RECORDS, store.staging_dir("grid"))
    query = _query("height > 30", bbox=True)
    store.close()
    db = sqlite3.connect(tmp_path / "data" / "twin.db")
    db.execute("DELETE FROM sqlite_stat1")  # as a catalog indexed by an older twin
    db.commit()
    db.close()
    # a store with another connection's statistics gone plans as without statistics
    db = sqlite3.connect(tmp_path / "data" / "twin.db")
    register_functions(db)
    where = query.sql_where()
    plan = [r[3] for r in db.execute(f"EXPLAIN QUERY PLAN SELECT count(*) FROM objects "
                                      f"WHERE {where.sql}", where.params)]  # fmt: skip
    db.close()
    assert any("objects_height" in step for step in plan), plan
    store = SQLiteStore(tmp_path / "data")
    assert not any("objects_height" in step for step in _plan(store, query, count=True))


def test_the_dataset_name_resolves_to_its_generation_through_primary_keys(
    store: SQLiteStore,
) -> None:
    """One statement resolves the name and reads the rows (one snapshot), by index both."""
    db = sqlite3.connect(store.data_dir / "twin.db")
    try:
        sql = f"EXPLAIN QUERY PLAN SELECT * FROM objects WHERE dataset = {CURRENT} AND id = ?"
        plan = [row[3] for row in db.execute(sql, ("grid", "B001"))]
    finally:
        db.close()
    assert plan == [
        "SEARCH objects USING PRIMARY KEY (dataset=? AND id=?)",
        "SCALAR SUBQUERY 1",
        "SEARCH datasets USING INDEX sqlite_autoindex_datasets_1 (name=?)",
    ]
