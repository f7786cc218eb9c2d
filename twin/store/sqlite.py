"""The embedded store: SQLite (WAL) for the catalog, a folder of tilesets beside it.

Layout of the data directory::

    twin.db                       datasets, city objects, their LoD surfaces (WKB, apart so
                                  pages that do not ask for them never read them), NGSI-LD
                                  entities (twin.store.entities)
    tilesets/<dataset>            symlink to the version being served
    tilesets/.versions/<v>/       tileset.json + content of one import

A new tileset is written into a fresh version folder and published by replacing the symlink
with ``os.replace``, which is atomic on POSIX: a reader sees the old tileset or the new one,
never a mix, and an import killed midway leaves the served one untouched.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from twin.errors import InputError, NotFoundError, StoreBusyError, StoreError
from twin.model import Address, AttributeValue, BuildingRecord, DatasetInfo, Measures
from twin.store.buildings import sync_building_entities
from twin.store.derived import DERIVED, derived_values
from twin.store.entities import ENTITY_SCHEMA, SQLiteEntities
from twin.store.features import SQLiteFeatures

__all__ = ["SQLiteStore", "validate_dataset_name"]

log = logging.getLogger(__name__)

_DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    srs_name TEXT,
    object_count INTEGER NOT NULL,
    bbox TEXT,
    imported_at TEXT NOT NULL,
    report TEXT NOT NULL,
    surface_areas TEXT
);
CREATE TABLE IF NOT EXISTS objects (
    dataset TEXT NOT NULL REFERENCES datasets(name) ON DELETE CASCADE,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    parent_id TEXT,
    lod INTEGER,
    min_lon REAL NOT NULL, min_lat REAL NOT NULL, min_h REAL NOT NULL,
    max_lon REAL NOT NULL, max_lat REAL NOT NULL, max_h REAL NOT NULL,
    footprint TEXT,
    attributes TEXT NOT NULL,
    address TEXT,
    tile TEXT,
    feature_id INTEGER,
    PRIMARY KEY (dataset, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_bbox ON objects (dataset, min_lon, max_lon, min_lat, max_lat);
CREATE TABLE IF NOT EXISTS object_lod (
    dataset TEXT NOT NULL,
    id TEXT NOT NULL,
    geometry BLOB NOT NULL,
    PRIMARY KEY (dataset, id)
);
"""
_ADDED_COLUMNS = (
    ("datasets", "surface_areas TEXT"),
    *(("objects", f"{d.column} {'TEXT' if d.kind == 'string' else 'REAL'}") for d in DERIVED),
)
"""Columns added after the first schema, in order: a catalog from before gets them on open."""
_DERIVED_INDEXES = tuple(
    f"CREATE INDEX IF NOT EXISTS objects_{d.column} ON objects (dataset, {d.column})"
    for d in DERIVED
)
"""One index per derived column (after the dataset, which every query names): a filter such
as ``height > 30`` reads a range of it, ``sortby=-volume`` with a limit walks it from one end
instead of sorting the dataset. Created after :data:`_ADDED_COLUMNS`, which they index."""
_OBJECT_COLUMNS = 16 + len(DERIVED)
_PUBLISH_CHUNK = 256  # catalog rows inserted at a time while publishing (memory: one chunk)


