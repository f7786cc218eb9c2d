"""Built features on disk while an import runs: pickles, fixed-size rows and a parts index.

A city's features must all be built before they can be partitioned into tiles; holding them
costs memory linear in the city. Instead each feature is pickled, as it arrives, into an
anonymous temporary file in the staging folder (:func:`tempfile.TemporaryFile`: unlinked at
once, so it vanishes when the import ends, fails or is killed, and never shows in the published
tileset). What tiling and the catalog need to know of every feature without unpickling it
(where its pickles are, its extent, box, size estimate, type, whether it is kept, where it was
placed) is one fixed-size row (:data:`ROW`) in a second anonymous file, written a chunk at a
time and read back in chunks or by index; which features name which parent is an index in a
private temporary SQLite database. So memory holds one chunk of rows, however large the city.

Each feature is stored as two pickles: its tiling part (the object without source polygons,
the mesh, the measures) and its catalog part (:class:`~twin.pipeline.features.CatalogPart`:
attributes, footprint GeoJSON, measures, LoD surfaces as WKB, no mesh), so a tile job reads
and ships only what encoding needs and publishing never reads a mesh. Features arrive
:func:`pack` ed, a batch at a time: pickles, rows and index entries are made where the
features were built (a worker process), and the spill only appends them.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import pickle
import sqlite3
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from twin.model import SurfaceClass
from twin.pipeline.features import CatalogPart, Feature, catalog_part
from twin.types import Float64Array, IndexArray

__all__ = [
    "ROW",
    "FeatureSpill",
    "Packed",
    "Rows",
    "Summary",
    "pack",
    "tile_feature",
    "without",
]

CHUNK = 8192  # rows buffered before a write, and read at a time by :meth:`FeatureSpill.iter_rows`
_PROTOCOL = 5

ROW = np.dtype(
    [
        ("offsets", "<i8", (3,)),  # tiling part start, catalog part start, end (bytes)
        ("extent_ecef", "<f8", (2, 3)),  # mesh min and max corner, ECEF metres (NaN: no mesh)
        ("bbox_wgs84", "<f8", (6,)),  # lon, lat, h min then max (NaN: none)
        ("estimated_bytes", "<i8"),  # Feature.estimated_bytes
        ("type_code", "<i4"),  # index into Summary.type_names
        ("tile", "<i4"),  # leaf tile it was placed in (-1: none), set by tiling
        ("feature_id", "<i4"),  # its row in that tile's property table
        ("has_mesh", "?"),
        ("kept", "?"),  # imported: has a mesh, or parts with one (set by the importer)
    ]
)
"""One feature's row in the spill (about 140 bytes on disk)."""

Rows = npt.NDArray[np.void]
"""Rows of :data:`ROW`."""


@dataclass(frozen=True, slots=True)
class Summary:
    """What stays in memory of N spilled features: counts and per-city totals.

    ``meshed`` counts the features with a mesh; ``type_names`` are the object types met, in
    the order of their ``type_code``; ``class_areas_m2`` ``(len(SurfaceClass),)`` sums every
    feature's triangle area per surface class.
    """

    count: int
    meshed: int
    type_names: list[str]
    class_areas_m2: Float64Array


@dataclass(frozen=True, slots=True)
class Packed:
    """Features as the spill stores them, made by :func:`pack` where they were built.

    ``data`` holds each feature's tiling part then its catalog part, back to back; ``rows``
    their :data:`ROW` s, with offsets into ``data`` and type codes into ``type_names``;
    ``meshless`` the ``(position, id)`` of the features without a mesh and ``parts`` the
    ``(parent id, position)`` of those with a parent; ``class_areas_m2`` ``(K, C)`` the
    triangle area per surface class of each feature (zeros without a mesh).
    """

    data: bytes
    rows: Rows
    type_names: list[str]
    meshless: list[tuple[int, str]]
    parts: list[tuple[str, int]]
    class_areas_m2: Float64Array


def pack(features: list[Feature]) -> Packed:
    """Pickle ``features`` into their tiling and catalog parts and make their rows."""
    rows = np.zeros(len(features), ROW)
    rows["tile"] = -1
    rows["extent_ecef"] = rows["bbox_wgs84"] = np.nan
    blobs: list[bytes] = []
    end = 0
    type_codes: dict[str, int] = {}
    meshless: list[tuple[int, str]] = []
    parts: list[tuple[str, int]] = []
    class_areas_m2 = np.zeros((len(features), len(SurfaceClass)))
    for k, f in enumerate(features):
        tiling = pickle.dumps(dataclasses.replace(f, footprint=None, surfaces_wkb=None), _PROTOCOL)
        catalog = pickle.dumps(catalog_part(f), _PROTOCOL)
        blobs += (tiling, catalog)
        row, obj, mesh = rows[k], f.obj, f.mesh
        row["offsets"] = (end, end + len(tiling), end + len(tiling) + len(catalog))
        end += len(tiling) + len(catalog)
        row["has_mesh"] = row["kept"] = mesh is not None
        if mesh is None:
            meshless.append((k, obj.id))
        else:
            pts = mesh.positions_ecef
            row["extent_ecef"] = np.stack([pts.min(axis=0), pts.max(axis=0)])
        if f.bbox_wgs84 is not None:
            row["bbox_wgs84"] = f.bbox_wgs84
        row["estimated_bytes"] = f.estimated_bytes
        row["type_code"] = type_codes.setdefault(obj.type, len(type_codes))
        if obj.parent_id is not None:
            parts.append((obj.parent_id, k))
        if f.class_areas_m2 is not None:
            class_areas_m2[k] = f.class_areas_m2
    return Packed(b"".join(blobs), rows, list(type_codes), meshless, parts, class_areas_m2)


