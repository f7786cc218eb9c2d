"""Scope queries (``scopeQ``, CIM 009 v1.8 §4.19): which entities' ``scope`` matches.

A scope is a path like ``/Madrid/Gardens/ParqueNorte``. A scope query is one or more scope
patterns combined with ``;`` (and), ``,`` (or) and parentheses. In a pattern, ``+`` stands for
exactly one level and a final ``#`` for the level before it and any levels below it (``/#``
matches every scope). An entity matches a pattern when one of its scopes does; an entity with
no scope matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

from twin.ngsild.boolean import parse_boolean
from twin.ngsild.errors import BadRequestDataError

__all__ = ["ScopeTest", "parse_scope_q"]

ScopeTest = Callable[[Sequence[str]], bool]
"""Tell whether an entity with these scopes matches."""

_TOKEN: Final = re.compile(r"\s*([();,]|[^();,\s]+)")
_LEVEL: Final = re.compile(r"^[^/#+]+$")


def parse_scope_q(text: str) -> ScopeTest:
    """Parse a ``scopeQ``; raise BadRequestDataError when it is not one.

    >>> test = parse_scope_q("/Madrid/#;/Madrid/+/ParqueNorte")
    >>> test(["/Madrid/Gardens/ParqueNorte"]), test(["/Madrid"]), test([])
    (True, False, False)
    """
    tokens = [m.group(1) for m in _TOKEN.finditer(text)]
    if "".join(tokens) != "".join(text.split()) or not tokens:
        raise BadRequestDataError(f"invalid scopeQ {text!r}")

    def leaf(token: str) -> ScopeTest:
        pattern = _pattern(token, text)
        return lambda scopes: any(pattern.match(s) for s in scopes)

    return parse_boolean(tokens, (",",), leaf, f"scopeQ {text!r}")


def _pattern(token: str, text: str) -> re.Pattern[str]:
    """Return the regular expression of one scope pattern like ``/a/+/b`` or ``/a/#``."""
    if not token.startswith("/"):
        raise BadRequestDataError(f"scope {token!r} in scopeQ {text!r} must start with /")
    levels = token[1:].split("/")
    parts: list[str] = []
    for i, level in enumerate(levels):
        if level == "#" and i == len(levels) - 1:
            return re.compile("".join(parts) + "(/.*)?$" if parts else "/.*$")
        if level == "+":
            parts.append("/[^/]+")
        elif _LEVEL.match(level):
            parts.append("/" + re.escape(level))
        else:
            raise BadRequestDataError(f"invalid scope {token!r} in scopeQ {text!r}")
    return re.compile("".join(parts) + "$")
