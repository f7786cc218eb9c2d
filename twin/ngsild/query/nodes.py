"""The syntax tree of an NGSI-LD ``q`` query (ETSI GS CIM 009 v1.8, clause 4.9).

A query is a tree of :class:`And`, :class:`Or`, :class:`Comparison`, :class:`Exists` and
:class:`NotExists` nodes. Values keep their type: numbers are ``int``/``float``, quoted strings
``str``, unquoted URIs :class:`Uri`, dateTimes aware ``datetime`` (UTC when no offset was given),
dates ``date``, times aware ``time``; ranges and value lists are :class:`Range` and
:class:`ValueList`, regular expressions :class:`Pattern`.

Attribute names are kept exactly as written in the query. The caller maps them between short
names and expanded URIs with :func:`map_attribute_names` (clause 5.5.7); member names inside
``[...]`` are JSON member names and are never expanded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

__all__ = [
    "And",
    "AttrPath",
    "Comparable",
    "Comparison",
    "Exists",
    "NotExists",
    "Operator",
    "Or",
    "Pattern",
    "QueryExpr",
    "QueryValue",
    "Range",
    "Scalar",
    "Uri",
    "ValueList",
    "iter_paths",
    "map_attribute_names",
]

Operator: TypeAlias = Literal["==", "!=", ">", ">=", "<", "<=", "~=", "!~="]
"""The comparison operators of clause 4.9 (``equal`` … ``notPatternOp``)."""

Comparable: TypeAlias = int | float | str | dt.datetime | dt.date | dt.time
"""``ComparableValue`` of clause 4.9: Number, quotedStr, dateTime, date or time."""


@dataclass(frozen=True, slots=True)
class Uri:
    """An unquoted URI value, e.g. ``isParked==urn:ngsi-ld:OffStreetParking:Downtown1``."""

    value: str


Scalar: TypeAlias = Comparable | bool | Uri
"""One ``Value`` of clause 4.9 (``ComparableValue`` or ``OtherValue``) or a URI."""


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive range ``low..high`` (``Range`` of clause 4.9); both ends of one type."""

    low: Comparable
    high: Comparable


@dataclass(frozen=True, slots=True)
class ValueList:
    """A list of two or more values ``a,b,c`` (``ValueList`` of clause 4.9)."""

    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Pattern:
    """A regular expression (``RegExp`` of clause 4.9), in Python :mod:`re` syntax."""

    source: str


QueryValue: TypeAlias = Scalar | Range | ValueList | Pattern
"""Anything that can stand on the right of an operator."""


@dataclass(frozen=True, slots=True)
class AttrPath:
    """An attribute path (``ValuePath`` of clause 4.9).

    Attributes
    ----------
    attrs : tuple of str
        The attribute name, then the names of sub-attributes reached with ``.``
        (``temperature.observedAt`` is ``("temperature", "observedAt")``).
    member : tuple of str
        The trailing path inside ``[...]`` into a compound value
        (``address[addressLocality]`` has ``member=("addressLocality",)``); empty if none.
    """

    attrs: tuple[str, ...]
    member: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Comparison:
    """A query term ``path op value``, e.g. ``temperature>20``."""

    path: AttrPath
    op: Operator
    value: QueryValue


@dataclass(frozen=True, slots=True)
class Exists:
    """A query term that is an attribute path alone: the entity has the target element."""

    path: AttrPath


@dataclass(frozen=True, slots=True)
class NotExists:
    """``!attr``: the entity lacks the target element (an Orion-LD/Stellio extension)."""

    path: AttrPath


@dataclass(frozen=True, slots=True)
class And:
    """Terms joined by ``;`` (``andOp``); two or more."""

    terms: tuple[QueryExpr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Terms joined by ``|`` (``orOp``); two or more."""

    terms: tuple[QueryExpr, ...]


QueryExpr: TypeAlias = Comparison | Exists | NotExists | And | Or
"""A parsed ``q`` query."""


def iter_paths(expr: QueryExpr) -> Iterator[AttrPath]:
    """Yield every attribute path of a query, left to right.

    Examples
    --------
    >>> from twin.ngsild.query import parse_q
    >>> [p.attrs for p in iter_paths(parse_q("a>1;(b|c.d==2)"))]
    [('a',), ('b',), ('c', 'd')]
    """
    if isinstance(expr, And | Or):
        for term in expr.terms:
            yield from iter_paths(term)
    else:
        yield expr.path


def map_attribute_names(expr: QueryExpr, rename: Callable[[str], str]) -> QueryExpr:
    """Return the query with every attribute and sub-attribute name passed through ``rename``.

    Use it to compact (or expand) names against the request's ``@context`` before evaluating.
    Member names inside ``[...]`` are JSON members and stay as they are.

    Examples
    --------
    >>> from twin.ngsild.query import parse_q
    >>> short = {"https://schema.org/name": "name"}
    >>> map_attribute_names(parse_q('https://schema.org/name=="x"'), lambda n: short.get(n, n))
    Comparison(path=AttrPath(attrs=('name',), member=()), op='==', value='x')
    """
    if isinstance(expr, And):
        return And(tuple(map_attribute_names(t, rename) for t in expr.terms))
    if isinstance(expr, Or):
        return Or(tuple(map_attribute_names(t, rename) for t in expr.terms))
    path = replace(expr.path, attrs=tuple(rename(name) for name in expr.path.attrs))
    return replace(expr, path=path)
