#!/usr/bin/env python3
"""Measure the CPU time of the import's per-building stages, as ratios to a bare iterparse.

For one CityGML file (a synthetic city of ``--buildings`` written by ``scripts/synth_city.py``
unless a file is given), in this process, best of ``--repeat`` runs:

- ``iterparse``: a bare ``lxml.etree.iterparse`` over the file (the floor of any reader);
- ``reader``: ``twin.pipeline.iter_objects`` (XML to city objects with their polygons);
- ``checks``: the polygon and solid checks the workers run per batch;
- ``build``: reproject, triangulate, measure, outline (``build_features``) per batch.

CPU time (``time.process_time``), not wall time: on a shared machine the ratios stay put while
wall times do not. The import's own figures (with tiling, publishing and the process pool) come
from ``scripts/bench_import.py``.

Usage::

    scripts/bench_stages.py --buildings 2000
    scripts/bench_stages.py --file city.gml --repeat 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import synth_city
from bench_import import bare_iterparse

from twin.geo import Reprojector, reprojector_for
from twin.model import CityObject
from twin.pipeline import parallel
from twin.pipeline.features import build_features
from twin.pipeline.sources import iter_objects


def items_of(objs: list[CityObject]) -> list[tuple[CityObject, Reprojector | None]]:
    """Pair each object with its reprojector, as the import does (None: no polygons)."""
    reprojectors: dict[str, Reprojector] = {}
    items: list[tuple[CityObject, Reprojector | None]] = []
    for o in objs:
        if o.surfaces.polygon_count == 0 or o.srs_name is None:
            items.append((o, None))
            continue
        if o.srs_name not in reprojectors:
            reprojectors[o.srs_name] = reprojector_for(o.srs_name, o.surfaces.coords)
        items.append((o, reprojectors[o.srs_name]))
    return items


def city_path(file: Path | None, buildings: int, folder: str) -> Path:
    """Return ``file``, or a synthetic city of ``buildings`` written into ``folder``."""
    if file is not None:
        return file
    path = Path(folder) / "city.gml"
    synth_city.write_city(path, buildings, seed=1)
    return path


def _batches(objs: list[CityObject]) -> list[tuple[list[CityObject], Reprojector]]:
    """The batches the import hands its workers: objects with polygons, one CRS each."""
    return [
        ([o for o in batch if o.surfaces.polygon_count], reprojector)
        for batch, reprojector in parallel._batches(items_of(objs), parallel.BATCH_OBJECTS)
        if reprojector is not None
    ]


def measure_once(path: Path) -> dict[str, float]:
    """Return the CPU seconds of each stage over one run."""
    times = {"iterparse": bare_iterparse(path)[1]}
    started = time.process_time()
    objs = [o for o in iter_objects([path]) if isinstance(o, CityObject)]
    times["reader"] = time.process_time() - started
    batches = _batches(objs)
    started = time.process_time()
    checked = [(parallel._validated(b), r) for b, r in batches]
    times["checks"] = time.process_time() - started
    started = time.process_time()
    for batch, reprojector in checked:
        build_features(batch, reprojector)
    times["build"] = time.process_time() - started
    return times


def measure(path: Path, repeat: int) -> dict[str, float]:
    """Return the best CPU seconds of each stage over ``repeat`` runs."""
    runs = [measure_once(path) for _ in range(repeat)]
    return {stage: min(run[stage] for run in runs) for stage in runs[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=2000)
    parser.add_argument("--file", type=Path, help="a CityGML file instead of a synthetic city")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="twin-stages-") as tmp:
        path = city_path(args.file, args.buildings, tmp)
        best = measure(path, args.repeat)
    floor = best["iterparse"]
    print(f"{path.name}: CPU seconds, best of {args.repeat}")
    for stage, seconds in best.items():
        print(f"  {stage:<10} {seconds:7.3f} s {seconds / floor:6.2f}x iterparse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
