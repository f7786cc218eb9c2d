"""Recognise CityGML and GML namespaces as written in a document, never assumed.

CityGML 1.0, 2.0 and 3.0 put buildings in ``http://www.opengis.net/citygml/building/<ver>``;
GML is ``http://www.opengis.net/gml`` (GML 3.1, CityGML 1.0/2.0) or
``http://www.opengis.net/gml/3.2`` (CityGML 3.0). Element names below the building are
matched by local name, so the same code reads every version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TypedDict

from lxml import etree

__all__ = [
    "CITYGML_PREFIX",
    "MAX_CACHED_TAGS",
    "SAFE_PARSING",
    "XLINK_HREF",
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
"""Bound of every per-tag cache: a document inventing tag names must not grow one for ever."""

_LOCAL_NAMES: dict[str, str] = {}


def local_name(tag: str) -> str:
    """Return the local part of a Clark-notation tag (cached: every element asks).

    >>> local_name("{http://www.opengis.net/gml}Polygon")
    'Polygon'
    """
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2]
        if len(_LOCAL_NAMES) < MAX_CACHED_TAGS:
            _LOCAL_NAMES[tag] = name
    return name


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


def find_child(element: etree._Element, name: str) -> etree._Element | None:
    """Return the first child element whose local name is ``name`` (any namespace), or None.

    The match runs in lxml's C code (``{*}`` tag wildcard), not over every child in Python.
    """
    return next(element.iterchildren(f"{{*}}{name}"), None)


def source_line(element: etree._Element) -> int:
    """Return the 1-based line where ``element`` starts (0 when lxml does not know)."""
    line = getattr(element, "sourceline", None)
    return line if isinstance(line, int) else 0