def without(packed: Packed, positions: Collection[int]) -> Packed:
    """Return ``packed`` without the features at ``positions``.

    Their pickles stay in ``data`` (nothing points to them any more); the others keep theirs.
    """
    if not positions:
        return packed
    keep = np.ones(len(packed.rows), bool)
    keep[list(positions)] = False
    moved = np.cumsum(keep) - 1  # new position of each kept feature
    return Packed(
        packed.data,
        packed.rows[keep],
        packed.type_names,
        [(int(moved[k]), oid) for k, oid in packed.meshless if keep[k]],
        [(parent, int(moved[k])) for parent, k in packed.parts if keep[k]],
        packed.class_areas_m2[keep],
    )


class FeatureSpill:
    """Features pickled to an anonymous file in ``directory``, their :data:`ROW` s in another.

    Use as a context manager (closing the files frees their disk space). :meth:`add` features,
    then :meth:`finish` once; after that :meth:`iter_rows`, :meth:`rows_at`, :meth:`parts_of`,
    :meth:`tile_parts` and :meth:`catalog_part` read them back and :meth:`update` changes rows.
    """

    def __init__(self, directory: Path) -> None:
        # closed by __exit__: the spill outlives this call
        self._file = tempfile.TemporaryFile(dir=directory, prefix="spill-")  # noqa: SIM115
        self._rows = tempfile.TemporaryFile(dir=directory, prefix="spill-rows-")  # noqa: SIM115
        # "": a private on-disk database SQLite deletes on close; its cache stays small
        self._index = sqlite3.connect("", isolation_level=None)
        self._index.executescript(
            "CREATE TABLE parts (parent TEXT NOT NULL, feature INTEGER NOT NULL);"
            "CREATE TABLE meshless (feature INTEGER PRIMARY KEY, id TEXT NOT NULL);"
        )
        self._directory = directory
        self._end = 0
        self._buffer: list[Rows] = []
        self._buffered = 0
        self._parts: list[tuple[str, int]] = []
        self._meshless: list[tuple[int, str]] = []
        self._type_codes: dict[str, int] = {}
        self._class_areas_m2: Float64Array = np.zeros(len(SurfaceClass))
        self._meshed = 0
        self.summary: Summary | None = None
        self.count = 0

    def __enter__(self) -> FeatureSpill:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._file.close()
        self._rows.close()
        self._index.close()

    def add(self, packed: Packed) -> None:
        """Append the :func:`pack` ed features to the file and their rows to the rows file."""
        if self.summary is not None:
            raise ValueError("the spill is finished; no more features can be added")
        first, rows = self.count, packed.rows.copy()
        rows["offsets"] += self._end
        codes = [self._type_codes.setdefault(n, len(self._type_codes)) for n in packed.type_names]
        rows["type_code"] = np.array(codes, np.int32)[rows["type_code"]]
        self._file.write(packed.data)
        self._end += len(packed.data)
        self.count += len(rows)
        self._meshed += int(np.count_nonzero(rows["has_mesh"]))
        self._meshless += [(first + k, oid) for k, oid in packed.meshless]
        self._parts += [(parent, first + k) for parent, k in packed.parts]
        # one feature after the other, as the sum always was: the totals stay bit for bit
        areas = np.concatenate([self._class_areas_m2[np.newaxis], packed.class_areas_m2])
        self._class_areas_m2 = np.cumsum(areas, axis=0)[-1]
        self._buffer.append(rows)
        self._buffered += len(rows)
        if self._buffered >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        """Append the buffered rows to the rows file and the buffered parents to the index."""
        for rows in self._buffer:
            self._rows.write(rows.tobytes())
        self._buffer, self._buffered = [], 0
        self._index.executemany("INSERT INTO parts VALUES (?, ?)", self._parts)
        self._index.executemany("INSERT INTO meshless VALUES (?, ?)", self._meshless)
        self._parts, self._meshless = [], []

    def finish(self) -> Summary:
        """Flush the files and return the summary of every feature added."""
        if self.summary is None:
            self._flush()
            self._rows.flush()
            self._file.flush()
            self._index.execute("CREATE INDEX parts_parent ON parts (parent, feature)")
            self.summary = Summary(
                self.count, self._meshed, list(self._type_codes), self._class_areas_m2
            )
        return self.summary

    def iter_rows(self) -> Iterator[tuple[int, Rows]]:
        """Yield ``(first index, rows)`` of every feature, :data:`CHUNK` rows at a time."""
        count = self._finished().count
        for start in range(0, count, CHUNK):
            stop = min(start + CHUNK, count)
            yield start, self._read_rows(start, stop)

    def rows_at(self, indices: IndexArray) -> Rows:
        """Return the rows of features ``indices``, in that order (one read per run of
        consecutive indices)."""
        self._finished()
        out = np.zeros(len(indices), ROW)
        for positions, first, stop in _runs(indices):
            out[positions] = self._read_rows(first, stop)
        return out

    def update(self, indices: IndexArray, rows: Rows) -> None:
        """Write ``rows`` back as the rows of features ``indices`` (one write per run of
        consecutive indices)."""
        self._finished()
        if len(rows) != len(indices):
            raise ValueError(f"{len(rows)} rows for {len(indices)} indices")
        size, fd = ROW.itemsize, self._rows.fileno()
        for positions, first, _ in _runs(indices):
            os.pwrite(fd, rows[positions].tobytes(), first * size)

    def parts_of(self, object_id: str) -> list[int]:
        """Return the indices of the features whose parent is ``object_id``, in arrival order."""
        self._finished()
        query = "SELECT feature FROM parts WHERE parent = ? ORDER BY feature"
        return [index for (index,) in self._index.execute(query, (object_id,))]

    def meshless(self) -> Iterator[tuple[int, str]]:
        """Yield ``(index, id)`` of the features without a mesh, in arrival order."""
        self._finished()
        yield from self._index.execute("SELECT feature, id FROM meshless ORDER BY feature")

    def tile_parts(self, indices: IndexArray) -> list[bytes]:
        """Return the pickled tiling parts of features ``indices`` (see :func:`tile_feature`)."""
        offsets = self.rows_at(indices)["offsets"]
        return [
            self._read(int(i), int(start), int(middle))
            for i, (start, middle, _) in zip(indices.tolist(), offsets.tolist(), strict=True)
        ]

    def catalog_part(self, index: int, row: np.void | None = None) -> CatalogPart:
        """Return the catalog part of feature ``index`` (its mesh is not read); ``row`` is its
        row, when already read."""
        self._finished()
        if row is None:
            row = self._read_rows(index, index + 1)[0]
        _, middle, end = row["offsets"].tolist()
        part = pickle.loads(self._read(index, middle, end))
        assert isinstance(part, CatalogPart)
        return part

    def _finished(self) -> Summary:
        if self.summary is None:
            raise ValueError("finish() the spill before reading from it")
        return self.summary

    def _read_rows(self, start: int, stop: int) -> Rows:
        size = ROW.itemsize
        data = os.pread(self._rows.fileno(), (stop - start) * size, start * size)
        if len(data) != (stop - start) * size:
            raise OSError(
                f"spill rows file in {self._directory}: rows {start}-{stop} are truncated "
                f"({len(data)} bytes read); check the disk's free space and re-import"
            )
        return np.frombuffer(data, ROW).copy()

    def _read(self, index: int, start: int, end: int) -> bytes:
        data = os.pread(self._file.fileno(), end - start, start)
        if len(data) != end - start:
            raise OSError(
                f"spill file in {self._directory}: feature {index} (bytes {start}-{end}) is "
                f"truncated ({len(data)} bytes read); check the disk's free space and re-import"
            )
        return data


