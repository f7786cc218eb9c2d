"""An R*Tree over the objects' bounding boxes, derived from the catalog, for bbox queries.

The catalog's ``objects_bbox`` B-tree can bound one coordinate only: a bbox query scans about
half a city's index to find a few hundred candidates (measured by ``scripts/bench_ogc.py``:
seconds at 100,000 buildings once the rows are read). SQLite's R*Tree bounds all four. Its rows
are keyed like the catalog's, by generation (:mod:`twin.store.generations`), and written by the
publish with each chunk of catalog rows (:func:`index_records`), so an import's R*Tree is
complete when the dataset is swapped to it and no reader ever writes. A catalog indexed by an
older twin (lazily, per dataset, remembering the ``imported_at`` it indexed in
``feature_rtree_state``) gets the missing ones built when the store opens
(:func:`index_unindexed`).

R*Tree keeps 32-bit floats rounded outwards, so it returns a superset of the candidates; the
exact bounding box test and the footprint test still follow.

The publish also refreshes the planner's statistics of ``objects`` (:func:`analyze`, on a
sample). Without them SQLite guesses that ``dataset = ?`` matches ten rows, so a bbox with
``height > 30`` or ``sortby=-height`` walked the whole ``objects_height`` index testing each
row against the R*Tree's ids; with them it starts from the R*Tree's few hundred candidates.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Final

from twin.store.generations import CURRENT, Transaction

__all__ = [
    "RTREE_CANDIDATES",
    "SCHEMA",
    "Unindexed",
    "analyze",
    "index_records",
    "index_unindexed",
    "mark_indexed",
    "unindexed",
]

log = logging.getLogger(__name__)

SCHEMA: Final = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS feature_rtree "
    "USING rtree(rid, min_lon, max_lon, min_lat, max_lat)",
    "CREATE TABLE IF NOT EXISTS feature_rtree_keys ("
    "rid INTEGER PRIMARY KEY, dataset TEXT NOT NULL, id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS feature_rtree_keys_dataset ON feature_rtree_keys (dataset)",
    "CREATE TABLE IF NOT EXISTS feature_rtree_state (dataset TEXT PRIMARY KEY, imported_at TEXT)",
)

_ANALYSIS_ROWS: Final = 1000
"""Rows of each index ``ANALYZE`` samples: well under a second at 100,000 objects."""

RTREE_CANDIDATES: Final = (
    "id IN (SELECT k.id FROM feature_rtree r CROSS JOIN feature_rtree_keys k ON k.rid = r.rid "
    "WHERE r.min_lon <= ? AND r.max_lon >= ? AND r.min_lat <= ? AND r.max_lat >= ? "
    f"AND k.dataset = {CURRENT})"
)
"""SQL selecting the ids whose box meets ``(max_lon, min_lon, max_lat, min_lat, dataset)``
(the dataset's name: resolved to the generation it serves in the same statement)."""

Box = tuple[float, float, float, float]
"""An R*Tree box: ``(min_lon, max_lon, min_lat, max_lat)``, degrees (CRS84)."""


def index_records(cur: sqlite3.Cursor, key: str, boxes: Sequence[tuple[str, Box]]) -> None:
    """Add ``(id, (min_lon, max_lon, min_lat, max_lat))`` of generation ``key`` to the R*Tree,
    inside the caller's transaction."""
    if not boxes:
        return
    (last,) = cur.execute("SELECT coalesce(max(rid), 0) FROM feature_rtree_keys").fetchone()
    cur.executemany(
        "INSERT INTO feature_rtree_keys (rid, dataset, id) VALUES (?, ?, ?)",
        [(last + 1 + k, key, oid) for k, (oid, _) in enumerate(boxes)],
    )
    cur.executemany(
        "INSERT INTO feature_rtree (rid, min_lon, max_lon, min_lat, max_lat) "
        "VALUES (?, ?, ?, ?, ?)",
        [(last + 1 + k, *box) for k, (_, box) in enumerate(boxes)],
    )


def mark_indexed(cur: sqlite3.Cursor, key: str, imported_at: str) -> None:
    """Record that generation ``key`` (imported at ``imported_at``) has its R*Tree rows."""
    cur.execute(
        "INSERT OR REPLACE INTO feature_rtree_state (dataset, imported_at) VALUES (?, ?)",
        (key, imported_at),
    )


Unindexed = tuple[list[tuple[str, str]], bool]
"""What :func:`unindexed` found: ``(generation, imported_at)`` without an R*Tree, and whether
the planner's statistics are there."""


def unindexed(cur: sqlite3.Cursor) -> Unindexed:
    """Return what an older twin left unindexed (read only: no write lock when nothing is)."""
    missing = cur.execute(
        "SELECT d.generation, d.imported_at FROM datasets d WHERE NOT EXISTS "
        "(SELECT 1 FROM feature_rtree_state s WHERE s.dataset = d.generation "
        "AND s.imported_at = d.imported_at)"
    ).fetchall()
    return missing, _has_statistics(cur)


def index_unindexed(transaction: Transaction, found: Unindexed) -> None:
    """Build the R*Tree of each generation :func:`unindexed` found (one transaction each: a
    one-off on the first open after an upgrade), and the planner's statistics if missing."""
    missing, statistics = found
    for key, imported_at in missing:
        log.info("building the bbox index of generation %s", key)
        with transaction() as tx:
            tx.execute(
                "DELETE FROM feature_rtree WHERE rid IN "
                "(SELECT rid FROM feature_rtree_keys WHERE dataset = ?)",
                (key,),
            )
            tx.execute("DELETE FROM feature_rtree_keys WHERE dataset = ?", (key,))
            tx.execute(
                "INSERT INTO feature_rtree_keys (dataset, id) SELECT dataset, id FROM objects "
                "WHERE dataset = ?",
                (key,),
            )
            tx.execute(
                "INSERT INTO feature_rtree (rid, min_lon, max_lon, min_lat, max_lat) "
                "SELECT k.rid, o.min_lon, o.max_lon, o.min_lat, o.max_lat "
                "FROM feature_rtree_keys k JOIN objects o ON o.dataset = k.dataset "
                "AND o.id = k.id WHERE k.dataset = ?",
                (key,),
            )
            mark_indexed(tx, key, imported_at)
    if missing or not statistics:
        with transaction() as tx:
            analyze(tx)


def analyze(cur: sqlite3.Cursor) -> None:
    """Refresh the planner's statistics of ``objects`` from a sample of each index."""
    cur.execute(f"PRAGMA analysis_limit = {_ANALYSIS_ROWS}")
    cur.execute("ANALYZE objects")


def _has_statistics(cur: sqlite3.Cursor) -> bool:
    table = cur.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
    if table is None:
        return False
    return cur.execute("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'objects'").fetchone() is not None
