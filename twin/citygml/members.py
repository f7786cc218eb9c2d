"""Hand CityGML members to another process to be read: their subtrees serialised, in order.

The process that parses a document (it must: only one pull parser can split it) keeps just
the C work — the parse and :func:`lxml.etree.tostring` — and sends each batch of members as
bytes; a worker parses them again and reads them as the reader would have
(:func:`twin.citygml.reader.read_members`). ``tostring`` carries the namespace declarations
in scope, so each subtree parses on its own.

A member is read where it was parsed instead (:func:`shipped_member` returns None) when its
reading needs what only that process has:

- an ``ImplicitGeometry``: its prototype may be defined in an earlier member, or be used by
  a later one (:mod:`twin.citygml.implicit`);
- a ``srsName`` on an element around it (the CityModel …), which its geometry would inherit;
- line numbers the serialised bytes would not keep: a start tag written over several lines,
  or a newline inside an attribute value, is written back on one line, so the lines of the
  elements after it would no longer be the file's.

Documents with appearances are read where they are parsed altogether (their textures are
resolved against state shared by the whole document, :mod:`twin.citygml.appearance`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from twin.citygml.local_crs import LocalCRSs
from twin.citygml.namespaces import LINE_LIMIT, find_child, source_line
from twin.citygml.objects import is_gml
from twin.model import LodChoice

__all__ = ["Member", "MemberBatch", "envelope_srs_name", "shipped_member"]


@dataclass(frozen=True, slots=True)
class Member:
    """One member subtree, serialised.

    ``first_line`` is the file's line of its root's start tag (where its own line 1 is);
    ``outer_srs_name`` is the srsName its objects fall back to (the envelope of an element
    around it, or the CityModel's); ``holds_objects`` tells a member property
    (``cityObjectMember``, whose children are the objects) from a child of
    ``gml:featureMembers`` (the object itself).
    """

    xml: bytes
    first_line: int
    outer_srs_name: str | None
    holds_objects: bool


@dataclass(frozen=True, slots=True)
class MemberBatch:
    """Members of one document to be read together, with what the reader knows of it.

    ``local_crs`` is the document's local engineering CRSs defined so far.
    """

    path: str
    lod: LodChoice
    types: frozenset[str] | None
    members: list[Member] = field(default_factory=list)
    local_crs: LocalCRSs = field(default_factory=LocalCRSs)


_IMPLICIT = b"ImplicitGeometry"


def shipped_member(
    member: etree._Element, holds_objects: bool, model_srs_name: str | None
) -> Member | None:
    """Return ``member`` serialised to be read elsewhere, or None if it must be read here.

    ``model_srs_name`` is the srsName of the CityModel's envelope met so far.
    """
    outer = list(member.iterancestors())
    if any(element.get("srsName") is not None for element in outer):
        return None
    first_line = source_line(member)
    if not first_line:
        return None
    xml = etree.tostring(member, with_tail=False)
    if (
        _IMPLICIT in xml
        or xml.count(b"\n") >= LINE_LIMIT
        or not _lines_kept(member, first_line, xml)
    ):
        return None
    srs_name = envelope_srs_name(outer)
    return Member(xml, first_line, model_srs_name if srs_name is None else srs_name, holds_objects)


def envelope_srs_name(elements: Iterable[etree._Element]) -> str | None:
    """Return the srsName of the first ``boundedBy/Envelope`` of a non-GML element, if any.

    The reader's fallback for an object's srsName, over the object and the elements around
    it (the buildings it lies in, the CityModel).
    """
    for element in elements:
        if is_gml(element):
            continue
        bounded_by = find_child(element, "boundedBy")
        envelope = None if bounded_by is None else find_child(bounded_by, "Envelope")
        if envelope is not None and (srs_name := envelope.get("srsName")) is not None:
            return srs_name
    return None


def _lines_kept(member: etree._Element, first_line: int, xml: bytes) -> bool:
    """Return whether ``xml`` (``member`` serialised) keeps the file's line breaks.

    Serialising only ever drops line breaks (inside a start tag), so it is enough to check
    that the last element in document order is where the file has it: its line in the file
    (:func:`~twin.citygml.namespaces.source_line`) is the one it gets from ``first_line`` and
    the lines of ``xml``.
    """
    last = member
    chain = []
    while len(last):
        last = last[-1]
        chain.append(last)
    if last is member:
        return True
    if not isinstance(last.tag, str):
        return False  # a processing instruction, whose line libxml2 looks up further on
    after = (last.text or "").count("\n") + sum((e.tail or "").count("\n") for e in chain)
    line = first_line + xml.count(b"\n") - after
    return line == source_line(last)
