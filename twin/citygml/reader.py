"""Stream a CityGML file into city objects, one building at a time, in bounded memory.

``lxml.etree.iterparse`` builds one top-level ``Building`` subtree at a time; when it ends,
its ``BuildingPart``s are yielded (before it), then the building, and the subtree is cleared
along with everything before it. Unusable objects become :class:`~twin.model.Rejection`s.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree

from twin.citygml.attributes import read_address, read_attributes
from twin.citygml.gml import GMLCoordinatesError
from twin.citygml.namespaces import (
    children,
    find_child,
    gml_namespace,
    is_building_namespace,
    is_citygml_namespace,
    local_name,
    namespace,
    source_line,
)
from twin.citygml.surfaces import ObjectGeometry, PolygonIndex, read_object_geometry
from twin.errors import CityGMLError
from twin.model import CityObject, ObjectType, Rejection, SourceLocation

__all__ = ["iter_city_objects"]

logger = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_OBJECT_TYPES: tuple[ObjectType, ...] = ("Building", "BuildingPart")


@dataclass(slots=True)
class _Document:
    """What is known about the document being read, beyond the current building."""

    path: Path
    model_srs_name: str | None = None


def iter_city_objects(path: Path) -> Iterator[CityObject | Rejection]:
    """Yield every Building and BuildingPart of a CityGML file, or why it was left out.

    Parts come before their building and carry its gml:id as ``parent_id``. CityGML 1.0,
    2.0 and 3.0 are recognised from the document's namespaces; ``.gz`` files are detected by
    their magic bytes. Coordinates are left in the source CRS and axis order.

    Parameters
    ----------
    path : Path
        A ``.gml``, ``.xml`` or ``.citygml`` file, optionally gzip-compressed.

    Raises
    ------
    CityGMLError
        When the file is missing, is not well-formed XML (the message names ``file:line``)
        or declares no CityGML namespace.
    """
    path = Path(path)
    if not path.is_file():
        raise CityGMLError(f"file not found: {path}")
    return _iter_document(_Document(path))


def _iter_document(document: _Document) -> Iterator[CityObject | Rejection]:
    path = document.path
    try:
        with _open(path) as stream:
            yield from _iter_events(document, stream)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else "?"
        raise CityGMLError(
            f"{path}:{line}: malformed XML ({exc.msg}); repair or re-export the file and "
            "import it again"
        ) from exc
    except (OSError, EOFError) as exc:
        raise CityGMLError(f"{path}: cannot read the file ({exc}); check the file") from exc


def _open(path: Path) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing gzip when the magic bytes say so."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return cast("IO[bytes]", gzip.open(path, "rb"))
    return path.open("rb")


def _iter_events(document: _Document, stream: IO[bytes]) -> Iterator[CityObject | Rejection]:
    """Run iterparse over ``stream`` and hand each completed top-level building on."""
    declared: list[str] = []
    depth = 0
    events: Any = etree.iterparse(
        stream, events=("start-ns", "start", "end"), huge_tree=True, remove_comments=True
    )
    for event, payload in events:
        if event == "start-ns":
            declared.append(payload[1])
            continue
        element: etree._Element = payload
        if event == "start":
            depth += 1
            if depth == 1 and not any(is_citygml_namespace(uri) for uri in declared):
                raise CityGMLError(
                    f"{document.path}: not CityGML (no http://www.opengis.net/citygml/ "
                    "namespace declared); give a CityGML 1.0, 2.0 or 3.0 file"
                )
            continue
        depth -= 1
        tag = element.tag
        if tag.endswith(("}Building", "}BuildingPart")) and _is_top_level_object(element):
            yield from _read_building(document, element)
            _release(element)
        elif tag.endswith("}Envelope"):
            _note_model_envelope(document, element)
        elif depth == 1:  # a member that held no building (relief, roads …)
            _release(element)


def _is_top_level_object(element: etree._Element) -> bool:
    """Return whether ``element`` is a Building, or a BuildingPart outside any Building."""
    if not is_building_namespace(namespace(element.tag)):
        return False
    name = local_name(element.tag)
    if name == "Building":
        return True
    return name == "BuildingPart" and not any(
        local_name(str(a.tag)) == "Building" for a in element.iterancestors()
    )


def _release(element: etree._Element) -> None:
    """Free a processed subtree and every sibling before it and before its ancestors."""
    element.clear()
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        if parent is not None:
            while node.getprevious() is not None:
                del parent[0]
        node = parent


def _note_model_envelope(document: _Document, envelope: etree._Element) -> None:
    """Remember the srsName of ``CityModel/gml:boundedBy/gml:Envelope``."""
    bounded_by = envelope.getparent()
    model = None if bounded_by is None else bounded_by.getparent()
    if model is not None and local_name(str(model.tag)) == "CityModel":
        document.model_srs_name = envelope.get("srsName") or document.model_srs_name


def _read_building(
    document: _Document, building: etree._Element
) -> Iterator[CityObject | Rejection]:
    """Yield the parts of a top-level building (depth first), then the building itself."""
    gml_id = f"{{{gml_namespace(building.nsmap)}}}id"
    index = PolygonIndex(building, gml_id)
    yield from _read_object(document, building, index, gml_id, parent_id=None)


def _read_object(
    document: _Document,
    obj: etree._Element,
    index: PolygonIndex,
    gml_id: str,
    parent_id: str | None,
) -> Iterator[CityObject | Rejection]:
    line = source_line(obj)
    object_id = obj.get(gml_id) or f"{document.path.stem}-{line}"
    object_type = _object_type(obj)
    source = SourceLocation(str(document.path), line)
    parts_with_geometry = 0
    for part in _iter_parts(obj):
        for result in _read_object(document, part, index, gml_id, object_id):
            if isinstance(result, CityObject) and result.surfaces.polygon_count:
                parts_with_geometry += 1
            yield result
    try:
        geometry = read_object_geometry(obj, index, gml_id)
    except GMLCoordinatesError as exc:
        yield Rejection(object_id, object_type, source, f"unreadable coordinates: {exc}")
        return
    if geometry.surfaces.polygon_count == 0 and not parts_with_geometry:
        reason = "no usable LoD1, LoD2 or LoD3 geometry, and no BuildingPart with geometry"
        yield Rejection(object_id, object_type, source, reason)
        return
    yield CityObject(
        id=object_id,
        type=object_type,
        surfaces=geometry.surfaces,
        srs_name=_srs_name(document, obj, geometry),
        source=source,
        lod=geometry.lod if geometry.surfaces.polygon_count else None,
        parent_id=parent_id,
        attributes=read_attributes(obj),
        address=read_address(obj),
        issues=_geometry_issues(geometry),
    )


def _object_type(obj: etree._Element) -> ObjectType:
    name = local_name(obj.tag)
    return "BuildingPart" if name == "BuildingPart" else "Building"


def _iter_parts(obj: etree._Element) -> Iterator[etree._Element]:
    """Yield the BuildingParts of ``obj`` (``consistsOfBuildingPart`` / 3.0 ``buildingPart``)."""
    for prop in children(obj):
        if local_name(prop.tag) in ("consistsOfBuildingPart", "buildingPart"):
            part = find_child(prop, "BuildingPart")
            if part is not None:
                yield part


def _srs_name(document: _Document, obj: etree._Element, geometry: ObjectGeometry) -> str | None:
    """Return the srsName in force for the object's geometry, exactly as written.

    Looked up on the geometry element and its ancestors, then on the envelopes of the object
    and the buildings around it, then on the CityModel's envelope.
    """
    if geometry.anchor is not None:
        for element in (geometry.anchor, *geometry.anchor.iterancestors()):
            if (srs_name := element.get("srsName")) is not None:
                return srs_name
    for element in (obj, *obj.iterancestors()):
        if local_name(str(element.tag)) not in _OBJECT_TYPES:
            continue
        bounded_by = find_child(element, "boundedBy")
        envelope = None if bounded_by is None else find_child(bounded_by, "Envelope")
        if envelope is not None and (srs_name := envelope.get("srsName")) is not None:
            return srs_name
    return document.model_srs_name


def _geometry_issues(geometry: ObjectGeometry) -> tuple[str, ...]:
    issues = []
    if geometry.dropped_rings:
        issues.append(f"{geometry.dropped_rings} degenerate ring(s) dropped")
    if geometry.unresolved:
        shown = ", ".join(f"#{ref}" for ref in geometry.unresolved[:3])
        more = f" and {len(geometry.unresolved) - 3} more" if len(geometry.unresolved) > 3 else ""
        issues.append(
            f"{len(geometry.unresolved)} xlink(s) point to no polygon in the building "
            f"({shown}{more}); surfaces drawn from the polygons that exist"
        )
    return tuple(issues)
