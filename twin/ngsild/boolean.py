"""The boolean grammar shared by NGSI-LD type expressions and scope queries (CIM 009 §4.17,
§4.19): leaves combined with ``;`` (and), an "or" operator and parentheses, "and" binding
tighter than "or"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from twin.ngsild.errors import BadRequestDataError

__all__ = ["parse_boolean"]

T = TypeVar("T")


def parse_boolean(
    tokens: Sequence[str],
    or_ops: tuple[str, ...],
    leaf: Callable[[str], Callable[[T], bool]],
    what: str,
) -> Callable[[T], bool]:
    """Return the test that ``tokens`` (leaves, ``;``, ``or_ops``, parentheses) stand for.

    ``leaf`` turns one token into its test; ``what`` names the expression in errors
    (``"type 'A;B'"``).

    >>> test = parse_boolean(["a", ";", "(", "b", ",", "c", ")"], (",",),
    ...                      lambda t: lambda s: t in s, "example")
    >>> test({"a", "c"}), test({"b", "c"})
    (True, False)
    """
    pos = 0
    operators = frozenset({"(", ")", ";", *or_ops})

    def expr() -> Callable[[T], bool]:
        nonlocal pos
        terms = [term()]
        while pos < len(tokens) and tokens[pos] in or_ops:
            pos += 1
            terms.append(term())
        return lambda value: any(t(value) for t in terms)

    def term() -> Callable[[T], bool]:
        nonlocal pos
        factors = [factor()]
        while pos < len(tokens) and tokens[pos] == ";":
            pos += 1
            factors.append(factor())
        return lambda value: all(f(value) for f in factors)

    def factor() -> Callable[[T], bool]:
        nonlocal pos
        if pos >= len(tokens):
            raise BadRequestDataError(f"incomplete {what}")
        token = tokens[pos]
        pos += 1
        if token == "(":
            inner = expr()
            if pos >= len(tokens) or tokens[pos] != ")":
                raise BadRequestDataError(f"unbalanced parentheses in {what}")
            pos += 1
            return inner
        if token in operators:
            raise BadRequestDataError(f"unexpected {token!r} in {what}")
        return leaf(token)

    result = expr()
    if pos != len(tokens):
        raise BadRequestDataError(f"unexpected {tokens[pos]!r} in {what}")
    return result
