"""Features to a 3D Tiles tileset on disk: partition, encode each tile, write the tileset JSON.

3D Tiles 1.1 (glb) by default, 1.0 (b3dm) on request; large trees split into external tilesets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

import tiles
from tiles import Compression, TileFormat
from tiles.hierarchy import Node, build_hierarchy, widen
from tiles.metadata import Value
from tiles.sizes import FeatureSizes, feature_sizes
from tiles.tileset import WGS84_A
from twin.model import AttributeValue, Mesh
from twin.pipeline.features import Feature
from twin.pipeline.lod import block_meshes, object_slices
from twin.pipeline.materials import MATERIALS, tile_materials
from twin.pipeline.parallel import Workers, map_ordered, workers_for
from twin.pipeline.sizes import SizeReport, TileSizes, tile_sizes
from twin.pipeline.spill import FeatureSpill, tile_feature
from twin.types import Float64Array, IndexArray

__all__ = [
    "Compression",
    "Placement",
    "TileBudget",
    "TileFormat",
    "TilesetStats",
    "write_tileset",
]

log = logging.getLogger(__name__)

CONTENT_DIR = "content"
_MIN_ERROR_M = 0.01  # an inner tile is never exact: its blocks stand for finer content
_MAX_MOVE_M = 0.001  # how far compression may move a vertex of full-detail content


@dataclass(frozen=True, slots=True)
class TileBudget:
    """Limits per tile (features, estimated bytes of geometry) and per tileset JSON file.

    ``levels_per_file``: tree levels in one tileset JSON before a subtree moves to an external
    tileset (0: one file). Tiles have at most four children, so a file holds at most
    ``1 + 4 + … + 4**levels`` tiles (341 for the default 4) however large the city.
    """

    max_features: int = 400
    max_bytes: int = 2_000_000
    levels_per_file: int = 4


@dataclass(frozen=True, slots=True)
class Placement:
    """The content uri of each leaf tile; a spilled feature's row says which leaf holds it
    (``tile``, -1: none, e.g. a Building made of parts) and its ``feature_id`` in that tile's
    property table."""

    uris: list[str]

    def of(self, row: np.void) -> tuple[str, int] | None:
        """Return (content uri, feature id) of the feature of spill ``row``, or None."""
        tile = int(row["tile"])
        return None if tile < 0 else (self.uris[tile], int(row["feature_id"]))


@dataclass(frozen=True, slots=True)
class TilesetStats:
    """What :func:`write_tileset` wrote: tile count, total bytes, where each feature is, and
    what the content's bytes are made of."""

    tile_count: int
    bytes_written: int
    placement: Placement
    reused: int = 0  # content files hard-linked from the previous version
    sizes: SizeReport = field(default_factory=SizeReport)

    @property
    def tiles_and_bytes(self) -> tuple[int, int]:
        return self.tile_count, self.bytes_written


