#!/usr/bin/env python3
"""Measure the import's main-process CPU per object in the hand-offs between its stages.

For one CityGML file (a synthetic city of ``--buildings`` written by ``scripts/synth_city.py``
unless a file is given): each batch is first built as a worker builds it and its result pickled
as the process pool sends it back (not timed); then, best of ``--repeat`` runs, the CPU time of
what the main process does with them:

- ``spill``: unpickle each batch's result and append it to the spill;
- ``parents``: finish the spill and give Buildings of parts their parts' extent;
- ``records``: read back what the catalog needs and make each object's catalog record.

CPU time (``time.process_time``) per object read, in microseconds: the main process reads the
XML and cannot be parallel, so what it spends per object bounds the import's speed. The reader's
and the workers' own figures come from ``scripts/bench_stages.py``.

Usage::

    scripts/bench_handoff.py --buildings 3000
    scripts/bench_handoff.py --file city.gml --repeat 5
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

from bench_stages import city_path, items_of

from twin.model import CityObject
from twin.pipeline import importer, parallel
from twin.pipeline.report import ImportReport
from twin.pipeline.sources import iter_objects
from twin.pipeline.spill import FeatureSpill
from twin.pipeline.tiling import Placement


def built_results(path: Path) -> tuple[int, list[bytes]]:
    """Return the count of objects read and each batch's result as a worker pickles it."""
    objs = [o for o in iter_objects([path]) if isinstance(o, CityObject)]
    batches = parallel._batches(items_of(objs), parallel.BATCH_OBJECTS)
    return len(objs), [pickle.dumps(parallel._run(objs, r)) for objs, r in batches]


def measure_once(results: list[bytes]) -> dict[str, float]:
    """Return the CPU seconds of each hand-off over one run."""
    times: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="twin-handoff-") as tmp,
        FeatureSpill(Path(tmp)) as spill,
    ):
        started = time.process_time()
        for blob in results:
            spill.add(pickle.loads(blob).packed)
        times["spill"] = time.process_time() - started
        started = time.process_time()
        spill.finish()
        importer._resolve_parents(spill, ImportReport("bench", []))
        times["parents"] = time.process_time() - started
        started = time.process_time()
        for _ in importer._records("bench", spill, Placement([])):
            pass
        times["records"] = time.process_time() - started
    times["total"] = sum(times.values())
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=3000)
    parser.add_argument("--file", type=Path, help="a CityGML file instead of a synthetic city")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="twin-handoff-") as tmp:
        path = city_path(args.file, args.buildings, tmp)
        count, results = built_results(path)
    runs = [measure_once(results) for _ in range(args.repeat)]
    print(f"{path.name}: {count} objects; main-process CPU, best of {args.repeat}")
    for stage in runs[0]:
        seconds = min(run[stage] for run in runs)
        print(f"  {stage:<8} {seconds:7.3f} s {seconds / count * 1e6:7.1f} us/object")
    return 0


if __name__ == "__main__":
    sys.exit(main())
