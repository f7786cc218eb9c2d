"""Orchestrate an import: read → reproject → triangulate → tile → publish, with a report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal, cast

import numpy as np

from twin.citygml.members import MemberBatch
from twin.errors import CRSError, InputError, NotFoundError, TwinError
from twin.geo import CRS_HINT, Reprojector, check_anchor_crs, reprojector_for
from twin.geometry import union_geojson
from twin.geometry.lod_geometry import merge_surfaces_wkb
from twin.model import (
    BuildingRecord,
    CityObject,
    DatasetInfo,
    LodChoice,
    Rejection,
    SurfaceClass,
)
from twin.pipeline.features import BBox6, CatalogPart, measures_of, merge_bboxes
from twin.pipeline.parallel import (
    Decided,
    Entry,
    ReadBuilt,
    Workers,
    default_workers,
    iter_work,
    object_entries,
    open_workers,
)
from twin.pipeline.report import ImportReport
from twin.pipeline.report_order import ReportOrder
from twin.pipeline.seen_ids import SeenIds
from twin.pipeline.sources import ReadOptions, iter_objects
from twin.pipeline.spill import FeatureSpill, Packed, Summary, tile_feature, without
from twin.pipeline.tiling import Compression, Placement, TileBudget, TileFormat, write_tileset
from twin.store import Store, validate_dataset_name
from twin.types import IndexArray

__all__ = ["ImportOptions", "Progress", "ProgressStage", "import_files"]

log = logging.getLogger(__name__)

ProgressStage = Literal["read", "tile", "publish"]
Progress = Callable[[ProgressStage, int, int | None], None]
"""Told how far a stage is: objects read (total None until the last call), tiles written,
catalog records published, each with its total."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to import. ``crs`` overrides every srsName of the input (or supplies a missing one).

    ``lod`` picks the LoD per object, ``types`` the top-level object types (None: all) and
    ``keep_going`` keeps what precedes a malformed-XML error, reporting the rest.
    """

    dataset: str
    title: str | None = None
    crs: str | None = None
    budget: TileBudget = field(default_factory=TileBudget)
    lod: LodChoice = "highest"
    types: tuple[str, ...] | None = None
    keep_going: bool = False
    workers: int | None = None  # processes for per-object work; None: all cores, <= 1: none
    dask: str | None = None  # a Dask scheduler address: run the work on that cluster instead
    compress: Compression = "meshopt"
    tile_format: TileFormat = "glb"
    appearance_theme: str | None = None  # the appearance theme drawn; None: the first met


def import_files(
    paths: Sequence[Path], store: Store, options: ImportOptions, progress: Progress | None = None
) -> ImportReport:
    """Import CityGML files as one dataset and publish it; return the import report.

    Raises InputError (and subclasses) for input that cannot be imported at all: a missing
    file, malformed XML, an unknown or missing CRS. Objects that cannot be used are listed in
    the report instead.
    """
    validate_dataset_name(options.dataset)
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
    started = time.perf_counter()
    report = ImportReport(options.dataset, [str(p) for p in paths])
    staging = store.staging_dir(options.dataset)
    try:
        with FeatureSpill(staging) as spill:
            _publish(paths, store, options, report, progress, spill, staging, started)
    except BaseException:
        store.discard_staging(staging)
        raise
    return report


def _publish(
    paths: Sequence[Path],
    store: Store,
    options: ImportOptions,
    report: ImportReport,
    progress: Progress | None,
    spill: FeatureSpill,
    staging: Path,
    started: float,
) -> None:
    """Build every feature into ``spill``, tile them into ``staging`` and publish both."""
    with open_workers(_workers(options), options.dask) as workers:
        _read_features(paths, options, report, progress, workers, spill)
        if progress is not None:
            progress("read", report.objects_read, report.objects_read)
        report.stage_seconds["read"] = time.perf_counter() - started
        _warn_missing_theme(options.appearance_theme, report)
        summary = spill.finish()
        _resolve_parents(spill, report)
        if not summary.meshed:
            reason = _first_reason(report, options.types)
            raise InputError(
                f"no city object with usable geometry in {', '.join(map(str, paths))} "
                f"({len(report.rejections)} rejected; first reason: {reason})"
            )
        t0 = time.perf_counter()
        stats = write_tileset(
            spill,
            staging,
            options.budget,
            workers,
            compress=options.compress,
            tile_format=options.tile_format,
            previous=_served_tileset(store, options.dataset),
            progress=None if progress is None else partial(progress, "tile"),
        )
    report.stage_seconds["tile"] = time.perf_counter() - t0
    report.tiles, report.tile_bytes = stats.tiles_and_bytes
    report.tile_sizes = stats.sizes
    counts, bbox = _kept_totals(spill)
    report.imported_by_type.update(
        {name: int(n) for name, n in zip(summary.type_names, counts, strict=True) if n}
    )
    report.seconds = time.perf_counter() - started
    report.write(staging)
    records = _records(options.dataset, spill, stats.placement)
    if progress is not None:
        records = _counted(records, int(counts.sum()), partial(progress, "publish"))
    t0 = time.perf_counter()
    info = _dataset_info(options, summary, bbox, report)
    store.publish(info, records, staging)
    report.stage_seconds["publish"] = time.perf_counter() - t0
    report.seconds = time.perf_counter() - started
    _record_publish_time(store, info, report, staging)


def _record_publish_time(
    store: Store, info: DatasetInfo, report: ImportReport, staging: Path
) -> None:
    """Give the published report the publishing time: the file beside the tileset (staging is
    now the served version) and the catalog's copy, both written before the publish ended."""
    try:
        report.write(staging)
    except OSError as exc:  # a concurrent import of the dataset replaced (removed) it
        log.warning("import report of %s not updated after publishing: %s", staging, exc)
    try:
        store.update_report(dataclasses.replace(info, report=report.as_json()))
    except TwinError as exc:  # published: the catalog keeps the report without the publish
        log.warning("import report of dataset %s not updated in the catalog: %s", info.name, exc)


