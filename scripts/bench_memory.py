#!/usr/bin/env python3
"""Measure the memory of an import per stage (read, plan, encode, publish), in this process.

Imports one CityGML file (e.g. a synthetic city of ``scripts/synth_city.py``) with
``twin.pipeline.import_files`` into a fresh data directory while a thread samples every 0.1 s

- the importing process's ``VmRSS`` and its split into ``RssAnon`` (heap, numpy, SQLite's page
  cache) and ``RssFile`` (mapped files: libraries, a memory-mapped catalog),
- the summed ``VmRSS`` of its worker processes,

and prints, per stage, the peak of each and the values at the stage's end. Stages are told
apart by wrapping the functions that start them (the spill's ``finish``: reading ends; the tree's
``widen``: planning ends; ``write_tileset``'s return: encoding ends; ``Store.publish``).
Run it at two sizes and divide the differences by the objects read for bytes per object::

    scripts/bench_memory.py /tmp/city-100000.gml /tmp/mem-100k --workers 2
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twin.pipeline import ImportOptions, import_files, importer, spill, tiling
from twin.store import SQLiteStore

FIELDS = ("VmRSS", "RssAnon", "RssFile")


class Sampler:
    """Peaks of this process's memory and its workers', per stage."""

    def __init__(self) -> None:
        self.stage = "start"
        self.peaks: dict[str, dict[str, int]] = {}
        self.ends: dict[str, dict[str, int]] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def mark(self, stage: str) -> None:
        """End the current stage and start ``stage``."""
        self.ends[self.stage] = sample()
        self.stage = stage

    def _run(self) -> None:
        while not self._done.wait(0.1):
            peak = self.peaks.setdefault(self.stage, {})
            for key, value in sample().items():
                peak[key] = max(peak.get(key, 0), value)


def status(pid: str) -> dict[str, int]:
    """Return the :data:`FIELDS` of ``/proc/<pid>/status`` in bytes (empty: it ended)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    fields = (line.split(":", 1) for line in lines)
    return {k: int(v.split()[0]) * 1024 for k, v in fields if k in FIELDS}


def sample() -> dict[str, int]:
    """Return this process's :data:`FIELDS` and ``workers``, its children's summed VmRSS."""
    children = []
    for tasks in Path("/proc/self/task").glob("*/children"):
        try:
            children += tasks.read_text().split()
        except OSError:
            continue
    own = status("self")
    own["workers"] = sum(status(pid).get("VmRSS", 0) for pid in children)
    return own


def wrap(
    owner: Any, name: str, before: Callable[[], None] | None, after: Callable[[], None] | None
) -> None:
    """Replace ``owner.name`` by a function calling ``before``, it, then ``after``."""
    original = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if before is not None:
            before()
        out = original(*args, **kwargs)
        if after is not None:
            after()
        return out

    setattr(owner, name, wrapped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("city", type=Path, help="the CityGML file to import")
    parser.add_argument("data_dir", type=Path, help="emptied, then imported into")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    shutil.rmtree(args.data_dir, ignore_errors=True)
    sampler = Sampler()
    finished: list[bool] = []

    def end_of_read() -> None:
        if not finished:  # the spill's first finish() call
            finished.append(True)
            sampler.mark("plan")

    wrap(spill.FeatureSpill, "finish", end_of_read, None)
    wrap(tiling, "widen", None, lambda: sampler.mark("encode"))
    wrap(importer, "write_tileset", None, lambda: sampler.mark("records"))
    store = SQLiteStore(args.data_dir, importing=True)
    wrap(store, "publish", lambda: sampler.mark("publish"), lambda: sampler.mark("end"))
    sampler.mark("read")
    sampler.start()
    started = time.perf_counter()
    try:
        report = import_files([args.city], store, ImportOptions("city", workers=args.workers))
    finally:
        sampler.stop()
        store.close()
    print(
        f"{args.city.name}: {report.objects_read:,} objects read, {report.imported:,} imported, "
        f"{report.tiles:,} tiles, {time.perf_counter() - started:.0f} s"
    )
    print(f"{'stage':<8} {'peak RSS':>9} {'anon':>7} {'file':>7} {'workers':>8}   (MB; end RSS)")
    for stage in ("read", "plan", "encode", "publish"):
        peak, end = sampler.peaks.get(stage, {}), sampler.ends.get(stage, {})
        row = " ".join(f"{peak.get(k, 0) / 1e6:>7.1f}" for k in ("RssAnon", "RssFile", "workers"))
        rss, end_rss = peak.get("VmRSS", 0) / 1e6, end.get("VmRSS", 0) / 1e6
        print(f"{stage:<8} {rss:>9.1f} {row}   ({end_rss:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
