"""Turn GML surface geometry into polygons made of open ``(n, 3) float64`` rings.

Reads ``Polygon`` (and the polygon-like ``Triangle`` / ``PolygonPatch``) with exterior and
interior ``LinearRing``s written as ``posList``, a list of ``pos`` or GML 2 ``coordinates``,
and walks the aggregates around them (``MultiSurface``, ``CompositeSurface``, ``Shell``,
``Solid`` exterior, ``OrientableSurface``, ``TriangulatedSurface``). ``xlink:href``
references are reported, not followed: the caller owns the id scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from lxml import etree

from twin.citygml.namespaces import XLINK_HREF, children, find_child, local_name, source_line
from twin.errors import CityGMLError
from twin.types import Float64Array

__all__ = [
    "GMLCoordinatesError",
    "ParsedPolygon",
    "SurfaceMember",
    "iter_surface_members",
    "parse_polygon",
    "parse_ring",
]

_POLYGON_NAMES = frozenset({"Polygon", "Triangle", "PolygonPatch", "Rectangle"})
_RING_NAMES = frozenset({"LinearRing", "Ring"})


class GMLCoordinatesError(CityGMLError):
    """Coordinates of one polygon cannot be read; the object holding it is rejected."""


@dataclass(frozen=True, slots=True)
class SurfaceMember:
    """A polygon met while walking a geometry: the element itself or an xlink to it.

    ``element`` is the polygon element, or the property element carrying ``xlink:href``;
    ``href`` is the referenced gml:id (without ``#``) or None; ``reversed`` is True when an
    odd number of ``OrientableSurface orientation="-"`` lie between the start and here.
    """

    element: etree._Element
    href: str | None
    reversed: bool


@dataclass(frozen=True, slots=True)
class ParsedPolygon:
    """One polygon: open rings, exterior first, each ``(n, 3) float64`` with n >= 3.

    ``dropped_rings`` counts rings left out for having fewer than 3 distinct vertices;
    ``unclosed_rings`` rings whose last point is not their first (GML requires it).
    """

    rings: tuple[Float64Array, ...]
    dropped_rings: int
    unclosed_rings: int = 0


def iter_surface_members(
    geometry: etree._Element, reverse: bool = False
) -> Iterator[SurfaceMember]:
    """Yield every polygon (or polygon reference) of a GML surface geometry, in document order.

    Parameters
    ----------
    geometry : lxml element
        A geometry element or a property element wrapping one (``lod2Solid``,
        ``surfaceMember``, ``MultiSurface`` …).
    reverse : bool
        Whether the polygons found are already reversed by an enclosing ``OrientableSurface``.
    """
    href = geometry.get(XLINK_HREF)
    if href is not None and len(geometry) == 0:
        yield SurfaceMember(geometry, href.partition("#")[2] or href, reverse)
        return
    name = local_name(geometry.tag)
    if name in _POLYGON_NAMES:
        yield SurfaceMember(geometry, None, reverse)
        return
    if name == "OrientableSurface":
        reverse ^= geometry.get("orientation", "+") == "-"
    members = children(geometry)
    if name in ("Solid", "CompositeSolid"):  # interior shells are voids, not surfaces
        members = (
            c for c in children(geometry) if local_name(c.tag) in ("exterior", "solidMember")
        )
    for child in members:
        yield from iter_surface_members(child, reverse)


def parse_polygon(polygon: etree._Element, reverse: bool = False) -> ParsedPolygon | None:
    """Read a polygon's rings; return None when its exterior ring is degenerate.

    Raises
    ------
    GMLCoordinatesError
        When a ring's coordinates do not parse as numbers.
    """
    rings: list[Float64Array] = []
    dropped = unclosed = 0
    for boundary in children(polygon):
        kind = local_name(boundary.tag)
        if kind not in ("exterior", "interior", "outerBoundaryIs", "innerBoundaryIs"):
            continue
        ring_element = next(
            (c for c in children(boundary) if local_name(c.tag) in _RING_NAMES), None
        )
        ring, closed = (None, True) if ring_element is None else _read_ring(ring_element)
        unclosed += not closed
        is_exterior = kind in ("exterior", "outerBoundaryIs")
        if ring is None:
            if is_exterior:  # holes of a missing outline mean nothing
                return None
            dropped += 1
            continue
        ring = ring[::-1] if reverse else ring
        if is_exterior:
            rings.insert(0, ring)
        else:
            rings.append(ring)
    if not rings:
        return None
    return ParsedPolygon(tuple(rings), dropped, unclosed)


def parse_ring(ring: etree._Element) -> Float64Array | None:
    """Read a ``LinearRing`` as an open ``(n, 3) float64`` ring; None if under 3 distinct vertices.

    ``srsDimension`` defaults to 3; 2D rings get z = 0. The repeated closing vertex is dropped.

    Raises
    ------
    GMLCoordinatesError
        When the text does not parse as numbers or does not fit the dimension.
    """
    return _read_ring(ring)[0]


def _read_ring(ring: etree._Element) -> tuple[Float64Array | None, bool]:
    """Return :func:`parse_ring`'s result and whether the ring was written closed."""
    text, dimension = _ring_text(ring)
    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError as exc:
        raise _coordinates_error(ring, f"coordinates are not numbers ({exc})") from exc
    if dimension not in (2, 3) or values.size % dimension != 0:
        raise _coordinates_error(ring, f"{values.size} numbers do not form {dimension}D points")
    if not np.isfinite(values).all():
        raise _coordinates_error(ring, "coordinates contain NaN or infinity")
    points = values.reshape(-1, dimension)
    if dimension == 2:
        points = np.column_stack([points, np.zeros(len(points))])
    closed = len(points) >= 2 and np.array_equal(points[0], points[-1])
    if closed:
        points = points[:-1]
    if not _has_3_distinct(points):
        return None, closed
    return np.ascontiguousarray(points, dtype=np.float64), closed


def _has_3_distinct(points: Float64Array) -> bool:
    """Return whether ``(n, 3)`` points hold at least 3 distinct vertices.

    >>> _has_3_distinct(np.array([[0.0, 0, 0], [1, 0, 0], [0, 0, 0], [1, 0, 0]]))
    False
    """
    if len(points) < 3:
        return False
    differs_from_first = np.any(points != points[0], axis=1)
    if not differs_from_first.any():
        return False
    second = points[int(np.argmax(differs_from_first))]
    return bool((differs_from_first & np.any(points != second, axis=1)).any())


def _ring_text(ring: etree._Element) -> tuple[str, int]:
    """Return a ring's coordinate numbers as one whitespace-separated string, and its dimension."""
    pos_list = find_child(ring, "posList")
    if pos_list is not None:
        return pos_list.text or "", _dimension(pos_list, ring)
    positions = [c for c in children(ring) if local_name(c.tag) in ("pos", "pointProperty")]
    if positions:
        texts = [_pos_text(p) for p in positions]
        return " ".join(texts), _dimension(positions[0], ring)
    coordinates = find_child(ring, "coordinates")
    if coordinates is not None:
        return _coordinates_text(coordinates), 3 if _has_3_coordinates(coordinates) else 2
    raise _coordinates_error(ring, "ring has no posList, pos or coordinates")


def _pos_text(position: etree._Element) -> str:
    if local_name(position.tag) == "pos":
        return position.text or ""
    point_pos = next((e for e in position.iter() if local_name(str(e.tag)) == "pos"), None)
    return "" if point_pos is None else point_pos.text or ""


def _dimension(element: etree._Element, ring: etree._Element) -> int:
    """Return ``srsDimension`` from the coordinates element or an ancestor; 3 when missing."""
    node: etree._Element | None = element
    while node is not None:
        value = node.get("srsDimension") or node.get("dimension")
        if value is not None:
            try:
                return int(value)
            except ValueError as exc:
                raise _coordinates_error(ring, f"srsDimension {value!r} is not a number") from exc
        node = node.getparent()
    return 3


def _coordinates_text(coordinates: etree._Element) -> str:
    """Rewrite GML 2 ``coordinates`` (``cs``/``ts``/``decimal`` separators) as plain numbers."""
    text = coordinates.text or ""
    decimal = coordinates.get("decimal", ".")
    cs = coordinates.get("cs", ",")
    ts = coordinates.get("ts", " ")
    text = text.replace(cs, " ").replace(ts, " ")
    return text.replace(decimal, ".") if decimal != "." else text


def _has_3_coordinates(coordinates: etree._Element) -> bool:
    ts = coordinates.get("ts", " ")
    first = (coordinates.text or "").strip().split(ts.strip() or None)[0]
    return first.count(coordinates.get("cs", ",")) == 2


def _coordinates_error(ring: etree._Element, what: str) -> GMLCoordinatesError:
    polygon = next(
        (a for a in ring.iterancestors() if local_name(str(a.tag)) in _POLYGON_NAMES), ring
    )
    gml_id = next((str(v) for k, v in polygon.attrib.items() if local_name(str(k)) == "id"), None)
    label = f"polygon {gml_id}" if gml_id else "a polygon"
    return GMLCoordinatesError(f"{label} at line {source_line(ring)}: {what}")