def _read_features(
    paths: Sequence[Path],
    options: ImportOptions,
    report: ImportReport,
    progress: Progress | None,
    workers: Workers,
    spill: FeatureSpill,
) -> None:
    """Build the features of every usable object into ``spill``; report the others.

    With a pool, the members the reader hands on unread are read in the workers too.
    """
    in_flight = 2 * workers.slots if workers.executor is not None else 1
    with SeenIds() as seen:
        order = ReportOrder(report, in_flight, seen)
        crs = _CRSDecisions(options, report, order.held)
        items = _usable_objects(paths, options, crs, workers.executor is not None)
        for done, outcome in iter_work(items, workers, crs.decided, crs.reprojector):
            packed: list[Packed] = []
            if outcome is None:
                entries: Sequence[Rejection | Entry] = [cast("Rejection", done)]
            elif isinstance(outcome, ReadBuilt):
                entries, packed = outcome.entries, outcome.packed
            else:
                entries = object_entries(cast("list[CityObject]", done), outcome, options.crs)
                packed = [outcome.packed]
            for part in _kept(packed, _record_entries(order, entries)):
                spill.add(part)
            if progress is not None:
                progress("read", report.objects_read, None)
        order.finish()


def _record_entries(order: ReportOrder, entries: Sequence[Rejection | Entry]) -> list[int]:
    """Record ``entries`` in ``order``; return the positions, among the features built from
    them, of those whose object repeats an id."""
    repeated: list[int] = []
    feature = 0
    for entry in entries:
        kept = order.record(entry)
        if isinstance(entry, Entry) and not entry.rejections:  # it has a feature
            if not kept:
                repeated.append(feature)
            feature += 1
    return repeated


def _kept(packed: list[Packed], dropped: list[int]) -> Iterator[Packed]:
    """Yield each of ``packed`` without the features at ``dropped`` (positions over all)."""
    start = 0
    for part in packed:
        stop = start + len(part.rows)
        yield without(part, [k - start for k in dropped if start <= k < stop])
        start = stop


def _warn_missing_theme(theme: str | None, report: ImportReport) -> None:
    """Warn when ``--appearance-theme`` named a theme no appearance of the input has."""
    if theme is None or report.appearances.theme is not None:
        return
    met = ", ".join(repr(t) for t in sorted(report.appearances.themes_ignored)) or "none"
    report.warnings.append(
        f"--appearance-theme {theme!r}: no appearance of that theme in the input (its themes: "
        f"{met}); surfaces keep their class colours"
    )


def _served_tileset(store: Store, dataset: str) -> Path | None:
    """Return the directory of the tileset being served for ``dataset``, if any."""
    try:
        return store.tileset_dir(dataset)
    except NotFoundError:
        return None


def _workers(options: ImportOptions) -> int:
    return default_workers() if options.workers is None else options.workers


