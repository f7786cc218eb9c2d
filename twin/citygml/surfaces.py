"""Pick a city object's geometry (highest LoD), resolve its xlinks and build its Surfaces.

Every polygon of an object is collected once, keyed by its gml:id, with the semantic class of
the thematic surface it lies in. An ``xlink:href`` to a polygon the object already holds adds
nothing (the typical LoD2 ``Solid`` whose members point at the ``boundedBy`` polygons); a
reference to a polygon met later, or elsewhere in the same top-level building (a
``BuildingPart`` reusing a wall of its parent), is resolved once the object is complete.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
from lxml import etree

from twin.citygml.gml import (
    PolygonSet,
    RingSource,
    SurfaceMember,
    collect_surface_members,
    gather_rings,
    writes_dimension,
)
from twin.citygml.implicit import ImplicitLibrary, place_implicit
from twin.citygml.namespaces import (
    LOCAL_NAMES,
    TagTable,
    find_child,
    is_citygml_namespace,
    local_name,
    namespace,
)
from twin.citygml.objects import CHILD_OBJECT_TYPES, is_gml_tag
from twin.model import LodChoice, SurfaceClass, Surfaces
from twin.types import IndexArray, UInt8Array

__all__ = [
    "LodGeometry",
    "ObjectScan",
    "PolygonIndex",
    "read_object_geometry",
    "scan_object",
]

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
_SOLIDS = frozenset({"Solid", "CompositeSolid", "MultiSolid"})
_LOD_PROPERTY = re.compile(r"^lod([0-4])([A-Z]\w*)$")
_UNLEVELLED = frozenset({"tin", "reliefPoints", "ridgeOrValleyLines", "breaklines"})
"""Relief geometry properties whose LoD is the component's ``lod`` element."""

Member: TypeAlias = tuple[SurfaceMember, SurfaceClass]
"""A surface member with the class of the semantic surface it lies in."""

_HOLDS_NO_GEOMETRY = frozenset(
    {
        "appearance",
        "address",
        "externalReference",
        "genericAttribute",
        "genericAttributeSet",
        "stringAttribute",
        "intAttribute",
        "doubleAttribute",
        "measureAttribute",
        "dateAttribute",
        "uriAttribute",
    }
)
"""CityGML properties whose content holds no geometry and no city object by the schemas
(appearances, xAL addresses, external references, generic attributes): the walk does not enter
them. An ADE's property of the same local name is walked."""

# What an element is, told once per distinct tag: (kind, LoD or -1, SurfaceClass or None).
_K_SKIP, _K_CHILD, _K_LOD, _K_RELIEF, _K_GROUP, _K_OTHER = range(6)


@dataclass(slots=True)
class ObjectScan:
    """The child objects of one city object and its LoD geometry properties (with class)."""

    parts: list[etree._Element] = field(default_factory=list)
    properties: list[tuple[etree._Element, int, SurfaceClass]] = field(default_factory=list)


def scan_object(obj: etree._Element) -> ObjectScan:
    """Walk ``obj`` once: its child objects, and the LoD geometry properties it owns.

    Properties, thematic surfaces, openings and spaces are walked through (their semantic
    class is passed down); GML elements, attributes, appearances and the child objects
    themselves are not — a child object's geometry is its own.
    """
    scan = ObjectScan()
    _scan(obj, SurfaceClass.UNCLASSIFIED, False, scan)
    return scan


def _scan(
    element: etree._Element, surface_class: SurfaceClass, in_group: bool, scan: ObjectScan
) -> None:
    for child in element:
        kind, lod, semantic = _KINDS[child.tag]
        if kind == _K_SKIP:
            continue
        if kind == _K_CHILD or in_group:  # any feature in a groupMember is an object of its own
            scan.parts.append(child)
        elif kind == _K_LOD:
            scan.properties.append((child, lod, surface_class))
        elif kind == _K_RELIEF:
            scan.properties.append((child, _relief_lod(element), surface_class))
        elif len(child):  # a leaf (an attribute's value …) holds nothing to scan
            inner = surface_class if semantic is None else semantic
            _scan(child, inner, kind == _K_GROUP, scan)


def _kind(tag: object) -> tuple[int, int, SurfaceClass | None]:
    if not isinstance(tag, str) or is_gml_tag(tag):  # comments; GML geometry, names …
        return (_K_SKIP, -1, None)
    name = local_name(tag)
    if name in CHILD_OBJECT_TYPES and is_citygml_namespace(namespace(tag)):
        return (_K_CHILD, -1, None)
    if match := _LOD_PROPERTY.match(name):
        return (_K_LOD, int(match.group(1)), None)
    if name in _UNLEVELLED:
        return (_K_RELIEF, -1, None)
    if name == "groupMember":
        return (_K_GROUP, -1, None)
    if name in _HOLDS_NO_GEOMETRY and is_citygml_namespace(namespace(tag)):  # not an ADE's
        return (_K_SKIP, -1, None)
    return (_K_OTHER, -1, _SEMANTIC.get(name))


