"""A catalog written before generations (objects keyed by the dataset's name, a foreign key to
``datasets``, the R*Tree built lazily by the first bbox query) keeps working, and is replaced
by the next import like any other."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from test_store_publish import city, counts, publish

from twin.store import SQLiteStore
from twin.store.features import FeatureQuery

OLD_LAYOUT = """
CREATE TABLE datasets (
    name TEXT PRIMARY KEY, title TEXT NOT NULL, srs_name TEXT, object_count INTEGER NOT NULL,
    bbox TEXT, imported_at TEXT NOT NULL, report TEXT NOT NULL, surface_areas TEXT
);
CREATE TABLE objects (
    dataset TEXT NOT NULL REFERENCES datasets(name) ON DELETE CASCADE,
    id TEXT NOT NULL, type TEXT NOT NULL, parent_id TEXT, lod INTEGER,
    min_lon REAL NOT NULL, min_lat REAL NOT NULL, min_h REAL NOT NULL,
    max_lon REAL NOT NULL, max_lat REAL NOT NULL, max_h REAL NOT NULL,
    footprint TEXT, attributes TEXT NOT NULL, address TEXT, tile TEXT, feature_id INTEGER,
    PRIMARY KEY (dataset, id)
) WITHOUT ROWID;
CREATE INDEX objects_bbox ON objects (dataset, min_lon, max_lon, min_lat, max_lat);
CREATE TABLE object_lod (
    dataset TEXT NOT NULL, id TEXT NOT NULL, geometry BLOB NOT NULL, PRIMARY KEY (dataset, id)
);
"""
"""The catalog tables as twin wrote them before generations (and before derived columns)."""


def _old_catalog(data_dir: Path, n: int) -> None:
    """Write a catalog of ``n`` buildings in the old layout, with its served tileset."""
    (data_dir / "tilesets" / ".versions" / "city-old").mkdir(parents=True)
    (data_dir / "tilesets" / "city").symlink_to(Path(".versions") / "city-old")
    db = sqlite3.connect(data_dir / "twin.db")
    db.executescript(OLD_LAYOUT)
    stamp = dt.datetime(2025, 1, 1, tzinfo=dt.UTC).isoformat()
    db.execute(
        "INSERT INTO datasets VALUES ('city', 'Old', 'EPSG:4326', ?, NULL, ?, '{}', NULL)",
        (n, stamp),
    )
    db.executemany(
        "INSERT INTO objects VALUES ('city', ?, 'Building', NULL, 2, ?, ?, 0, ?, ?, 9, NULL, "
        "'{\"storeys\": 1}', NULL, NULL, NULL)",
        [(r.id, *r.bbox_wgs84[:2], *r.bbox_wgs84[3:5]) for r in city(n, storeys=1)],
    )
    db.commit()
    db.close()


def test_an_old_catalog_is_served_then_replaced(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _old_catalog(data_dir, 30)
    store = SQLiteStore(data_dir)
    assert counts(store) == (30, 30, 30)  # the bbox query too: its R*Tree built on open
    assert store.get_object("city", "B00003").dataset == "city"
    box = (11.0, 48.0, 11.0015, 48.0005)  # the first two buildings of the grid's first row
    assert [r.id for r in store.features.page(FeatureQuery("city", bbox_crs84=box))] == [
        "B00000",
        "B00001",
    ]
    publish(store, city(12, storeys=4), 12)
    assert counts(store) == (12, 12, 12)
    assert store._db.execute("SELECT count(*) FROM objects").fetchone() == (12,)
    assert store.get_object("city", "B00003").attributes == {"storeys": 4}
    assert not (data_dir / "tilesets" / ".versions" / "city-old").exists()
    store.close()
