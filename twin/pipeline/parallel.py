"""Run the per-object work (reproject, triangulate, outline) in batches on a process pool.

The reader stays in the calling process (it streams one file); objects are grouped into
batches of one CRS and each batch goes to a worker as one task (geometry checks screened over
the whole batch, then :func:`build_features`: one PROJ call and one vectorized triangulation
per batch). At most ``2 × workers`` batches are in
flight, so memory stays bounded however fast the reader is, and results come back in input
order. ``workers <= 1`` runs the same batches in the calling process.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import TypeVar

from twin.errors import GeometryError, ReprojectionError
from twin.geo import Reprojector
from twin.geometry.validate import issues_of_many
from twin.model import CityObject
from twin.pipeline.features import Feature, build_features

__all__ = ["BATCH_OBJECTS", "Built", "default_workers", "iter_built", "map_ordered"]

BATCH_OBJECTS = 256

Built = Feature | GeometryError | ReprojectionError
"""What became of one object: its feature or why it has none."""

T = TypeVar("T")
R = TypeVar("R")

# In a worker: reprojectors already unpickled (building PROJ transformers costs ~20 ms).
_WORKER_REPROJECTORS: dict[tuple[str, bool], Reprojector] = {}


def default_workers() -> int:
    """Return the CPUs this process may use (all cores by default)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def iter_built(
    items: Iterable[tuple[CityObject, Reprojector | None]],
    workers: int,
    batch_objects: int = BATCH_OBJECTS,
) -> Iterator[tuple[CityObject, Built]]:
    """Yield ``(object, feature or error)`` for every ``(object, reprojector)``, in order.

    Objects without polygons (reprojector None) become features without a mesh.
    """
    batches = _batches(items, batch_objects)
    if workers <= 1:
        for objs, reprojector in batches:
            yield from zip(objs, _run(objs, reprojector), strict=True)
        return
    blobs: dict[tuple[str, bool], bytes] = {}
    tasks = (_task(objs, reprojector, blobs) for objs, reprojector in batches)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for (objs, _, _), built in map_ordered(pool, _run_task, tasks, in_flight=2 * workers):
            yield from zip(objs, built, strict=True)


def map_ordered(
    pool: Executor, fn: Callable[[T], R], tasks: Iterable[T], *, in_flight: int
) -> Iterator[tuple[T, R]]:
    """Yield ``(task, fn(task))`` in task order, with at most ``in_flight`` tasks submitted."""
    pending: deque[tuple[T, Future[R]]] = deque()
    for task in tasks:
        pending.append((task, pool.submit(fn, task)))
        if len(pending) >= in_flight:
            done, future = pending.popleft()
            yield done, future.result()
    while pending:
        done, future = pending.popleft()
        yield done, future.result()


def _batches(
    items: Iterable[tuple[CityObject, Reprojector | None]], size: int
) -> Iterator[tuple[list[CityObject], Reprojector | None]]:
    """Group consecutive objects with the same reprojector into batches of at most ``size``."""
    objs: list[CityObject] = []
    current: Reprojector | None = None
    for obj, reprojector in items:
        if objs and (reprojector is not current or len(objs) >= size):
            yield objs, current
            objs = []
        objs.append(obj)
        current = reprojector
    if objs:
        yield objs, current


_Task = tuple[list[CityObject], tuple[str, bool] | None, bytes]


def _task(
    objs: list[CityObject], reprojector: Reprojector | None, blobs: dict[tuple[str, bool], bytes]
) -> _Task:
    if reprojector is None:
        return objs, None, b""
    key = (reprojector.srs_name, reprojector.northing_first)
    if key not in blobs:
        blobs[key] = pickle.dumps(reprojector)
    return objs, key, blobs[key]


def _run_task(task: _Task) -> list[Built]:
    objs, key, blob = task
    if key is None:
        return _run(objs, None)
    if key not in _WORKER_REPROJECTORS:
        _WORKER_REPROJECTORS[key] = pickle.loads(blob)
    return _run(objs, _WORKER_REPROJECTORS[key])


def _run(objs: list[CityObject], reprojector: Reprojector | None) -> list[Built]:
    if reprojector is None:
        return [Feature(o, None, None, None) for o in objs]
    return build_features(_validated(objs), reprojector)


def _validated(objs: list[CityObject]) -> list[CityObject]:
    """Add the geometry defects of each object's polygons to its issues (the report lists them)."""
    found = issues_of_many([o.surfaces for o in objs])
    return [
        dataclasses.replace(o, issues=o.issues + issues) if issues else o
        for o, issues in zip(objs, found, strict=True)
    ]
