"""Write a ``q`` syntax tree back as query text (clause 4.9), e.g. to store a subscription's q.

``parse_q(render_q(expr)) == expr`` for every tree whose ``And``/``Or`` have two or more terms.
"""

from __future__ import annotations

import json

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
    ValueList,
)
from twin.ngsild.query.values import format_scalar

__all__ = ["render_q"]


def render_q(expr: QueryExpr) -> str:
    """Return the query text of a tree, with the parentheses its grouping needs.

    Examples
    --------
    >>> from twin.ngsild.query import parse_q
    >>> render_q(parse_q('((speed>50|rpm>3000);brandName=="Mercedes")'))
    '(speed>50|rpm>3000);brandName=="Mercedes"'
    """
    if isinstance(expr, And):
        return ";".join(_grouped(term, isinstance(term, And | Or)) for term in expr.terms)
    if isinstance(expr, Or):
        return "|".join(_grouped(term, isinstance(term, Or)) for term in expr.terms)
    if isinstance(expr, Exists):
        return _path(expr.path)
    if isinstance(expr, NotExists):
        return "!" + _path(expr.path)
    return _path(expr.path) + expr.op + _value(expr)


def _grouped(term: QueryExpr, parenthesize: bool) -> str:
    text = render_q(term)
    return f"({text})" if parenthesize else text


def _path(path: AttrPath) -> str:
    text = ".".join(path.attrs)
    return text + f"[{'.'.join(path.member)}]" if path.member else text


def _value(term: Comparison) -> str:
    value: QueryValue = term.value
    if isinstance(value, Pattern):
        return json.dumps(value.source, ensure_ascii=False)
    if isinstance(value, Range):
        return f"{format_scalar(value.low)}..{format_scalar(value.high)}"
    if isinstance(value, ValueList):
        return ",".join(format_scalar(item) for item in value.values)
    return format_scalar(value)
