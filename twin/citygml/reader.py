"""Stream a CityGML file into city objects, one top-level object at a time, in bounded memory.

``lxml.etree.iterparse`` builds one ``cityObjectMember`` subtree at a time — a Building, a
Bridge, a Road, a relief, an ADE feature, whatever its type; when it ends, its child objects
(parts, installations, storeys, rooms …) are yielded before it, and the subtree is cleared
along with everything before it. Unusable objects become :class:`~twin.model.Rejection`s.

The parser never loads a DTD, never resolves entities and never touches the network; a
document declaring entities (a "billion laughs" bomb, an external entity) is refused.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree

from twin.citygml.attributes import read_address, read_attributes
from twin.citygml.gml import GMLCoordinatesError
from twin.citygml.implicit import ImplicitLibrary
from twin.citygml.namespaces import (
    find_child,
    gml_namespace,
    is_citygml_namespace,
    local_name,
    source_line,
)
from twin.citygml.objects import MEMBER_PROPERTIES, is_gml
from twin.citygml.surfaces import (
    ObjectGeometry,
    PolygonIndex,
    read_object_geometry,
    scan_object,
)
from twin.errors import CityGMLError
from twin.model import CityObject, LodChoice, Rejection, SourceLocation, Surfaces

__all__ = ["iter_city_objects"]

logger = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class _Document:
    """What is known about the document being read, beyond the current object."""

    path: Path
    lod: LodChoice = "highest"
    types: frozenset[str] | None = None
    model_srs_name: str | None = None
    library: ImplicitLibrary = field(default_factory=ImplicitLibrary)


def iter_city_objects(
    path: Path,
    *,
    lod: LodChoice = "highest",
    types: Collection[str] | None = None,
    keep_going: bool = False,
    stream: IO[bytes] | None = None,
) -> Iterator[CityObject | Rejection]:
    """Yield every city object of a CityGML file, or why it was left out.

    Child objects come before their container and carry its gml:id as ``parent_id``. CityGML
    1.0, 2.0 and 3.0 are recognised from the document's namespaces; ``.gz`` files are detected
    by their magic bytes. Coordinates are left in the source CRS and axis order.

    Parameters
    ----------
    path : Path
        A ``.gml``, ``.xml`` or ``.citygml`` file, optionally gzip-compressed.
    lod : "highest", "all" or 0-4
        The LoD taken per object. With ``"all"`` the highest keeps the object's id and each
        lower one follows as a child ``<id>.lod<n>``.
    types : collection of str, optional
        Top-level types to read (``Building``, ``Road`` …); their children come with them.
    keep_going : bool
        On malformed XML, keep what was read and yield a Rejection locating the error
        instead of raising.
    stream : binary file, optional
        Read the document from here (a zip member, say) instead of opening ``path``, which
        then only names it.

    Raises
    ------
    CityGMLError
        When the file is missing, is not well-formed XML (the message names
        ``file:line:column``), declares entities or declares no CityGML namespace.
    """
    path = Path(path)
    if stream is None and not path.is_file():
        raise CityGMLError(f"file not found: {path}")
    document = _Document(path, lod, None if types is None else frozenset(types))
    return _iter_document(document, keep_going, stream)


def _iter_document(
    document: _Document, keep_going: bool, given: IO[bytes] | None
) -> Iterator[CityObject | Rejection]:
    path = document.path
    try:
        with _open(path) if given is None else given as stream:
            yield from _iter_events(document, stream)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 0, 0)
        message = f"{path}:{line}:{column}: malformed XML ({exc.msg})"
        if not keep_going:
            raise CityGMLError(
                f"{message}; repair or re-export the file and import it again"
            ) from exc
        reason = f"{message}; objects after this point were not read"
        yield Rejection(None, "document", SourceLocation(str(path), line), reason)
    except (OSError, EOFError) as exc:
        raise CityGMLError(f"{path}: cannot read the file ({exc}); check the file") from exc


def _open(path: Path) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing gzip when the magic bytes say so."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return cast("IO[bytes]", gzip.open(path, "rb"))
    return path.open("rb")


_WATCHED_TAGS = [f"{{*}}{name}" for name in (*MEMBER_PROPERTIES, "appearanceMember", "Envelope")]
"""Elements iterparse reports; the rest of the document is walked in C, not in Python."""


def _iter_events(document: _Document, stream: IO[bytes]) -> Iterator[CityObject | Rejection]:
    """Run iterparse over ``stream`` and hand each completed top-level object on.

    A member of the CityModel (``cityObjectMember`` …) is read when it ends, then freed with
    everything before it, so memory holds one top-level object at a time.
    """
    declared: list[str] = []
    root: etree._Element | None = None
    events: Any = etree.iterparse(
        stream,
        events=("start-ns", "end"),
        tag=_WATCHED_TAGS,
        huge_tree=True,
        remove_comments=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
    )
    for event, payload in events:
        if event == "start-ns":
            declared.append(payload[1])
            continue
        element: etree._Element = payload
        if root is None:
            root = element.getroottree().getroot()
            _check_root(document, root, declared)
        parent = element.getparent()
        if parent is not root:  # an envelope or member inside a city object
            if element.tag.endswith("}Envelope"):
                _note_model_envelope(document, element)
        elif local_name(element.tag) in MEMBER_PROPERTIES:
            for obj in element:
                if isinstance(obj.tag, str):
                    yield from _read_top_level(document, obj)
            _release(element)
        else:  # appearances, once read
            _release(element)
    if root is None:  # no member at all: still say what is wrong with the document
        _check_root(document, events.root, declared)


def _check_root(document: _Document, root: etree._Element, declared: list[str]) -> None:
    """Refuse a document that declares entities or no CityGML namespace."""
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and cast("Any", dtd).entities():  # missing from lxml-stubs
        raise CityGMLError(
            f"{document.path}:{source_line(root)}: the document declares XML entities "
            "(a DOCTYPE with <!ENTITY>), which twin refuses: entity expansion and external "
            "entities are a security risk; remove the DOCTYPE"
        )
    if not any(is_citygml_namespace(uri) for uri in declared):
        raise CityGMLError(
            f"{document.path}: not CityGML (no http://www.opengis.net/citygml/ "
            "namespace declared); give a CityGML 1.0, 2.0 or 3.0 file"
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


def _read_top_level(document: _Document, obj: etree._Element) -> Iterator[CityObject | Rejection]:
    """Yield the child objects of a top-level object (depth first), then the object itself."""
    if document.types is not None and local_name(obj.tag) not in document.types:
        return
    gml_id = f"{{{gml_namespace(obj.nsmap)}}}id"
    index = PolygonIndex(obj, gml_id)
    yield from _read_object(document, obj, index, gml_id, parent_id=None)


def _read_object(
    document: _Document,
    obj: etree._Element,
    index: PolygonIndex,
    gml_id: str,
    parent_id: str | None,
) -> Iterator[CityObject | Rejection]:
    line = source_line(obj)
    object_id = obj.get(gml_id) or f"{document.path.stem}-{line}"
    object_type = local_name(obj.tag)
    source = SourceLocation(str(document.path), line)
    parts_with_geometry = 0
    scan = scan_object(obj)
    for part in scan.parts:
        for result in _read_object(document, part, index, gml_id, object_id):
            if isinstance(result, CityObject) and result.surfaces.polygon_count:
                parts_with_geometry += 1
            yield result
    try:
        geometries = read_object_geometry(
            scan.properties, index, gml_id, document.lod, document.library
        )
    except GMLCoordinatesError as exc:
        yield Rejection(object_id, object_type, source, f"unreadable coordinates: {exc}")
        return
    if not any(g.surfaces.polygon_count for g in geometries) and not parts_with_geometry:
        yield Rejection(object_id, object_type, source, _no_geometry_reason(document.lod))
        return
    attributes, address = read_attributes(obj), read_address(obj)
    for rank, geometry in enumerate(geometries or [ObjectGeometry(Surfaces.empty(), None, None)]):
        drawn = geometry.surfaces.polygon_count > 0
        yield CityObject(
            id=object_id if rank == 0 else f"{object_id}.lod{geometry.lod}",
            type=object_type,
            surfaces=geometry.surfaces,
            srs_name=_srs_name(document, obj, geometry),
            source=source,
            lod=geometry.lod if drawn else None,
            parent_id=parent_id if rank == 0 else object_id,
            attributes=attributes,
            address=address,
            issues=_geometry_issues(geometry),
        )


def _no_geometry_reason(lod: LodChoice) -> str:
    wanted = "at any LoD" if lod in ("highest", "all") else f"at LoD{lod}"
    return f"no surface geometry {wanted} (points and curves are not drawn), and no part with any"


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
        if is_gml(element):
            continue
        bounded_by = find_child(element, "boundedBy")
        envelope = None if bounded_by is None else find_child(bounded_by, "Envelope")
        if envelope is not None and (srs_name := envelope.get("srsName")) is not None:
            return srs_name
    return document.model_srs_name


def _geometry_issues(geometry: ObjectGeometry) -> tuple[str, ...]:
    issues = []
    if geometry.dropped_rings:
        issues.append(
            f"GE_R_TOO_FEW_POINTS: {geometry.dropped_rings} ring(s) with fewer than 3 distinct "
            "points dropped"
        )
    if geometry.unclosed_rings:
        issues.append(
            f"GE_R_NOT_CLOSED: {geometry.unclosed_rings} ring(s) whose last point is not the "
            "first; drawn as if closed"
        )
    if geometry.unresolved:
        shown = ", ".join(f"#{ref}" for ref in geometry.unresolved[:3])
        more = f" and {len(geometry.unresolved) - 3} more" if len(geometry.unresolved) > 3 else ""
        issues.append(
            f"{len(geometry.unresolved)} xlink(s) point to no polygon in the building "
            f"({shown}{more}); surfaces drawn from the polygons that exist"
        )
    return tuple(issues)
