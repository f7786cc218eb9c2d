#!/usr/bin/env python3
"""Benchmark the catalog publish alone (``SQLiteStore.publish``) in CPU time.

Imports a synthetic city (``scripts/synth_city.py``, seed 1) once, keeping the records the
importer hands to the publish, then publishes those same records again and again in this
process: into a fresh data directory (first import: every building entity is new) and once more
into it (re-import: the entities exist, the sync path; the old generation is retired after).
Each figure is the best of ``--runs`` (CPU seconds, ``time.process_time``, so the other work on
a shared machine counts little; wall seconds beside it), µs per record, and its ratio to a
floor measured in the same run: one ``executemany`` of the same records' ``objects`` rows,
built beforehand, into an empty table without indexes — the least any publish writing those
rows pays.

Usage::

    scripts/bench_catalog_publish.py                    # 10,000 buildings, best of 3
    scripts/bench_catalog_publish.py --buildings 2000 --runs 1
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from synth_city import write_city  # noqa: E402

from twin.model import BuildingRecord, DatasetInfo  # noqa: E402
from twin.pipeline import ImportOptions, import_files  # noqa: E402
from twin.store import SQLiteStore  # noqa: E402

DATASET = "city"


def imported_records(city: Path, data_dir: Path, workers: int) -> list[BuildingRecord]:
    """Import ``city`` and return the records the importer published, in its order."""
    store = SQLiteStore(data_dir, importing=True)
    publish = store.publish
    kept: list[BuildingRecord] = []

    def keep(info: DatasetInfo, records: Iterable[BuildingRecord], staging: Path) -> None:
        kept.extend(records)
        publish(info, kept, staging)

    store.publish = keep  # type: ignore[method-assign]
    try:
        import_files([city], store, ImportOptions(DATASET, workers=workers))
    finally:
        store.close()
    return kept


def timed_publish(data_dir: Path, records: list[BuildingRecord]) -> tuple[float, float]:
    """Publish ``records`` as the dataset into ``data_dir``; return its (CPU, wall) seconds."""
    store = SQLiteStore(data_dir, importing=True)
    try:
        staging = store.staging_dir(DATASET)
        (staging / "tileset.json").write_text("{}")
        info = DatasetInfo(
            name=DATASET, title=DATASET, srs_name="EPSG:4326", object_count=len(records),
            bbox_wgs84=None, imported_at=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        cpu, wall = time.process_time(), time.perf_counter()
        store.publish(info, records, staging)
        return time.process_time() - cpu, time.perf_counter() - wall
    finally:
        store.close()


def floor(data_dir: Path, scratch: Path) -> float:
    """CPU seconds of one ``executemany`` of the published ``objects`` rows, built beforehand,
    into an empty table without indexes."""
    db = sqlite3.connect(data_dir / "twin.db")
    try:
        rows = db.execute("SELECT * FROM objects").fetchall()
    finally:
        db.close()
    db = sqlite3.connect(scratch)
    try:
        marks = ",".join("?" * len(rows[0]))
        db.execute(f"CREATE TABLE copy ({','.join(f'c{i}' for i in range(len(rows[0])))})")
        started = time.process_time()
        db.executemany(f"INSERT INTO copy VALUES ({marks})", rows)
        db.commit()
        return time.process_time() - started
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="import worker processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-catalog-publish-") as tmp:
        work = Path(tmp)
        city = work / "city.gml"
        write_city(city, args.buildings, seed=1)
        records = imported_records(city, work / "imported", args.workers)
        # the staging folder the records' tiles were in is gone; the publish does not read it
        records = [dataclasses.replace(r) for r in records]
        first: list[tuple[float, float]] = []
        again: list[tuple[float, float]] = []
        floors: list[float] = []
        for run in range(args.runs):
            data_dir = work / f"run{run}"
            first.append(timed_publish(data_dir, records))
            again.append(timed_publish(data_dir, records))
            floors.append(floor(data_dir, work / f"scratch{run}.db"))
            shutil.rmtree(data_dir)
    least = min(floors)
    n = len(records)
    print(f"{n} records ({args.buildings} buildings), best of {args.runs}")
    print("| publish | CPU | wall | µs per record (CPU) | ÷ floor (CPU) |")
    print("|---|---:|---:|---:|---:|")
    for label, runs in (("first import", first), ("re-import", again)):
        cpu = min(c for c, _ in runs)
        wall = min(w for _, w in runs)
        print(f"| {label} | {cpu:.2f} s | {wall:.2f} s | {1e6 * cpu / n:.0f} | {cpu / least:.1f} |")
    print(
        f"| floor: executemany of the objects rows | {least:.3f} s | | {1e6 * least / n:.1f} | 1 |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
