"""Pick a city object's geometry (highest LoD), resolve its xlinks and build its Surfaces.

Every polygon of an object is collected once, keyed by its gml:id, with the semantic class of
the thematic surface it lies in. An ``xlink:href`` to a polygon the object already holds adds
nothing (the typical LoD2 ``Solid`` whose members point at the ``boundedBy`` polygons); a
reference to a polygon met later, or elsewhere in the same top-level building (a
``BuildingPart`` reusing a wall of its parent), is resolved once the object is complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from lxml import etree

from twin.citygml.gml import ParsedPolygon, SurfaceMember, iter_surface_members, parse_polygon
from twin.citygml.namespaces import children, local_name
from twin.model import SurfaceClass, Surfaces

__all__ = ["ObjectGeometry", "PolygonIndex", "read_object_geometry"]

LODS = (3, 2, 1)
"""LoDs read, best first (LoD0 footprints and LoD4 interiors are not read)."""

_THEMATIC = {
    "RoofSurface": SurfaceClass.ROOF,
    "WallSurface": SurfaceClass.WALL,
    "GroundSurface": SurfaceClass.GROUND,
    "ClosureSurface": SurfaceClass.CLOSURE,
    "OuterCeilingSurface": SurfaceClass.OUTER_CEILING,
    "OuterFloorSurface": SurfaceClass.OUTER_FLOOR,
}
_OPENINGS = {"Window": SurfaceClass.WINDOW, "Door": SurfaceClass.DOOR}
_SEMANTIC = {**_THEMATIC, **_OPENINGS}
_MAX_HREF_DEPTH = 4


class PolygonIndex:
    """Elements with a gml:id inside one top-level building, indexed on first use."""

    def __init__(self, scope: etree._Element, gml_id: str) -> None:
        self._scope = scope
        self._gml_id = gml_id
        self._index: dict[str, etree._Element] | None = None

    def get(self, gml_id: str) -> etree._Element | None:
        """Return the element whose gml:id is ``gml_id``, or None."""
        if self._index is None:
            self._index = {
                value: element
                for element in self._scope.iter()
                if (value := element.get(self._gml_id)) is not None
            }
        return self._index.get(gml_id)


@dataclass(slots=True)
class _Entry:
    element: etree._Element
    reverse: bool
    surface_class: SurfaceClass
    via_xlink: bool


@dataclass(frozen=True, slots=True)
class ObjectGeometry:
    """What :func:`read_object_geometry` found for one object.

    ``anchor`` is the first geometry element met (where the srsName in force is looked up);
    ``dropped_rings`` counts degenerate rings (< 3 distinct vertices) left out, degenerate
    exterior rings dropping their polygon; ``unresolved`` lists xlink targets not found.
    """

    surfaces: Surfaces
    lod: int | None
    anchor: etree._Element | None
    dropped_rings: int = 0
    unresolved: tuple[str, ...] = field(default=())


def read_object_geometry(obj: etree._Element, index: PolygonIndex, gml_id: str) -> ObjectGeometry:
    """Read the polygons of the highest LoD (3, 2 or 1) ``obj`` has, each once.

    Raises
    ------
    GMLCoordinatesError
        When a polygon's coordinates cannot be read.
    """
    for lod in LODS:
        members = list(_iter_lod_members(obj, lod))
        if members:
            return _assemble(members, lod, index, gml_id)
    return ObjectGeometry(Surfaces.empty(), None, None)


def _iter_lod_members(
    obj: etree._Element, lod: int
) -> Iterator[tuple[SurfaceMember, SurfaceClass]]:
    """Yield the surface members of ``obj`` at ``lod`` with the class of their thematic surface."""
    own = (f"lod{lod}Solid", f"lod{lod}MultiSurface")
    for prop in children(obj):
        name = local_name(prop.tag)
        if name in own:
            for member in iter_surface_members(prop):
                yield member, SurfaceClass.UNCLASSIFIED
        elif name in ("boundedBy", "boundary"):  # CityGML 1.0/2.0 and 3.0
            for surface in children(prop):
                surface_class = _THEMATIC.get(local_name(surface.tag))
                if surface_class is not None:
                    yield from _iter_semantic_members(surface, surface_class, lod)


def _iter_semantic_members(
    surface: etree._Element, surface_class: SurfaceClass, lod: int
) -> Iterator[tuple[SurfaceMember, SurfaceClass]]:
    """Yield a thematic surface's members at ``lod``, and those of its openings (LoD3+)."""
    for prop in children(surface):
        name = local_name(prop.tag)
        if name == f"lod{lod}MultiSurface":
            for member in iter_surface_members(prop):
                yield member, surface_class
        elif name in ("opening", "fillingSurface"):  # CityGML 2.0, 3.0
            for opening in children(prop):
                opening_class = _OPENINGS.get(local_name(opening.tag))
                if opening_class is not None:
                    yield from _iter_semantic_members(opening, opening_class, lod)


