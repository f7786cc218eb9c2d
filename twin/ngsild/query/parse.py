"""Parse the NGSI-LD Query Language, the ``q`` parameter (ETSI GS CIM 009 v1.8, clause 4.9).

The ABNF of clause 4.9 allows one level of parentheses; its own example 6 nests two, so this
parser accepts any nesting (up to :data:`MAX_DEPTH`). ``;`` (AND) binds tighter than ``|`` (OR).
The text is the *decoded* parameter: the server undoes percent-encoding first. No whitespace is
allowed outside quoted strings and regular expressions, as in the grammar.

Beyond the ABNF, and as Orion-LD and Stellio do:

- ``!attr`` asks for entities *without* ``attr`` (:class:`~twin.ngsild.query.nodes.NotExists`);
- a regular expression may be given as a JSON string (``name~="(?i)^ab"``), which is the way to
  put ``;``, ``|`` or unbalanced parentheses in a pattern;
- an attribute may be named by a full URI (``https://schema.org/name=="x"``). Its sub-attribute
  path starts at the first ``.`` after its last ``/``, ``#`` or ``:``.

Linked-entity paths (``sensor{humidity}``, clause 4.5.23) need the store and are refused.
"""

from __future__ import annotations

import re
from typing import Final, get_args

from twin.ngsild.query.nodes import (
    And,
    AttrPath,
    Comparison,
    Exists,
    NotExists,
    Operator,
    Or,
    Pattern,
    QueryExpr,
    QueryValue,
    Range,
    Scalar,
    Uri,
    ValueList,
)
from twin.ngsild.query.values import query_error, scan_scalar, scan_string

__all__ = ["MAX_DEPTH", "parse_q"]

MAX_DEPTH: Final = 32
"""Deepest nesting of parentheses accepted."""

# Longest first, so ">=" is not read as ">" followed by "=".
_OPERATORS: Final[tuple[Operator, ...]] = tuple(sorted(get_args(Operator), key=len, reverse=True))
_NAME: Final = re.compile(r"[^\W\d_]\w*")
_URI_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s;|()\[\]{}\"=!<>~,]+")
_MEMBER: Final = re.compile(r"[^.\[\]\s;|(){}\"=!<>~,]+")
_TERM_END: Final = frozenset(";|)")


def parse_q(text: str) -> QueryExpr:
    """Parse a ``q`` query into its syntax tree.

    Parameters
    ----------
    text : str
        The decoded value of the ``q`` parameter.

    Returns
    -------
    QueryExpr
        The tree; ``And``/``Or`` keep the grouping that parentheses gave.

    Raises
    ------
    QueryError
        If the text is not a query; the message names the 0-based position.

    Examples
    --------
    >>> parse_q("temperature>20")
    Comparison(path=AttrPath(attrs=('temperature',), member=()), op='>', value=20)
    >>> parse_q("isMonitoredBy")
    Exists(path=AttrPath(attrs=('isMonitoredBy',), member=()))
    >>> parse_q("temperature 20")
    Traceback (most recent call last):
    twin.errors.QueryError: invalid q at position 11: expected an operator after 'temperature'
    """
    parser = _Parser(text)
    if not text:
        raise query_error(0, "empty query")
    expr = parser.expression(0)
    if parser.pos < len(text):
        raise query_error(parser.pos, f"unexpected {text[parser.pos]!r}")
    return expr


