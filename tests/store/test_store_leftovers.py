"""What a killed import leaves (its generation's rows, its staging folder) is deleted by the
next store open, and what a running import writes is not, whichever process opens the store."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_store_publish import city, counts, publish

from twin.store import SQLiteStore
from twin.store.sqlite import _PUBLISH_CHUNK
from twin.store.staging import StagingLocks, unowned

ROOT = Path(__file__).resolve().parents[2]

STALLED_IMPORT = f"""
import datetime as dt, sys, time
from pathlib import Path
from twin.model import BuildingRecord, DatasetInfo
from twin.store import SQLiteStore

def records():
    for i in range({3 * _PUBLISH_CHUNK}):
        if i == {2 * _PUBLISH_CHUNK + 1}:  # two chunks are written
            print("publishing", flush=True)
            time.sleep(600)
        x = 11.0 + i * 1e-4
        yield BuildingRecord(dataset="city", id=f"X{{i}}", type="Building",
                             bbox_wgs84=(x, 48.0, 0.0, x + 1e-5, 48.0001, 1.0), footprint=None,
                             attributes={{}})

store = SQLiteStore(Path(sys.argv[1]))
staging = store.staging_dir("city")
(staging / "tileset.json").write_text("{{}}")
info = DatasetInfo("city", "city", "EPSG:4326", 9, None, dt.datetime.now(dt.UTC))
store.publish(info, records(), staging)
"""


def _leftovers(data_dir: Path) -> tuple[int, int, list[str]]:
    """Return the catalog rows and R*Tree rows of generations no dataset serves, and the
    entries of ``tilesets/.versions`` no dataset's link points at."""
    db = sqlite3.connect(data_dir / "twin.db")
    try:
        served = "(SELECT generation FROM datasets)"
        rows = db.execute(f"SELECT count(*) FROM objects WHERE dataset NOT IN {served}")
        rtree = db.execute(f"SELECT count(*) FROM feature_rtree_keys WHERE dataset NOT IN {served}")
        found = (rows.fetchone()[0], rtree.fetchone()[0])
    finally:
        db.close()
    tilesets = data_dir / "tilesets"
    links = {p.resolve() for p in tilesets.iterdir() if p.is_symlink()}
    versions = sorted(p.name for p in (tilesets / ".versions").iterdir() if p not in links)
    return (*found, versions)


def test_a_killed_import_is_cleaned_up_by_the_next_open_not_while_it_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = SQLiteStore(data_dir)
    publish(store, city(40, storeys=2), 40)
    store.close()
    child = subprocess.Popen(
        [sys.executable, "-c", STALLED_IMPORT, str(data_dir)], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"publishing\n"
        running = _leftovers(data_dir)
        SQLiteStore(data_dir).close()  # as twin serve starting beside the import
        assert _leftovers(data_dir) == running
        assert running[:2] == (2 * _PUBLISH_CHUNK, 2 * _PUBLISH_CHUNK)
        # the folder, its lock file and the dataset's import lock
        folder = running[2][0]
        assert running[2] == [folder, f"{folder}.lock", "city.import.lock"]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert _leftovers(data_dir) == running  # nothing cleans up by itself
    store = SQLiteStore(data_dir)
    try:
        assert _leftovers(data_dir) == (0, 0, [])
        assert counts(store) == (40, 40, 40)
        assert store._db.execute("SELECT count(*) FROM generations").fetchone() == (0,)
    finally:
        store.close()


def test_a_lock_file_unlinked_before_it_was_locked_is_taken_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cleaner (or a releaser) may unlink a free lock file between another process's open
    # and its flock: that flock then locks a file nobody else finds, and a second importer
    # would take a fresh one at the path. hold() must end up holding the file at the path.
    versions = tmp_path / ".versions"
    versions.mkdir()
    flock = fcntl.flock
    unlinked: list[bool] = []

    def flock_after_a_cleaner(fd: int, operation: int) -> None:
        if not unlinked:
            unlinked.append(True)
            os.unlink(versions / "city.import.lock")
        flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock_after_a_cleaner)
    locks = StagingLocks(versions)
    locks.hold("city.import")
    monkeypatch.undo()
    assert unlinked == [True]
    with unowned(versions, "city.import") as free:
        assert not free  # the file at the path is the one held
