"""WAL checkpoints run in a background thread: the log reaches the database file, bounded."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from twin.store import SQLiteStore
from twin.store.checkpoint import WalCheckpointer
from twin.store.entities import create_op

NOW = "2024-01-01T00:00:00Z"


def room(i: int) -> dict[str, object]:
    value = [{"type": "Property", "value": "x" * 2000}]
    return {"id": f"urn:ngsi-ld:Room:{i}", "type": ["Room"], "attrs": {"note": value},
            "createdAt": NOW, "modifiedAt": NOW}  # fmt: skip


def rooms_in_database_file(data_dir: Path, tmp_path: Path) -> int:
    """Count the rooms in a copy of twin.db alone (without its WAL): what was checkpointed."""
    copy = tmp_path / "copy.db"
    shutil.copyfile(data_dir / "twin.db", copy)
    db = sqlite3.connect(f"file:{copy}?immutable=1", uri=True)
    try:
        (n,) = db.execute("SELECT count(*) FROM entities").fetchone()
    except sqlite3.DatabaseError:  # copied while a checkpoint wrote it: a torn copy, not yet
        return -1
    finally:
        db.close()
    return int(n)


def test_writes_reach_the_database_file_without_automatic_checkpoints(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    checkpointer = store.entities.wal_checkpointer(interval_s=0.05)
    checkpointer.start()
    try:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        for i in range(40):
            store.entities.create("", room(i))
        deadline = time.monotonic() + 10
        while rooms_in_database_file(tmp_path / "data", tmp_path) < 40:
            assert time.monotonic() < deadline, "the WAL was never checkpointed"
            time.sleep(0.05)
    finally:
        checkpointer.stop()
    assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
    store.close()


def test_the_wal_file_stays_within_its_limit(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    checkpointer = WalCheckpointer(store._cursor, interval_s=0.02, limit_pages=32)
    checkpointer.start()
    wal = tmp_path / "data" / "twin.db-wal"
    try:
        store.entities.run([create_op("", room(i)) for i in range(100)])
        assert wal.stat().st_size > 32 * 4096  # one big transaction passed the limit
        time.sleep(0.3)  # checkpointed meanwhile
        store.entities.create("", room(1000))  # starts the log over: the file is truncated
        assert wal.stat().st_size <= 32 * 4096
    finally:
        checkpointer.stop()
    store.close()


def test_stopping_after_the_store_closed_is_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(tmp_path / "data")
    checkpointer = store.entities.wal_checkpointer(interval_s=0.05)
    checkpointer.start()
    store.entities.create("", room(0))
    store.close()
    checkpointer.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


class Failing(WalCheckpointer):
    def checkpoint(self, db: sqlite3.Connection) -> tuple[int, int]:
        raise RuntimeError("injected")


def test_a_failing_thread_turns_automatic_checkpoints_back_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(tmp_path / "data")
    checkpointer = Failing(store._cursor, interval_s=0.02)
    checkpointer.start()
    try:
        deadline = time.monotonic() + 10
        while store._db.execute("PRAGMA wal_autocheckpoint").fetchone() != (1000,):
            assert time.monotonic() < deadline, "the WAL would grow without bound"
            time.sleep(0.02)
        assert "injected" in caplog.text
    finally:
        checkpointer.stop()
    store.close()
