"""CQL2 filters (OGC API – Features Part 3) parsed with pygeofilter and translated to SQLite SQL.

Text and JSON encodings are parsed by :mod:`twin.store.features_cql2_parse`; this module walks
the AST and writes a ``WHERE`` clause over the ``objects`` table with bound parameters only::

    energyUse > 100 AND yearOfConstruction < 1960
    -> (json_extract(attributes, ?) > ?) AND (json_extract(attributes, ?) < ?)

Properties read as :func:`twin.store.features_filter.property_sql` says. Importing this module
imports pygeofilter (about a second: its grammar is built at import), so only the code that
parses filters imports it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping
from functools import partial, reduce
from typing import Any, Final, TypeGuard

import shapely
from pygeofilter import ast, values

from twin.errors import QueryError
from twin.store.features_cql2_parse import Arithmetic, FilterLang, parse_filter
from twin.store.features_filter import (
    GEOMETRY_NAMES,
    SqlFilter,
    fold_case,
    property_sql,
    query_wkb,
)
from twin.types import Float64Array

ToCRS84 = Callable[[Float64Array], Float64Array]
"""Transform ``(N, 2) float64`` coordinates of a filter's CRS to CRS84 longitude, latitude."""

__all__ = [
    "FilterLang",
    "ToCRS84",
    "all_equal",
    "like_to_glob",
    "parse_filter",
    "property_names",
    "query_geometry",
    "to_sql",
]

_COMPARISON: Final = {
    ast.Equal: "=", ast.NotEqual: "<>", ast.LessThan: "<", ast.LessEqual: "<=",
    ast.GreaterThan: ">", ast.GreaterEqual: ">=",
}  # fmt: skip
_SPATIAL: Final = {
    ast.GeometryIntersects: "intersects", ast.GeometryDisjoint: "disjoint",
    ast.GeometryContains: "contains", ast.GeometryWithin: "within",
    ast.GeometryTouches: "touches", ast.GeometryCrosses: "crosses",
    ast.GeometryOverlaps: "overlaps", ast.GeometryEquals: "equals",
}  # fmt: skip
# CQL2 arithmetic (OGC 21-065r2, requirements class "arithmetic") as SQLite writes it, each
# operand a ``{}``. ``/`` divides as reals (SQLite divides integers as integers), ``div`` is
# the integer part of the quotient (towards zero), ``%`` keeps the fraction (SQLite's ``%``
# casts its operands to integers). A zero divisor makes all three NULL, as SQL division does:
# the comparison is then unknown and the object not selected (the divisor may be a property,
# zero on some objects only, so the filter cannot be refused before it runs).
_ARITHMETIC_SQL: Final = {
    "+": "({} + {})", "-": "({} - {})", "*": "({} * {})",
    "/": "(CAST({} AS REAL) / {})",
    "div": "CAST(CAST({} AS REAL) / {} AS INTEGER)",
    "%": "mod({}, {})",
    "^": "pow({}, {})",
}  # fmt: skip


def all_equal(node: ast.Node | None, values: Mapping[str, object]) -> ast.Node | None:
    """Return ``node`` AND ``name = value`` for each of ``values`` (None when both are empty).

    >>> all_equal(parse_filter("height > 10"), {"lod": 2})
    And(lhs=GreaterThan(lhs=ATTRIBUTE height, rhs=10), rhs=Equal(lhs=ATTRIBUTE lod, rhs=2))
    """
    nodes = [] if node is None else [node]
    nodes += [ast.Equal(ast.Attribute(name), value) for name, value in values.items()]
    return reduce(ast.And, nodes) if nodes else None


def property_names(node: object) -> set[str]:
    """Return every property name a filter refers to.

    >>> sorted(property_names(parse_filter("a1 > b1 OR c1 IS NULL")))
    ['a1', 'b1', 'c1']
    """
    if isinstance(node, ast.Attribute):
        return {node.name}
    found: set[str] = set()
    if isinstance(node, ast.Node):
        for child in node.get_sub_nodes():
            found |= property_names(child)
    elif isinstance(node, list | tuple):
        for child in node:
            found |= property_names(child)
    return found


