"""Turn GML surface geometry into polygons of open rings, many polygons at once.

Reads ``Polygon`` (and the polygon-like ``Triangle`` / ``PolygonPatch``) with exterior and
interior ``LinearRing``s written as ``posList``, a list of ``pos`` or GML 2 ``coordinates``,
and walks the aggregates around them (``MultiSurface``, ``CompositeSurface``, ``Shell``,
``Solid`` exterior, ``OrientableSurface``, ``TriangulatedSurface``). ``xlink:href``
references are reported, not followed: the caller owns the id scope.

Speed matters here — every vertex of a city passes through :func:`read_polygons` — so the
element walk does one dictionary lookup per element and the numbers of all rings of a batch
of polygons are converted by one numpy call; the per-ring rules (closing vertex, at least
three distinct vertices, orientation) are applied to whole arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from lxml import etree

from twin.citygml.namespaces import LOCAL_NAMES, XLINK_HREF, TagTable, local_name, source_line
from twin.errors import CityGMLError
from twin.types import BoolArray, Float64Array, IndexArray

__all__ = [
    "GMLCoordinatesError",
    "PolygonSet",
    "RingSource",
    "SurfaceMember",
    "collect_surface_members",
    "gather_rings",
    "pack_rings",
    "read_polygons",
    "writes_dimension",
]

_POLYGON_NAMES = frozenset({"Polygon", "Triangle", "PolygonPatch", "Rectangle"})
_RING_NAMES = frozenset({"LinearRing", "Ring"})
_BOUNDARIES = {
    "exterior": True,
    "outerBoundaryIs": True,
    "interior": False,
    "innerBoundaryIs": False,
}
_SOLID_SHELLS = frozenset({"exterior", "solidMember"})  # interior shells are voids

# What a geometry element is to the surface walk, told once per tag.
_POLYGON, _ORIENTABLE, _SOLID, _SHELL, _OTHER = range(5)


def _geometry_kind(tag: object) -> int:
    name = LOCAL_NAMES[tag]
    if name in _POLYGON_NAMES:
        return _POLYGON
    if name == "OrientableSurface":
        return _ORIENTABLE
    if name in ("Solid", "CompositeSolid"):
        return _SOLID
    return _SHELL if name in _SOLID_SHELLS else _OTHER


_GEOMETRY_KINDS = TagTable(_geometry_kind)
_BOUNDARY_KINDS = TagTable(
    lambda tag: _BOUNDARIES.get(LOCAL_NAMES[tag]) if isinstance(tag, str) else None
)
"""Per tag: True for an exterior boundary, False for an interior one, None for neither."""
_IS_RING = TagTable(lambda tag: isinstance(tag, str) and LOCAL_NAMES[tag] in _RING_NAMES)


class GMLCoordinatesError(CityGMLError):
    """Coordinates of one polygon cannot be read; the object holding it is rejected."""


class SurfaceMember(NamedTuple):
    """A polygon met while walking a geometry: the element itself or an xlink to it.

    ``element`` is the polygon element, or the property element carrying ``xlink:href``;
    ``href`` is the referenced gml:id (without ``#``) or None; ``reversed`` is True when an
    odd number of ``OrientableSurface orientation="-"`` lie between the start and here.
    """

    element: etree._Element
    href: str | None
    reversed: bool


@dataclass(frozen=True, slots=True)
class PolygonSet:
    """Polygons read by :func:`read_polygons`, in the ragged layout of ``twin.model.Surfaces``.

    ``kept[i]`` tells whether input polygon ``i`` is among them (a polygon whose exterior
    ring is missing or has fewer than 3 distinct vertices is not); ``dropped_rings`` counts
    the rings left out (a dropped polygon counts one), ``unclosed_rings`` the kept rings
    whose last point was not their first (GML requires it; they are drawn as if closed).
    """

    coords: Float64Array
    ring_offsets: IndexArray
    polygon_offsets: IndexArray
    kept: BoolArray
    dropped_rings: int = 0
    unclosed_rings: int = 0

    @property
    def polygon_count(self) -> int:
        return len(self.polygon_offsets) - 1

    def moved(self, linear: Float64Array, shift: Float64Array) -> PolygonSet:
        """Return these polygons with every vertex ``p`` moved to ``p @ linear.T + shift``."""
        return replace(self, coords=self.coords @ linear.T + shift)


def collect_surface_members(
    geometry: etree._Element, reverse: bool, out: list[SurfaceMember]
) -> None:
    """Append every polygon (or polygon reference) of a GML surface geometry to ``out``.

    Parameters
    ----------
    geometry : lxml element
        A geometry element or a property element wrapping one (``lod2Solid``,
        ``surfaceMember``, ``MultiSurface`` …), walked in document order.
    reverse : bool
        Whether the polygons found are already reversed by an enclosing ``OrientableSurface``.
    """
    if len(geometry) == 0 and (href := geometry.get(XLINK_HREF)) is not None:
        out.append(SurfaceMember(geometry, href.partition("#")[2] or href, reverse))
    elif _GEOMETRY_KINDS[geometry.tag] == _POLYGON:
        out.append(SurfaceMember(geometry, None, reverse))
    else:
        _collect_inside(geometry, reverse, out)


def _collect_inside(geometry: etree._Element, reverse: bool, out: list[SurfaceMember]) -> None:
    """Walk the children of a geometry that is neither a polygon nor a reference.

    A child that is one is appended here rather than in a call of its own: the typical
    ``surfaceMember/Polygon`` costs one call, not two.
    """
    kind = _GEOMETRY_KINDS[geometry.tag]
    if kind == _ORIENTABLE:
        reverse ^= geometry.get("orientation", "+") == "-"
    for child in geometry:
        tag = child.tag
        if tag.__class__ is not str:
            continue
        child_kind = _GEOMETRY_KINDS[tag]
        if kind == _SOLID and child_kind != _SHELL:
            continue
        if not len(child) and (href := child.get(XLINK_HREF)) is not None:
            out.append(SurfaceMember(child, href.partition("#")[2] or href, reverse))
        elif child_kind == _POLYGON:
            out.append(SurfaceMember(child, None, reverse))
        else:
            _collect_inside(child, reverse, out)


@dataclass(slots=True)
class RingSource:
    """The rings of some polygons as read from the XML, before their numbers are converted.

    :func:`gather_rings` fills it while the elements are at hand; :func:`pack_rings` converts
    the numbers of many sources (many city objects) in one go.
    """

    rings: list[etree._Element | None]  # None: a boundary without a ring element
    tokens: list[str]  # every number of every ring, in order
    counts: list[int]  # vertices per ring
    dimensions: list[int]  # 2 or 3 per ring
    ring_polygon: list[int]
    reverse: list[bool]  # per polygon

    @property
    def polygon_count(self) -> int:
        return len(self.reverse)


def read_polygons(polygons: Sequence[tuple[etree._Element, bool]]) -> PolygonSet:
    """Read the rings of ``(polygon element, reversed)`` pairs: :func:`gather_rings` + pack.

    Raises
    ------
    GMLCoordinatesError
        As :func:`gather_rings` and :func:`pack_rings`.
    """
    (packed,) = pack_rings([gather_rings(polygons)])
    if isinstance(packed, GMLCoordinatesError):
        raise packed
    return packed


def gather_rings(
    polygons: Sequence[tuple[etree._Element, bool]], *, dimension_written: bool = True
) -> RingSource:
    """Collect the ring texts of ``(polygon element, reversed)`` pairs, exterior ring first.

    ``srsDimension`` (on the coordinates or an ancestor) defaults to 3; 2D rings get z = 0.
    ``dimension_written=False`` says that :func:`writes_dimension` found none around the
    polygons: no ring then looks for one.

    Raises
    ------
    GMLCoordinatesError
        When a ring has no coordinates or its count of numbers does not fit the dimension;
        the message names the polygon and line.
    """
    source = RingSource([], [], [], [], [], [reverse for _, reverse in polygons])
    for index, (polygon, _) in enumerate(polygons):
        exterior: list[etree._Element | None] = []
        interiors: list[etree._Element | None] = []
        for boundary in polygon:
            is_exterior = _BOUNDARY_KINDS[boundary.tag]
            if is_exterior is None:
                continue
            ring = None
            for child in boundary:
                if _IS_RING[child.tag]:
                    ring = child
                    break
            (exterior if is_exterior else interiors).append(ring)
        for ring in exterior + interiors:
            source.rings.append(ring)
            source.ring_polygon.append(index)
            if ring is None:
                source.counts.append(0)
                source.dimensions.append(3)
                continue
            text, dimension = _ring_text(ring, dimension_written)
            words = text.split()
            if dimension not in (2, 3) or len(words) % dimension:
                raise _coordinates_error(
                    ring, f"{len(words)} numbers do not form {dimension}D points"
                )
            source.tokens += words
            source.counts.append(len(words) // dimension)
            source.dimensions.append(dimension)
    return source


def pack_rings(sources: Sequence[RingSource]) -> list[PolygonSet | GMLCoordinatesError]:
    """Convert the rings of every source to :class:`PolygonSet`s, all numbers in one go.

    Rings are returned open (a repeated closing vertex is dropped) and reversed where asked.
    A source whose numbers do not parse, or are NaN or infinite, gets the located error
    instead of polygons; the other sources are not affected.
    """
    if not sources:
        return []
    tokens = itertools.chain.from_iterable(s.tokens for s in sources)
    try:
        values = np.array(list(tokens) if len(sources) > 1 else sources[0].tokens, np.float64)
        finite = bool(np.isfinite(values).all())
    except ValueError:
        finite = False
    if not finite:  # find the culprit(s) source by source
        return [_pack_one(source) for source in sources]
    return list(_pack(sources, values))


def _pack_one(source: RingSource) -> PolygonSet | GMLCoordinatesError:
    try:
        values = np.array(source.tokens, dtype=np.float64)
    except ValueError as exc:
        return _first_bad_ring(source.rings, f"coordinates are not numbers ({exc})")
    if not np.isfinite(values).all():
        return _first_bad_ring(source.rings, "coordinates contain NaN or infinity")
    return _pack([source], values)[0]


def _pack(sources: Sequence[RingSource], values: Float64Array) -> list[PolygonSet]:
    """Apply the per-ring rules to the converted numbers of ``sources``, all at once.

    The rings of every source are handled as one ragged set (polygons numbered across
    sources), then cut back into one :class:`PolygonSet` per source.
    """
    polygon_counts = np.array([s.polygon_count for s in sources], dtype=np.int64)
    ring_counts = np.array([len(s.counts) for s in sources], dtype=np.int64)
    polygon_base = np.zeros(len(sources) + 1, dtype=np.int64)
    np.cumsum(polygon_counts, out=polygon_base[1:])
    n_polygons = int(polygon_base[-1])
    ring_polygon = np.fromiter(
        itertools.chain.from_iterable(s.ring_polygon for s in sources), np.int64, sum(ring_counts)
    ) + np.repeat(polygon_base[:-1], ring_counts)
    reverse = np.fromiter(
        itertools.chain.from_iterable(s.reverse for s in sources), bool, n_polygons
    )
    points, lengths = _points(
        values,
        list(itertools.chain.from_iterable(s.counts for s in sources)),
        list(itertools.chain.from_iterable(s.dimensions for s in sources)),
    )
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    closed = _closed(points, starts, lengths)
    open_lengths = lengths - closed
    usable = _has_3_distinct(points, starts, open_lengths)
    # A polygon whose exterior ring (its first) is unusable or missing is dropped whole.
    first = np.searchsorted(ring_polygon, np.arange(n_polygons))
    has_ring = first < len(lengths)
    has_ring[has_ring] = ring_polygon[first[has_ring]] == np.flatnonzero(has_ring)
    kept = np.zeros(n_polygons, dtype=bool)
    kept[has_ring] = usable[first[has_ring]]
    in_kept = kept[ring_polygon]
    ring_kept = usable & in_kept
    # Gather the kept rings' open vertices, reversed where their polygon is.
    kept_starts, kept_lengths = starts[ring_kept], open_lengths[ring_kept]
    flip = reverse[ring_polygon[ring_kept]]
    ring_offsets = np.zeros(len(kept_lengths) + 1, dtype=np.int64)
    np.cumsum(kept_lengths, out=ring_offsets[1:])
    owner = np.repeat(np.arange(len(kept_lengths)), kept_lengths)
    step = np.arange(ring_offsets[-1]) - ring_offsets[owner]
    step = np.where(flip[owner], kept_lengths[owner] - 1 - step, step)
    coords = np.ascontiguousarray(points[kept_starts[owner] + step], dtype=np.float64)
    rings_per_polygon = np.bincount(ring_polygon[ring_kept], minlength=n_polygons)[kept]
    polygon_offsets = np.zeros(len(rings_per_polygon) + 1, dtype=np.int64)
    np.cumsum(rings_per_polygon, out=polygon_offsets[1:])
    # Cut the set back into sources: what each keeps, drops and leaves unclosed.
    n = len(sources)
    source_of_polygon = np.repeat(np.arange(n), polygon_counts)
    source_of_ring = np.repeat(np.arange(n), ring_counts)
    dropped = np.bincount(source_of_polygon[~kept], minlength=n)
    dropped += np.bincount(source_of_ring[~usable & in_kept], minlength=n)
    unclosed = np.bincount(source_of_ring[~closed & ring_kept], minlength=n)
    kept_polygon_base = np.concatenate(
        [[0], np.cumsum(np.bincount(source_of_polygon[kept], minlength=n))]
    )
    kept_ring_base = polygon_offsets[kept_polygon_base]
    vertex_base = ring_offsets[kept_ring_base]
    p, r, v = kept_polygon_base.tolist(), kept_ring_base.tolist(), vertex_base.tolist()
    base, dropped_counts, unclosed_counts = (
        polygon_base.tolist(),
        dropped.tolist(),
        unclosed.tolist(),
    )
    return [
        PolygonSet(
            coords[v[k] : v[k + 1]],
            ring_offsets[r[k] : r[k + 1] + 1] - v[k],
            polygon_offsets[p[k] : p[k + 1] + 1] - r[k],
            kept[base[k] : base[k + 1]],
            dropped_counts[k],
            unclosed_counts[k],
        )
        for k in range(n)
    ]


def _points(
    values: Float64Array, counts: list[int], dimensions: list[int]
) -> tuple[Float64Array, IndexArray]:
    """Return the ``(N, 3)`` vertices of rings of ``counts`` points, z = 0 for 2D rings."""
    lengths = np.array(counts, dtype=np.int64)
    if all(d == 3 for d in dimensions):
        return values.reshape(-1, 3), lengths
    points = []
    offset = 0
    for count, dimension in zip(counts, dimensions, strict=True):
        ring_values = values[offset : offset + count * dimension].reshape(-1, dimension)
        offset += count * dimension
        if dimension == 2:
            ring_values = np.column_stack([ring_values, np.zeros(count)])
        points.append(ring_values)
    return (np.concatenate(points) if points else np.empty((0, 3))), lengths


def _closed(points: Float64Array, starts: IndexArray, lengths: IndexArray) -> BoolArray:
    """Return, per ring, whether its last vertex repeats its first."""
    closed = lengths >= 2
    if closed.any():
        s = starts[closed]
        closed[closed] = np.all(points[s] == points[s + lengths[closed] - 1], axis=1)
    return closed


def _has_3_distinct(points: Float64Array, starts: IndexArray, lengths: IndexArray) -> BoolArray:
    """Return, per open ring, whether it holds at least 3 distinct vertices.

    Rings whose first three vertices differ pairwise pass at once; the few others are
    checked in full.
    """
    result = lengths >= 3
    if not result.any():
        return result
    s = starts[result]
    p0, p1, p2 = points[s], points[s + 1], points[s + 2]
    quick = np.any(p0 != p1, axis=1) & np.any(p2 != p0, axis=1) & np.any(p2 != p1, axis=1)
    candidates = np.flatnonzero(result)
    for ring in candidates[~quick]:
        start, length = int(starts[ring]), int(lengths[ring])
        result[ring] = _ring_has_3_distinct(points[start : start + length])
    return result


def _ring_has_3_distinct(ring: Float64Array) -> bool:
    """Return whether ``(n, 3)`` points hold at least 3 distinct vertices.

    >>> _ring_has_3_distinct(np.array([[0.0, 0, 0], [1, 0, 0], [0, 0, 0], [1, 0, 0]]))
    False
    """
    differs_from_first = np.any(ring != ring[0], axis=1)
    if not differs_from_first.any():
        return False
    second = ring[int(np.argmax(differs_from_first))]
    return bool((differs_from_first & np.any(ring != second, axis=1)).any())


def _first_bad_ring(rings: list[etree._Element | None], what: str) -> GMLCoordinatesError:
    """Return the error for the first ring whose numbers do not parse or are not finite."""
    for ring in rings:
        if ring is None:
            continue
        try:
            values = np.array(_ring_text(ring)[0].split(), dtype=np.float64)
        except ValueError as exc:
            return _coordinates_error(ring, f"coordinates are not numbers ({exc})")
        if not np.isfinite(values).all():
            return _coordinates_error(ring, "coordinates contain NaN or infinity")
    return GMLCoordinatesError(what)


def _ring_text(ring: etree._Element, dimension_written: bool = True) -> tuple[str, int]:
    """Return a ring's coordinate numbers as one whitespace-separated string, and its dimension.

    Without ``dimension_written``, a posList or pos list is 3D without looking.
    """
    positions: list[etree._Element] = []
    coordinates = None
    for child in ring:
        name = LOCAL_NAMES[child.tag]
        if name == "posList":
            return child.text or "", _dimension(child, ring) if dimension_written else 3
        if name in ("pos", "pointProperty"):
            positions.append(child)
        elif name == "coordinates" and coordinates is None:
            coordinates = child
    if positions:
        texts = [_pos_text(p) for p in positions]
        return " ".join(texts), _dimension(positions[0], ring) if dimension_written else 3
    if coordinates is not None:
        return _coordinates_text(coordinates), 3 if _has_3_coordinates(coordinates) else 2
    raise _coordinates_error(ring, "ring has no posList, pos or coordinates")


def _pos_text(position: etree._Element) -> str:
    if local_name(position.tag) == "pos":
        return position.text or ""
    point_pos = next((e for e in position.iter() if local_name(str(e.tag)) == "pos"), None)
    return "" if point_pos is None else point_pos.text or ""


_DIMENSION_WRITTEN = etree.XPath(
    "boolean(ancestor-or-self::*/@srsDimension | ancestor-or-self::*/@dimension"
    " | descendant::*/@srsDimension | descendant::*/@dimension)"
)


def writes_dimension(scope: etree._Element) -> bool:
    """Return whether ``scope``, an ancestor or a descendant has an ``srsDimension`` (or GML 2
    ``dimension``) attribute: one query in lxml's C code instead of a walk up from each ring.

    >>> writes_dimension(etree.fromstring('<a><b srsDimension="2"/></a>'))
    True
    """
    return bool(_DIMENSION_WRITTEN(scope))


def _dimension(element: etree._Element, ring: etree._Element) -> int:
    """Return ``srsDimension`` from the coordinates element or an ancestor; 3 when missing."""
    node: etree._Element | None = element
    while node is not None:
        attributes = node.attrib  # most elements on the way up have none: one test, not two
        value = (
            attributes.get("srsDimension") or attributes.get("dimension") if attributes else None
        )
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