def _assemble(
    members: list[tuple[SurfaceMember, SurfaceClass]], lod: int, index: PolygonIndex, gml_id: str
) -> ObjectGeometry:
    unresolved: list[str] = []
    entries = _collect_entries(members, index, gml_id, unresolved)
    polygons: list[ParsedPolygon] = []
    classes: list[int] = []
    dropped = 0
    for entry in entries.values():
        polygon = parse_polygon(entry.element, entry.reverse)
        if polygon is None:
            dropped += 1
            continue
        dropped += polygon.dropped_rings
        polygons.append(polygon)
        classes.append(int(entry.surface_class))
    surfaces = _to_surfaces(polygons, classes)
    return ObjectGeometry(surfaces, lod, members[0][0].element, dropped, tuple(unresolved))


def _collect_entries(
    members: list[tuple[SurfaceMember, SurfaceClass]],
    index: PolygonIndex,
    gml_id: str,
    unresolved: list[str],
) -> dict[object, _Entry]:
    """Key every polygon reached by its gml:id (or element); a repeated polygon adds nothing.

    A polygon reached again keeps its first place; it takes the class of a thematic surface
    if it had none, and the orientation it has where it is written out rather than linked.
    """
    entries: dict[object, _Entry] = {}
    for member, surface_class in members:
        for entry in _resolve(member, surface_class, index, unresolved):
            key: object = entry.element.get(gml_id) or entry.element
            known = entries.get(key)
            if known is None:
                entries[key] = entry
                continue
            if known.via_xlink and not entry.via_xlink:
                known.reverse, known.via_xlink = entry.reverse, False
            if known.surface_class == SurfaceClass.UNCLASSIFIED:
                known.surface_class = entry.surface_class
    return entries


def _resolve(
    member: SurfaceMember, surface_class: SurfaceClass, index: PolygonIndex, unresolved: list[str]
) -> Iterator[_Entry]:
    """Yield the polygons a member stands for, following xlinks within the building."""
    if member.href is None:
        yield _Entry(member.element, member.reversed, surface_class, via_xlink=False)
        return
    stack = [(member.href, member.reversed, 0)]
    while stack:
        href, reverse, depth = stack.pop()
        target = index.get(href)
        if target is None or depth > _MAX_HREF_DEPTH:
            unresolved.append(href)
            continue
        for found in reversed(list(iter_surface_members(target, reverse))):
            if found.href is not None:
                stack.append((found.href, found.reversed, depth + 1))
                continue
            found_class = surface_class or _class_of(found.element)
            yield _Entry(found.element, found.reversed, found_class, via_xlink=True)


def _class_of(element: etree._Element) -> SurfaceClass:
    """Return the class of the nearest thematic surface or opening around ``element``."""
    for ancestor in element.iterancestors():
        surface_class = _SEMANTIC.get(local_name(str(ancestor.tag)))
        if surface_class is not None:
            return surface_class
    return SurfaceClass.UNCLASSIFIED


def _to_surfaces(polygons: list[ParsedPolygon], classes: list[int]) -> Surfaces:
    """Pack polygons into the ragged (GeoArrow) layout of :class:`Surfaces`."""
    if not polygons:
        return Surfaces.empty()
    rings = [ring for polygon in polygons for ring in polygon.rings]
    ring_lengths = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
    rings_per_polygon = np.fromiter(
        (len(p.rings) for p in polygons), dtype=np.int64, count=len(polygons)
    )
    return Surfaces(
        coords=np.concatenate(rings).astype(np.float64, copy=False),
        ring_offsets=np.concatenate([[0], np.cumsum(ring_lengths)]).astype(np.int64),
        polygon_offsets=np.concatenate([[0], np.cumsum(rings_per_polygon)]).astype(np.int64),
        classes=np.asarray(classes, dtype=np.uint8),
    )
