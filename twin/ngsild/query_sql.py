"""Translate a ``q`` query into an SQLite condition that every matching entity satisfies.

The condition is a *prefilter*: it may keep entities the query rejects, never the reverse, so
the Python evaluator (:func:`twin.ngsild.query.evaluate_q`) stays the source of truth and runs
on the survivors. It reads the stored form (``$.attrs."<expanded name>"`` is a list of
instances) with ``json_extract``/``json_type`` on the column ``e.body``; every name and value is
a bound parameter.

Translated exactly, when an attribute has one instance of the simple shape:

- ``Property`` with a number value against a number (``==`` ``!=`` ``>`` ``>=`` ``<`` ``<=``);
- ``Property`` with a string value against a quoted string (same operators: SQLite compares
  UTF-8 bytes, which is code point order, as the evaluator does);
- ``Property`` with a boolean value against ``true``/``false`` (``==``, ``!=``);
- ``Relationship`` or string ``Property`` against a URI (``==``, ``!=``).

Any other shape (several instances, arrays, ``@value``, other attribute types) falls back to
"the attribute exists", and anything else the translator does not know (ranges, lists,
patterns, dates, sub-attributes, ``[member]`` paths, ``!attr``, ``id``/``type``) to no condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from twin.ngsild.query.nodes import (
    And,
    Comparison,
    Exists,
    NotExists,
    Or,
    QueryExpr,
    Uri,
)

__all__ = ["SqlCondition", "q_prefilter"]

SqlCondition = tuple[str, tuple[object, ...]]
"""An SQL boolean expression over ``e.body`` and its bound parameters."""

_TRUE: Final[SqlCondition] = ("1", ())
_SQL_OPS: Final[Mapping[str, str]] = {
    "==": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<=",
}  # fmt: skip
_UNTRANSLATED_NAMES: Final = frozenset({"id", "type", "@id", "@type"})


def q_prefilter(expr: QueryExpr) -> SqlCondition | None:
    """Return an SQL condition every entity matching ``expr`` meets; None when there is none.

    ``expr`` has expanded attribute names (as :class:`twin.ngsild.selection.Selection` keeps).

    >>> from twin.ngsild.query import parse_q
    >>> sql, params = q_prefilter(parse_q("t>20"))
    >>> 20 in params, "json_extract" in sql
    (True, True)
    >>> q_prefilter(parse_q("!t")) is None
    True
    """
    condition = _translate(expr)
    return None if condition == _TRUE else condition


def _translate(expr: QueryExpr) -> SqlCondition:
    if isinstance(expr, And | Or):
        parts = [_translate(t) for t in expr.terms]
        if isinstance(expr, And):
            parts = [p for p in parts if p != _TRUE]
            if not parts:
                return _TRUE
        elif _TRUE in parts:
            return _TRUE
        joiner = " AND " if isinstance(expr, And) else " OR "
        params = tuple(p for _, ps in parts for p in ps)
        return "(" + joiner.join(s for s, _ in parts) + ")", params
    if isinstance(expr, NotExists) or not _translatable(expr.path.attrs[0]):
        return _TRUE
    attr = _attr_path(expr.path.attrs[0])
    exists: SqlCondition = ("json_type(e.body, ?) IS NOT NULL", (attr,))
    if isinstance(expr, Exists) or expr.path.attrs[1:] or expr.path.member:
        return exists
    return _comparison(expr, attr) or exists


def _translatable(name: str) -> bool:
    return name not in _UNTRANSLATED_NAMES and '"' not in name


def _attr_path(name: str) -> str:
    return f'$.attrs."{name}"'


def _comparison(term: Comparison, attr: str) -> SqlCondition | None:
    """Return the exact test on a single simple instance, else "the attribute exists"."""
    value = term.value
    op = _SQL_OPS.get(term.op)
    if op is None:
        return None
    first = attr + "[0]"
    if isinstance(value, bool):
        if op not in ("=", "<>"):
            return None
        want = "true" if value == (op == "=") else "false"
        simple = "json_type(e.body, ?) IN ('true', 'false')"
        return _case(attr, "Property", first + ".value", simple, f"json_type(e.body, ?) = '{want}'")
    if isinstance(value, int | float):
        simple = "json_type(e.body, ?) IN ('integer', 'real')"
        test = f"json_extract(e.body, ?) {op} ?"
        return _case(attr, "Property", first + ".value", simple, test, value)
    if isinstance(value, str):
        simple = "json_type(e.body, ?) = 'text'"
        test = f"json_extract(e.body, ?) {op} ?"
        return _case(attr, "Property", first + ".value", simple, test, value)
    if isinstance(value, Uri) and op in ("=", "<>"):
        return _uri(attr, first, op, value.value)
    return None


def _case(
    attr: str, kind: str, target: str, simple: str, test: str, *value: object
) -> SqlCondition:
    """``CASE WHEN <one instance of kind, simple target> THEN <test> ELSE <attr exists> END``."""
    sql = (
        "(CASE WHEN json_array_length(e.body, ?) = 1 AND json_extract(e.body, ?) = ? "
        f"AND {simple} THEN {test} ELSE json_type(e.body, ?) IS NOT NULL END)"
    )
    return sql, (attr, attr + "[0].type", kind, target, target, *value, attr)


def _uri(attr: str, first: str, op: str, uri: str) -> SqlCondition:
    relationship = _case(
        attr, "Relationship", first + ".object", "json_type(e.body, ?) = 'text'",
        f"json_extract(e.body, ?) {op} ?", uri,
    )  # fmt: skip
    prop = _case(
        attr, "Property", first + ".value", "json_type(e.body, ?) = 'text'",
        f"json_extract(e.body, ?) {op} ?", uri,
    )  # fmt: skip
    # A single instance is a Relationship, a Property, or neither (then: exists).
    sql = (
        "(CASE json_extract(e.body, ?) WHEN 'Relationship' THEN "
        f"{relationship[0]} ELSE {prop[0]} END)"
    )
    return sql, (first + ".type", *relationship[1], *prop[1])