def to_sql(
    node: ast.Node,
    known: Collection[str],
    live: Mapping[str, str] | None = None,
    to_crs84: ToCRS84 | None = None,
    attribute_of: Mapping[str, str] | None = None,
) -> SqlFilter:
    """Translate a parsed filter to SQL; raise QueryError for an unknown property.

    Parameters
    ----------
    node : pygeofilter.ast.Node
        From :func:`parse_filter`.
    known : collection of str
        The queryable property names (geometry names are always known), live ones included.
    live : Mapping[str, str], optional
        Live property name -> JSON text of ``{object id: value}`` (see :func:`property_sql`).
    to_crs84 : callable, optional
        Transforms ``(N, 2) float64`` coordinates of the filter's geometry literals (in its
        ``filter-crs``) to CRS84 longitude, latitude; None when they are in CRS84.
    attribute_of : Mapping[str, str], optional
        New name -> own name of the attributes named like a catalog property (see
        :func:`property_sql`).
    """
    unknown = sorted(property_names(node) - set(known) - GEOMETRY_NAMES)
    if unknown:
        raise QueryError(
            f"unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"the queryables are: {', '.join(sorted(known))}"
        )
    params: list[Any] = []
    sql = _Translator(params, live or {}, to_crs84, attribute_of or {}).node(node)
    return SqlFilter(sql, tuple(params))


class _Translator:
    """Write one AST as SQL, appending parameters in the order their ``?`` appear."""

    def __init__(
        self,
        params: list[Any],
        live: Mapping[str, str],
        to_crs84: ToCRS84 | None,
        attribute_of: Mapping[str, str],
    ) -> None:
        self.params = params
        self.live = live
        self.to_crs84 = to_crs84
        self.attribute_of = attribute_of

    def node(self, node: Any) -> str:
        handler = self._handlers().get(type(node))
        if handler is None:
            raise QueryError(f"unsupported CQL2 operation {type(node).__name__}")
        return handler(node)

    def _handlers(self) -> Mapping[type, Callable[[Any], str]]:
        table: dict[type, Callable[[Any], str]] = {
            ast.And: lambda n: f"({self.node(n.lhs)} AND {self.node(n.rhs)})",
            ast.Or: lambda n: f"({self.node(n.lhs)} OR {self.node(n.rhs)})",
            ast.Not: lambda n: f"(NOT {self.node(n.sub_node)})",
            ast.Like: self._like,
            ast.In: self._in,
            ast.Between: self._between,
            ast.IsNull: lambda n: f"({self.value(n.lhs)} IS {'NOT ' if n.not_ else ''}NULL)",
            ast.Include: lambda n: "0" if n.not_ else "1",
        }
        for cls, op in _COMPARISON.items():
            table[cls] = partial(self._compare, op)
        for cls, name in _SPATIAL.items():
            table[cls] = partial(self._spatial_node, name)
        return table

    def _compare(self, op: str, node: Any) -> str:
        return f"({self.value(node.lhs)} {op} {self.value(node.rhs)})"

    def _spatial_node(self, op: str, node: Any) -> str:
        return self._spatial(op, node.lhs, node.rhs)

    def value(self, node: Any) -> str:
        if isinstance(node, ast.Attribute):
            if node.name in GEOMETRY_NAMES:
                raise QueryError(f"{node.name} can only be used in spatial operators")
            expr, params = property_sql(node.name, self.live, self.attribute_of)
            self.params.extend(params)
            return expr
        if isinstance(node, Arithmetic):
            return self._arithmetic(node)
        if isinstance(node, bool):
            self.params.append(json.dumps(node))
            return "json(?)"
        if isinstance(node, int) and not -(2**63) <= node < 2**63:
            raise QueryError(f"the integer {node} is out of range (64 bits)")
        if isinstance(node, int | float | str):
            self.params.append(node)
            return "?"
        if isinstance(node, dt.datetime | dt.date):
            self.params.append(node.isoformat())
            return "?"
        if isinstance(node, ast.Function):
            if _is_casei(node):
                return f"twin_casei({self.value(node.arguments[0])})"
            raise QueryError(f"unsupported CQL2 function {node.name}")
        if isinstance(node, values.Geometry | values.Envelope):
            raise QueryError("geometry values only fit spatial operators")
        raise QueryError(f"unsupported CQL2 value {node!r}")

    def _arithmetic(self, node: Arithmetic) -> str:
        operands = [self.value(arg) for arg in node.args]
        if len(operands) == 1:
            return f"(- {operands[0]})"
        return _ARITHMETIC_SQL[node.op].format(*operands)

    def _like(self, node: ast.Like) -> str:
        # pygeofilter reports '.' as the single-character wildcard but leaves the pattern as
        # written, in CQL2's terms: only % and _ are wildcards, a backslash escapes.
        pattern = node.pattern
        if _is_casei(pattern) and isinstance(pattern.arguments[0], str):
            pattern = fold_case(pattern.arguments[0])  # CASEI('%Straße%'): fold the literal here
        if not isinstance(pattern, str):
            raise QueryError(f"LIKE needs a string pattern, got {pattern!r}")
        expr = self.value(node.lhs)
        self.params.append(like_to_glob(pattern))
        sql = f"({expr} GLOB ?)"
        return f"(NOT {sql})" if node.not_ else sql

    def _in(self, node: ast.In) -> str:
        expr = self.value(node.lhs)
        items = ", ".join(self.value(v) for v in node.sub_nodes)
        return f"({expr} {'NOT ' if node.not_ else ''}IN ({items}))"

    def _between(self, node: ast.Between) -> str:
        expr = self.value(node.lhs)
        low, high = self.value(node.low), self.value(node.high)
        return f"({expr} {'NOT ' if node.not_ else ''}BETWEEN {low} AND {high})"

    def _spatial(self, op: str, lhs: Any, rhs: Any) -> str:
        if isinstance(rhs, ast.Attribute) and not isinstance(lhs, ast.Attribute):
            lhs, rhs = rhs, lhs
            op = {"within": "contains", "contains": "within"}.get(op, op)
        if not (isinstance(lhs, ast.Attribute) and lhs.name in GEOMETRY_NAMES):
            raise QueryError("spatial operators compare the geometry property with a geometry")
        geometry = query_geometry(rhs)
        if self.to_crs84 is not None:
            geometry = shapely.transform(geometry, self.to_crs84)
        x0, y0, x1, y1 = geometry.bounds
        exact = "twin_spatial(?, footprint, min_lon, min_lat, max_lon, max_lat, ?)"
        if op == "disjoint":
            self.params.extend([op, query_wkb(geometry)])
            return exact
        self.params.extend([x1, x0, y1, y0, op, query_wkb(geometry)])
        return f"(min_lon <= ? AND max_lon >= ? AND min_lat <= ? AND max_lat >= ? AND {exact})"


