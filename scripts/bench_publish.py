#!/usr/bin/env python3
"""Measure how long a publish blocks live writes: PATCH latency beside a re-import.

Usage::

    scripts/bench_publish.py --buildings 10000

Writes two synthetic cities of ``--buildings`` buildings (``scripts/synth_city.py``, seeds 1
and 2), imports the first into a fresh data directory, starts ``twin serve`` on it
(``tests/serve_process.py``), re-imports the dataset from the second city alone (the publish's
own cost), then from the first again in a child process while this one PATCHes a live
attribute of one building entity over one keep-alive connection, one request at a time, for as
long as that import publishes. Prints:

- the PATCHes sent during the publish, how many failed (503: the store was busy), and their
  p50 / max latency; the floor is the p50 of the same PATCH before the import started (same
  server, client and connection);
- the publish stage of the import (wall and CPU seconds of the importing process, which
  does nothing else meanwhile) and the longest one of its write transactions
  (``SQLiteStore.longest_write_s``, when the store has it);
- a floor for the publish: the CPU time SQLite takes to copy the served catalog's rows into a
  fresh table in one statement (the least any publish writing those rows pays).

The child runs ``twin`` from the ``PYTHONPATH`` the script was started with, so the same script
measures another checkout: ``cd /tmp && PYTHONPATH=/work/main python …/bench_publish.py``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # as pytest does

from serve_process import free_port, serve, stop  # noqa: E402
from synth_city import write_city  # noqa: E402

IMPORT = """
import json, sys, time
from pathlib import Path
from twin.pipeline import ImportOptions, import_files
from twin.store import SQLiteStore

store = SQLiteStore(Path(sys.argv[1]))
publish, spent = store.publish, {}

def timed(*args):
    print("publishing", flush=True)
    wall, cpu = time.perf_counter(), time.process_time()
    publish(*args)
    spent.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu)

store.publish = timed
import_files([Path(sys.argv[2])], store, ImportOptions("city", workers=int(sys.argv[3])))
spent["longest_write_s"] = getattr(store, "longest_write_s", None)
print(json.dumps(spent), flush=True)
"""
"""The re-import, in a process of its own: says when it starts publishing, then its figures."""


def _patch(conn: http.client.HTTPConnection, entity: str, value: int) -> tuple[int, float]:
    body = json.dumps({"occupancy": {"type": "Property", "value": value}})
    started = time.perf_counter()
    conn.request(
        "PATCH", f"/ngsi-ld/v1/entities/{entity}/attrs", body, {"Content-Type": "application/json"}
    )
    resp = conn.getresponse()
    resp.read()
    return resp.status, time.perf_counter() - started


def _first_building(conn: http.client.HTTPConnection) -> str:
    conn.request("GET", "/ngsi-ld/v1/entities?type=Building&limit=1")
    resp = conn.getresponse()
    (entity,) = json.loads(resp.read())
    conn.request(
        "POST", f"/ngsi-ld/v1/entities/{entity['id']}/attrs",
        json.dumps({"occupancy": 0}), {"Content-Type": "application/json"},
    )  # fmt: skip
    assert conn.getresponse().read() == b""
    return str(entity["id"])


def _copy_floor(db_path: Path, scratch: Path) -> float:
    """CPU seconds SQLite takes to copy the catalog's rows into a fresh table."""
    db = sqlite3.connect(db_path)
    try:
        db.execute("ATTACH ? AS scratch", (str(scratch),))
        db.execute("CREATE TABLE scratch.copy AS SELECT * FROM objects WHERE 0")
        started = time.process_time()
        db.execute("INSERT INTO scratch.copy SELECT * FROM objects")
        db.commit()
        return time.process_time() - started
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2, help="import worker processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        work = Path(tmp)
        cities = [work / f"city{seed}.gml" for seed in (1, 2)]
        for seed, city in enumerate(cities, start=1):
            write_city(city, args.buildings, seed=seed)
        data_dir = work / "data"
        env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        argv = [sys.executable, "-c", IMPORT, str(data_dir), str(cities[0]), str(args.workers)]
        subprocess.run(argv, check=True, cwd=work, env=env, stdout=subprocess.DEVNULL)
        port = free_port()
        server = serve(data_dir, port)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            entity = _first_building(conn)
            idle = [_patch(conn, entity, i)[1] for i in range(200)]
            argv[4] = str(cities[1])  # a re-import alone: the publish's own cost
            quiet = subprocess.run(argv, check=True, cwd=work, env=env, capture_output=True)
            conn.close()  # idle for longer than the server keeps a connection alive
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            argv[4] = str(cities[0])  # and one beside the PATCHes
            child = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.PIPE, text=True)
            out = child.stdout
            assert out is not None
            assert out.readline() == "publishing\n"
            figures: list[str] = []
            reader = threading.Thread(target=lambda: figures.append(out.readline()))
            reader.start()
            during: list[tuple[int, float]] = []
            while reader.is_alive():
                during.append(_patch(conn, entity, len(during)))
            assert child.wait() == 0
            conn.close()
        finally:
            stop(server)
        alone = json.loads(quiet.stdout.decode().splitlines()[-1])
        spent = json.loads(figures[0])
        floor = _copy_floor(data_dir / "twin.db", work / "scratch.db")
    latencies = [s for _, s in during]
    failed = sum(1 for status, _ in during if status != 204)
    p50_idle = statistics.median(idle)
    print(f"{args.buildings} buildings, re-imported alone, then while PATCHing a building entity")
    print("| measure | value | floor | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| PATCHes during the publish (not 204) | {len(during)} ({failed}) | | |")
    print(
        f"| PATCH p50 / max during the publish | {1e3 * statistics.median(latencies):.1f} / "
        f"{1e3 * max(latencies):.0f} ms | {1e3 * p50_idle:.1f} ms (idle p50) | "
        f"{statistics.median(latencies) / p50_idle:.1f} / {max(latencies) / p50_idle:.0f} |"
    )
    for label, run in (("alone", alone), ("beside the PATCHes", spent)):
        if run["longest_write_s"] is not None:
            longest = 1e3 * run["longest_write_s"]
            print(f"| longest write transaction, publish {label} | {longest:.0f} ms | | |")
        print(
            f"| publish {label}, wall / CPU | {run['wall']:.2f} / {run['cpu']:.2f} s | "
            f"{floor:.2f} s (CPU, copy rows) | {run['cpu'] / floor:.0f} (CPU) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
