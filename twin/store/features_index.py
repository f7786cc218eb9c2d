"""An R*Tree over the objects' bounding boxes, derived from the catalog, for bbox queries.

The catalog's ``objects_bbox`` B-tree can bound one coordinate only: a bbox query scans about
half a city's index to find a few hundred candidates (measured by ``scripts/bench_ogc.py``:
seconds at 100,000 buildings once the rows are read). SQLite's R*Tree bounds all four. It is
derived data: built per dataset on the first bbox query after an import (the dataset's
``imported_at`` is remembered beside it) and rebuilt when that stamp changes, so the importer
does not need to know of it.

R*Tree keeps 32-bit floats rounded outwards, so it returns a superset of the candidates; the
exact bounding box test and the footprint test still follow.

The same step refreshes the planner's statistics of ``objects`` (``ANALYZE`` on a sample).
Without them SQLite guesses that ``dataset = ?`` matches ten rows, so a bbox with
``height > 30`` or ``sortby=-height`` walked the whole ``objects_height`` index testing each
row against the R*Tree's ids; with them it starts from the R*Tree's few hundred candidates.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Final

__all__ = ["RTREE_CANDIDATES", "ensure_rtree"]

log = logging.getLogger(__name__)

_SCHEMA: Final = (
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
    "AND k.dataset = ?)"
)
"""SQL selecting the ids whose box meets ``(max_lon, min_lon, max_lat, min_lat, dataset)``."""


def ensure_rtree(cur: sqlite3.Cursor, dataset: str) -> None:
    """Build or rebuild the R*Tree rows of ``dataset`` (and the planner's statistics) unless
    they match its current import."""
    stamp = cur.execute("SELECT imported_at FROM datasets WHERE name = ?", (dataset,)).fetchone()
    if stamp is None:
        return
    for statement in _SCHEMA:
        cur.execute(statement)
    done = cur.execute(
        "SELECT imported_at FROM feature_rtree_state WHERE dataset = ?", (dataset,)
    ).fetchone()
    if done is not None and done[0] == str(stamp[0]):
        if not _has_statistics(cur):  # an R*Tree built by a twin that did not analyze
            _analyze(cur)
        return
    log.info("building the bbox index of dataset %s", dataset)
    cur.execute("BEGIN IMMEDIATE")
    try:
        cur.execute(
            "DELETE FROM feature_rtree WHERE rid IN "
            "(SELECT rid FROM feature_rtree_keys WHERE dataset = ?)",
            (dataset,),
        )
        cur.execute("DELETE FROM feature_rtree_keys WHERE dataset = ?", (dataset,))
        cur.execute(
            "INSERT INTO feature_rtree_keys (dataset, id) SELECT dataset, id FROM objects "
            "WHERE dataset = ?",
            (dataset,),
        )
        cur.execute(
            "INSERT INTO feature_rtree (rid, min_lon, max_lon, min_lat, max_lat) "
            "SELECT k.rid, o.min_lon, o.max_lon, o.min_lat, o.max_lat FROM feature_rtree_keys k "
            "JOIN objects o ON o.dataset = k.dataset AND o.id = k.id WHERE k.dataset = ?",
            (dataset,),
        )
        cur.execute(
            "INSERT OR REPLACE INTO feature_rtree_state (dataset, imported_at) VALUES (?, ?)",
            (dataset, str(stamp[0])),
        )
        _analyze(cur)
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise


def _analyze(cur: sqlite3.Cursor) -> None:
    """Refresh the planner's statistics of ``objects`` from a sample of each index."""
    cur.execute(f"PRAGMA analysis_limit = {_ANALYSIS_ROWS}")
    cur.execute("ANALYZE objects")


def _has_statistics(cur: sqlite3.Cursor) -> bool:
    table = cur.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
    if table is None:
        return False
    return cur.execute("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'objects'").fetchone() is not None
