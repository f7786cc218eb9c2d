"""The WAL file shrinks back after a publish: a large import grows it (SQLite never shrinks the
file by itself), and a server holding the database open must not keep that size on disk."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from synth import synth_city

from twin.pipeline import ImportOptions, import_files
from twin.pipeline.importer import Progress
from twin.store import SQLiteStore

LIMIT_PAGES = 256  # 1 MiB of 4 KiB pages; a publish of 600 buildings logs several times that
NOW = "2026-01-01T00:00:00Z"
ROOM = {"id": "urn:ngsi-ld:Room:1", "type": ["Room"], "attrs": {}, "createdAt": NOW,
        "modifiedAt": NOW}  # fmt: skip

Beside = tuple[SQLiteStore, sqlite3.Connection]


@pytest.fixture
def beside(tmp_path: Path) -> Iterator[Beside]:
    """An importing store with a small WAL limit, and a `twin serve` connection beside it."""
    data = tmp_path / "data"
    store = SQLiteStore(data, importing=True, wal_limit_pages=LIMIT_PAGES)
    server = sqlite3.connect(data / "twin.db", isolation_level=None)
    yield store, server
    server.close()
    store.close()


def import_city(store: SQLiteStore, n: int, progress: Progress | None = None) -> None:
    source = store.data_dir.parent / "city.gml"
    synth_city().write_city(source, n, seed=n)
    import_files([source], store, ImportOptions(dataset="city", workers=1), progress)


def wal_bytes(store: SQLiteStore) -> int:
    return (store.data_dir / "twin.db-wal").stat().st_size


def limit_bytes(store: SQLiteStore) -> int:
    return LIMIT_PAGES * int(store._db.execute("PRAGMA page_size").fetchone()[0])


def test_the_wal_file_is_back_within_its_limit_after_a_large_publish(beside: Beside) -> None:
    store, server = beside
    peak = 0

    def watch(stage: str, done: int, total: int | None) -> None:
        nonlocal peak
        if stage == "publish" and (store.data_dir / "twin.db-wal").exists():
            peak = max(peak, wal_bytes(store))

    import_city(store, 600, watch)
    assert peak > 2 * limit_bytes(store)  # the publish did grow the log past the limit
    assert wal_bytes(store) <= limit_bytes(store)
    assert server.execute("SELECT count(*) FROM objects").fetchone()[0] > 0  # serving on


def test_a_reader_in_the_way_delays_the_truncation_to_the_next_log_start(beside: Beside) -> None:
    """A reader on an older snapshot keeps the log: the publish does not wait for it, and the
    first commit after a full checkpoint truncates the file to ``journal_size_limit``."""
    store, server = beside
    server.execute("BEGIN")
    server.execute("SELECT count(*) FROM objects").fetchone()  # holds its snapshot
    import_city(store, 300)
    assert wal_bytes(store) > limit_bytes(store)  # nothing was checkpointed past the reader
    server.execute("COMMIT")
    server.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    store.entities.create("", ROOM)  # starts the log over
    assert wal_bytes(store) <= limit_bytes(store)
