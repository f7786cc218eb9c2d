"""Generations of a dataset's catalog rows: written aside, swapped in, retired, in short steps.

A dataset's rows in ``objects``, ``object_lod`` and the bbox index (``feature_rtree_keys``)
carry, in their ``dataset`` column, a *generation key* rather than the dataset's name; the
``datasets`` row maps the name to the generation being served (``datasets.generation``). An
import writes its rows under a fresh key (``<name>/<hex>``, see :func:`new_key`), chunk by chunk,
each chunk a short transaction that readers never see (no dataset points at the key yet); one
short transaction then points the dataset at the new key (the swap), and the old key's rows
are deleted afterwards, again in short chunks. Every query resolves the name and reads the
rows in one statement (``dataset = (SELECT generation FROM datasets WHERE name = ?)``,
:data:`CURRENT`), and one SQLite statement reads one snapshot: a reader sees the whole old
dataset or the whole new one, never a mix.

Keys being written or deleted are listed in ``generations`` with the staging folder of the
import that writes them ('' for a retired key nobody writes). A key listed there that no
dataset serves and whose import no longer holds its staging lock (:mod:`twin.store.staging`)
is a leftover of a killed import: :func:`leftover_generations` finds them for the store to
delete. A catalog written before generations existed has ``generation = name``: its rows keep
working as they are and are retired like any others on the next import.
"""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import AbstractContextManager
from typing import Final, Protocol

__all__ = [
    "CURRENT",
    "DELETE_CHUNK",
    "SCHEMA",
    "Transaction",
    "dataset_of",
    "delete_generation",
    "leftover_generations",
    "new_key",
]

CURRENT: Final = "(SELECT generation FROM datasets WHERE name = ?)"
"""SQL of the generation key a dataset name (the parameter) serves, for ``dataset = …``."""

SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS generations "
    "(key TEXT PRIMARY KEY, dataset TEXT NOT NULL, staging TEXT NOT NULL)"
)

DELETE_CHUNK: Final = 1000
"""Rows of a retired generation deleted per transaction (each has ~12 index entries: ~20 ms)."""


class Transaction(Protocol):
    """The store's write transaction (``durable=False``: commit without waiting for fsync)."""

    def __call__(self, durable: bool = True) -> AbstractContextManager[sqlite3.Cursor]: ...


def new_key(dataset: str) -> str:
    """Return a fresh generation key of ``dataset`` (dataset names cannot contain ``/``).

    >>> new_key("berlin").startswith("berlin/")
    True
    """
    return f"{dataset}/{uuid.uuid4().hex[:12]}"


def dataset_of(key: str) -> str:
    """Return the dataset name of a generation key (a catalog before generations: the name).

    >>> dataset_of("berlin/0a1b2c3d4e5f"), dataset_of("berlin")
    ('berlin', 'berlin')
    """
    return key.partition("/")[0]


_DELETES: Final = (
    (
        "DELETE FROM feature_rtree WHERE rid IN (SELECT rid FROM feature_rtree_keys "
        "WHERE dataset = ?1 ORDER BY rid LIMIT ?2)",
        "DELETE FROM feature_rtree_keys WHERE rid IN (SELECT rid FROM feature_rtree_keys "
        "WHERE dataset = ?1 ORDER BY rid LIMIT ?2)",
    ),
    (
        "DELETE FROM object_lod WHERE rowid IN (SELECT rowid FROM object_lod "
        "WHERE dataset = ?1 LIMIT ?2)",
    ),
    (
        "DELETE FROM objects WHERE dataset = ?1 AND id IN (SELECT id FROM objects "
        "WHERE dataset = ?1 ORDER BY id LIMIT ?2)",
    ),
)
"""Statements deleting one chunk of a generation's rows, per table; one transaction each."""


def delete_generation(transaction: Transaction, key: str) -> None:
    """Delete every row of generation ``key``, :data:`DELETE_CHUNK` rows per transaction,
    then its ``generations`` and ``feature_rtree_state`` rows."""
    for statements in _DELETES:
        deleted = DELETE_CHUNK
        while deleted == DELETE_CHUNK:
            with transaction(durable=False) as cur:  # listed in generations: redone if lost
                for statement in statements:
                    deleted = cur.execute(statement, (key, DELETE_CHUNK)).rowcount
    with transaction() as cur:
        cur.execute("DELETE FROM generations WHERE key = ?", (key,))
        cur.execute("DELETE FROM feature_rtree_state WHERE dataset = ?", (key,))


def leftover_generations(cur: sqlite3.Cursor) -> list[tuple[str, str]]:
    """Return ``(key, staging folder name)`` of the listed generations no dataset serves."""
    return cur.execute(
        "SELECT key, staging FROM generations "
        "WHERE key NOT IN (SELECT generation FROM datasets WHERE generation IS NOT NULL) "
        "ORDER BY key"
    ).fetchall()
