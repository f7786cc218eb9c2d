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
    "start_line",
    "starting_at",
    "text_line",
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
"""libxml2 keeps a line in an element node below this (an unsigned short); from there on
``xmlGetLineNo`` answers with the line of the node after the start tag: the first child, or
the text there (whose own line is kept whole, at the end of the text), at most 5 nodes on."""

_LINE_DEPTH = 5


def source_line(element: etree._Element) -> int:
    """Return the 1-based line where ``element`` starts (0 when lxml does not know).

    That is the line its start tag ends on, as libxml2 gives it (see :data:`LINE_LIMIT`).
    For an element of a subtree parsed on its own (:func:`starting_at`), the line libxml2
    gives it in the whole file.
    """
    line = getattr(element, "sourceline", None)
    if not isinstance(line, int):
        return 0
    if _LINE_OFFSETS:
        offset = _LINE_OFFSETS.get(element.getroottree().getroot())
        if offset is not None:
            return _file_line(element, offset, 0)
    return line


def text_line(line: int, text: str | None) -> int:
    """Return the line libxml2 gives an element whose start tag ends on ``line`` (of the
    file) and whose first child node is ``text``: its own below :data:`LINE_LIMIT`, else
    the line the text ends on (the text is taken as read in one piece)."""
    if line < LINE_LIMIT or not text:
        return line
    return line + text.count("\n")


def _file_line(element: etree._Element, offset: int, depth: int) -> int:
    """Return what ``xmlGetLineNo`` answers for ``element`` in the whole file, its subtree's
    lines being ``offset`` lines down there (and exact: below :data:`LINE_LIMIT`)."""
    if depth >= _LINE_DEPTH:
        return 0
    line = offset + int(getattr(element, "sourceline", 0) or 0)
    if line < LINE_LIMIT:
        return line
    if element.text:
        return 0 if depth + 1 >= _LINE_DEPTH else text_line(line, element.text)
    if len(element):
        return _file_line(element[0], offset, depth + 1)
    if element.tail:  # an empty element: the text after it
        return 0 if depth + 1 >= _LINE_DEPTH else text_line(line, element.tail)
    after = element.getnext()
    if after is None:
        after = element.getparent()
    return 0 if after is None else _file_line(after, offset, depth + 1)


def start_line(element: etree._Element) -> int | None:
    """Return the file's line where ``element``'s start tag ends: :func:`source_line` with
    libxml2's estimate past :data:`LINE_LIMIT` undone (None when it cannot be)."""
    line = source_line(element)
    if 0 < line < LINE_LIMIT:
        return line
    node = element
    for _ in range(_LINE_DEPTH):
        if node.text:
            return line - node.text.count("\n")
        if not len(node):
            return None
        node = node[0]
    return None


@contextmanager
def starting_at(roots: Iterable[tuple[etree._Element, int]]) -> Iterator[None]:
    """Within the block, count the lines of each ``(root, line)`` subtree from ``line``.

    ``line`` is the line of the file the root's start tag ends on (:func:`start_line`).
    libxml2 numbers a parsed subtree from 1 and lxml cannot renumber past 65535, so
    :func:`source_line` adds the difference (and answers as libxml2 does in the whole file).
    The roots must be held for the block (their proxies are the keys).
    """
    held = [(root, line - 1) for root, line in roots]
    _LINE_OFFSETS.update(held)
    try:
        yield
    finally:
        for root, _ in held:
            _LINE_OFFSETS.pop(root, None)
