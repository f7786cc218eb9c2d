#!/usr/bin/env python3
"""Benchmark the import's building-entity sync (``sync_building_entities``) in CPU time.

For each size: synthetic catalog records (a Building with a footprint, the twelve attributes of
``scripts/synth_city.py``, an address on every third), synced into a fresh catalog (first
import), then again with one in a hundred buildings gone and live attributes on one in ten
(re-import). Each figure is CPU seconds
(``time.process_time``, so other load on the machine does not count), µs per building and the
ratio to a floor measured in the same run: serialising each building's entity body to JSON and
inserting it as one row of a bare table — the least any sync that stores the entities pays.
The CPU of making the records themselves is measured apart and left out of every figure.

Usage::

    scripts/bench_building_sync.py                   # 10k and 100k buildings
    scripts/bench_building_sync.py --sizes 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from twin.model import Address, BuildingRecord
from twin.store.buildings import building_entity, building_entity_id, sync_building_entities
from twin.store.entities import ENTITY_SCHEMA, write_entity

DATASET = "bench"


def records(n: int, skip_every: int = 0) -> Iterator[BuildingRecord]:
    """Yield ``n`` synthetic buildings (leaving out every ``skip_every``-th when not 0)."""
    for i in range(n):
        if skip_every and i % skip_every == 0:
            continue
        x, y = 11.0 + (i % 300) * 1e-4, 48.0 + (i // 300) * 1e-4
        ring = [[x, y], [x + 8e-5, y], [x + 8e-5, y + 6e-5], [x + 4e-5, y + 7e-5], [x, y + 6e-5]]
        yield BuildingRecord(
            dataset=DATASET, id=f"DEBY_LOD2_{i:08d}", type="Building",
            bbox_wgs84=(x, y, 500.0, x + 8e-5, y + 7e-5, 500.0 + i % 30),
            footprint={"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            attributes={  # the attributes scripts/synth_city.py writes
                "name": f"Building {i}", "creationDate": dt.date(2024, 6, 10), "district": "D7",
                "residents": i % 40, "energyDemand": 85.1, "roofArea": 300.98 + i % 50,
                "surveyed": dt.date(2020, 6, 1), "function": "31001_1000", "roofType": "3200",
                "yearOfConstruction": 1900 + i % 120, "measuredHeight": 6.0 + i % 30,
                "storeysAboveGround": 1 + i % 8,
            },
            address=Address(street="Hauptstraße", house_number=str(i), locality="München")
            if i % 3 == 0 else None,
        )  # fmt: skip


def connect(path: Path) -> sqlite3.Connection:
    """Open a catalog with the store's pragmas and the entity schema."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA cache_size=-65536")
    db.executescript(ENTITY_SCHEMA)
    return db


def cpu(db: sqlite3.Connection, work: Callable[[sqlite3.Cursor], None]) -> tuple[float, float]:
    """Return the CPU and wall seconds ``work`` takes inside one committed transaction."""
    cur = db.cursor()
    started, wall = time.process_time(), time.perf_counter()
    cur.execute("BEGIN IMMEDIATE")
    work(cur)
    cur.execute("COMMIT")
    return time.process_time() - started, time.perf_counter() - wall


def floor(cur: sqlite3.Cursor, n: int) -> None:
    """Serialise each building's entity and insert it as one row of a bare table."""
    cur.execute("CREATE TABLE bare (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID")
    now = "2024-01-01T00:00:00.000Z"
    cur.executemany(
        "INSERT INTO bare VALUES (?, ?)",
        ((r.id, json.dumps(building_entity(r, now), default=str)) for r in records(n)),
    )


def add_live(cur: sqlite3.Cursor, n: int) -> None:
    """Give one building in ten a live attribute, as an API write would."""
    for i in range(0, n, 10):
        eid = building_entity_id(DATASET, f"DEBY_LOD2_{i:08d}")
        row = cur.execute(
            "SELECT seq, types, body FROM entities WHERE tenant = '' AND id = ?", (eid,)
        ).fetchone()
        body = json.loads(row[2])
        body["attrs"]["https://uri.etsi.org/ngsi-ld/default-context/occupancy"] = [
            {"type": "Property", "value": i % 50}
        ]
        write_entity(cur, "", body, json.loads(row[2]), (row[0], row[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print(
        f"{'buildings':>9} {'run':<10} {'CPU s':>7} {'µs/bldg':>8} {'floor s':>8} {'ratio':>7} "
        f"{'wall s':>7}"
    )
    for n in args.sizes:
        started = time.process_time()
        for _ in records(n):
            pass
        making = time.process_time() - started
        with tempfile.TemporaryDirectory() as tmp:
            db = connect(Path(tmp) / "twin.db")
            base = cpu(db, lambda cur, n=n: floor(cur, n))[0] - making
            first = cpu(db, lambda cur, n=n: sync_building_entities(cur, DATASET, records(n)))
            cpu(db, lambda cur, n=n: add_live(cur, n))
            again = cpu(db, lambda cur, n=n: sync_building_entities(cur, DATASET, records(n, 100)))
            db.close()
        for run, (total, wall) in (("import", first), ("re-import", again)):
            seconds = total - making
            print(
                f"{n:>9,} {run:<10} {seconds:>7.2f} {seconds / n * 1e6:>8.0f} "
                f"{base:>8.2f} {seconds / base:>6.1f}x {wall:>7.2f}"
            )


if __name__ == "__main__":
    main()