class _Parser:
    """Recursive descent over one query text; ``pos`` is the next character to read."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expression(self, depth: int) -> QueryExpr:
        terms = [self.conjunction(depth)]
        while self.peek() == "|":
            self.pos += 1
            terms.append(self.conjunction(depth))
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def conjunction(self, depth: int) -> QueryExpr:
        terms = [self.primary(depth)]
        while self.peek() == ";":
            self.pos += 1
            terms.append(self.primary(depth))
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def primary(self, depth: int) -> QueryExpr:
        if self.peek() != "(":
            return self.term()
        start = self.pos
        if depth >= MAX_DEPTH:
            raise query_error(start, f"parentheses nested deeper than {MAX_DEPTH}")
        self.pos += 1
        expr = self.expression(depth + 1)
        if self.peek() != ")":
            where = f"unexpected {self.peek()!r}" if self.peek() else "end of query"
            raise query_error(self.pos, f"{where}; expected ')' to close the '(' at {start}")
        self.pos += 1
        return expr

    def term(self) -> QueryExpr:
        negated = self.peek() == "!"
        self.pos += negated
        start = self.pos
        path = self.path()
        written = self.text[start : self.pos]
        if self.peek() == "{":
            raise query_error(self.pos, "linked entity queries ('{...}') are not supported")
        if negated or self.at_term_end():
            if not self.at_term_end():
                raise query_error(self.pos, f"'!{written}' cannot be followed by an operator")
            return NotExists(path) if negated else Exists(path)
        op = self.operator(written)
        value = self.value(op)
        if not self.at_term_end():
            found = self.peek()
            raise query_error(self.pos, f"unexpected {found!r}; expected ';', '|' or ')'")
        return Comparison(path, op, value)

    def at_term_end(self) -> bool:
        return self.pos >= len(self.text) or self.text[self.pos] in _TERM_END

    def path(self) -> AttrPath:
        attrs = self.uri_name() or self.dotted(_NAME, "an attribute name")
        member: tuple[str, ...] = ()
        if self.peek() == "[":
            self.pos += 1
            member = self.dotted(_MEMBER, "a member name")
            if self.peek() != "]":
                raise query_error(self.pos, "expected ']' to close the member path")
            self.pos += 1
        return AttrPath(attrs, member)

    def dotted(self, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
        names: list[str] = []
        while True:
            match = pattern.match(self.text, self.pos)
            if match is None:
                raise query_error(self.pos, f"expected {what}")
            names.append(match.group())
            self.pos = match.end()
            if self.peek() != ".":
                return tuple(names)
            self.pos += 1

    def uri_name(self) -> tuple[str, ...] | None:
        match = _URI_NAME.match(self.text, self.pos)
        if match is None:
            return None
        token = match.group()
        base = max(token.rfind("/"), token.rfind("#"), token.rfind(":"))
        dot = token.find(".", base)
        if dot < 0:
            self.pos = match.end()
            return (token,)
        self.pos += dot + 1
        rest = self.dotted(_NAME, "a sub-attribute name")
        return (token[:dot], *rest)

    def operator(self, written: str) -> Operator:
        for op in _OPERATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return op
        raise query_error(self.pos, f"expected an operator after '{written}'")

    def value(self, op: Operator) -> QueryValue:
        if self.at_term_end():
            raise query_error(self.pos, f"expected a value after '{op}'")
        if op in ("~=", "!~="):
            return self.pattern()
        start = self.pos
        first, self.pos = scan_scalar(self.text, self.pos)
        if self.text.startswith("..", self.pos):
            value: QueryValue = self.range(first, start)
        elif self.peek() == ",":
            value = self.value_list(first)
        else:
            value = first
        if op not in ("==", "!=") and not _is_comparable(value):
            raise query_error(start, f"'{op}' needs a number, string, date, time or dateTime")
        return value

    def range(self, low: Scalar, start: int) -> Range:
        self.pos += 2
        high, self.pos = scan_scalar(self.text, self.pos)
        if not (_is_comparable(low) and _is_comparable(high)) or _kind(low) != _kind(high):
            raise query_error(start, "a range needs two values of the same comparable type")
        assert not isinstance(low, bool | Uri)
        assert not isinstance(high, bool | Uri)
        return Range(low, high)

    def value_list(self, first: Scalar) -> ValueList:
        values = [first]
        while self.peek() == ",":
            self.pos += 1
            item, self.pos = scan_scalar(self.text, self.pos)
            values.append(item)
        return ValueList(tuple(values))

    def pattern(self) -> Pattern:
        start = self.pos
        if self.peek() == '"':
            source, self.pos = scan_string(self.text, self.pos)
        else:
            source = self.raw_pattern()
        try:
            re.compile(source)
        except re.error as exc:
            raise query_error(start, f"invalid regular expression: {exc}") from exc
        return Pattern(source)

    def raw_pattern(self) -> str:
        """Read an unquoted pattern: up to a ``;``, ``|`` or ``)`` outside its own parentheses."""
        start, depth, escaped = self.pos, 0, False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == "(":
                depth += 1
            elif depth == 0 and char in _TERM_END:
                break
            elif char == ")":
                depth -= 1
            self.pos += 1
        return self.text[start : self.pos]


def _kind(value: Scalar) -> str:
    """Name a value's type, with ``int`` and ``float`` both ``"number"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return type(value).__name__


def _is_comparable(value: QueryValue) -> bool:
    """Tell whether a value is one ``ComparableValue``: what ``>`` and a range's ends take."""
    return not isinstance(value, bool | Uri | Range | ValueList | Pattern)
