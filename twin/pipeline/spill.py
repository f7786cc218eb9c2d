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
the mesh, the measures) and its catalog part (footprint GeoJSON, LoD surfaces as WKB), so a
tile job reads and ships only what encoding needs.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from twin.model import SurfaceClass
from twin.pipeline.features import Feature
from twin.types import Float64Array, IndexArray

__all__ = ["ROW", "FeatureSpill", "Rows", "Summary", "tile_feature"]

CHUNK = 8192  # rows buffered before a write, and read at a time by :meth:`FeatureSpill.iter_rows`
_PROTOCOL = 5

ROW = np.dtype(
    [
        ("offsets", "<i8", (3,)),  # tiling part start, catalog part start, end
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


class FeatureSpill:
    """Features pickled to an anonymous file in ``directory``, their :data:`ROW` s in another.

    Use as a context manager (closing the files frees their disk space). :meth:`add` features,
    then :meth:`finish` once; after that :meth:`iter_rows`, :meth:`rows_at`, :meth:`parts_of`,
    :meth:`tile_parts` and :meth:`load` read them back and :meth:`update` changes rows.
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
        self._buffer = np.zeros(CHUNK, ROW)
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

    def add(self, feature: Feature) -> None:
        """Write ``feature`` to the file and its row to the rows file."""
        if self.summary is not None:
            raise ValueError("the spill is finished; no more features can be added")
        tiling = pickle.dumps(
            dataclasses.replace(feature, footprint=None, surfaces_wkb=None), _PROTOCOL
        )
        catalog = pickle.dumps((feature.footprint, feature.surfaces_wkb), _PROTOCOL)
        self._file.write(tiling)
        self._file.write(catalog)
        start, middle = self._end, self._end + len(tiling)
        self._end = middle + len(catalog)
        index, obj, mesh = self.count, feature.obj, feature.mesh
        self.count += 1
        row = self._buffer[self._buffered]
        self._buffered += 1
        row["offsets"] = (start, middle, self._end)
        row["has_mesh"] = row["kept"] = mesh is not None
        row["tile"] = -1
        if mesh is None:
            self._meshless.append((index, obj.id))
            row["extent_ecef"] = np.nan
        else:
            self._meshed += 1
            pts = mesh.positions_ecef
            row["extent_ecef"] = np.stack([pts.min(axis=0), pts.max(axis=0)])
        row["bbox_wgs84"] = np.nan if feature.bbox_wgs84 is None else feature.bbox_wgs84
        row["estimated_bytes"] = feature.estimated_bytes
        row["type_code"] = self._type_codes.setdefault(obj.type, len(self._type_codes))
        if obj.parent_id is not None:
            self._parts.append((obj.parent_id, index))
        if feature.class_areas_m2 is not None:
            self._class_areas_m2 = self._class_areas_m2 + feature.class_areas_m2
        if self._buffered == CHUNK:
            self._flush()

    def _flush(self) -> None:
        """Append the buffered rows to the rows file and the buffered parents to the index."""
        self._rows.write(self._buffer[: self._buffered].tobytes())
        self._buffer[:] = np.zeros(1, ROW)
        self._buffered = 0
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
        """Return the rows of features ``indices``, in that order."""
        self._finished()
        out = np.zeros(len(indices), ROW)
        for k, index in enumerate(indices.tolist()):
            out[k] = self._read_rows(index, index + 1)[0]
        return out

    def update(self, indices: IndexArray, rows: Rows) -> None:
        """Write ``rows`` back as the rows of features ``indices``."""
        self._finished()
        size, fd = ROW.itemsize, self._rows.fileno()
        for index, row in zip(indices.tolist(), rows, strict=True):
            os.pwrite(fd, row.tobytes(), index * size)

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

    def load(self, index: int) -> Feature:
        """Return feature ``index`` whole, as it was added."""
        start, middle, end = (int(v) for v in self.rows_at(np.array([index]))[0]["offsets"])
        feature = tile_feature(self._read(index, start, middle))
        footprint, wkb = pickle.loads(self._read(index, middle, end))
        return dataclasses.replace(feature, footprint=footprint, surfaces_wkb=wkb)

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


def tile_feature(blob: bytes) -> Feature:
    """Return the feature of a tiling part: no footprint, no LoD surfaces."""
    feature = pickle.loads(blob)
    assert isinstance(feature, Feature)
    return feature
