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

The catalog rows are published the same way, aside and then swapped (see
:mod:`twin.store.generations`): written under a fresh generation key in short transactions,
swapped in by one short transaction, the old generation deleted after in short transactions.
SQLite has one writer at a time, so no transaction of the publish holds the write lock for
long: live NGSI-LD writes beside an import wait milliseconds, not the whole publish.

The building entities (:mod:`twin.store.buildings`) are written with each chunk, before the
swap: from the first chunk to the swap (seconds at 100,000 buildings), an entity can carry the
new import's static attributes while the catalog and tiles still serve the old; buildings that
left the dataset lose their entity just after the swap. Leftovers of a killed import (its
generation's rows, its staging folder) are deleted by the next import or store open, unless
the import still runs (:mod:`twin.store.staging`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from twin.errors import InputError, NotFoundError, StoreBusyError, StoreError, TwinError
from twin.model import Address, AttributeValue, BuildingRecord, DatasetInfo, Measures
from twin.store.buildings import CHUNK, BuildingSync, delete_buildings
from twin.store.checkpoint import WAL_LIMIT_PAGES, truncate_wal
from twin.store.derived import DERIVED, derived_values
from twin.store.entities import ENTITY_SCHEMA, SQLiteEntities
from twin.store.features import SQLiteFeatures
from twin.store.features_index import SCHEMA as RTREE_SCHEMA
from twin.store.features_index import (
    analyze,
    index_records,
    index_unindexed,
    mark_indexed,
    unindexed,
)
from twin.store.generations import (
    CURRENT,
    dataset_of,
    delete_generation,
    leftover_generations,
    new_key,
)
from twin.store.generations import SCHEMA as GENERATIONS_SCHEMA
from twin.store.record_json import RecordJson, dumps, record_json
from twin.store.staging import (
    StagingLocks,
    remove_unowned_folders,
    served_folders,
    swap_link,
    unowned,
)

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
    surface_areas TEXT,
    generation TEXT
);
CREATE TABLE IF NOT EXISTS objects (
    dataset TEXT NOT NULL,
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
    ("datasets", "generation TEXT"),
    ("building_entities", "generation TEXT"),
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
# the columns a DatasetInfo is read from (not the generation, which only the store reads)
_DATASET_COLUMNS = "name, title, srs_name, object_count, bbox, imported_at, report, surface_areas"
_BUILDINGS_BY_GENERATION = (
    "CREATE INDEX IF NOT EXISTS building_entities_generation "
    "ON building_entities (dataset, generation)"
)
"""Which import wrote each building entity: those a re-import did not write are found from
it (twin.store.buildings.BuildingSync.gone) without scanning the dataset or keeping ids."""
_OBJECT_COLUMNS = 16 + len(DERIVED)
_PUBLISH_CHUNK = 128
"""Records written per transaction while publishing (their catalog rows, R*Tree rows and
building entities): tens of ms of write lock each; memory: one chunk."""
_CHECKPOINT_CHUNKS = 8
"""Chunks a publish writes between two WAL checkpoints (~64 MB of WAL at 10,000 buildings)."""


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


class SQLiteStore:
    """The embedded :class:`twin.store.Store`: one SQLite file and a folder of tilesets.

    Parameters
    ----------
    data_dir : Path
        Created when missing.
    importing : bool
        The connection publishes an import: no memory map (its pages would count in the
        process's RSS, up to the map's 1 GB while a re-import reads the previous catalog) and
        temporary tables and sorts on disk, so an import's memory does not grow with the city.
    wal_limit_pages : int
        Log pages the WAL file is truncated to when the log starts over
        (``journal_size_limit``; :mod:`twin.store.checkpoint`).
    """

    def __init__(
        self, data_dir: Path, *, importing: bool = False, wal_limit_pages: int = WAL_LIMIT_PAGES
    ) -> None:
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
            if importing:
                self._db.execute("PRAGMA mmap_size=0")
                self._db.execute("PRAGMA temp_store=FILE")
            # off: an old catalog's objects.dataset REFERENCES datasets(name) ON DELETE CASCADE,
            # which generation keys (twin.store.generations) cannot satisfy
            self._db.execute("PRAGMA foreign_keys=OFF")
            self._db.executescript(_SCHEMA)
            (page_size,) = self._db.execute("PRAGMA page_size").fetchone()
            self._db.execute(f"PRAGMA journal_size_limit={int(wal_limit_pages * page_size)}")
            self._db.executescript(ENTITY_SCHEMA)
            _add_columns(self._db)
            # a catalog from before generations: each dataset's rows are keyed by its name
            self._db.execute("UPDATE datasets SET generation = name WHERE generation IS NULL")
            for statement in (
                *_DERIVED_INDEXES,
                _BUILDINGS_BY_GENERATION,
                *RTREE_SCHEMA,
                GENERATIONS_SCHEMA,
            ):
                self._db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the data directory {self.data_dir}: {exc}") from exc
        self._staging = StagingLocks(self._versions)
        self.longest_write_s = 0.0
        """The longest this store held the write lock in one of its publish transactions."""
        with self._cursor() as cur:
            found = unindexed(cur)
        index_unindexed(self._transaction, found)
        self.collect_leftovers()
        self.entities = SQLiteEntities(self._cursor)
        """NGSI-LD entities, history and tenants, in the same database."""
        self.features = SQLiteFeatures(self._cursor, _record_from_row)
        """Feature queries (bbox, datetime, CQL2, sort, pages) over the building catalog."""

    # -- reads -------------------------------------------------------------------------------

    def list_datasets(self) -> list[DatasetInfo]:
        with self._cursor() as cur:
            rows = cur.execute(f"SELECT {_DATASET_COLUMNS} FROM datasets ORDER BY name").fetchall()
        return [_dataset_from_row(r) for r in rows]

    def get_dataset(self, name: str) -> DatasetInfo:
        with self._cursor() as cur:
            row = cur.execute(
                f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no dataset named {name!r}")
        return _dataset_from_row(row)

    def get_object(self, dataset: str, object_id: str) -> BuildingRecord:
        with self._cursor() as cur:
            row = cur.execute(
                f"SELECT * FROM objects WHERE dataset = {CURRENT} AND id = ?", (dataset, object_id)
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
        """Return a fresh staging folder for an import of ``dataset``; raise StoreBusyError
        while another import of it runs (each would retire the building entities the other
        wrote): the dataset stays locked until :meth:`publish` or :meth:`discard_staging`."""
        validate_dataset_name(dataset)
        try:
            self._staging.hold(_importing(dataset))
        except BlockingIOError:
            raise StoreBusyError(
                f"another import of dataset {dataset!r} is running; wait until it ends, or "
                "import under another --dataset name"
            ) from None
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{dataset}-{stamp}-{uuid.uuid4().hex[:8]}"
        try:
            self._staging.hold(name)  # before the folder exists: nobody cleans it up meanwhile
            path = self._versions / name
            path.mkdir()
        except BaseException:
            self._staging.release(_importing(dataset))
            raise
        return path

    def discard_staging(self, staging: Path) -> None:
        if staging.resolve() not in served_folders(self._tilesets):
            shutil.rmtree(staging, ignore_errors=True)
        self._staging.release(staging.name)
        self._staging.release(_importing(_staging_dataset(staging.name)))

    def publish(self, info: DatasetInfo, records: Iterable[BuildingRecord], staging: Path) -> None:
        """Replace the dataset's catalog and tileset, holding the write lock only briefly.

        ``records`` is read once, a chunk at a time, so they need not all be in memory. Each
        chunk's catalog rows, R*Tree rows and building entities are written in a transaction
        of their own under a fresh generation, which one short transaction then swaps in;
        the old generation is deleted after, in short transactions too.
        """
        validate_dataset_name(info.name)
        self._staging.hold(staging.name)
        key = new_key(info.name)
        try:
            with self._transaction() as cur:
                cur.execute(
                    "INSERT INTO generations VALUES (?, ?, ?)", (key, info.name, staging.name)
                )
            sync = self._write_generation(key, info.name, records)
            old = self._swap(key, info, staging)
        except BaseException:
            with contextlib.suppress(TwinError):  # else the next store open deletes them
                delete_generation(self._transaction, key)
            raise
        finally:
            self._staging.release(staging.name)
            self._staging.release(_importing(info.name))
        try:  # published: a failure from here on is a warning, not a failed import
            self._retire(info.name, old, sync)
            with self._cursor() as cur:  # the publish grew the WAL file; give the disk back
                truncate_wal(cur)
        except TwinError as exc:
            log.warning(
                "dataset %s is published, but tidying up after it failed: %s", info.name, exc
            )

    def update_report(self, info: DatasetInfo) -> None:
        """Store ``info.report`` as the import report of the publish that wrote ``info`` (same
        name and ``imported_at``); do nothing if a later publish replaced it."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE datasets SET report = ? WHERE name = ? AND imported_at = ?",
                (dumps(info.report), info.name, info.imported_at.isoformat()),
            )

    def _retire(self, dataset: str, old: str | None, sync: BuildingSync) -> None:
        """Delete the entities of buildings that left ``dataset`` (``sync`` did not write
        them), then the rows of generation ``old`` (listed in ``generations``: the next open
        finishes if this stops), then refresh the planner's statistics; each in short
        transactions."""
        while True:
            with self._transaction() as cur:
                if not (gone := sync.gone(cur, CHUNK)):
                    break
                delete_buildings(cur, dataset, gone)
        if old is not None:
            delete_generation(self._transaction, old)
        with self._transaction() as cur:
            analyze(cur)

    def _write_generation(
        self, key: str, dataset: str, records: Iterable[BuildingRecord]
    ) -> BuildingSync:
        """Write ``records`` as generation ``key``: a transaction per chunk of catalog rows,
        R*Tree rows and building entities. Return the entity sync, for what left after."""
        sync = BuildingSync(dataset, key)
        rest = iter(records)
        with self._checkpoints_between_chunks() as checkpoint:
            while chunk := list(itertools.islice(rest, _PUBLISH_CHUNK)):
                self._write_chunk(key, chunk, sync)
                checkpoint()
        return sync

    def _write_chunk(self, key: str, chunk: Sequence[BuildingRecord], sync: BuildingSync) -> None:
        """Write one chunk of generation ``key`` in a transaction of its own."""
        marks = ",".join("?" * _OBJECT_COLUMNS)
        texts = [record_json(r) for r in chunk]  # the rows are made before the transaction
        rows = [_record_to_row(key, r, t) for r, t in zip(chunk, texts, strict=True)]
        lods = [(key, r.id, r.lod_geometry) for r in chunk if r.lod_geometry]
        boxes = [(r.id, _rtree_box(r)) for r in chunk]
        staged = sync.stage(chunk, texts)
        with self._transaction(durable=False) as cur:
            cur.executemany(f"INSERT INTO objects VALUES ({marks})", rows)
            cur.executemany("INSERT INTO object_lod VALUES (?, ?, ?)", lods)
            index_records(cur, key, boxes)
            sync.write_staged(cur, staged)

    @contextmanager
    def _checkpoints_between_chunks(self) -> Iterator[Callable[[], None]]:
        """Checkpoint the WAL every :data:`_CHECKPOINT_CHUNKS` chunks, outside their
        transactions, instead of in every chunk's commit; restore automatic checkpoints after.

        A chunk's rows land on a few pages of each of a dozen indexes, scattered: each commit
        appends ~2,000 pages (8 MB at 10,000 buildings) to the WAL, past the 1,000 pages at
        which SQLite checkpoints inside the ``COMMIT`` — so every chunk held the write lock
        while copying its pages into the database and fsyncing both files. A ``PASSIVE``
        checkpoint between chunks holds no lock a writer needs, and copies a page the chunks
        since the last one rewrote once, not once per chunk.
        """
        with self._cursor() as cur:
            (pages,) = cur.execute("PRAGMA wal_autocheckpoint").fetchone()
            cur.execute("PRAGMA wal_autocheckpoint=0")
        written = 0

        def checkpoint() -> None:
            nonlocal written
            written += 1
            if written % _CHECKPOINT_CHUNKS == 0:
                with self._cursor() as cur:
                    cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

        try:
            yield checkpoint
        finally:
            with self._cursor() as cur:
                cur.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")

    def _swap(self, key: str, info: DatasetInfo, staging: Path) -> str | None:
        """Point the dataset at generation ``key`` (one short transaction), then swap its
        tileset; return the generation served before, now listed for deletion."""
        with self._transaction() as cur:
            row = cur.execute(
                "SELECT generation FROM datasets WHERE name = ?", (info.name,)
            ).fetchone()
            cur.execute(
                f"INSERT OR REPLACE INTO datasets ({_DATASET_COLUMNS}, generation) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.name,
                    info.title,
                    info.srs_name,
                    info.object_count,
                    None if info.bbox_wgs84 is None else dumps(info.bbox_wgs84),
                    info.imported_at.isoformat(),
                    dumps(info.report),
                    dumps(dict(info.surface_areas_m2)),
                    key,
                ),
            )
            mark_indexed(cur, key, info.imported_at.isoformat())
            cur.execute("DELETE FROM generations WHERE key = ?", (key,))
            if row is not None:
                cur.execute(
                    "INSERT OR REPLACE INTO generations VALUES (?, ?, '')", (row[0], info.name)
                )
            previous = swap_link(self._tilesets, info.name, staging)  # a failure rolls back
        if previous is not None and previous != staging.resolve():
            shutil.rmtree(previous, ignore_errors=True)
        return None if row is None else str(row[0])

    def collect_leftovers(self) -> None:
        """Delete what killed imports left: generations no dataset serves and staging folders
        no dataset points at, unless an import (any process) still writes them."""
        with self._cursor() as cur:
            leftovers = leftover_generations(cur)
        for key, folder in leftovers:
            with unowned(self._versions, folder) if folder else nullcontext(True) as free:
                if free:
                    log.info("deleting the rows of generation %s, left by an import", key)
                    delete_generation(self._transaction, key)
        remove_unowned_folders(self._tilesets)

    def close(self) -> None:
        self._staging.release_all()
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[sqlite3.Cursor]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception), timing the hold.

        Not ``durable``: the commit does not wait for the WAL's fsync (``synchronous=NORMAL``;
        the next durable commit syncs it along). For the rows of a generation not yet served:
        a power cut may lose them, as it would lose a killed import, and an fsync per chunk
        would be most of the lock's hold time (~15 ms here).
        """
        with self._cursor() as cur:
            if not durable:
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("BEGIN IMMEDIATE")  # busy: no transaction to roll back
            started = time.perf_counter()
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                held = time.perf_counter() - started
                self.longest_write_s = max(self.longest_write_s, held)
                if not durable:
                    cur.execute("PRAGMA synchronous=FULL")  # as SQLiteStore opened it

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


def _importing(dataset: str) -> str:
    """The staging lock name held while ``dataset`` is imported (``<dataset>.import.lock``:
    not a staging folder's, whose names are ``<dataset>-<stamp>-<hex>``)."""
    return f"{dataset}.import"


def _staging_dataset(name: str) -> str:
    """The dataset a staging folder ``<dataset>-<stamp>-<hex>`` is for."""
    return name.rsplit("-", 2)[0]


def _add_columns(db: sqlite3.Connection) -> None:
    """Add the columns a catalog written by an older twin lacks (NULL until re-imported)."""
    for table, column in _ADDED_COLUMNS:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column.split()[0] not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")


def _rtree_box(r: BuildingRecord) -> tuple[float, float, float, float]:
    x0, y0, _, x1, y1, _ = r.bbox_wgs84
    return (x0, x1, y0, y1)


def _record_to_row(key: str, r: BuildingRecord, texts: RecordJson) -> tuple[Any, ...]:
    return (
        key,
        r.id,
        r.type,
        r.parent_id,
        r.lod,
        *r.bbox_wgs84[:3],
        *r.bbox_wgs84[3:],
        texts.footprint,
        texts.attributes,
        None if r.address is None else dumps(r.address.as_dict()),
        r.tile,
        r.feature_id,
        *derived_values(r).values(),
    )


def _record_from_row(row: tuple[Any, ...]) -> BuildingRecord:
    (key, oid, otype, parent, lod, x0, y0, z0, x1, y1, z1, fp, attrs, addr, tile, fid) = row[:16]
    attributes: Mapping[str, AttributeValue] = json.loads(attrs)
    return BuildingRecord(
        dataset=dataset_of(key),
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
