"""Bearer tokens for NGSI-LD writes: reads stay public, writes need a configured token."""

from __future__ import annotations

import hmac
from typing import Final

from aiohttp import hdrs, web

from twin.ngsild.errors import UnauthorizedError
from twin.server.ngsild.state import TOKENS

__all__ = ["check_write_token"]

_WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_READ_POSTS: Final = ("/entityOperations/query",)


def _is_write(request: web.Request) -> bool:
    if request.method not in _WRITES:
        return False
    return not (request.method == "POST" and request.path.rstrip("/").endswith(_READ_POSTS))


def _authorized(request: web.Request, tokens: frozenset[str]) -> bool:
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    given = token.strip().encode()
    return any(hmac.compare_digest(given, t.encode()) for t in tokens)


def check_write_token(request: web.Request) -> None:
    """Refuse a write without a valid ``Authorization: Bearer`` token when tokens are set.

    Raises
    ------
    UnauthorizedError
        A write without one of the configured tokens.
    """
    tokens = request.app[TOKENS]
    if tokens and _is_write(request) and not _authorized(request, tokens):
        raise UnauthorizedError(
            "writes need 'Authorization: Bearer <token>' with a token the operator configured "
            "(twin serve --token, env TWIN_TOKENS)"
        )