def _usable_objects(
    paths: Sequence[Path], options: ImportOptions, crs: _CRSDecisions, ship: bool
) -> Iterator[tuple[CityObject, Reprojector | None] | MemberBatch | Rejection]:
    """Yield the objects read with their reprojector, the rejections of the reader, and the
    members handed on unread (with ``ship``)."""
    read_options = ReadOptions(
        options.lod,
        options.types,
        options.keep_going,
        options.appearance_theme,
        crs.report.appearances,
        ship,
    )
    for item in iter_objects(paths, read_options):
        yield item if not isinstance(item, CityObject) else (item, crs.reprojector(item))


@dataclass(slots=True)
class _CRSDecisions:
    """The reprojector of each srsName, decided from the first object in it, and what the
    workers need of them (pickled once). The warnings of a decision wait in ``held`` for the
    report (:class:`~twin.pipeline.report_order.ReportOrder`)."""

    options: ImportOptions
    report: ImportReport
    held: dict[str, list[str]]
    reprojectors: dict[str, Reprojector] = field(default_factory=dict)
    pickled: dict[str, tuple[tuple[str, bool], bytes]] = field(default_factory=dict)
    placed: set[tuple[str, str]] = field(default_factory=set)

    def reprojector(self, obj: CityObject) -> Reprojector | None:
        """Return the reprojector of ``obj`` (None without polygons), deciding it if new."""
        warned = len(self.report.warnings)
        reprojector = _reprojector(obj, self.options, self.reprojectors, self.report)
        if reprojector is None:
            return None
        srs = self.options.crs or cast("str", obj.srs_name)
        if new := self.report.warnings[warned:]:
            del self.report.warnings[warned:]
            self.held[srs] = new
        if obj.srs_placement is not None:
            self.placed.add((srs, obj.srs_placement))
        return reprojector

    def decided(self) -> Decided:
        """Return what is decided so far, as the workers take it."""
        for srs, r in self.reprojectors.items():
            if srs not in self.pickled:
                self.pickled[srs] = ((r.srs_name, r.northing_first), pickle.dumps(r))
        return Decided(dict(self.pickled), frozenset(self.placed), self.options.crs)


def _reprojector(
    obj: CityObject,
    options: ImportOptions,
    cache: dict[str, Reprojector],
    report: ImportReport,
) -> Reprojector | None:
    if obj.surfaces.polygon_count == 0:
        return None
    path = obj.source.path
    srs = options.crs or obj.srs_name
    if srs is None:
        raise CRSError(f"{path}: {_no_crs(obj)}; {CRS_HINT}")
    if srs not in cache:
        try:
            if obj.srs_placement is not None:
                check_anchor_crs(srs)
            cache[srs] = reprojector_for(srs, obj.surfaces.coords)
        except CRSError as exc:
            placed = "" if obj.srs_placement is None else f"{obj.srs_placement}, but "
            raise CRSError(f"{path}: {placed}{exc}") from exc
        r = cache[srs]
        report.crs[srs] = {"northing_first": r.northing_first, "geoid": r.geoid}
        if r.swapped:
            report.warnings.append(f"{srs}: coordinates are written in swapped axis order")
    if obj.srs_placement is not None:  # a local engineering CRS the reader placed
        if cache[srs].northing_first:  # local X (east) went onto the anchor's northing
            raise CRSError(
                f"{path}: {obj.srs_placement}, but its anchor is written northing first in "
                f"{srs}, so local X (east) would be laid along north and the city mirrored; "
                "write the anchor point easting first, as the local X, Y axes run"
            )
        placed_crs = cast("list[str]", report.crs[srs].setdefault("placed", []))
        if obj.srs_placement not in placed_crs:
            placed_crs.append(obj.srs_placement)
    return cache[srs]


def _resolve_parents(spill: FeatureSpill, report: ImportReport) -> None:
    """Give objects without geometry of their own (Buildings of parts) their parts' extent.

    Their rows in the spill get the box around their parts with a mesh and are marked kept;
    one without such a part is rejected.
    """
    for index, oid in spill.meshless():
        parts = np.array(spill.parts_of(oid), dtype=np.int64)
        children = spill.rows_at(parts)
        children = children[children["has_mesh"]]
        if len(children):
            row = spill.rows_at(np.array([index]))
            row["bbox_wgs84"] = merge_bboxes(children["bbox_wgs84"])
            row["kept"] = True
            spill.update(np.array([index]), row)
        else:
            obj = tile_feature(spill.tile_parts(np.array([index]))[0]).obj
            reason = "no geometry at LoD1/LoD2 and no BuildingPart with geometry"
            report.reject(Rejection(obj.id, obj.type, obj.source, reason))


