"""Stream a CityGML file into city objects, one top-level object at a time, in bounded memory.

A pull parser (``lxml.etree.XMLPullParser``, fed the file in chunks) builds one member subtree
at a time — a ``cityObjectMember`` or one child of ``gml:featureMembers``, holding a Building, a
Bridge, a Road, a relief, an ADE feature, whatever its type; when it ends, its child objects
(parts, installations, storeys, rooms …) are yielded before it, and the subtree is cleared
along with everything before it. Unusable objects become :class:`~twin.model.Rejection`s.

The parser never loads a DTD, never resolves entities and never touches the network; a
document declaring entities (a "billion laughs" bomb, an external entity) is refused.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree

from twin.citygml.appearance import Appearances, is_appearance, open_appearances
from twin.citygml.attributes import read_address, read_attributes
from twin.citygml.gml import GMLCoordinatesError, PolygonSet, pack_rings
from twin.citygml.implicit import ImplicitLibrary
from twin.citygml.local_crs import LocalCRSs
from twin.citygml.members import Member, MemberBatch, envelope_srs_name, shipped_member
from twin.citygml.namespaces import (
    SAFE_PARSING,
    gml_namespace,
    is_citygml_namespace,
    is_gml_namespace,
    local_name,
    source_line,
    starting_at,
)
from twin.citygml.objects import MEMBER_PROPERTIES
from twin.citygml.surfaces import (
    LodGeometry,
    PolygonIndex,
    read_object_geometry,
    scan_object,
)
from twin.errors import CityGMLError
from twin.model import (
    Address,
    AppearanceLog,
    AttributeValue,
    CityObject,
    LodChoice,
    Rejection,
    SourceLocation,
    SurfaceAppearance,
    Surfaces,
)
from twin.types import IndexArray

__all__ = ["iter_city_objects", "read_members"]

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
    appearance_theme: str | None = None
    appearance_log: AppearanceLog = field(default_factory=AppearanceLog)
    appearances: Appearances | None = None  # None: the document has none
    local_crs: LocalCRSs = field(default_factory=LocalCRSs)
    ship: bool = False  # hand members to be read elsewhere when they can be


Read = CityObject | Rejection


def iter_city_objects(
    path: Path,
    *,
    lod: LodChoice = "highest",
    types: Collection[str] | None = None,
    keep_going: bool = False,
    stream: IO[bytes] | None = None,
    appearance_theme: str | None = None,
    appearance_log: AppearanceLog | None = None,
    ship: bool = False,
) -> Iterator[Read | MemberBatch]:
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
    appearance_theme : str, optional
        The appearance theme drawn (default: the first met; see :mod:`twin.citygml.appearance`).
    appearance_log : AppearanceLog, optional
        Where to count what was done with appearances (missing images, ignored themes …).
    ship : bool
        Yield the members that can be read in another process as :class:`MemberBatch` es
        (their subtrees serialised, :mod:`twin.citygml.members`), in their place among the
        objects read here; :func:`read_members` reads them.

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
    document.appearance_theme = appearance_theme
    document.appearance_log = appearance_log if appearance_log is not None else AppearanceLog()
    document.ship = ship
    return _iter_document(document, keep_going, stream)


def _iter_document(
    document: _Document, keep_going: bool, given: IO[bytes] | None
) -> Iterator[Read | MemberBatch]:
    path = document.path
    try:
        with _open(path) if given is None else given as stream:
            document.appearances = open_appearances(
                path, stream, document.appearance_theme, document.appearance_log
            )
            # appearances are resolved against the whole document: read it all here
            document.ship = document.ship and document.appearances is None
            yield from _iter_events(document, stream)
            if document.appearances is not None:
                document.appearances.finish()
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


_BATCH_MEMBERS = 64
"""Top-level objects whose coordinates are converted together."""

_WATCHED_TAGS = [
    f"{{*}}{name}"
    for name in (*MEMBER_PROPERTIES, "appearanceMember", "Envelope", "EngineeringCRS")
]
"""Elements the parser reports; the rest of the document is walked in C, not in Python."""

_CHUNK_BYTES = 1 << 16
"""Bytes fed to the parser at a time; between chunks, a featureMembers container is read."""


def _iter_events(document: _Document, stream: IO[bytes]) -> Iterator[Read | MemberBatch]:
    """Feed ``stream`` to a pull parser and hand each completed top-level object on.

    A member of the CityModel (``cityObjectMember`` …) is read when it ends. GML's plural
    ``gml:featureMembers`` holds any number of objects in one element, possibly all of them:
    each of its children is read once the next one has begun (between chunks of input), as
    if it were a member of its own. Every ``_BATCH_MEMBERS`` members, the coordinates of all
    their polygons are converted in one go (:func:`~twin.citygml.gml.pack_rings`), their
    objects are handed on and the members are freed with everything before them: memory
    holds one batch (and one chunk) at a time.
    """
    parser = etree.XMLPullParser(
        events=("start-ns", "start", "end"),
        tag=_WATCHED_TAGS,
        **SAFE_PARSING,
    )
    walk = _Walk(document)
    try:
        while chunk := stream.read(_CHUNK_BYTES):
            parser.feed(chunk)
            yield from walk.take(parser.read_events())
            yield from walk.read_container(complete=False)
        root = parser.close()
        yield from walk.take(parser.read_events())
    except etree.XMLSyntaxError:
        yield from walk.take(parser.read_events())  # what was read before the error
        yield from walk.read_container(complete=False)
        yield from walk.flush()
        raise
    yield from walk.flush()
    if walk.root is None:  # no member at all: still say what is wrong with the document
        _check_root(document, root, walk.declared)


@dataclass(slots=True)
class _Walk:
    """The walk over the parser's events: objects read but not yet handed on, and where.

    ``container`` is an open ``gml:featureMembers`` element and ``last_read`` its child read
    last; ``members`` counts the members read since the last batch, read here (into
    ``pending``) or serialised to be read elsewhere (into ``shipped``); one of the two is
    empty at any time, so objects keep the order of their members.
    """

    document: _Document
    declared: list[str] = field(default_factory=list)
    root: etree._Element | None = None
    pending: list[_Pending | Rejection] = field(default_factory=list)
    shipped: list[Member] = field(default_factory=list)
    members: int = 0
    container: etree._Element | None = None
    last_read: etree._Element | None = None

    def take(self, events: Iterator[tuple[str, Any]]) -> Iterator[Read | MemberBatch]:
        """Act on parser events: remember definitions, read members when they end."""
        for event, payload in events:
            if event == "start-ns":
                self.declared.append(payload[1])
                continue
            element: etree._Element = payload
            if self.root is None:
                self.root = element.getroottree().getroot()
                _check_root(self.document, self.root, self.declared)
            top = element.getparent() is self.root
            if event == "start":
                if top and local_name(element.tag) == "featureMembers":
                    self.container, self.last_read = element, None
            elif not top:  # an envelope, CRS or member inside something else
                if element.tag.endswith("}Envelope"):
                    _note_model_envelope(self.document, element)
                elif element.tag.endswith("}EngineeringCRS"):
                    self.document.local_crs.define(self.document.path, element)
            elif element is self.container:
                yield from self.read_container(complete=True)
                self.container = None
            elif local_name(element.tag) in MEMBER_PROPERTIES:
                yield from self._read_member(element, holds_objects=True)
            elif not self.pending and not self.shipped:  # appearances, once read
                _release(element)

    def read_container(self, *, complete: bool) -> Iterator[Read | MemberBatch]:
        """Read the children of the open featureMembers not read yet; all when ``complete``.

        Otherwise the last child is left: it may not have ended yet.
        """
        if self.container is None:
            return
        first = next(iter(self.container), None)
        child = first if self.last_read is None else self.last_read.getnext()
        while child is not None and (complete or child.getnext() is not None):
            self.last_read = child
            yield from self._read_member(child, holds_objects=False)
            child = child.getnext()

    def _read_member(
        self, member: etree._Element, *, holds_objects: bool
    ) -> Iterator[Read | MemberBatch]:
        """Read ``member`` (a member property holding objects, or the object itself)."""
        document = self.document
        shipped = (
            shipped_member(member, holds_objects, document.model_srs_name)
            if document.ship
            else None
        )
        if shipped is not None:
            yield from self._finish_pending()
            self.shipped.append(shipped)
        else:
            yield from self._ship()
            for obj in member if holds_objects else [member]:
                if isinstance(obj.tag, str):
                    _read_top_level(document, obj, self.pending)
        self.members += 1
        if self.members >= _BATCH_MEMBERS:
            yield from self.flush()
            _release(member)

    def flush(self) -> Iterator[Read | MemberBatch]:
        """Hand on the objects read so far and the members serialised."""
        yield from self._finish_pending()
        yield from self._ship()
        self.members = 0

    def _finish_pending(self) -> Iterator[Read]:
        if self.pending:
            yield from _finish(self.document, self.pending)
            self.pending = []

    def _ship(self) -> Iterator[MemberBatch]:
        if self.shipped:
            document = self.document
            local_crs = LocalCRSs(dict(document.local_crs.by_id))
            yield MemberBatch(
                str(document.path), document.lod, document.types, self.shipped, local_crs
            )
            self.shipped = []


def read_members(batch: MemberBatch) -> list[Read]:
    """Read the members of ``batch`` as :func:`iter_city_objects` reads them in their file.

    Run where the members were sent (:mod:`twin.citygml.members`); source lines are the
    file's.
    """
    document = _Document(Path(batch.path), batch.lod, batch.types, local_crs=batch.local_crs)
    parser = etree.XMLParser(**SAFE_PARSING)
    roots = [etree.fromstring(member.xml, parser) for member in batch.members]
    pending: list[_Pending | Rejection] = []
    with starting_at(zip(roots, [m.first_line for m in batch.members], strict=True)):
        for member, root in zip(batch.members, roots, strict=True):
            document.model_srs_name = member.outer_srs_name
            for obj in root if member.holds_objects else [root]:
                if isinstance(obj.tag, str):
                    _read_top_level(document, obj, pending)
        return list(_finish(document, pending))


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
    bound = root.nsmap.get("gml")
    if bound is not None and not is_gml_namespace(bound):  # a typo: every gml:id would be lost
        raise CityGMLError(
            f"{document.path}:{source_line(root)}: xmlns:gml binds the prefix gml to {bound!r}, "
            "which is no GML namespace, so no gml:id could be read; correct it to "
            "http://www.opengis.net/gml (CityGML 1.0, 2.0) or http://www.opengis.net/gml/3.2 "
            "(CityGML 3.0)"
        )


def _release(element: etree._Element) -> None:
    """Free a processed subtree and every sibling before it and before its ancestors."""
    element.clear()
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        if parent is not None and (before := parent.index(node)):
            del parent[:before]
        node = parent


def _note_model_envelope(document: _Document, envelope: etree._Element) -> None:
    """Remember the srsName of ``CityModel/gml:boundedBy/gml:Envelope``."""
    bounded_by = envelope.getparent()
    model = None if bounded_by is None else bounded_by.getparent()
    if model is not None and local_name(str(model.tag)) == "CityModel":
        document.model_srs_name = envelope.get("srsName") or document.model_srs_name


@dataclass(slots=True)
class _Pending:
    """A city object read from the XML, its coordinates not yet converted.

    ``geometries`` pairs each LoD read with the srsName in force for it; ``srs_name`` is the
    one for an object without geometry of its own; ``drawn`` is set once it has polygons.
    """

    id: str
    type: str
    source: SourceLocation
    parent_id: str | None
    attributes: dict[str, AttributeValue]
    address: Address | None
    geometries: list[tuple[LodGeometry, str | None]]
    srs_name: str | None
    parts: list[_Pending]
    drawn: bool = False


def _read_top_level(
    document: _Document, obj: etree._Element, out: list[_Pending | Rejection]
) -> None:
    """Append the child objects of a top-level object (depth first), then the object itself."""
    if document.types is not None and local_name(obj.tag) not in document.types:
        return
    if is_appearance(obj):  # a GML feature member holding an Appearance: read beforehand
        return
    gml_id = f"{{{gml_namespace(obj.nsmap)}}}id"
    if document.appearances is not None:
        document.appearances.read_local(obj)
    index = PolygonIndex(obj, gml_id)
    _read_object(document, obj, index, gml_id, None, out)


def _read_object(
    document: _Document,
    obj: etree._Element,
    index: PolygonIndex,
    gml_id: str,
    parent_id: str | None,
    out: list[_Pending | Rejection],
) -> _Pending | None:
    line = source_line(obj)
    object_id = obj.get(gml_id) or f"{document.path.stem}-{line}"
    object_type = local_name(obj.tag)
    source = SourceLocation(str(document.path), line)
    # Held while the object is read: the walks over its properties below (scan, attributes)
    # then meet the same lxml proxies instead of each building its own.
    properties = list(obj)
    scan = scan_object(obj)
    parts = [
        part
        for element in scan.parts
        if (part := _read_object(document, element, index, gml_id, object_id, out)) is not None
    ]
    try:
        geometries = read_object_geometry(
            scan.properties, index, gml_id, document.lod, document.library
        )
    except GMLCoordinatesError as exc:
        out.append(Rejection(object_id, object_type, source, f"unreadable coordinates: {exc}"))
        return None
    pending = _Pending(
        id=object_id,
        type=object_type,
        source=source,
        parent_id=parent_id,
        attributes=read_attributes(obj),
        address=read_address(obj),
        geometries=[(g, _srs_name(document, obj, g.anchor)) for g in geometries],
        srs_name=None if geometries else _srs_name(document, obj, None),
        parts=parts,
    )
    del properties
    out.append(pending)
    return pending


def _finish(document: _Document, items: list[_Pending | Rejection]) -> Iterator[Read]:
    """Convert the coordinates of every pending object at once; yield objects in order."""
    lods = [g for item in items if isinstance(item, _Pending) for g, _ in item.geometries]
    packed = iter(pack_rings([g.rings for g in lods]) if lods else [])
    for item in items:
        if isinstance(item, Rejection):
            yield item
            continue
        read = [(g, srs, next(packed)) for g, srs in item.geometries]
        error = next((p for _, _, p in read if isinstance(p, GMLCoordinatesError)), None)
        if error is not None:
            reason = f"unreadable coordinates: {error}"
            yield Rejection(item.id, item.type, item.source, reason)
            continue
        drawn = [(g, srs, p, g.surfaces(p)) for g, srs, p in read if isinstance(p, PolygonSet)]
        item.drawn = any(surfaces.polygon_count for *_, surfaces in drawn)
        if not item.drawn and not any(part.drawn for part in item.parts):
            yield Rejection(item.id, item.type, item.source, _no_geometry_reason(document.lod))
            continue
        if not drawn:  # a container of parts
            obj = _city_object(item, item.id, Surfaces.empty(), item.srs_name, None, ())
            yield document.local_crs.place(document.path, obj)
        for rank, (geometry, srs_name, polygons, surfaces) in enumerate(drawn):
            lod = geometry.lod if surfaces.polygon_count else None
            object_id = item.id if rank == 0 else f"{item.id}.lod{geometry.lod}"
            issues = _geometry_issues([polygons, *(p for p, _ in geometry.implicit)], geometry)
            shells = geometry.shell_polygons(polygons)
            obj = _city_object(item, object_id, surfaces, srs_name, lod, issues, shells)
            if document.appearances is not None:
                look = _appearance(document, geometry, polygons, surfaces)
                obj = dataclasses.replace(obj, appearance=look)
            obj = document.local_crs.place(document.path, obj)
            yield obj if rank == 0 else dataclasses.replace(obj, parent_id=item.id)
    if document.appearances is not None:
        document.appearances.end_batch()


def _appearance(
    document: _Document, geometry: LodGeometry, polygons: PolygonSet, surfaces: Surfaces
) -> SurfaceAppearance | None:
    if document.appearances is None:
        return None
    return document.appearances.resolve(
        geometry.rings, polygons, surfaces.polygon_count, len(surfaces.coords)
    )


def _city_object(
    item: _Pending,
    object_id: str,
    surfaces: Surfaces,
    srs_name: str | None,
    lod: int | None,
    issues: tuple[str, ...],
    shells: tuple[IndexArray, ...] = (),
) -> CityObject:
    return CityObject(
        id=object_id,
        type=item.type,
        surfaces=surfaces,
        srs_name=srs_name,
        source=item.source,
        lod=lod,
        parent_id=item.parent_id,
        attributes=item.attributes,
        address=item.address,
        issues=issues,
        shells=shells,
    )


def _no_geometry_reason(lod: LodChoice) -> str:
    wanted = "at any LoD" if lod in ("highest", "all") else f"at LoD{lod}"
    return f"no surface geometry {wanted} (points and curves are not drawn), and no part with any"


def _srs_name(
    document: _Document, obj: etree._Element, anchor: etree._Element | None
) -> str | None:
    """Return the srsName in force for the object's geometry, exactly as written.

    Looked up on the geometry element and its ancestors, then on the envelopes of the object
    and the buildings around it, then on the CityModel's envelope.
    """
    if anchor is not None:
        for element in (anchor, *anchor.iterancestors()):
            if (srs_name := element.get("srsName")) is not None:
                return srs_name
    srs_name = envelope_srs_name((obj, *obj.iterancestors()))
    return document.model_srs_name if srs_name is None else srs_name


def _geometry_issues(read: list[PolygonSet], geometry: LodGeometry) -> tuple[str, ...]:
    """Word what reading ``geometry`` (its polygons and placed prototypes) repaired or left out."""
    issues = []
    unresolved = geometry.unresolved
    if dropped := sum(p.dropped_rings for p in read):
        issues.append(
            f"GE_R_TOO_FEW_POINTS: {dropped} ring(s) with fewer than 3 distinct points dropped"
        )
    if unclosed := sum(p.unclosed_rings for p in read):
        issues.append(
            f"GE_R_NOT_CLOSED: {unclosed} ring(s) whose last point is not the first; drawn as if "
            "closed"
        )
    if unresolved:
        shown = ", ".join(f"#{ref}" for ref in unresolved[:3])
        more = f" and {len(unresolved) - 3} more" if len(unresolved) > 3 else ""
        issues.append(
            f"{len(unresolved)} xlink(s) point to no polygon in the building "
            f"({shown}{more}); surfaces drawn from the polygons that exist"
        )
    return tuple(issues)
