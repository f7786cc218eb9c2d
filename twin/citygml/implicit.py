"""Place CityGML ``ImplicitGeometry``: a prototype geometry, a 4x4 matrix and a reference point.

The real coordinates of a prototype vertex ``p`` (a row of an ``(n, 3)`` ring) are
``p @ M[:3, :3].T + M[:3, 3] + reference_point`` (:meth:`PolygonSet.moved`). A prototype
written inline with a gml:id is remembered for the rest of the document, so later
``relativeGMGeometry xlink:href`` references to it (the "library geometry in the file") are
resolved even after its object was released.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from lxml import etree

from twin.citygml.gml import (
    GMLCoordinatesError,
    PolygonSet,
    SurfaceMember,
    collect_surface_members,
    read_polygons,
)
from twin.citygml.namespaces import XLINK_HREF, children, find_child, local_name, source_line
from twin.types import Float64Array

__all__ = ["ImplicitLibrary", "place_implicit"]


@dataclass(slots=True)
class ImplicitLibrary:
    """Prototype polygons met so far in one document, keyed by their geometry's gml:id."""

    prototypes: dict[str, PolygonSet] = field(default_factory=dict)


def place_implicit(
    implicit: etree._Element, library: ImplicitLibrary, gml_id: str
) -> tuple[PolygonSet | None, str | None]:
    """Return the placed polygons of an ``ImplicitGeometry`` and an unresolved href, if any.

    Raises
    ------
    GMLCoordinatesError
        When the matrix or reference point cannot be read.
    """
    matrix = _matrix(implicit)
    linear, shift = matrix[:3, :3], matrix[:3, 3] + _reference_point(implicit)
    relative = find_child(implicit, "relativeGMGeometry")
    if relative is None:  # CityGML 3.0 name
        relative = find_child(implicit, "relativeGeometry")
    if relative is None:
        return None, None
    href = relative.get(XLINK_HREF)
    if href is not None and len(relative) == 0:
        key = href.partition("#")[2] or href
        prototype = library.prototypes.get(key)
        if prototype is None:
            return None, key
        return prototype.moved(linear, shift), None
    polygons = _read_prototype(relative)
    for geometry in children(relative):
        if (prototype_id := geometry.get(gml_id)) is not None:
            library.prototypes[prototype_id] = polygons
    return polygons.moved(linear, shift), None


def _read_prototype(relative: etree._Element) -> PolygonSet:
    members: list[SurfaceMember] = []
    collect_surface_members(relative, False, members)
    return read_polygons([(m.element, m.reversed) for m in members if m.href is None])


def _numbers(element: etree._Element | None, count: int, what: str) -> Float64Array:
    text = "" if element is None else (element.text or "")
    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError as exc:
        raise _error(element, f"{what} is not numbers") from exc
    if values.size != count:
        raise _error(element, f"{what} has {values.size} numbers, not {count}")
    return values


def _matrix(implicit: etree._Element) -> Float64Array:
    element = find_child(implicit, "transformationMatrix")
    if element is None:
        return np.eye(4)
    return _numbers(element, 16, "transformationMatrix").reshape(4, 4)  # row-major


def _reference_point(implicit: etree._Element) -> Float64Array:
    prop = find_child(implicit, "referencePoint")
    pos = (
        None
        if prop is None
        else next(
            (e for e in prop.iter() if local_name(str(e.tag)) in ("pos", "coordinates")), None
        )
    )
    if pos is None:
        return np.zeros(3)
    text = (pos.text or "").replace(",", " ")
    values = np.array(text.split(), dtype=np.float64) if text.strip() else np.zeros(0)
    if values.size == 2:
        values = np.append(values, 0.0)
    if values.size != 3:
        raise _error(pos, f"referencePoint has {values.size} numbers, not 3")
    return values


def _error(element: etree._Element | None, what: str) -> GMLCoordinatesError:
    line = 0 if element is None else source_line(element)
    return GMLCoordinatesError(f"implicit geometry at line {line}: {what}")