def _runs(indices: IndexArray) -> Iterator[tuple[IndexArray, int, int]]:
    """Yield ``(positions, first, stop)`` per run of consecutive values ``first:stop`` among
    ``indices``, ``positions`` being where they are in ``indices``.

    >>> [(p.tolist(), a, b) for p, a, b in _runs(np.array([7, 3, 4, 9, 8]))]
    [([1, 2], 3, 5), ([0, 4, 3], 7, 10)]
    >>> list(_runs(np.array([], dtype=np.int64)))
    []
    """
    if len(indices) == 0:  # (a Building whose parts all failed has none)
        return
    if len(indices) == 1:  # the common case (an object's row, its one part) made short
        yield np.zeros(1, np.int64), int(indices[0]), int(indices[0]) + 1
        return
    order = np.argsort(indices, kind="stable")
    ordered = indices[order]
    bounds = [0, *(np.flatnonzero(np.diff(ordered) != 1) + 1).tolist(), len(ordered)]
    for a, b in itertools.pairwise(bounds):
        yield order[a:b], int(ordered[a]), int(ordered[b - 1]) + 1


def tile_feature(blob: bytes) -> Feature:
    """Return the feature of a tiling part: no footprint, no LoD surfaces."""
    feature = pickle.loads(blob)
    assert isinstance(feature, Feature)
    return feature