def _kept_totals(spill: FeatureSpill) -> tuple[IndexArray, BBox6 | None]:
    """Return the count of kept features per type code and the box around them all."""
    summary = spill.finish()
    counts = np.zeros(len(summary.type_names), np.int64)
    boxes: list[BBox6] = []  # one per chunk
    for _, rows in spill.iter_rows():
        kept = rows[rows["kept"]]
        counts += np.bincount(kept["type_code"], minlength=len(counts))
        if len(kept):
            boxes.append(merge_bboxes(kept["bbox_wgs84"]))
    return counts, merge_bboxes(boxes) if boxes else None


def _records(dataset: str, spill: FeatureSpill, placement: Placement) -> Iterator[BuildingRecord]:
    """Yield the catalog records of the kept features, reading each one's catalog part back
    from ``spill``; a Building of parts gets its parts' footprint and aggregate measures."""
    for start, rows in spill.iter_rows():
        for k in np.flatnonzero(rows["kept"]).tolist():
            row = rows[k]
            part = spill.catalog_part(start + k, row)
            parts, meshed = _kept_parts(spill, part.id)
            if not row["has_mesh"]:
                footprints = [p.footprint for p, m in zip(parts, meshed, strict=True) if m]
                box = row["bbox_wgs84"].tolist()
                bbox = (box[0], box[1], box[2], box[3], box[4], box[5])
                union = union_geojson([f for f in footprints if f])
                part = dataclasses.replace(part, bbox_wgs84=bbox, footprint=union)
            yield _record(dataset, part, placement.of(row), parts)


def _kept_parts(spill: FeatureSpill, object_id: str) -> tuple[list[CatalogPart], list[bool]]:
    """Return the catalog parts of the kept features whose parent is ``object_id`` and, per
    part, whether it has a mesh."""
    indices = spill.parts_of(object_id)
    if not indices:
        return [], []
    rows = spill.rows_at(np.array(indices, dtype=np.int64))
    kept = np.flatnonzero(rows["kept"]).tolist()
    parts = [spill.catalog_part(indices[k], rows[k]) for k in kept]
    return parts, [bool(rows[k]["has_mesh"]) for k in kept]


def _counted(
    records: Iterator[BuildingRecord], total: int, progress: Callable[[int, int], None]
) -> Iterator[BuildingRecord]:
    """Yield ``records``, telling ``progress`` how many of ``total`` went by."""
    for done, record in enumerate(records, 1):
        yield record
        progress(done, total)


def _record(
    dataset: str, part: CatalogPart, placement: tuple[str, int] | None, parts: Sequence[CatalogPart]
) -> BuildingRecord:
    assert part.bbox_wgs84 is not None
    return BuildingRecord(
        dataset=dataset,
        id=part.id,
        type=part.type,
        bbox_wgs84=part.bbox_wgs84,
        footprint=part.footprint,
        attributes=part.attributes,
        parent_id=part.parent_id,
        lod=part.lod,
        address=part.address,
        tile=None if placement is None else placement[0],
        feature_id=None if placement is None else placement[1],
        measures=measures_of(part, parts) if parts else part.measures,
        lod_geometry=part.surfaces_wkb
        or merge_surfaces_wkb([p.surfaces_wkb for p in parts if p.surfaces_wkb]),
    )


def _dataset_info(
    options: ImportOptions, summary: Summary, bbox: BBox6 | None, report: ImportReport
) -> DatasetInfo:
    total = summary.class_areas_m2
    return DatasetInfo(
        name=options.dataset,
        title=options.title or options.dataset,
        srs_name=next(iter(report.crs), None),
        object_count=report.imported,
        bbox_wgs84=bbox,
        imported_at=dt.datetime.now(dt.UTC),
        report=report.as_json(),
        surface_areas_m2={c.name.lower(): float(total[c]) for c in SurfaceClass if total[c] > 0},
    )


def _no_crs(obj: CityObject) -> str:
    """Say where the CRS of ``obj`` was looked for, in the terms of its file's format."""
    if obj.source.path.endswith((".json", ".jsonl")):  # CityJSON, CityJSONSeq (.city.json…)
        return f"no CRS for {obj.type} {obj.id!r}: the file's metadata has no referenceSystem"
    return (
        f"no srsName for {obj.type} {obj.id!r} (line {obj.source.line}) nor in the file's envelope"
    )


def _first_reason(report: ImportReport, types: Sequence[str] | None) -> str:
    if report.rejections:
        return report.rejections[0].reason
    if types and report.objects_read == 0:
        return (
            f"no object of the types given with --types ({','.join(types)}) in the input; "
            "--types takes top-level type names as the input writes them, e.g. Building,Road"
        )
    return "no city objects found"
