"""Translate a ``q`` query into conditions on the store's attribute-value index.

The store keeps one ``attr_index`` row per (entity, attribute) — ``attr``, ``kind``, ``value`` —
where ``kind`` is ``n`` (number), ``b`` (boolean), ``s`` (string Property) or ``r`` (Relationship
with one object) for a single instance of that simple shape, and NULL (unknown) for any other
shape (several instances, arrays, objects, ``@value``, other attribute types); see
:func:`twin.store.entities.index_value`.

A query becomes a :class:`QCondition` of three parts, all SQL over the candidate ``c.seq`` with
bound parameters:

- ``maybe``: every entity the evaluator (:func:`twin.ngsild.query.evaluate_q`) matches meets it;
- ``sure``: an entity that meets it is matched for certain (None where SQL cannot be certain:
  patterns, dates, sub-attributes, ``[member]`` paths, ``id``/``type`` names …);
- ``drivers``: index lookups, each an attribute name and a condition on its rows' ``kind`` and
  ``value``, whose rows together include every match — the store reads those (of the wanted
  entity types) instead of every entity of the type — and ``rest``, what of ``maybe`` the
  driver rows do not imply. The driver of rows of unknown kind is always ``kind IS NULL``
  without parameters: the store leaves it out while no row of the attribute has one.

Entities ``maybe`` keeps and ``sure`` does not are decoded and tested by the evaluator, which
stays the referee. The translation follows the evaluator's rules (clause 4.9): numbers compare
with numbers only (never booleans), strings with strings by code point (SQLite compares UTF-8
bytes, the same order), Relationships only with ``==``/``!=``, and ``!=`` is true on an existing
element of another type. A hypothesis test checks that the results equal the evaluator's alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from twin.ngsild.query.nodes import (
    And,
    Comparison,
    Exists,
    NotExists,
    Or,
    Pattern,
    QueryExpr,
    Range,
    Scalar,
    Uri,
    ValueList,
)

__all__ = ["TRUE", "Driver", "QCondition", "SqlCondition", "q_condition"]

SqlCondition = tuple[str, tuple[object, ...]]
"""An SQL boolean expression and its bound parameters."""

Driver = tuple[str, SqlCondition]
"""An attribute name and a condition on the ``kind`` and ``value`` of its index rows."""

TRUE: Final[SqlCondition] = ("1", ())
_ORDER_OPS: Final = {">": ">", ">=": ">=", "<": "<", "<=": "<="}
_UNTRANSLATED_NAMES: Final = frozenset({"id", "type", "@id", "@type"})
_SAFE_INT: Final = 2**53
_NO_DRIVER: Final = 99


@dataclass(frozen=True, slots=True)
class QCondition:
    """A ``q`` query as conditions on ``attr_index`` (see the module docstring)."""

    maybe: SqlCondition
    sure: SqlCondition | None
    drivers: tuple[Driver, ...] | None
    attrs: tuple[str, ...]
    complete: bool = True
    """Every term is translated: ``sure`` and ``maybe`` differ only on entities with an
    unknown-kind row for one of ``attrs``."""
    rank: int = _NO_DRIVER
    """How selective the drivers are thought to be (lower is better)."""
    rest: SqlCondition | None = None
    """``maybe`` for entities the drivers named (None: all of ``maybe``)."""

    @property
    def after_drivers(self) -> SqlCondition:
        """What candidates from the drivers must still meet."""
        return self.maybe if self.rest is None else self.rest


def q_condition(expr: QueryExpr) -> QCondition:
    """Return the index conditions of a query whose names are expanded.

    >>> from twin.ngsild.query import parse_q
    >>> cond = q_condition(parse_q("t>20"))
    >>> cond.drivers[1]
    ('t', ("kind = 'n' AND value > ?", (20,)))
    >>> q_condition(parse_q("t~=x")).sure is None
    True
    """
    if isinstance(expr, And):
        return _and([q_condition(t) for t in expr.terms])
    if isinstance(expr, Or):
        return _or([q_condition(t) for t in expr.terms])
    name = expr.path.attrs[0]
    if name in _UNTRANSLATED_NAMES or '"' in name:
        return QCondition(TRUE, None, None, (), complete=False)
    simple = not expr.path.attrs[1:] and not expr.path.member
    exists: SqlCondition = ("EXISTS (SELECT 1 FROM attr_index WHERE seq = c.seq AND attr = ?)",
                            (name,))  # fmt: skip
    if isinstance(expr, NotExists):
        if not simple:
            return QCondition(TRUE, None, None, (), complete=False)
        return QCondition(("NOT " + exists[0], exists[1]), ("NOT " + exists[0], exists[1]),
                          None, ())  # fmt: skip
    every_row: tuple[Driver, ...] = ((name, TRUE),)
    if isinstance(expr, Exists):
        return QCondition(exists, exists if simple else None, every_row, (), simple, 3, TRUE)
    test = _predicate(expr) if simple else None
    if test is None:
        return QCondition(exists, None, every_row, (), False, 4, TRUE)
    return _comparison(expr, name, test)


def _comparison(expr: Comparison, name: str, test: SqlCondition) -> QCondition:
    row = "EXISTS (SELECT 1 FROM attr_index WHERE seq = c.seq AND attr = ? AND "
    maybe = (row + f"(kind IS NULL OR ({test[0]})))", (name, *test[1]))
    sure = (row + f"kind IS NOT NULL AND ({test[0]}))", (name, *test[1]))
    if expr.op == "!=":
        return QCondition(maybe, sure, ((name, TRUE),), (name,), True, 4)
    drivers = ((name, ("kind IS NULL", ())), (name, test))
    value = expr.value
    rank = 2 if isinstance(value, bool) else 0 if expr.op == "==" and isinstance(
        value, int | float | str | Uri) else 1  # fmt: skip
    return QCondition(maybe, sure, drivers, (name,), True, rank, TRUE)


def _predicate(term: Comparison) -> SqlCondition | None:
    """Return the test on one row's ``kind`` and ``value`` that the evaluator's rules give."""
    value = term.value
    if term.op in ("==", "!="):
        test: SqlCondition | None
        if isinstance(value, ValueList):
            parts = [_equal(v) for v in value.values]
            if any(p is None for p in parts):
                return None
            test = _join(" OR ", [p for p in parts if p is not None])
        elif isinstance(value, Range):
            test = _range(value)
        elif isinstance(value, Pattern):
            return None
        else:
            test = _equal(value)
        if test is None or term.op == "==":
            return test
        return f"NOT ({test[0]})", test[1]
    op = _ORDER_OPS.get(term.op)
    if op is None or isinstance(value, Range | ValueList):
        return None
    if _number(value):
        return f"kind = 'n' AND value {op} ?", (value,)
    if isinstance(value, str) and _encodable(value):
        return f"kind = 's' AND value {op} ?", (value,)
    return None


def _equal(value: Scalar) -> SqlCondition | None:
    if isinstance(value, bool):
        return "kind = 'b' AND value = ?", (int(value),)
    if _number(value):
        return "kind = 'n' AND value = ?", (value,)
    text = value.value if isinstance(value, Uri) else value
    if isinstance(text, str) and _encodable(text):
        return "kind IN ('s', 'r') AND value = ?", (text,)
    return None


def _range(value: Range) -> SqlCondition | None:
    if _number(value.low) and _number(value.high):
        return "kind = 'n' AND value BETWEEN ? AND ?", (value.low, value.high)
    strings = isinstance(value.low, str) and isinstance(value.high, str)
    if strings and _encodable(str(value.low)) and _encodable(str(value.high)):
        return "kind IN ('s', 'r') AND value BETWEEN ? AND ?", (value.low, value.high)
    return None


def _number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_SAFE_INT <= value <= _SAFE_INT
    return isinstance(value, float) and math.isfinite(value)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _join(joiner: str, parts: Sequence[SqlCondition]) -> SqlCondition:
    if len(parts) == 1:
        return parts[0]
    return "(" + joiner.join(f"({s})" for s, _ in parts) + ")", tuple(
        p for _, ps in parts for p in ps
    )


def _attrs(parts: Sequence[QCondition]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a for p in parts for a in p.attrs))


def _and(parts: list[QCondition]) -> QCondition:
    maybes = [p.maybe for p in parts if p.maybe != TRUE]
    sures = [p.sure for p in parts]
    driven = [p for p in parts if p.drivers is not None]
    best = min(driven, key=lambda p: p.rank) if driven else None
    rest = None
    if best is not None:
        others = [p.maybe for p in parts if p is not best] + [best.after_drivers]
        others = [m for m in others if m != TRUE]
        rest = _join(" AND ", others) if others else TRUE
    return QCondition(
        _join(" AND ", maybes) if maybes else TRUE,
        None if any(s is None for s in sures) else _join(" AND ", [s for s in sures if s]),
        None if best is None else best.drivers,
        _attrs(parts),
        all(p.complete for p in parts),
        _NO_DRIVER if best is None else best.rank,
        rest,
    )


def _or(parts: list[QCondition]) -> QCondition:
    maybe = TRUE if any(p.maybe == TRUE for p in parts) else _join(" OR ", [p.maybe for p in parts])
    sures = [p.sure for p in parts if p.sure is not None]
    drivers = None
    if all(p.drivers is not None for p in parts):
        drivers = tuple(d for p in parts for d in p.drivers or ())
    return QCondition(
        maybe,
        _join(" OR ", sures) if sures else None,
        drivers,
        _attrs(parts),
        all(p.complete for p in parts),
        _NO_DRIVER if drivers is None else max(p.rank for p in parts),
    )