_KINDS = TagTable(_kind)


class PolygonIndex:
    """Elements with a gml:id inside one top-level object, indexed on first use; and whether
    an srsDimension is written in or around it, asked on first use."""

    def __init__(self, scope: etree._Element, gml_id: str) -> None:
        self._scope = scope
        self._gml_id = gml_id
        self._index: dict[str, etree._Element] | None = None
        self._dimension_written: bool | None = None

    def dimension_written(self) -> bool:
        """Return whether the object, an ancestor or a descendant carries an srsDimension."""
        if self._dimension_written is None:
            self._dimension_written = writes_dimension(self._scope)
        return self._dimension_written

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
class LodGeometry:
    """What :func:`read_object_geometry` found for one object at one LoD, numbers unconverted.

    ``anchor`` is the first geometry element met (where the srsName in force is looked up);
    ``classes`` holds the class of each polygon of ``rings``; ``implicit`` the placed
    prototype polygons with their class; ``unresolved`` lists xlink targets not found;
    ``shells`` the polygons (indices into ``rings``) of each solid's exterior shell.
    :meth:`surfaces` joins them once :func:`~twin.citygml.gml.pack_rings` has run.
    """

    lod: int
    rings: RingSource
    classes: UInt8Array
    implicit: tuple[tuple[PolygonSet, int], ...]
    anchor: etree._Element
    unresolved: tuple[str, ...] = field(default=())
    shells: tuple[IndexArray, ...] = field(default=())

    def shell_polygons(self, polygons: PolygonSet) -> tuple[IndexArray, ...]:
        """Return each solid's shell as indices into :meth:`surfaces`, dropped polygons out."""
        if not self.shells or not polygons.dropped_rings:  # nothing to renumber
            return self.shells
        position = np.cumsum(polygons.kept) - 1
        return tuple(position[shell[polygons.kept[shell]]] for shell in self.shells)

    def surfaces(self, polygons: PolygonSet) -> Surfaces:
        """Return the object's surfaces at this LoD, given ``rings`` packed as ``polygons``."""
        classes = self.classes[polygons.kept] if polygons.dropped_rings else self.classes
        pieces = [(polygons, classes)]
        pieces += [(p, np.full(p.polygon_count, c, np.uint8)) for p, c in self.implicit]
        return Surfaces.join(
            [Surfaces(p.coords, p.ring_offsets, p.polygon_offsets, c) for p, c in pieces]
        )


def read_object_geometry(
    properties: list[tuple[etree._Element, int, SurfaceClass]],
    index: PolygonIndex,
    gml_id: str,
    lod: LodChoice = "highest",
    library: ImplicitLibrary | None = None,
) -> list[LodGeometry]:
    """Read the polygons an object has at the chosen LoD(s), each polygon once.

    ``properties`` are the object's LoD geometry properties from :func:`scan_object`.
    Returns one :class:`LodGeometry` per LoD taken (highest first); an empty list when
    there is none.

    Raises
    ------
    GMLCoordinatesError
        When a polygon's coordinates cannot be read (count of numbers, implicit geometry).
    """
    by_lod = _members_by_lod(properties)
    if lod == "highest":
        chosen = [max(by_lod)] if by_lod else []
    elif lod == "all":
        chosen = sorted(by_lod, reverse=True)
    else:
        chosen = [lod] if lod in by_lod else []
    library = library if library is not None else ImplicitLibrary()
    return [_assemble(by_lod[n], n, index, gml_id, library) for n in chosen]


@dataclass(slots=True)
class _LodMembers:
    """The surface members and implicit geometries of one LoD, and the first element met."""

    anchor: etree._Element
    surfaces: list[Member] = field(default_factory=list)
    implicit: list[tuple[etree._Element, SurfaceClass]] = field(default_factory=list)
    shells: list[tuple[int, int]] = field(default_factory=list)  # ranges of ``surfaces``


def _members_by_lod(
    properties: list[tuple[etree._Element, int, SurfaceClass]],
) -> dict[int, _LodMembers]:
    found: dict[int, _LodMembers] = {}
    for prop, level, surface_class in properties:
        members: list[SurfaceMember] = []
        shells: list[tuple[int, int]] = []
        implicit: list[tuple[etree._Element, SurfaceClass]] = []
        for geometry in prop if len(prop) else (prop,):
            if geometry.tag.__class__ is not str:
                continue
            name = LOCAL_NAMES[geometry.tag]
            if name == "ImplicitGeometry":
                implicit.append((geometry, surface_class))
            elif name in _SOLIDS:
                solids = [geometry] if name == "Solid" else geometry.iter("{*}Solid")
                for solid in solids:
                    start = len(members)
                    collect_surface_members(solid, False, members)
                    shells.append((start, len(members)))
            else:
                collect_surface_members(geometry, False, members)
        if not members and not implicit:
            continue
        lod_members = found.get(level)
        if lod_members is None:
            first = members[0].element if members else implicit[0][0]
            lod_members = found[level] = _LodMembers(first)
        offset = len(lod_members.surfaces)
        lod_members.shells.extend((start + offset, end + offset) for start, end in shells)
        lod_members.surfaces.extend(zip(members, itertools.repeat(surface_class)))
        lod_members.implicit.extend(implicit)
    return found