def query_geometry(node: Any) -> shapely.Geometry:
    """Return a geometry literal of a filter (GeoJSON, envelope or ``BBOX(...)``)."""
    if isinstance(node, values.Geometry):
        try:
            return shapely.geometry.shape(node.geometry)
        except (ValueError, TypeError, AttributeError) as exc:
            raise QueryError(f"invalid geometry in the filter: {exc}") from exc
    if isinstance(node, values.Envelope):
        return shapely.box(node.x1, node.y1, node.x2, node.y2)
    if isinstance(node, ast.Function) and node.name.lower() == "bbox":
        args = node.arguments
        if len(args) in (4, 6) and all(isinstance(a, int | float) for a in args):
            half = len(args) // 2
            return shapely.box(args[0], args[1], args[half], args[half + 1])
    raise QueryError(f"expected a geometry literal in the spatial operator, got {node!r}")


def like_to_glob(pattern: str) -> str:
    r"""Return the SQLite GLOB pattern matching what a CQL2 LIKE ``pattern`` matches.

    CQL2 LIKE is case-sensitive (``CASEI`` is how a filter folds case), SQLite's LIKE folds
    ASCII case, its GLOB does not: ``%`` becomes ``*``, ``_`` ``?``, a character escaped by a
    backslash stands for itself, and GLOB's own ``*``, ``?`` and ``[`` are bracketed.

    >>> like_to_glob(r"St. Anna%_1\% [a*]?")
    'St. Anna*?1% [[]a[*]][?]'
    """
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            char = next(chars, "\\")
        elif char in "%_":
            out.append("*" if char == "%" else "?")
            continue
        out.append(f"[{char}]" if char in "*?[" else char)
    return "".join(out)


def _is_casei(node: object) -> TypeGuard[ast.Function]:
    """Whether ``node`` is CQL2 ``CASEI(x)`` (pygeofilter reads it as the function lower)."""
    return isinstance(node, ast.Function) and node.name == "lower" and len(node.arguments) == 1
