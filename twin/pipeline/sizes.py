"""Where a tileset's bytes go: per object type, and the heaviest objects, gathered tile by tile.

Each encoding worker splits its tile's bytes among the tile's objects
(:func:`tiles.sizes.feature_sizes`) and sends back only totals per object type and its
:data:`HEAVIEST` heaviest objects (:func:`tile_sizes`); the importing process folds them into a
:class:`SizeReport`, which holds a few numbers per type and a heap of :data:`HEAVIEST` objects,
whatever the size of the city.

An object's bytes in a full-detail tile are its own; the LoD1 blocks that stand for it in
coarser tiles add a few dozen bytes each, counted in its type's total (``coarse_bytes``), so the
types' bytes add up to the tileset's content bytes exactly.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from tiles.sizes import PARTS, FeatureSizes

__all__ = ["HEAVIEST", "HeavyObject", "SizeReport", "TileSizes", "tile_sizes"]

HEAVIEST: Final = 10  # objects listed in the report's ``heaviest``


@dataclass(frozen=True, slots=True, order=True)
class HeavyObject:
    """One object's bytes in its full-detail tile, by part of :data:`tiles.sizes.PARTS`."""

    bytes: int
    id: str
    type: str
    triangles: int
    parts: tuple[int, ...]
    tile: str = ""  # content uri, known to the importing process

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "type": self.type, "triangles": self.triangles,
                "bytes": self.bytes, **dict(zip(PARTS, self.parts, strict=True)),
                "tile": self.tile}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TileSizes:
    """One tile's bytes per object type, and its heaviest objects (full-detail tiles only).

    ``by_type`` maps a type to its object count, its bytes per part (4,) and its triangles.
    """

    full_detail: bool
    by_type: dict[str, tuple[int, tuple[int, ...], int]]
    heaviest: list[HeavyObject]


def tile_sizes(
    ids: Sequence[str], types: Sequence[str], sizes: FeatureSizes, *, full_detail: bool
) -> TileSizes:
    """Summarize a tile's :class:`~tiles.sizes.FeatureSizes` of objects ``ids`` of ``types``."""
    per_object = sizes.bytes.sum(axis=1)
    by_type: dict[str, tuple[int, tuple[int, ...], int]] = {}
    names, code = np.unique(np.asarray(types, dtype=object), return_inverse=True)
    for k, name in enumerate(names.tolist()):
        mine = code == k
        parts = tuple(int(v) for v in sizes.bytes[mine].sum(axis=0))
        by_type[name] = (int(mine.sum()), parts, int(sizes.triangles[mine].sum()))
    heaviest = []
    if full_detail:
        top = np.argsort(-per_object, kind="stable")[:HEAVIEST]
        heaviest = [
            HeavyObject(
                int(per_object[i]),
                ids[i],
                types[i],
                int(sizes.triangles[i]),
                tuple(int(v) for v in sizes.bytes[i]),
            )
            for i in top.tolist()
        ]
    return TileSizes(full_detail, by_type, heaviest)


@dataclass(slots=True)
class _TypeTotals:
    objects: int = 0
    triangles: int = 0
    parts: list[int] = field(default_factory=lambda: [0] * len(PARTS))
    coarse_bytes: int = 0


@dataclass(slots=True)
class SizeReport:
    """Bytes of a tileset's content per object type, and its :data:`HEAVIEST` heaviest objects.

    Objects and triangles count full-detail tiles; bytes count every content file once.
    """

    by_type: dict[str, _TypeTotals] = field(default_factory=dict)
    _heap: list[HeavyObject] = field(default_factory=list)

    def add(self, tile: TileSizes, uri: str) -> None:
        """Fold in the sizes of content file ``uri``."""
        for name, (objects, parts, triangles) in tile.by_type.items():
            totals = self.by_type.setdefault(name, _TypeTotals())
            totals.parts = [a + b for a, b in zip(totals.parts, parts, strict=True)]
            if tile.full_detail:
                totals.objects += objects
                totals.triangles += triangles
            else:
                totals.coarse_bytes += sum(parts)
        for heavy in tile.heaviest:
            item = dataclasses.replace(heavy, tile=uri)
            if len(self._heap) < HEAVIEST:
                heapq.heappush(self._heap, item)
            elif item > self._heap[0]:
                heapq.heapreplace(self._heap, item)

    @property
    def content_bytes(self) -> int:
        return sum(sum(t.parts) for t in self.by_type.values())

    def as_json(self) -> dict[str, object]:
        """Return the report's size figures (under ``tiles``)."""
        objects = sum(t.objects for t in self.by_type.values())
        made_of = [sum(t.parts[k] for t in self.by_type.values()) for k in range(len(PARTS))]
        return {
            "content_bytes": self.content_bytes,
            "bytes_per_object": _per(self.content_bytes, objects),
            "made_of": dict(zip(PARTS, made_of, strict=True)),
            "by_type": {
                name: {
                    "objects": t.objects,
                    "triangles": t.triangles,
                    "bytes": sum(t.parts),
                    "bytes_per_object": _per(sum(t.parts), t.objects),
                    "coarse_bytes": t.coarse_bytes,
                    "made_of": dict(zip(PARTS, t.parts, strict=True)),
                }
                for name, t in sorted(self.by_type.items())
            },
            "heaviest": [h.as_json() for h in sorted(self._heap, reverse=True)],
        }


def _per(total: int, count: int) -> float | None:
    return round(total / count, 1) if count else None