def _relief_lod(component: etree._Element) -> int:
    """Return a relief component's ``lod`` element as an int (0 to 4; 1 when unreadable)."""
    element = find_child(component, "lod")
    text = "" if element is None else (element.text or "").strip()
    return int(text) if text in ("0", "1", "2", "3", "4") else 1


def _assemble(
    members: _LodMembers, lod: int, index: PolygonIndex, gml_id: str, library: ImplicitLibrary
) -> LodGeometry:
    unresolved: list[str] = []
    entries, reached = _collect_entries(members.surfaces, index, gml_id, unresolved)
    polygons = [(e.element, e.reverse) for e in entries]
    rings = gather_rings(polygons, dimension_written=index.dimension_written())
    classes = np.fromiter((e.surface_class for e in entries), np.uint8, len(entries))
    implicit = []
    for element, surface_class in members.implicit:
        placed, missing = place_implicit(element, library, gml_id)
        if placed is not None:
            implicit.append((placed, int(surface_class)))
        unresolved.extend([missing] if missing else [])
    shells = tuple(
        np.array(sorted({p for m in reached[start:end] for p in m}), dtype=np.int64)
        for start, end in members.shells
    )
    return LodGeometry(
        lod, rings, classes, tuple(implicit), members.anchor, tuple(unresolved), shells
    )


def _collect_entries(
    members: list[Member],
    index: PolygonIndex,
    gml_id: str,
    unresolved: list[str],
) -> tuple[list[_Entry], list[list[int]]]:
    """Key every polygon reached by its gml:id (or element); a repeated polygon adds nothing.

    A polygon reached again keeps its first place; it takes the class of a thematic surface
    if it had none, and the orientation it has where it is written out rather than linked.
    An xlink to a polygon written out among ``members`` (the usual LoD2 solid pointing at
    its boundary surfaces) is resolved without searching the document. Returns the polygons
    and, per member, the positions of the polygons it reached.
    """
    written: dict[str, Member] = {}
    keys: list[str | None] = []  # the gml:id of each member's own polygon
    for member, surface_class in members:
        key = None if member.href is not None else member.element.get(gml_id)
        keys.append(key)
        if key is not None and key not in written:
            written[key] = (member, surface_class)
    entries: dict[object, tuple[int, _Entry]] = {}
    reached_by: list[list[int]] = []
    for (member, surface_class), key in zip(members, keys, strict=True):
        if member.href is None:
            entry = _Entry(member.element, member.reversed, surface_class, via_xlink=False)
            reached: Iterable[tuple[object, _Entry]] = ((key or member.element, entry),)
        elif (hit := written.get(member.href)) is not None:
            target, target_class = hit
            unclassified = surface_class == SurfaceClass.UNCLASSIFIED
            entry_class = target_class if unclassified else surface_class
            entry = _Entry(target.element, member.reversed, entry_class, via_xlink=True)
            reached = ((member.href or target.element, entry),)
        else:
            reached = (
                (entry.element.get(gml_id) or entry.element, entry)
                for entry in _resolve(member, surface_class, index, unresolved)
            )
        positions = []
        for entry_key, entry in reached:
            known = entries.get(entry_key)
            if known is None:
                entries[entry_key] = (len(entries), entry)
                positions.append(len(entries) - 1)
                continue
            position, first = known
            positions.append(position)
            if first.via_xlink and not entry.via_xlink:
                first.reverse, first.via_xlink = entry.reverse, False
            if first.surface_class == SurfaceClass.UNCLASSIFIED:
                first.surface_class = entry.surface_class
        reached_by.append(positions)
    return [entry for _, entry in entries.values()], reached_by


def _resolve(
    member: SurfaceMember, surface_class: SurfaceClass, index: PolygonIndex, unresolved: list[str]
) -> Iterator[_Entry]:
    """Yield the polygons a member stands for, following xlinks within the building."""
    assert member.href is not None
    stack = [(member.href, member.reversed, 0)]
    while stack:
        href, reverse, depth = stack.pop()
        target = index.get(href)
        if target is None or depth > _MAX_HREF_DEPTH:
            unresolved.append(href)
            continue
        found_members: list[SurfaceMember] = []
        collect_surface_members(target, reverse, found_members)
        for found in reversed(found_members):
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
