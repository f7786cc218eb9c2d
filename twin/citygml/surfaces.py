"""Pick a city object's geometry (highest LoD), resolve its xlinks and build its Surfaces.

Every polygon of an object is collected once, keyed by its gml:id, with the semantic class of
the thematic surface it lies in. An ``xlink:href`` to a polygon the object already holds adds
nothing (the typical LoD2 ``Solid`` whose members point at the ``boundedBy`` polygons); a
reference to a polygon met later, or elsewhere in the same top-level building (a
``BuildingPart`` reusing a wall of its parent), is resolved once the object is complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
from lxml import etree

from twin.citygml.gml import ParsedPolygon, SurfaceMember, iter_surface_members, parse_polygon
from twin.citygml.implicit import ImplicitLibrary, place_implicit
from twin.citygml.namespaces import children, find_child, local_name
from twin.citygml.objects import is_child_object, is_gml
from twin.model import LodChoice, SurfaceClass, Surfaces

__all__ = ["ObjectGeometry", "PolygonIndex", "read_object_geometry"]

LODS = (4, 3, 2, 1, 0)
"""LoDs read, best first."""

_THEMATIC = {
    "RoofSurface": SurfaceClass.ROOF,
    "WallSurface": SurfaceClass.WALL,
    "GroundSurface": SurfaceClass.GROUND,
    "ClosureSurface": SurfaceClass.CLOSURE,
    "OuterCeilingSurface": SurfaceClass.OUTER_CEILING,
    "OuterFloorSurface": SurfaceClass.OUTER_FLOOR,
    "InteriorWallSurface": SurfaceClass.INTERIOR_WALL,
    "CeilingSurface": SurfaceClass.CEILING,
    "FloorSurface": SurfaceClass.FLOOR,
    "TrafficArea": SurfaceClass.TRAFFIC_AREA,
    "AuxiliaryTrafficArea": SurfaceClass.AUXILIARY_TRAFFIC_AREA,
    "WaterSurface": SurfaceClass.WATER_SURFACE,
    "WaterGroundSurface": SurfaceClass.WATER_GROUND,
    "WaterClosureSurface": SurfaceClass.CLOSURE,
}
_OPENINGS = {"Window": SurfaceClass.WINDOW, "Door": SurfaceClass.DOOR}
_SEMANTIC = {**_THEMATIC, **_OPENINGS}
_MAX_HREF_DEPTH = 4
_LOD_PROPERTY = re.compile(r"^lod([0-4])([A-Z]\w*)$")
_UNLEVELLED = frozenset({"tin", "reliefPoints", "ridgeOrValleyLines", "breaklines"})
"""Relief geometry properties whose LoD is the component's ``lod`` element."""

Member: TypeAlias = tuple[SurfaceMember | etree._Element, SurfaceClass]
"""A surface member with its class, or an ``ImplicitGeometry`` element (class kept too)."""


class PolygonIndex:
    """Elements with a gml:id inside one top-level object, indexed on first use."""

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
    """What :func:`read_object_geometry` found for one object at one LoD.

    ``anchor`` is the first geometry element met (where the srsName in force is looked up);
    ``dropped_rings`` counts degenerate rings (< 3 distinct vertices) left out, degenerate
    exterior rings dropping their polygon; ``unresolved`` lists xlink targets not found.
    """

    surfaces: Surfaces
    lod: int | None
    anchor: etree._Element | None
    dropped_rings: int = 0
    unresolved: tuple[str, ...] = field(default=())
    unclosed_rings: int = 0


def read_object_geometry(
    obj: etree._Element,
    index: PolygonIndex,
    gml_id: str,
    lod: LodChoice = "highest",
    library: ImplicitLibrary | None = None,
) -> list[ObjectGeometry]:
    """Read the polygons ``obj`` has at the chosen LoD(s), each polygon once.

    Geometry of thematic surfaces, openings, spaces and traffic areas inside ``obj`` is its
    own; geometry of its child objects (see :mod:`twin.citygml.objects`) is not. Returns one
    :class:`ObjectGeometry` per LoD taken (highest first); an empty list when there is none.

    Raises
    ------
    GMLCoordinatesError
        When a polygon's coordinates cannot be read.
    """
    by_lod = collect_lod_members(obj)
    if lod == "highest":
        chosen = [max(by_lod)] if by_lod else []
    elif lod == "all":
        chosen = sorted(by_lod, reverse=True)
    else:
        chosen = [lod] if lod in by_lod else []
    library = library if library is not None else ImplicitLibrary()
    return [_assemble(by_lod[n], n, index, gml_id, library) for n in chosen]


def collect_lod_members(obj: etree._Element) -> dict[int, list[Member]]:
    """Return the surface members of ``obj`` by LoD, with the class of their semantic surface."""
    found: dict[int, list[Member]] = {}
    for prop, level, surface_class in _iter_geometry_properties(obj, SurfaceClass.UNCLASSIFIED):
        members = found.setdefault(level, [])
        for geometry in children(prop) if len(prop) else (prop,):
            if local_name(str(geometry.tag)) == "ImplicitGeometry":
                members.append((geometry, surface_class))
            else:
                members.extend((m, surface_class) for m in iter_surface_members(geometry))
        if not members:
            del found[level]
    return found


def _iter_geometry_properties(
    element: etree._Element, surface_class: SurfaceClass
) -> Iterator[tuple[etree._Element, int, SurfaceClass]]:
    """Yield ``(property, lod, class)`` for every LoD geometry property owned by ``element``."""
    for child in children(element):
        if is_gml(child) or is_child_object(child):
            continue
        name = local_name(child.tag)
        if match := _LOD_PROPERTY.match(name):
            yield child, int(match.group(1)), surface_class
        elif name in _UNLEVELLED:
            yield child, _relief_lod(element), surface_class
        else:
            yield from _iter_geometry_properties(child, _SEMANTIC.get(name, surface_class))


def _relief_lod(component: etree._Element) -> int:
    """Return a relief component's ``lod`` element as an int (0 to 4; 1 when unreadable)."""
    element = find_child(component, "lod")
    text = "" if element is None else (element.text or "").strip()
    return int(text) if text in ("0", "1", "2", "3", "4") else 1


def _assemble(
    members: list[Member], lod: int, index: PolygonIndex, gml_id: str, library: ImplicitLibrary
) -> ObjectGeometry:
    unresolved: list[str] = []
    surface_members = [(m, c) for m, c in members if isinstance(m, SurfaceMember)]
    entries = _collect_entries(surface_members, index, gml_id, unresolved)
    polygons: list[ParsedPolygon] = []
    classes: list[int] = []
    dropped = unclosed = 0
    for entry in entries.values():
        polygon = parse_polygon(entry.element, entry.reverse)
        if polygon is None:
            dropped += 1
            continue
        dropped += polygon.dropped_rings
        unclosed += polygon.unclosed_rings
        polygons.append(polygon)
        classes.append(int(entry.surface_class))
    for implicit, surface_class in members:
        if isinstance(implicit, SurfaceMember):
            continue
        placed, missing = place_implicit(implicit, library, gml_id)
        polygons.extend(placed)
        classes.extend([int(surface_class)] * len(placed))
        unresolved.extend([missing] if missing else [])
    surfaces = _to_surfaces(polygons, classes)
    first = members[0][0]
    anchor = first.element if isinstance(first, SurfaceMember) else first
    return ObjectGeometry(surfaces, lod, anchor, dropped, tuple(unresolved), unclosed)


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