def validate_dataset_name(name: str) -> str:
    """Return ``name`` if it is a valid dataset name, else raise InputError.

    >>> validate_dataset_name("berlin-mitte")
    'berlin-mitte'
    """
    if not _DATASET_NAME.match(name):
        raise InputError(
            f"invalid dataset name {name!r}: use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return name


def _json_default(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the catalog")


def _dumps(value: object) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


class SQLiteStore:
    """The embedded :class:`twin.store.Store`: one SQLite file and a folder of tilesets.

    Parameters
    ----------
    data_dir : Path
        Created when missing.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._tilesets = self.data_dir / "tilesets"
        self._versions = self._tilesets / ".versions"
        self._lock = threading.Lock()
        try:
            self._versions.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.data_dir / "twin.db", check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit returns once the WAL is fsynced, so an acknowledged NGSI-LD write
            # survives a power loss (NORMAL may lose the last commits); see entities.py.
            self._db.execute("PRAGMA synchronous=FULL")
            # index probes of entity queries hit random pages: map the file, keep more cached
            self._db.execute("PRAGMA mmap_size=1073741824")
            self._db.execute("PRAGMA cache_size=-65536")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            _add_columns(self._db)
            for statement in _DERIVED_INDEXES:
                self._db.execute(statement)
            self._db.executescript(ENTITY_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the data directory {self.data_dir}: {exc}") from exc
        self.entities = SQLiteEntities(self._cursor)
        """NGSI-LD entities, history and tenants, in the same database."""
        self.features = SQLiteFeatures(self._cursor, _record_from_row)
        """Feature queries (bbox, datetime, CQL2, sort, pages) over the building catalog."""

    # -- reads -------------------------------------------------------------------------------

    def list_datasets(self) -> list[DatasetInfo]:
        with self._cursor() as cur:
            rows = cur.execute("SELECT * FROM datasets ORDER BY name").fetchall()
        return [_dataset_from_row(r) for r in rows]

    def get_dataset(self, name: str) -> DatasetInfo:
        with self._cursor() as cur:
            row = cur.execute("SELECT * FROM datasets WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"no dataset named {name!r}")
        return _dataset_from_row(row)

    def get_object(self, dataset: str, object_id: str) -> BuildingRecord:
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT * FROM objects WHERE dataset = ? AND id = ?", (dataset, object_id)
            ).fetchone()
        if row is None:
            self.get_dataset(dataset)  # says which of the two is unknown
            raise NotFoundError(f"no object {object_id!r} in dataset {dataset!r}")
        return _record_from_row(row)

    def tileset_dir(self, dataset: str) -> Path:
        link = self._tilesets / validate_dataset_name(dataset)
        if not link.is_dir():
            raise NotFoundError(f"no tileset for dataset {dataset!r}")
        return link.resolve()

    # -- writes ------------------------------------------------------------------------------

    def staging_dir(self, dataset: str) -> Path:
        validate_dataset_name(dataset)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        path = self._versions / f"{dataset}-{stamp}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def publish(self, info: DatasetInfo, records: Iterable[BuildingRecord], staging: Path) -> None:
        """Replace the dataset's catalog and tileset in one transaction.

        ``records`` is read once, a chunk at a time, so they need not all be in memory.
        """
        validate_dataset_name(info.name)
        with self._cursor() as cur:
            cur.execute("BEGIN IMMEDIATE")  # busy: no transaction to roll back
            try:
                cur.execute("DELETE FROM objects WHERE dataset = ?", (info.name,))
                cur.execute("DELETE FROM object_lod WHERE dataset = ?", (info.name,))
                cur.execute(
                    "INSERT OR REPLACE INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        info.name,
                        info.title,
                        info.srs_name,
                        info.object_count,
                        None if info.bbox_wgs84 is None else _dumps(info.bbox_wgs84),
                        info.imported_at.isoformat(),
                        _dumps(info.report),
                        _dumps(dict(info.surface_areas_m2)),
                    ),
                )
                inserted = self._inserted(info.name, records)
                sync_building_entities(cur, info.name, inserted)
                for _ in inserted:  # rows the entity sync did not need to see
                    pass
                self._swap_tileset(info.name, staging)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def _inserted(
        self, dataset: str, records: Iterable[BuildingRecord]
    ) -> Iterator[BuildingRecord]:
        """Insert ``records`` into ``objects`` and ``object_lod`` a chunk at a time, yielding
        each chunk's records once inserted (its own cursor: the consumer may use another)."""
        marks = ",".join("?" * _OBJECT_COLUMNS)
        cur = self._db.cursor()
        rest = iter(records)
        try:
            while chunk := list(itertools.islice(rest, _PUBLISH_CHUNK)):
                cur.executemany(
                    f"INSERT INTO objects VALUES ({marks})",
                    [_record_to_row(dataset, r) for r in chunk],
                )
                cur.executemany(
                    "INSERT INTO object_lod VALUES (?, ?, ?)",
                    [(dataset, r.id, r.lod_geometry) for r in chunk if r.lod_geometry],
                )
                yield from chunk
        finally:
            cur.close()

    def _swap_tileset(self, dataset: str, staging: Path) -> None:
        link = self._tilesets / dataset
        previous = link.resolve() if link.is_symlink() else None
        tmp_link = self._tilesets / f".{dataset}.{uuid.uuid4().hex[:8]}"
        os.symlink(os.path.relpath(staging, self._tilesets), tmp_link)
        os.replace(tmp_link, link)
        if previous is not None and previous != staging.resolve():
            shutil.rmtree(previous, ignore_errors=True)
        log.info("published tileset %s -> %s", dataset, staging.name)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            try:
                cur = self._db.cursor()
            except sqlite3.Error as exc:
                raise StoreError(f"catalog {self.data_dir / 'twin.db'}: {exc}") from exc
            try:
                yield cur
            except sqlite3.Error as exc:
                if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise StoreBusyError(
                        "the store is busy: another writer (an import publishing a dataset) "
                        "holds it; retry shortly"
                    ) from exc
                raise StoreError(f"catalog {self.data_dir / 'twin.db'}: {exc}") from exc
            finally:
                cur.close()


def _add_columns(db: sqlite3.Connection) -> None:
    """Add the columns a catalog written by an older twin lacks (NULL until re-imported)."""
    for table, column in _ADDED_COLUMNS:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column.split()[0] not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")


def _record_to_row(dataset: str, r: BuildingRecord) -> tuple[Any, ...]:
    return (
        dataset,
        r.id,
        r.type,
        r.parent_id,
        r.lod,
        *r.bbox_wgs84[:3],
        *r.bbox_wgs84[3:],
        None if r.footprint is None else _dumps(r.footprint),
        _dumps(dict(r.attributes)),
        None if r.address is None else _dumps(r.address.as_dict()),
        r.tile,
        r.feature_id,
        *derived_values(r).values(),
    )


def _record_from_row(row: tuple[Any, ...]) -> BuildingRecord:
    (dataset, oid, otype, parent, lod, x0, y0, z0, x1, y1, z1, fp, attrs, addr, tile, fid) = row[
        :16
    ]
    attributes: Mapping[str, AttributeValue] = json.loads(attrs)
    return BuildingRecord(
        dataset=dataset,
        id=oid,
        type=otype,
        parent_id=parent,
        lod=lod,
        bbox_wgs84=(x0, y0, z0, x1, y1, z1),
        footprint=None if fp is None else json.loads(fp),
        attributes=attributes,
        address=None if addr is None else Address(**json.loads(addr)),
        tile=tile,
        feature_id=fid,
        measures=Measures(*row[16 + 4 :]),  # after the four derived address columns
    )


def _dataset_from_row(row: tuple[Any, ...]) -> DatasetInfo:
    name, title, srs, count, bbox, imported_at, report, areas = row
    return DatasetInfo(
        name=name,
        title=title,
        srs_name=srs,
        object_count=count,
        bbox_wgs84=None if bbox is None else tuple(json.loads(bbox)),
        imported_at=dt.datetime.fromisoformat(imported_at),
        report=json.loads(report),
        surface_areas_m2={} if areas is None else json.loads(areas),
    )
