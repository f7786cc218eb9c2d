"""Recognise CityGML and GML namespaces as written in a document, never assumed.

CityGML 1.0, 2.0 and 3.0 put buildings in ``http://www.opengis.net/citygml/building/<ver>``;
GML is ``http://www.opengis.net/gml`` (GML 3.1, CityGML 1.0/2.0) or
``http://www.opengis.net/gml/3.2`` (CityGML 3.0). Element names below the building are
matched by local name, so the same code reads every version.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Generic, TypedDict, TypeVar

from lxml import etree

__all__ = [
    "CITYGML_PREFIX",
    "LINE_LIMIT",
    "LOCAL_NAMES",
    "MAX_CACHED_TAGS",
    "SAFE_PARSING",
    "XLINK_HREF",
    "TagTable",
    "children",
    "find_child",
    "gml_namespace",
    "is_building_namespace",
    "is_citygml_namespace",
    "is_generics_namespace",
    "is_gml_namespace",
    "local_name",
    "namespace",
    "source_line",
    "starting_at",
]

CITYGML_PREFIX = "http://www.opengis.net/citygml/"
"""Every CityGML module namespace starts with this."""

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


class _ParserOptions(TypedDict):
    huge_tree: bool
    remove_comments: bool
    resolve_entities: bool
    no_network: bool
    load_dtd: bool


SAFE_PARSING: _ParserOptions = {
    "huge_tree": True,
    "remove_comments": True,
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
}
"""Options of every parser over a CityGML document: no DTD, no entities, no network."""

_BUILDING_NS = re.compile(r"^http://www\.opengis\.net/citygml/building/\d+\.\d+$")
_GENERICS_NS = re.compile(r"^http://www\.opengis\.net/citygml/generics/\d+\.\d+$")
_GML_NS = re.compile(r"^http://www\.opengis\.net/gml(/3\.2)?$")


MAX_CACHED_TAGS = 4096
"""Bound of every per-tag table: a document inventing tag names must not grow one for ever."""

_V = TypeVar("_V")


class TagTable(dict[object, _V], Generic[_V]):
    """What a module makes of an element tag, worked out once per distinct tag.

    ``table[element.tag]`` is one dictionary lookup in C for a tag met before; a new tag is
    handed to ``classify`` (comments and processing instructions too: their ``tag`` is not a
    string). At most :data:`MAX_CACHED_TAGS` answers are kept.

    >>> kinds = TagTable(lambda tag: str(tag).endswith("}Polygon"))
    >>> kinds["{http://www.opengis.net/gml}Polygon"], len(kinds)
    (True, 1)
    """

    __slots__ = ("_classify",)

    def __init__(self, classify: Callable[[object], _V]) -> None:
        super().__init__()
        self._classify = classify

    def __missing__(self, tag: object) -> _V:
        value = self._classify(tag)
        if len(self) < MAX_CACHED_TAGS:
            self[tag] = value
        return value


LOCAL_NAMES: TagTable[str] = TagTable(lambda tag: str(tag).rpartition("}")[2])
"""Local part of each tag (``LOCAL_NAMES[element.tag]``); see :func:`local_name`."""


def local_name(tag: str) -> str:
    """Return the local part of a Clark-notation tag (cached: every element asks).

    >>> local_name("{http://www.opengis.net/gml}Polygon")
    'Polygon'
    """
    return LOCAL_NAMES[tag]


def namespace(tag: str) -> str:
    """Return the namespace URI of a Clark-notation tag ('' when there is none).

    >>> namespace("{http://www.opengis.net/gml}Polygon")
    'http://www.opengis.net/gml'
    """
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def is_citygml_namespace(uri: str) -> bool:
    """Return whether ``uri`` is a namespace of some CityGML module (any version)."""
    return uri.startswith(CITYGML_PREFIX)


def is_building_namespace(uri: str) -> bool:
    """Return whether ``uri`` is the CityGML building module namespace (any version).

    >>> is_building_namespace("http://www.opengis.net/citygml/building/2.0")
    True
    >>> is_building_namespace("http://www.opengis.net/citygml/bridge/2.0")
    False
    """
    return _BUILDING_NS.match(uri) is not None


def is_generics_namespace(uri: str) -> bool:
    """Return whether ``uri`` is the CityGML generics module namespace (any version)."""
    return _GENERICS_NS.match(uri) is not None


@functools.lru_cache(maxsize=MAX_CACHED_TAGS)
def is_gml_namespace(uri: str) -> bool:
    """Return whether ``uri`` is a GML namespace (GML 3.1 or 3.2).

    >>> is_gml_namespace("http://www.opengis.net/gml/3.2"), is_gml_namespace("urn:x")
    (True, False)
    """
    return _GML_NS.match(uri) is not None


def gml_namespace(nsmap: Mapping[str | None, str]) -> str:
    """Return the GML namespace declared in ``nsmap``; GML 3.1 when none is declared.

    >>> gml_namespace({"gml": "http://www.opengis.net/gml/3.2"})
    'http://www.opengis.net/gml/3.2'
    """
    for uri in nsmap.values():
        if is_gml_namespace(uri):
            return uri
    return "http://www.opengis.net/gml"


def children(element: etree._Element) -> Iterable[etree._Element]:
    """Yield the child elements of ``element``, skipping comments and processing instructions."""
    return (child for child in element if isinstance(child.tag, str))


_FEW_CHILDREN = 4


def find_child(element: etree._Element, name: str) -> etree._Element | None:
    """Return the first child element whose local name is ``name`` (any namespace), or None.

    Among many children the match runs in lxml's C code (``{*}`` tag wildcard); a few are
    looked at in Python, which is quicker than setting that up.
    """
    if len(element) <= _FEW_CHILDREN:
        for child in element:
            if LOCAL_NAMES[child.tag] == name:
                return child
        return None
    return next(element.iterchildren(f"{{*}}{name}"), None)


_LINE_OFFSETS: dict[etree._Element, int] = {}
"""Lines before the root of subtrees parsed out of their file, by root (:func:`starting_at`)."""

LINE_LIMIT = 65535
"""libxml2 keeps a line in an element node below this (an unsigned short; lxml's default
``XML_PARSE_BIG_LINES`` keeps big lines of text nodes only, libxml2 issue 361). From there on
``xmlGetLineNo`` answers with the line of the node after the start tag: the first child, or
the text there (whose own line is kept whole, at the end of the text), at most 5 nodes on."""

_LINE_DEPTH = 5


def source_line(element: etree._Element) -> int:
    """Return the 1-based line of the file where ``element``'s start tag ends (0 when not
    known).

    Below :data:`LINE_LIMIT` that is the line libxml2 gives. Past it, libxml2's estimate (the
    end of the first text after the start tag) is undone: the newlines of that text are taken
    off (:func:`_undone_estimate`). For an element of a subtree parsed on its own
    (:func:`starting_at`), whose own lines are below the limit, its line there plus the
    subtree's offset.
    """
    line = getattr(element, "sourceline", None)
    if not isinstance(line, int):
        return 0
    if _LINE_OFFSETS:
        offset = _LINE_OFFSETS.get(element.getroottree().getroot())
        if offset is not None:
            return offset + line
    return line if line < LINE_LIMIT else _undone_estimate(element, line)


def _undone_estimate(element: etree._Element, estimate: int) -> int:
    """Return the line ``element``'s start tag ends on, from libxml2's ``estimate`` past
    :data:`LINE_LIMIT` (0 when the text it came from is not the one ``xmlGetLineNo`` met).

    ``xmlGetLineNo`` walks down first children to the first text (or, from an empty element,
    to the text after it): the start tags on the way end on the line where that text starts,
    which is where it ends less its newlines.
    """
    node = element
    for _ in range(_LINE_DEPTH):
        if not isinstance(node.tag, str):
            return 0  # a comment or processing instruction: libxml2 goes on from there
        if node.text:
            return estimate - node.text.count("\n")
        if not len(node):
            return estimate - node.tail.count("\n") if node.tail else 0
        node = node[0]
    return 0


@contextmanager
def starting_at(roots: Iterable[tuple[etree._Element, int]]) -> Iterator[None]:
    """Within the block, count the lines of each ``(root, line)`` subtree from ``line``.

    ``line`` is the line of the file the root's start tag ends on (:func:`source_line`).
    libxml2 numbers a parsed subtree from 1 and lxml cannot renumber past 65535, so
    :func:`source_line` adds the difference.
    The roots must be held for the block (their proxies are the keys).
    """
    held = [(root, line - 1) for root, line in roots]
    _LINE_OFFSETS.update(held)
    try:
        yield
    finally:
        for root, _ in held:
            _LINE_OFFSETS.pop(root, None)
