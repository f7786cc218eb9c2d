"""Turn CityJSON geometry objects (boundaries of vertex indices, semantics) into Surfaces.

Boundaries nest by type: a ``MultiSurface``/``CompositeSurface`` is a list of surfaces, a
surface a list of rings (exterior first), a ring a list of vertex indices; a ``Solid`` is a
list of shells (the first is the exterior; the others are voids and are not drawn), a
``MultiSolid``/``CompositeSolid`` a list of solids. ``semantics.values`` mirrors the nesting
down to the surface.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from twin.model import SurfaceClass, Surfaces
from twin.types import Float64Array

__all__ = ["SEMANTIC_CLASSES", "iter_surface_values", "iter_surfaces", "kept_rings", "to_surfaces"]

SEMANTIC_CLASSES = {
    "RoofSurface": SurfaceClass.ROOF,
    "WallSurface": SurfaceClass.WALL,
    "GroundSurface": SurfaceClass.GROUND,
    "ClosureSurface": SurfaceClass.CLOSURE,
    "OuterCeilingSurface": SurfaceClass.OUTER_CEILING,
    "OuterFloorSurface": SurfaceClass.OUTER_FLOOR,
    "Window": SurfaceClass.WINDOW,
    "Door": SurfaceClass.DOOR,
    "InteriorWallSurface": SurfaceClass.INTERIOR_WALL,
    "CeilingSurface": SurfaceClass.CEILING,
    "FloorSurface": SurfaceClass.FLOOR,
    "TrafficArea": SurfaceClass.TRAFFIC_AREA,
    "AuxiliaryTrafficArea": SurfaceClass.AUXILIARY_TRAFFIC_AREA,
    "WaterSurface": SurfaceClass.WATER_SURFACE,
    "WaterGroundSurface": SurfaceClass.WATER_GROUND,
    "WaterClosureSurface": SurfaceClass.CLOSURE,
}

Surface = tuple[Sequence[Sequence[int]], int]
"""One polygon: its rings as vertex-index lists, and its SurfaceClass."""


def iter_surfaces(geometry: Mapping[str, Any]) -> Iterator[Surface]:
    """Yield every drawable polygon of one CityJSON geometry object with its class.

    >>> g = {"type": "MultiSurface", "boundaries": [[[0, 1, 2]]],
    ...      "semantics": {"surfaces": [{"type": "RoofSurface"}], "values": [0]}}
    >>> list(iter_surfaces(g))
    [([[0, 1, 2]], 1)]
    """
    semantics = geometry.get("semantics") or {}
    kinds = [SEMANTIC_CLASSES.get(s.get("type", ""), 0) for s in semantics.get("surfaces", [])]
    values = iter_surface_values(geometry, semantics.get("values"))
    boundaries = iter_surface_values(geometry, geometry.get("boundaries"))
    for surface, index in zip(boundaries, values, strict=True):
        surface_class = kinds[index] if isinstance(index, int) and index < len(kinds) else 0
        yield surface or [], int(surface_class)


def iter_surface_values(geometry: Mapping[str, Any], values: Any) -> Iterator[Any]:
    """Yield, per drawable surface of ``geometry`` (as :func:`iter_surfaces`), its entry in
    ``values`` — a list nested like the boundaries down to the surface (semantics, material,
    texture values) — or None where ``values`` has none.

    Only the exterior shell of a solid is drawn; points, curves and GeometryInstance
    templates have no surfaces.

    >>> g = {"type": "Solid", "boundaries": [[[[0, 1, 2]], [[2, 1, 3]]]]}
    >>> list(iter_surface_values(g, [[7]]))
    [7, None]
    """
    kind = geometry.get("type")
    boundaries = geometry.get("boundaries") or []
    if kind in ("MultiSurface", "CompositeSurface"):
        solids, values = [[boundaries]], [[values]]
    elif kind == "Solid":
        solids, values = [boundaries], [values]
    elif kind in ("MultiSolid", "CompositeSolid"):
        solids = boundaries
    else:
        return
    for s, solid in enumerate(solids):
        shell_values = _nth(_nth(values, s), 0)
        for i in range(len(solid[0]) if solid else 0):
            yield _nth(shell_values, i)


def _nth(values: Any, i: int) -> Any:
    return values[i] if isinstance(values, list) and i < len(values) else None


def kept_rings(boundary: Sequence[Sequence[int]]) -> list[int] | None:
    """Return the rings of a surface that are drawn (3 vertices or more), None for none.

    A surface whose exterior ring is too short is not drawn at all.

    >>> kept_rings([[0, 1, 2, 3], [4, 5], [6, 7, 8]]), kept_rings([[0, 1]])
    ([0, 2], None)
    """
    if not boundary or len(boundary[0]) < 3:
        return None
    return [k for k, ring in enumerate(boundary) if len(ring) >= 3]


def to_surfaces(surfaces: Sequence[Surface], vertices: Float64Array) -> tuple[Surfaces, int]:
    """Pack polygons into :class:`Surfaces`; return it and the count of rings dropped.

    A ring with fewer than 3 vertices is dropped; a surface whose exterior is dropped goes.
    """
    rings: list[Sequence[int]] = []
    ring_counts: list[int] = []
    classes: list[int] = []
    dropped = 0
    for boundary, surface_class in surfaces:
        drawn = kept_rings(boundary)
        if drawn is None:
            dropped += len(boundary) if boundary else 1
            continue
        kept = [boundary[k] for k in drawn]
        dropped += len(boundary) - len(kept)
        rings.extend(kept)
        ring_counts.append(len(kept))
        classes.append(surface_class)
    if not rings:
        return Surfaces.empty(), dropped
    lengths = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
    indices = np.concatenate([np.asarray(r, dtype=np.int64) for r in rings])
    return (
        Surfaces(
            coords=np.ascontiguousarray(vertices[indices]),
            ring_offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            polygon_offsets=np.concatenate([[0], np.cumsum(ring_counts)]).astype(np.int64),
            classes=np.asarray(classes, dtype=np.uint8),
        ),
        dropped,
    )
