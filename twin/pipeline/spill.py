"""Built features on disk while an import runs: pickles in a temporary file, a summary in memory.

A city's features must all be built before they can be partitioned into tiles; holding them
costs memory linear in the city. Instead each feature is pickled, as it arrives, into an
anonymous temporary file in the staging folder (:func:`tempfile.TemporaryFile`: unlinked at
once, so it vanishes when the import ends, fails or is killed, and never shows in the published
tileset). Only a few numbers per feature stay in memory, as numpy columns (:class:`Summary`);
tiling and the catalog read the features back a tile or a record at a time.

Each feature is stored as two pickles: its tiling part (the object without source polygons,
the mesh, the measures) and its catalog part (footprint GeoJSON, LoD surfaces as WKB), so a
tile job reads and ships only what encoding needs.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from twin.model import SurfaceClass
from twin.pipeline.features import Feature
from twin.types import BoolArray, Float64Array, IndexArray

__all__ = ["FeatureSpill", "Summary", "tile_feature"]

_CHUNK = 4096  # rows per block of a growing column
_PROTOCOL = 5


@dataclass(frozen=True, slots=True)
class Summary:
    """What stays in memory of N spilled features, in arrival order.

    Attributes
    ----------
    has_mesh : (N,) bool
    extent_ecef : (N, 2, 3) float64
        Min and max corner of the mesh in ECEF metres (NaN without a mesh).
    bbox_wgs84 : (N, 6) float64
        (min_lon, min_lat, min_h, max_lon, max_lat, max_h) degrees and ellipsoidal metres (NaN
        rows where the feature has none).
    estimated_bytes : (N,) int64
        :attr:`Feature.estimated_bytes`.
    type_code : (N,) int64
        Index of the object's type into ``type_names``.
    type_names : list[str]
    """

    has_mesh: BoolArray
    extent_ecef: Float64Array
    bbox_wgs84: Float64Array
    estimated_bytes: IndexArray
    type_code: IndexArray
    type_names: list[str]


class _Column:
    """A column that grows by appending rows, stored in numpy blocks of :data:`_CHUNK` rows."""

    def __init__(self, shape: tuple[int, ...], dtype: type[Any], fill: Any) -> None:
        self._shape, self._dtype, self._fill = shape, dtype, fill
        self._blocks: list[npt.NDArray[Any]] = []
        self._rows = 0

    def append(self, row: Any) -> None:
        if self._rows % _CHUNK == 0:
            self._blocks.append(np.full((_CHUNK, *self._shape), self._fill, self._dtype))
        if row is not None:
            self._blocks[-1][self._rows % _CHUNK] = row
        self._rows += 1

    def take(self) -> npt.NDArray[Any]:
        """Return the rows as one array and let go of the blocks."""
        blocks, self._blocks = self._blocks, []
        if not blocks:
            return np.full((0, *self._shape), self._fill, self._dtype)
        return np.concatenate(blocks)[: self._rows]


class FeatureSpill:
    """Features pickled to an anonymous file in ``directory``; a :class:`Summary` in memory.

    Use as a context manager (closing the file frees its disk space). :meth:`add` features,
    then :meth:`finish` once; after that :meth:`tile_parts` and :meth:`load` read them back.

    Besides the summary, it keeps ``parent_ids`` (index → parent id, for the features that
    have one) and ``meshless_ids`` (index → id, for features without a mesh: Buildings made
    of parts), both in arrival order, and ``class_areas_m2`` ``(len(SurfaceClass),)``, the
    sum of every feature's triangle area per surface class.
    """

    def __init__(self, directory: Path) -> None:
        # closed by __exit__: the spill outlives this call
        self._file = tempfile.TemporaryFile(dir=directory, prefix="spill-")  # noqa: SIM115
        self._directory = directory
        self._end = 0
        self._offsets = _Column((3,), np.int64, 0)  # tiling part start, catalog part start, end
        self._has_mesh = _Column((), np.bool_, False)
        self._extent = _Column((2, 3), np.float64, np.nan)
        self._bbox = _Column((6,), np.float64, np.nan)
        self._estimated = _Column((), np.int64, 0)
        self._type = _Column((), np.int64, 0)
        self._type_codes: dict[str, int] = {}
        self._offsets_array: IndexArray | None = None
        self.summary: Summary | None = None
        self.parent_ids: dict[int, str] = {}
        self.meshless_ids: dict[int, str] = {}
        self.class_areas_m2: Float64Array = np.zeros(len(SurfaceClass))
        self.count = 0

    def __enter__(self) -> FeatureSpill:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._file.close()

    def add(self, feature: Feature) -> None:
        """Write ``feature`` to the file and append its row to the summary."""
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
        self._offsets.append((start, middle, self._end))
        index, obj, mesh = self.count, feature.obj, feature.mesh
        self.count += 1
        self._has_mesh.append(mesh is not None)
        if mesh is None:
            self.meshless_ids[index] = obj.id
            self._extent.append(None)
        else:
            pts = mesh.positions_ecef
            self._extent.append(np.stack([pts.min(axis=0), pts.max(axis=0)]))
        self._bbox.append(feature.bbox_wgs84)
        self._estimated.append(feature.estimated_bytes)
        self._type.append(self._type_codes.setdefault(obj.type, len(self._type_codes)))
        if obj.parent_id is not None:
            self.parent_ids[index] = obj.parent_id
        if feature.class_areas_m2 is not None:
            self.class_areas_m2 = self.class_areas_m2 + feature.class_areas_m2

    def finish(self) -> Summary:
        """Flush the file and return the summary of every feature added."""
        if self.summary is None:
            self._file.flush()
            self._offsets_array = self._offsets.take()
            self.summary = Summary(
                self._has_mesh.take(),
                self._extent.take(),
                self._bbox.take(),
                self._estimated.take(),
                self._type.take(),
                list(self._type_codes),
            )
        return self.summary

    def tile_parts(self, indices: IndexArray) -> list[bytes]:
        """Return the pickled tiling parts of features ``indices`` (see :func:`tile_feature`)."""
        offsets = self._read_offsets()
        return [self._read(int(i), int(offsets[i, 0]), int(offsets[i, 1])) for i in indices]

    def load(self, index: int) -> Feature:
        """Return feature ``index`` whole, as it was added."""
        start, middle, end = (int(v) for v in self._read_offsets()[index])
        feature = tile_feature(self._read(index, start, middle))
        footprint, wkb = pickle.loads(self._read(index, middle, end))
        return dataclasses.replace(feature, footprint=footprint, surfaces_wkb=wkb)

    def _read_offsets(self) -> IndexArray:
        if self._offsets_array is None:
            raise ValueError("finish() the spill before reading from it")
        return self._offsets_array

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
