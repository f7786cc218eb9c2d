"""CQL2 filters (OGC API – Features Part 3, OGC 21-065) parsed to pygeofilter's AST.

Both encodings go through pygeofilter's parsers, adjusted where they fall short of CQL2: the
text grammar is built again from pygeofilter's (once, on the first text filter: about a
second) with the rules of :data:`_GRAMMAR_FIXES` replaced, and CQL2 JSON is rewritten before
pygeofilter reads it. Arithmetic, of which pygeofilter knows ``+ - * /`` only, becomes
:class:`Arithmetic` nodes in both encodings. :mod:`twin.store.features_cql2` translates the
AST to SQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from lark import Lark, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_json.parser import walk_cql_json
from pygeofilter.parsers.cql2_text import parser as pygeofilter_cql2_text

from twin.errors import QueryError

__all__ = ["ARITHMETIC_OPERATORS", "Arithmetic", "FilterLang", "arithmetic", "parse_filter"]

FilterLang = Literal["cql2-text", "cql2-json"]

ARITHMETIC_OPERATORS: Final = frozenset({"+", "-", "*", "/", "%", "div", "^"})
"""CQL2's arithmetic operators (requirements class *arithmetic*), as both encodings write them."""


@dataclass(frozen=True, slots=True, eq=True)
class Arithmetic(ast.Expression):  # type: ignore[misc]
    """A CQL2 arithmetic operation: ``op`` over ``args`` (two, or one for the unary minus).

    ``op`` is one of CQL2's ``+ - * / % div ^``, the same in both encodings (CQL2 JSON writes
    ``{"op": "div", "args": [a, b]}``); the unary minus is ``-`` with one argument.
    """

    op: str
    args: tuple[Any, ...]

    def get_sub_nodes(self) -> list[Any]:
        """Return the operands (for walks over the AST such as :func:`property_names`)."""
        return list(self.args)


def arithmetic(op: str, *args: Any) -> Arithmetic | int | float:
    """Return the operation ``op`` over ``args``; raise ValueError for a wrong argument count.

    A negated number is the number itself negated.

    >>> arithmetic("div", ast.Attribute("storeys"), 2)
    Arithmetic(op='div', args=(ATTRIBUTE storeys, 2))
    >>> arithmetic("-", 3)
    -3
    """
    if op not in ARITHMETIC_OPERATORS:
        raise ValueError(f"unknown arithmetic operator {op!r}")
    if op == "-" and len(args) == 1:
        operand = args[0]
        if isinstance(operand, int | float) and not isinstance(operand, bool):
            return -operand
        return Arithmetic("-", (operand,))
    if len(args) != 2:
        raise ValueError(f"{op} takes 2 arguments, got {len(args)}")
    return Arithmetic(op, tuple(args))


