"""Run the per-object work (reproject, triangulate, outline) in batches on a process pool.

The reader stays in the calling process (it streams one file); objects are grouped into
batches of one CRS and each batch goes to a worker as one task (geometry checks screened over
the whole batch, then :func:`build_features`: one PROJ call and one vectorized triangulation
per batch). The worker hands the features back :func:`~twin.pipeline.spill.pack` ed, as the
spill stores them, so the calling process (the reader's, the one that cannot be parallel)
never unpickles or pickles a feature: it appends bytes and rows. At most two batches a worker
slot are in flight, so memory stays bounded however fast the reader is, and results come back
in input order. ``workers <= 1`` runs the same batches in the calling process; a Dask cluster
(``--dask``) runs them on its workers through the same ``concurrent.futures`` interface.

With a pool the reader can hand on its members unread (:mod:`twin.citygml.members`): each
such batch goes to a worker, which reads it, builds its objects and hands back the
features and what to report (:func:`iter_work`). The calling process then only parses the
XML. Which reprojector an srsName gets is decided from the first object in it, by the
calling process: a worker meeting an object of an srsName not decided yet hands that object
back and builds nothing; the batch is sent again once it is decided.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from typing import Any, TypeVar, cast

import numpy as np

from twin.citygml.members import MemberBatch
from twin.citygml.reader import read_members
from twin.errors import GeometryError, InputError, ReprojectionError
from twin.geo import Reprojector
from twin.geo.reproject import add_system_grids
from twin.geometry.validate import issues_of_many, shell_issues_many
from twin.model import CityObject, Rejection, SourceLocation, Surfaces
from twin.pipeline.features import Feature, build_features
from twin.pipeline.spill import Packed, pack

__all__ = [
    "BATCH_OBJECTS",
    "Built",
    "Decided",
    "Entry",
    "ReadBuilt",
    "Workers",
    "default_workers",
    "iter_work",
    "map_ordered",
    "object_entries",
    "open_workers",
    "workers_for",
]

BATCH_OBJECTS = 256
_DASK_CONNECT_SECONDS = 5


@dataclass(frozen=True, slots=True)
class Built:
    """What became of a batch of objects: the features of those that have one, packed for
    the spill in input order; ``errors`` maps the position in the batch of each object left
    without a feature to why; ``findings`` maps that of each feature with something to report
    to its object's issues (the reader's and the geometry checks') and its count of
    degenerate polygons skipped."""

    packed: Packed
    errors: dict[int, str]
    findings: dict[int, tuple[tuple[str, ...], int]]


@dataclass(frozen=True, slots=True)
class Decided:
    """What the calling process has decided about CRSs, as a worker needs it.

    ``reprojectors`` maps each srsName decided to its reprojector's key and pickle;
    ``placed`` holds the ``(srsName, placement)`` of the local CRSs accepted; ``crs``
    overrides every srsName (``--crs``).
    """

    reprojectors: dict[str, tuple[tuple[str, bool], bytes]]
    placed: frozenset[tuple[str, str]]
    crs: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """What the import report gets of one object read (:func:`object_entries`).

    ``srs`` is the srsName it was built in (None without polygons); ``rejections`` holds its
    rejection when it has no feature, ``warnings`` what the builders found. ``id``, ``type``
    and ``source`` are the object's, for the check of repeated ids.
    """

    srs: str | None
    rejections: tuple[Rejection, ...]
    warnings: tuple[str, ...]
    id: str
    type: str
    source: SourceLocation


@dataclass(frozen=True, slots=True)
class ReadBuilt:
    """What became of a batch of members read and built in a worker.

    ``entries`` has, for each object or rejection read, in order, the rejection or what the
    report gets of the object; ``packed`` the features, in input order. ``undecided`` is the
    first object of an srsName (or local CRS) the calling process has not decided yet: then
    nothing else is filled in.
    """

    entries: list[Rejection | Entry]
    packed: list[Packed]
    undecided: CityObject | None = None


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


@dataclass(frozen=True, slots=True)
class Workers:
    """Where per-batch work runs: ``executor`` (a local process pool, or a Dask cluster's
    executor), or the calling process when it is None; ``slots`` tasks run at once."""

    executor: Executor | None
    slots: int = 1


@contextmanager
def open_workers(processes: int, cluster: str | None = None) -> Iterator[Workers]:
    """Yield :class:`Workers` for an import: a Dask cluster, a process pool, or none.

    ``cluster`` is a Dask scheduler address (``tcp://host:8786``); the cluster's workers need
    twin installed. Otherwise ``processes > 1`` starts a local process pool.

    Raises
    ------
    InputError
        When the Dask scheduler cannot be reached.
    """
    if cluster is not None:
        with _dask_client(cluster) as client:
            slots = max(1, sum(client.nthreads().values()))
            yield Workers(client.get_executor(), slots)
    elif processes > 1:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            yield Workers(pool, processes)
    else:
        yield Workers(None)


@contextmanager
def workers_for(workers: int | Workers) -> Iterator[Workers]:
    """Yield ``workers`` as given, or a local pool of that many processes for the call."""
    if isinstance(workers, Workers):
        yield workers
    else:
        with open_workers(workers) as opened:
            yield opened


@contextmanager
def _dask_client(address: str) -> Iterator[Any]:
    from distributed import Client  # imported only for --dask: it is heavy

    try:
        client = Client(address, timeout=_DASK_CONNECT_SECONDS)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {address} ({exc}); start one (`dask scheduler`"
            " and `dask worker`) or import without --dask"
        ) from exc
    with client:
        yield client


def map_ordered(
    pool: Executor, fn: Callable[[T], R], tasks: Iterable[T], in_flight: int
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
    """Group consecutive objects into batches of at most ``size`` with one reprojector each.

    Objects without polygons (reprojector None: a Building made of parts) join whatever
    batch is being filled, so they do not cut a run of one CRS into many small batches.
    """
    objs: list[CityObject] = []
    current: Reprojector | None = None
    for obj, reprojector in items:
        changed = reprojector is not None and current is not None and reprojector is not current
        if objs and (changed or len(objs) >= size):
            yield objs, current
            objs, current = [], None
        objs.append(obj)
        current = reprojector or current
    if objs:
        yield objs, current


def iter_work(
    items: Iterable[tuple[CityObject, Reprojector | None] | MemberBatch | Rejection],
    workers: Workers,
    decided: Callable[[], Decided],
    decide: Callable[[CityObject], object],
    batch_objects: int = BATCH_OBJECTS,
) -> Iterator[
    tuple[list[CityObject], Built] | tuple[MemberBatch, ReadBuilt] | tuple[Rejection, None]
]:
    """Yield what became of every batch of objects (built by :func:`_run`) or of members.

    A batch of members is read and built where the work runs; ``decided`` says what the
    calling process has decided when the batch is sent, and ``decide`` decides for an object
    a worker handed back (or raises), after which the batch is sent again. A rejection of the
    reader comes back as it is, in its place. Batches come in input order, at most twice as
    many in flight as there are worker slots.
    """
    blobs: dict[tuple[str, bool], bytes] = {}
    tasks = (
        (item, decided())
        if isinstance(item, MemberBatch)
        else item
        if isinstance(item, Rejection)
        else _task(*item, blobs)
        for item in _groups(items, batch_objects)
    )
    for task, result in _map_work(workers, tasks):
        while isinstance(result, ReadBuilt) and result.undecided is not None:
            decide(result.undecided)
            task = (cast("_MemberTask", task)[0], decided())
            result = _submit(workers, task)
        if isinstance(result, ReadBuilt):
            yield cast("_MemberTask", task)[0], result
        elif isinstance(result, Built):
            yield cast("_Task", task)[0], result
        else:
            yield cast("Rejection", task), None


def object_entries(objs: list[CityObject], built: Built, crs: str | None) -> list[Entry]:
    """Return, per object of a batch built, what the import report gets of it.

    ``crs`` overrides every srsName (``--crs``), as for the batch's reprojector.
    """
    entries: list[Entry] = []
    for k, obj in enumerate(objs):
        srs = (crs or obj.srs_name) if obj.surfaces.polygon_count else None
        if k in built.errors:
            rejection = Rejection(obj.id, obj.type, obj.source, built.errors[k])
            entries.append(Entry(srs, (rejection,), (), obj.id, obj.type, obj.source))
            continue
        issues, degenerate = built.findings.get(k, ((), 0))
        # the issues are the worker's: they carry the geometry checks'
        warnings = [f"{obj.type} {obj.id!r} at {obj.source}: {i}" for i in issues]
        if degenerate:
            warnings.append(
                f"{obj.type} {obj.id!r} at {obj.source}: "
                f"{degenerate} degenerate polygon(s) without area skipped"
            )
        entries.append(Entry(srs, (), tuple(warnings), obj.id, obj.type, obj.source))
    return entries


def _groups(
    items: Iterable[tuple[CityObject, Reprojector | None] | MemberBatch | Rejection], size: int
) -> Iterator[tuple[list[CityObject], Reprojector | None] | MemberBatch | Rejection]:
    """Batch the runs of objects (:func:`_batches`); pass anything else on as it is."""
    for passed, run in groupby(items, lambda item: not isinstance(item, tuple)):
        if passed:
            yield from cast("Iterator[MemberBatch | Rejection]", run)
        else:
            yield from _batches(cast("Iterator[tuple[CityObject, Reprojector | None]]", run), size)


_Task = tuple[list[CityObject], tuple[str, bool] | None, bytes]
_MemberTask = tuple[MemberBatch, Decided]
_AnyTask = _Task | _MemberTask | Rejection


def _map_work(
    workers: Workers, tasks: Iterator[_AnyTask]
) -> Iterator[tuple[_AnyTask, Built | ReadBuilt | None]]:
    if workers.executor is None:
        return ((task, _run_batch(task)) for task in tasks)
    return map_ordered(workers.executor, _run_batch, tasks, 2 * workers.slots)


def _submit(workers: Workers, task: _AnyTask) -> Built | ReadBuilt | None:
    if workers.executor is None:
        return _run_batch(task)
    return workers.executor.submit(_run_batch, task).result()


def _run_batch(task: _AnyTask) -> Built | ReadBuilt | None:
    if isinstance(task, Rejection):  # passed through, to keep its place
        return None
    if len(task) == 2:
        return _run_members(task)
    return _run_task(task)


def _run_members(task: _MemberTask) -> ReadBuilt:
    """Read a batch of members, then build its objects as :func:`_run` builds a batch."""
    batch, decided = task
    items = read_members(batch)
    paired: list[tuple[CityObject, Reprojector | None]] = []
    for obj in (i for i in items if isinstance(i, CityObject)):
        if not obj.surfaces.polygon_count:
            paired.append((obj, None))
            continue
        srs = decided.crs or obj.srs_name
        known = None if srs is None else decided.reprojectors.get(srs)
        placed = obj.srs_placement is None or (srs, obj.srs_placement) in decided.placed
        if known is None or not placed:
            return ReadBuilt([], [], obj)
        paired.append((obj, _worker_reprojector(*known)))
    built: list[Entry] = []
    packed: list[Packed] = []
    for objs, reprojector in _batches(paired, BATCH_OBJECTS):
        result = _run(objs, reprojector)
        built += object_entries(objs, result, decided.crs)
        packed.append(result.packed)
    objects = iter(built)
    return ReadBuilt([i if isinstance(i, Rejection) else next(objects) for i in items], packed)


def _worker_reprojector(key: tuple[str, bool], blob: bytes) -> Reprojector:
    """Return the reprojector pickled as ``blob``, unpickled once per process.

    The system grids are added first: a transformer unpickled before would do without them
    (a process forked before the calling process added them, a spawned one, a Dask worker),
    ~0.4 m off for DHDN, whose BETA2007 grid is one of them.
    """
    if key not in _WORKER_REPROJECTORS:
        add_system_grids()
        _WORKER_REPROJECTORS[key] = pickle.loads(blob)
    return _WORKER_REPROJECTORS[key]


def _task(
    objs: list[CityObject], reprojector: Reprojector | None, blobs: dict[tuple[str, bool], bytes]
) -> _Task:
    if reprojector is None:
        return objs, None, b""
    key = (reprojector.srs_name, reprojector.northing_first)
    if key not in blobs:
        blobs[key] = pickle.dumps(reprojector)
    return objs, key, blobs[key]


def _run_task(task: _Task) -> Built:
    objs, key, blob = task
    if key is None:
        return _run(objs, None)
    return _run(objs, _worker_reprojector(key, blob))


def _run(objs: list[CityObject], reprojector: Reprojector | None) -> Built:
    drawn = [o for o in objs if o.surfaces.polygon_count]
    built: Iterator[Feature | GeometryError | ReprojectionError] = iter(())
    if drawn:
        assert reprojector is not None  # objects with polygons come with their reprojector
        built = iter(build_features(_validated(drawn), reprojector))
    features: list[Feature] = []
    errors: dict[int, str] = {}
    findings: dict[int, tuple[tuple[str, ...], int]] = {}
    for k, obj in enumerate(objs):
        result = next(built) if obj.surfaces.polygon_count else Feature(obj, None, None, None)
        if not isinstance(result, Feature):
            errors[k] = str(result)
            continue
        if result.obj.issues or result.degenerate_polygons:
            findings[k] = (result.obj.issues, result.degenerate_polygons)
        features.append(_lean(result))
    return Built(pack(features), errors, findings)


def _lean(feature: Feature) -> Feature:
    """Drop the source polygons of a built feature: its mesh replaces them from here on (and
    they need not be held until the tiles are written)."""
    if feature.obj.surfaces.polygon_count == 0:
        return feature
    lean = dataclasses.replace(feature.obj, surfaces=Surfaces.empty(), shells=())
    return dataclasses.replace(feature, obj=lean)


def _validated(objs: list[CityObject]) -> list[CityObject]:
    """Add the defects of each object's polygons and solids to its issues (for the report)."""
    found = [
        polygons + solids
        for polygons, solids in zip(
            issues_of_many([o.surfaces for o in objs]), _solid_issues(objs), strict=True
        )
    ]
    return [
        dataclasses.replace(o, issues=o.issues + issues) if issues else o
        for o, issues in zip(objs, found, strict=True)
    ]


def _solid_issues(objs: list[CityObject]) -> list[tuple[str, ...]]:
    """Return, per object, the closure and orientation defects of each solid's exterior shell
    (all shells of the batch checked at once)."""
    polygon_base = np.cumsum([0] + [o.surfaces.polygon_count for o in objs])
    shells = [
        (base, shell) for base, o in zip(polygon_base, objs, strict=False) for shell in o.shells
    ]
    if not shells:
        return [()] * len(objs)
    shell_polygons = np.concatenate([base + shell for base, shell in shells])
    shell_offsets = np.cumsum([0] + [len(shell) for _, shell in shells])
    issues = iter(
        shell_issues_many(Surfaces.join([o.surfaces for o in objs]), shell_polygons, shell_offsets)
    )
    return [
        tuple(f"solid {k}: {issue}" for k in range(len(o.shells)) for issue in next(issues))
        for o in objs
    ]
