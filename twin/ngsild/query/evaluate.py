"""Test an NGSI-LD entity against a ``q`` query (ETSI GS CIM 009 v1.8, clause 4.9).

The entity is in *normalized* form with *compacted* attribute names, and the query's names must
be compacted against the same ``@context`` first (see
:func:`~twin.ngsild.query.nodes.map_attribute_names`); this module never expands or compacts.

Semantics, following clause 4.9:

- The target value of a Property or GeoProperty is ``value``, of a Relationship ``object``, of a
  ListRelationship the ``objectList`` objects, of a LanguageProperty the values of its
  ``languageMap`` (``name[en]`` picks one language, ``name[*]`` any), of a ListProperty
  ``valueList``, of a VocabProperty ``vocab``, of a JsonProperty ``json``. Sub-attributes that
  are plain JSON (``observedAt``, ``unitCode`` …) are their own value. ``{"@type", "@value"}``
  values are unwrapped.
- A multi-attribute (several instances by ``datasetId``) matches if any instance does; an array
  value matches if any element does.
- A term on a target element the entity lacks is false, whatever the operator — so ``a!=1`` is
  false when there is no ``a``. A trailing ``[member.path]`` that leads nowhere means the target
  element is missing.
- Values compare only with values of the same type: numbers with numbers (never booleans),
  strings with strings (by code point, RFC 8259 section 8.3), and a query dateTime, date or time
  with a target string that reads as one. A type mismatch is "not matching" for ``==``, ``>``,
  ``~=`` …; ``!=`` is the negation of ``==`` on an existing element, so a mismatch is unequal.
- Relationships match only ``==`` and ``!=``.
- ``~=`` uses Python :func:`re.search`: the pattern may match anywhere, as POSIX ``regexec``
  (IEEE 1003.2, cited by clause 4.9) and Orion-LD, Scorpio and Stellio do; anchor with ``^…$``
  for a whole-string match. ``!~=`` matches string targets none of which the pattern matches.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from twin.ngsild.query.nodes import (
    And,
    AttrPath,
    Comparison,
    Exists,
    NotExists,
    Or,
    Pattern,
    QueryExpr,
    QueryValue,
    Range,
    Scalar,
    Uri,
    ValueList,
)

__all__ = ["evaluate_q", "resolve_targets"]

_VALUE_KEYS: Final = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "ListRelationship": "objectList",
    "LanguageProperty": "languageMap",
    "ListProperty": "valueList",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
}
_RELATIONSHIPS: Final = frozenset({"Relationship", "ListRelationship"})
_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_MISSING: Final = object()


def evaluate_q(expr: QueryExpr, entity: Mapping[str, Any]) -> bool:
    """Tell whether an entity matches a query.

    Parameters
    ----------
    expr : QueryExpr
        A parsed query whose names are compacted like the entity's.
    entity : Mapping
        One entity in NGSI-LD normalized form.

    Examples
    --------
    >>> from twin.ngsild.query import parse_q
    >>> car = {"id": "urn:ngsi-ld:Car:1", "type": "Car",
    ...        "speed": {"type": "Property", "value": 80},
    ...        "brandName": {"type": "Property", "value": "Mercedes"}}
    >>> evaluate_q(parse_q('(speed>50|rpm>3000);brandName=="Mercedes"'), car)
    True
    >>> evaluate_q(parse_q("rpm!=3000"), car)
    False
    """
    if isinstance(expr, And):
        return all(evaluate_q(term, entity) for term in expr.terms)
    if isinstance(expr, Or):
        return any(evaluate_q(term, entity) for term in expr.terms)
    targets = resolve_targets(entity, expr.path)
    if isinstance(expr, Exists):
        return bool(targets)
    if isinstance(expr, NotExists):
        return not targets
    return bool(targets) and _compare(expr, targets)


def resolve_targets(entity: Mapping[str, Any], path: AttrPath) -> list[tuple[Any, bool]]:
    """Find the target values a path addresses, one per attribute instance.

    Returns
    -------
    list of (value, is_relationship)
        Empty when the entity lacks the target element.

    Examples
    --------
    >>> entity = {"address": {"type": "Property", "value": {"addressLocality": "Berlin"}}}
    >>> resolve_targets(entity, AttrPath(("address",), ("addressLocality",)))
    [('Berlin', False)]
    >>> resolve_targets(entity, AttrPath(("address",), ("postalCode",)))
    []
    """
    nodes = _instances(entity.get(path.attrs[0], _MISSING))
    for name in path.attrs[1:]:
        nodes = [
            sub
            for node in nodes
            if isinstance(node, Mapping)
            for sub in _instances(node.get(name, _MISSING))
        ]
    targets = []
    for node in nodes:
        value, kind = _target_value(node)
        member = path.member
        if kind == "LanguageProperty" and member == ("*",):
            member = ()
        value = _member(value, member)
        if value is _MISSING:
            continue
        if kind == "LanguageProperty" and not member and isinstance(value, Mapping):
            value = list(value.values())  # no language given: any language's value
        elif kind == "ListRelationship" and isinstance(value, list):
            value = [i["object"] if isinstance(i, Mapping) and "object" in i else i for i in value]
        targets.append((value, kind in _RELATIONSHIPS))
    return targets


def _instances(node: Any) -> list[Any]:
    if node is _MISSING:
        return []
    return list(node) if isinstance(node, list) else [node]


def _target_value(node: Any) -> tuple[Any, str | None]:
    """Return an attribute's target value and its type (``None`` for plain JSON)."""
    if not isinstance(node, Mapping):
        return node, None
    kind = node.get("type")
    if isinstance(kind, str) and _VALUE_KEYS.get(kind) in node:
        return node[_VALUE_KEYS[kind]], kind
    for kind, key in _VALUE_KEYS.items():  # type omitted (concise form): infer it
        if key in node:
            return node[key], kind
    return node, None