def parse_filter(text: str, lang: FilterLang = "cql2-text") -> ast.Node:
    """Parse a CQL2 filter; raise QueryError naming the position of a syntax error.

    >>> parse_filter("height > 10")
    GreaterThan(lhs=ATTRIBUTE height, rhs=10)
    >>> parse_filter("height div 2 > 1")
    GreaterThan(lhs=Arithmetic(op='div', args=(ATTRIBUTE height, 2)), rhs=1)
    >>> parse_filter("TRUE")
    Include(not_=False)
    >>> parse_filter("height >")
    Traceback (most recent call last):
    twin.errors.QueryError: invalid CQL2 filter at line 1, column 9: unexpected end of input
    """
    try:
        if lang == "cql2-json":
            node = as_predicate(parse_cql2_json(_pygeofilter_json(json.loads(text))))
        else:
            node = _parse_text(text)
    except UnexpectedInput as exc:
        raise QueryError(f"invalid CQL2 filter at {_where(exc, text)}") from exc
    except json.JSONDecodeError as exc:
        raise QueryError(
            f"invalid CQL2 JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise QueryError(f"invalid CQL2 filter: {exc}") from exc
    if not isinstance(node, ast.Node):
        raise QueryError("invalid CQL2 filter: it is not a predicate")
    return node


# Rules of pygeofilter's CQL2 text grammar replaced by the CQL2 BNF's (OGC 21-065r2 Annex B):
_GRAMMAR_FIXES: Final = (
    # characterLiteral = "'" {character} "'", a character being any but a quote, or an
    # escapeQuote: '' or \' (pygeofilter's grammar ends a string at its first quote)
    (r"^SINGLE_QUOTED:.*$", r"""SINGLE_QUOTED: "'" /(?:[^'\\]|''|\\.)*/ "'" """),
    # arithmeticTerm = powerTerm {("*" | "/" | "%" | "div") powerTerm};
    # powerTerm = arithmeticFactor ["^" arithmeticFactor] (pygeofilter has * and / only)
    (
        r"^\?product:(?:.*\n)*?(?=^\?atom:)",
        """?product: power
        | product "*" power -> mul
        | product "/" power -> div
        | product "%" power -> mod
        | product "DIV"i power -> intdiv

?power: atom
      | atom "^" atom -> pow

""",
    ),
    # booleanExpression = ... | booleanLiteral: TRUE and FALSE are predicates. Any expression
    # is let through here and all but a boolean refused by as_predicate (a rule for BOOLEAN alone
    # would make "(TRUE)" ambiguous between a condition and an expression).
    (
        r"^          \| temporal_predicate\n",
        "          | temporal_predicate\n          | expression -> truth\n",
    ),
    # identifier = identifierStart [{identifierPart}]: one character will do, and it may be
    # any letter, "_" or ":" (pygeofilter asks for two, the first an ASCII letter)
    (r"^attribute: /.*/$", r"attribute: /(?:[^\W\d]|:)[\w:.]*/"),
)


def _operation(op: str) -> Callable[..., Any]:
    """Return the transformer method of a rule writing the arithmetic operator ``op``."""

    def method(self: object, *operands: Any) -> Any:
        return arithmetic(op, *operands)

    return method


@v_args(inline=True)  # as pygeofilter's: rules' children come as arguments
class _Transformer(pygeofilter_cql2_text.CQLTransformer):  # type: ignore[misc]
    # lark names the methods for the grammar's terminals and rule aliases
    def SINGLE_QUOTED(self, token: str) -> str:  # noqa: N802
        return re.sub(r"''|\\'", "'", token[1:-1])

    add, sub, neg = _operation("+"), _operation("-"), _operation("-")
    mul, div, mod = _operation("*"), _operation("/"), _operation("%")
    intdiv, pow = _operation("div"), _operation("^")

    def truth(self, value: Any) -> object:
        return as_predicate(value)


def as_predicate(node: object) -> object:
    """Return ``node``, a boolean literal as the predicate it is; refuse any other value.

    >>> as_predicate(False)
    Include(not_=True)
    """
    if isinstance(node, bool):
        return ast.Include(not node)
    if isinstance(node, ast.Predicate | ast.Condition):
        return node
    shown = node.name if isinstance(node, ast.Attribute) else repr(node)
    raise ValueError(
        f"{shown} is not a predicate (a comparison, a spatial or temporal operator, TRUE or FALSE)"
    )


@cache
def _text_parser() -> Lark:
    """Return pygeofilter's CQL2 text parser with the rules of :data:`_GRAMMAR_FIXES`."""
    folder = Path(pygeofilter_cql2_text.__file__).parent
    grammar = (folder / "grammar.lark").read_text(encoding="utf-8")
    for rule, fixed in _GRAMMAR_FIXES:
        literal = fixed.replace("\\", r"\\")  # the fixes are text, not templates
        grammar, found = re.subn(rule, literal, grammar, flags=re.MULTILINE)
        if found != 1:
            raise RuntimeError(f"pygeofilter's CQL2 grammar has changed: no rule {rule!r}")
    return Lark(
        grammar,
        parser="lalr",
        maybe_placeholders=False,
        transformer=_Transformer(),
        import_paths=[str(folder.parent)],
        source_path=str(folder / "grammar.lark"),
    )


def _parse_text(text: str) -> object:
    return _text_parser().parse(text)


def _pygeofilter_json(node: Any) -> Any:
    """Return CQL2 JSON as pygeofilter reads it: ``between`` with its bounds in one list,
    arithmetic as :class:`Arithmetic` nodes, a bbox literal as an Envelope.

    CQL2 JSON writes ``{"op": "between", "args": [value, low, high]}``; pygeofilter reads
    ``[value, [low, high]]``. Of CQL2's arithmetic operators pygeofilter knows ``+ - * /``
    only, none of ``% div ^``, and it passes AST nodes through as they are.

    >>> _pygeofilter_json({"op": "between", "args": [{"property": "h"}, 1, 2]})
    {'op': 'between', 'args': [{'property': 'h'}, [1, 2]]}
    >>> _pygeofilter_json({"op": "^", "args": [{"property": "h"}, 2]})
    Arithmetic(op='^', args=(ATTRIBUTE h, 2))
    """
    if isinstance(node, list):
        return [_pygeofilter_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _pygeofilter_json(value) for key, value in node.items()}
    args = out.get("args")
    if out.get("op") in ARITHMETIC_OPERATORS and isinstance(args, list):
        return arithmetic(out["op"], *(walk_cql_json(arg) for arg in args))
    if out.get("op") in ("and", "or", "not") and isinstance(args, list):
        out["args"] = [as_predicate(arg) if isinstance(arg, bool) else arg for arg in args]
    if out.get("op") == "between" and isinstance(args, list) and len(args) == 3:
        out["args"] = [args[0], args[1:]]
    if set(out) == {"bbox"}:
        return _envelope(out["bbox"])
    return out


def _envelope(bbox: object) -> values.Envelope:
    """Return a CQL2 JSON bbox literal (``[minx, miny, maxx, maxy]``, or with ``minz`` and
    ``maxz``: GeoJSON's order, OGC 21-065 ``bboxLiteral``) as pygeofilter's Envelope, whose
    fields are ``x1, x2, y1, y2`` (pygeofilter passes the list on positionally).

    >>> _envelope([1, 2, 0, 3, 4, 9])
    Envelope(x1=1, x2=3, y1=2, y2=4)
    """
    if not isinstance(bbox, list) or len(bbox) not in (4, 6):
        raise ValueError(f"a bbox has 4 or 6 numbers, got {bbox!r}")
    half = len(bbox) // 2
    return values.Envelope(x1=bbox[0], x2=bbox[half], y1=bbox[1], y2=bbox[half + 1])


def _where(exc: UnexpectedInput, text: str) -> str:
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        return f"line 1, column {len(text) + 1}: unexpected end of input"
    line, column = getattr(exc, "line", 1), getattr(exc, "column", 1)
    if isinstance(exc, UnexpectedCharacters):
        return f"line {line}, column {column}: unexpected character {exc.char!r}"
    token = getattr(exc, "token", "")
    return f"line {line}, column {column}: unexpected {str(token)!r}"