def write_tileset(
    spill: FeatureSpill,
    out_dir: Path,
    budget: TileBudget,
    workers: int | Workers = 1,
    *,
    compress: Compression = "meshopt",
    tile_format: TileFormat = "glb",
    previous: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TilesetStats:
    """Write ``tileset.json`` (external tilesets beside it past ``budget.levels_per_file``
    levels) and its content into ``out_dir`` for the spilled features with meshes.

    Leaves hold the features' meshes; every inner tile holds LoD1 blocks of the largest
    ``budget.max_features`` features below it (REPLACE refinement), so the whole city shows from
    afar, with a property table of ``id`` and ``type`` only (enough to pick and look up).
    The tree is planned from the spill's rows; tiles are encoded children first, each job
    reading just its features from the spill, by ``workers`` (a count of local processes,
    ``<= 1``: this one) with a few jobs in flight, so memory holds a few tiles, not the city.
    ``compress`` picks the geometry layout of :func:`tiles.encode_glb` (meshopt by default;
    "none" and "quantize" keep float32 positions in each tile's frame, so no vertex moves more
    than a millimetre). ``tile_format`` "b3dm" writes 3D Tiles 1.0 (b3dm content with a batch
    table, tileset ``asset.version`` "1.0") for legacy clients. Content files are named by
    their hash; one already in the ``previous`` tileset directory is hard-linked, not rewritten,
    so a re-import rewrites only the tiles whose content changed (and clients keep their cache).
    ``progress`` is told the tiles written so far and their total after each tile.
    """
    meshed, centres, sizes_m, estimated = _planning_columns(spill)
    if not len(meshed):
        raise ValueError("no feature has geometry; nothing to tile")
    (out_dir / CONTENT_DIR).mkdir(parents=True, exist_ok=True)
    tree = widen(
        build_hierarchy(
            centres, estimated, max_features=budget.max_features, max_bytes=budget.max_bytes
        )
    )
    del centres, estimated
    nodes = _post_order(tree)
    encoding = _Encoding(compress, tile_format)
    jobs = (_job(node, meshed, sizes_m, budget.max_features, encoding, spill) for node in nodes)
    placement = Placement([])
    built: dict[int, tiles.Tile] = {}
    written = [0, 0]  # tiles, bytes
    reused = 0
    sizes = SizeReport()
    for node, (data, frame, content_error, by_object) in zip(
        nodes, _encode_all(jobs, len(nodes), workers), strict=True
    ):
        uri = f"{CONTENT_DIR}/{hashlib.sha256(data).hexdigest()[:20]}.{tile_format}"
        if not (out_dir / uri).exists():
            reused += _link_previous(previous, out_dir, uri) or _write(out_dir / uri, data)
            written[1] += len(data)
            sizes.add(by_object, uri)
        written[0] += 1
        if progress is not None:
            progress(written[0], len(nodes))
        if node.is_leaf:
            placed = meshed[node.items]
            rows = spill.rows_at(placed)
            rows["tile"] = len(placement.uris)
            rows["feature_id"] = np.arange(len(placed), dtype=np.int32)
            spill.update(placed, rows)
            placement.uris.append(uri)
            built[id(node)] = tiles.Tile(_region(rows["bbox_wgs84"]), 0.0, frame, uri)
            continue
        children = tuple(built.pop(id(child)) for child in node.children)
        skipped_m = _largest_left_out(node, sizes_m, budget.max_features)
        error = max(content_error, skipped_m, _MIN_ERROR_M, *(c.geometric_error for c in children))
        region = _union(c.region for c in children)
        built[id(node)] = tiles.Tile(region, error, frame, uri, children, "REPLACE")
    root = built[id(tree)]
    documents = tiles.tileset_files(
        root,
        geometric_error=max(_diagonal_m(root.region), root.geometric_error, 1.0),
        levels_per_file=budget.levels_per_file,
        version="1.0" if tile_format == "b3dm" else "1.1",
    )
    for name, document in documents.items():
        text = json.dumps(document, separators=(",", ":"))
        (out_dir / name).write_text(text, encoding="utf-8")
        written[1] += len(text.encode("utf-8"))
    if previous is not None:
        log.info("%d of %d tiles unchanged, linked from %s", reused, written[0], previous)
    return TilesetStats(written[0], written[1], placement, reused, sizes)


def _planning_columns(
    spill: FeatureSpill,
) -> tuple[IndexArray, Float64Array, Float64Array, IndexArray]:
    """Return what the tile tree is planned from, per spilled feature with a mesh, read from
    the spill's rows a chunk at a time: its index in the spill ``(M,)``, the centre of its
    ECEF extent ``(M, 3)``, the extent's diagonal in metres ``(M,)`` and its estimated bytes
    ``(M,)`` (40 bytes a feature in all)."""
    count = spill.finish().meshed
    meshed = np.empty(count, np.int64)
    centres = np.empty((count, 3))
    sizes_m = np.empty(count)
    estimated = np.empty(count, np.int64)
    filled = 0
    for start, rows in spill.iter_rows():
        chosen = rows[rows["has_mesh"]]
        extents = chosen["extent_ecef"]  # (K, 2, 3) ECEF min, max
        end = filled + len(chosen)
        meshed[filled:end] = start + np.flatnonzero(rows["has_mesh"])
        centres[filled:end] = extents.mean(axis=1)
        sizes_m[filled:end] = np.linalg.norm(extents[:, 1] - extents[:, 0], axis=1)
        estimated[filled:end] = chosen["estimated_bytes"]
        filled = end
    return meshed, centres, sizes_m, estimated


def _link_previous(previous: Path | None, out_dir: Path, uri: str) -> int:
    """Hard-link ``uri`` from the previous version; return 1 if done, 0 if not possible."""
    if previous is None or not (previous / uri).is_file():
        return 0
    try:
        os.link(previous / uri, out_dir / uri)
    except OSError:  # another file system, or links not supported: write instead
        return 0
    return 1


def _write(path: Path, data: bytes) -> int:
    path.write_bytes(data)
    return 0


@dataclass(frozen=True, slots=True)
class _Encoding:
    compress: Compression
    tile_format: TileFormat


_Job = tuple[Literal["mesh", "blocks"], list[bytes], _Encoding]
"""What a worker encodes: leaf meshes or inner blocks of features as spilled tiling parts."""


def _post_order(node: Node) -> list[Node]:
    """Return the nodes children first (a tile is assembled after its children)."""
    return [n for child in node.children for n in _post_order(child)] + [node]


def _job(
    node: Node,
    meshed: IndexArray,
    sizes_m: Float64Array,
    max_blocks: int,
    encoding: _Encoding,
    spill: FeatureSpill,
) -> _Job:
    """Return what to encode for ``node``: its features read from ``spill``."""
    if node.is_leaf:
        return "mesh", spill.tile_parts(meshed[node.items]), encoding
    kept = _largest(node, sizes_m)[:max_blocks]
    return "blocks", spill.tile_parts(meshed[np.sort(kept)]), encoding


def _largest(node: Node, sizes_m: Float64Array) -> IndexArray:
    """Return the items of ``node``, largest feature first (ties: in input order)."""
    return node.items[np.lexsort((node.items, -sizes_m[node.items]))]


def _largest_left_out(node: Node, sizes_m: Float64Array, max_blocks: int) -> float:
    """Return the size of the largest feature an inner tile of ``node`` leaves out (0: none)."""
    skipped = _largest(node, sizes_m)[max_blocks:]
    return float(sizes_m[skipped].max()) if len(skipped) else 0.0


_Encoded = tuple[bytes, Float64Array, float, TileSizes]
"""A tile's bytes, frame (4, 4), geometric error of its content (m) and where its bytes went."""


def _encode_all(jobs: Iterator[_Job], count: int, workers: int | Workers) -> Iterator[_Encoded]:
    """Yield the encoded ``count`` jobs in order, at most two per worker slot in flight."""
    if count < 2:
        yield from map(_encode_job, jobs)
        return
    with workers_for(workers) as opened:
        if opened.executor is None:
            yield from map(_encode_job, jobs)
            return
        for _, encoded in map_ordered(opened.executor, _encode_job, jobs, 2 * opened.slots):
            yield encoded


def _encode_job(job: _Job) -> _Encoded:
    kind, parts, encoding = job
    group = [tile_feature(part) for part in parts]
    if kind == "mesh":
        data, frame, sizes = encode_tile(
            group, compress=encoding.compress, tile_format=encoding.tile_format
        )
        error_m = 0.0
    else:
        data, frame, error_m, sizes = encode_blocks(
            group, compress=encoding.compress, tile_format=encoding.tile_format
        )
    ids, types = [f.obj.id for f in group], [f.obj.type for f in group]
    return data, frame, error_m, tile_sizes(ids, types, sizes, full_detail=kind == "mesh")


def _frame_of(meshes: Sequence[Mesh]) -> Float64Array:
    lo = np.min([m.positions_ecef.min(axis=0) for m in meshes], axis=0)
    hi = np.max([m.positions_ecef.max(axis=0) for m in meshes], axis=0)
    return tiles.enu_frame((lo + hi) / 2.0)


def encode_tile(
    group: Sequence[Feature], *, compress: Compression = "none", tile_format: TileFormat = "glb"
) -> tuple[bytes, Float64Array, FeatureSizes]:
    """Encode features as one tile in a local ENU frame; return the bytes, the frame (4, 4) and
    each feature's share of the bytes."""
    meshes = [f.mesh for f in group if f.mesh is not None]
    frame = _frame_of(meshes)
    rotation, origin = frame[:3, :3], frame[:3, 3]
    offsets = np.cumsum([0] + [len(m.positions_ecef) for m in meshes])
    positions = np.concatenate([m.positions_ecef for m in meshes])
    local = (positions - origin) @ rotation  # float64 until the writer
    faces = np.concatenate([m.faces + np.uint32(offsets[k]) for k, m in enumerate(meshes)])
    feature_ids = np.repeat(np.arange(len(meshes), dtype=np.uint32), np.diff(offsets))
    classes = np.concatenate([m.classes for m in meshes]).astype(np.uint16)
    materials, per_face, uv = tile_materials(meshes, classes)
    # Polygons own their ring vertices, so per-vertex normals keep the mesh welded and flat.
    normals = tiles.vertex_normals(local, faces)
    mesh = tiles.TileMesh(
        local.astype(np.float32), normals, faces, feature_ids, per_face, materials, uv
    )
    table = tiles.PropertyTable("cityObject", len(group), property_columns(group))
    data, sizes = _content(mesh, table, compress, tile_format, _MAX_MOVE_M)
    return data, frame, sizes


def encode_blocks(
    group: Sequence[Feature], *, compress: Compression = "none", tile_format: TileFormat = "glb"
) -> tuple[bytes, Float64Array, float, FeatureSizes]:
    """Encode features as LoD1 blocks; return the tile, its frame (4, 4), its error in m and
    each feature's share of the bytes."""
    meshes = [f.mesh for f in group if f.mesh is not None]
    frame = _frame_of(meshes)
    rotation, origin = frame[:3, :3], frame[:3, 3]
    vertex_offsets = object_slices(np.array([len(m.positions_ecef) for m in meshes]))
    face_offsets = object_slices(np.array([len(m.faces) for m in meshes]))
    local = (np.concatenate([m.positions_ecef for m in meshes]) - origin) @ rotation
    faces = np.concatenate([m.faces + np.uint32(vertex_offsets[k]) for k, m in enumerate(meshes)])
    blocks = block_meshes(local, vertex_offsets, faces, face_offsets)
    feature_ids = np.repeat(np.arange(len(meshes), dtype=np.uint32), 20)
    normals = tiles.vertex_normals(blocks.positions, blocks.faces)
    mesh = tiles.TileMesh(
        blocks.positions.astype(np.float32), normals, blocks.faces, feature_ids,
        blocks.classes.astype(np.uint16), MATERIALS,
    )  # fmt: skip
    columns: dict[str, list[Value]] = {"id": [f.obj.id for f in group]}
    columns["type"] = [f.obj.type for f in group]
    table = tiles.PropertyTable("cityObject", len(group), columns)
    error_m = float(blocks.errors_m.max())
    # Blocks stand for their objects within error_m: a compression grid may add a tenth of it.
    data, sizes = _content(mesh, table, compress, tile_format, max(_MAX_MOVE_M, error_m / 10))
    return data, frame, error_m, sizes


def _content(
    mesh: tiles.TileMesh,
    table: tiles.PropertyTable,
    compress: Compression,
    tile_format: TileFormat,
    max_move_m: float,
) -> tuple[bytes, FeatureSizes]:
    """A glb with its property table, or a b3dm whose batch table holds the same columns, and
    each feature's share of its bytes."""
    if tile_format == "glb":
        data = tiles.encode_glb(mesh, table, compress=compress, max_position_error_m=max_move_m)
    else:
        glb = tiles.encode_glb(
            mesh, compress=compress, id_attribute="_BATCHID", max_position_error_m=max_move_m
        )
        data = tiles.encode_b3dm(glb, table)
    return data, feature_sizes(data, mesh, table)


def property_columns(group: Sequence[Feature]) -> dict[str, list[Value]]:
    """Return the tile's property table columns: id, type, parent, lod, attributes, address.

    Dates become ISO 8601 strings (EXT_structural_metadata has no date type).
    """
    columns: dict[str, list[Value]] = {
        "id": [f.obj.id for f in group],
        "type": [f.obj.type for f in group],
        "parent_id": [f.obj.parent_id for f in group],
        "lod": [f.obj.lod for f in group],
    }
    names = sorted({name for f in group for name in f.obj.attributes})
    for name in names:  # an attribute called e.g. "type" must not shadow the object's type
        key = name if name not in columns else f"attribute.{name}"
        columns[key] = [_cell(f.obj.attributes.get(name)) for f in group]
    addresses = [f.obj.address.as_dict() if f.obj.address else {} for f in group]
    for key in sorted({k for a in addresses for k in a}):
        columns[f"address.{key}"] = [a.get(key) for a in addresses]
    return columns


def _cell(value: AttributeValue) -> Value:
    return value.isoformat() if isinstance(value, dt.date) else value


def _region(boxes: Float64Array) -> tuple[float, float, float, float, float, float]:
    """Return the 3D Tiles region (radians, metres) around ``boxes`` (K, 6) of WGS84 boxes."""
    lo, hi = boxes[:, :3].min(axis=0), boxes[:, 3:].max(axis=0)
    w, s, e, n = (math.radians(v) for v in (lo[0], lo[1], hi[0], hi[1]))
    return (w, s, e, n, float(lo[2]), float(hi[2]))


Region = tuple[float, float, float, float, float, float]


def _union(regions: Iterable[Region]) -> Region:
    """Return the region around ``regions``: the same floats :func:`_region` gives for all
    their boxes at once, since radians() is monotonic."""
    w, s, e, n, h0, h1 = zip(*regions, strict=True)
    return (min(w), min(s), max(e), max(n), min(h0), max(h1))


def _diagonal_m(region: tuple[float, float, float, float, float, float]) -> float:
    w, s, e, n, h0, h1 = region
    dx = (e - w) * WGS84_A * math.cos((s + n) / 2.0)
    dy = (n - s) * WGS84_A
    return math.sqrt(dx * dx + dy * dy + (h1 - h0) ** 2)