def _member(value: Any, member: tuple[str, ...]) -> Any:
    """Evaluate a trailing path as an ECMA-262 member expression; ``_MISSING`` if undefined."""
    for name in member:
        if not isinstance(value, Mapping) or name not in value:
            return _MISSING
        value = value[name]
    return value


def _candidates(targets: list[tuple[Any, bool]]) -> Iterator[Any]:
    """Yield every single value: array elements and ``@value`` contents."""
    for value, _ in targets:
        yield from _flatten(value)


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, Mapping) and "@value" in value:
        yield value["@value"]
    else:
        yield value


def _compare(term: Comparison, targets: list[tuple[Any, bool]]) -> bool:
    if term.op in ("==", "!="):
        found = any(_equals(c, term.value) for c in _candidates(targets))
        return found if term.op == "==" else not found
    if any(relationship for _, relationship in targets):
        return False
    if isinstance(term.value, Pattern):
        strings = [c for c in _candidates(targets) if isinstance(c, str)]
        regex = _compile(term.value.source)
        found = any(regex.search(s) is not None for s in strings)
        return found if term.op == "~=" else bool(strings) and not found
    order = _ORDER[term.op]
    assert not isinstance(term.value, Range | ValueList | bool | Uri)
    query = term.value
    return any(
        (c := _coerce(target, query)) is not _MISSING and order(c, query)
        for target in _candidates(targets)
    )


def _equals(target: Any, query: QueryValue) -> bool:
    if isinstance(query, ValueList):
        return any(_equals(target, item) for item in query.values)
    if isinstance(query, Range):
        low = _coerce(target, query.low)
        return low is not _MISSING and bool(query.low <= low <= query.high)
    if isinstance(query, Pattern):
        return False
    if isinstance(query, Uri):
        return isinstance(target, str) and target == query.value
    value = _coerce(target, query)
    return value is not _MISSING and bool(value == query)


def _coerce(target: Any, query: Scalar) -> Any:
    """Return the target as the query value's type, or ``_MISSING`` if it is not of that type."""
    if isinstance(query, bool) or isinstance(target, bool):
        return target if isinstance(query, bool) and isinstance(target, bool) else _MISSING
    if isinstance(query, int | float):
        return target if isinstance(target, int | float) else _MISSING
    if isinstance(query, str | Uri):
        return target if isinstance(target, str) else _MISSING
    if not isinstance(target, str):
        return _MISSING
    if isinstance(query, dt.datetime):
        return _read_datetime(target)
    if isinstance(query, dt.date):
        return _read_date(target)
    return _read_time(target)


@functools.lru_cache(maxsize=4096)
def _read_datetime(text: str) -> Any:
    if "T" not in text:
        return _MISSING
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return _MISSING
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@functools.lru_cache(maxsize=4096)
def _read_date(text: str) -> Any:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else _MISSING
    except ValueError:
        return _MISSING


@functools.lru_cache(maxsize=4096)
def _read_time(text: str) -> Any:
    try:
        value = dt.time.fromisoformat(text)
    except ValueError:
        return _MISSING
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@functools.lru_cache(maxsize=256)
def _compile(source: str) -> re.Pattern[str]:
    return re.compile(source)
