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
_REALM: Final = 'Bearer realm="twin"'


def _is_write(request: web.Request) -> bool:
    if request.method not in _WRITES:
        return False
    return not (request.method == "POST" and request.path.rstrip("/").endswith(_READ_POSTS))


def _bearer_token(request: web.Request) -> str | None:
    """Return the request's bearer token (None: it sent none)."""
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _challenge(token: str | None) -> str:
    """Return the ``WWW-Authenticate`` of a refused write (RFC 6750 §3: a request without a
    token gets no error code, one with a token that is not valid ``invalid_token``)."""
    if token is None:
        return _REALM
    return f'{_REALM}, error="invalid_token", error_description="not a configured token"'


def check_write_token(request: web.Request) -> None:
    """Refuse a write without a valid ``Authorization: Bearer`` token when tokens are set.

    Raises
    ------
    UnauthorizedError
        A write without one of the configured tokens.
    """
    tokens = request.app[TOKENS]
    if not tokens or not _is_write(request):
        return
    token = _bearer_token(request)
    if token is not None and any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens):
        return
    raise UnauthorizedError(
        "writes need 'Authorization: Bearer <token>' with a token the operator configured "
        "(twin serve --token, env TWIN_TOKENS)",
        _challenge(token),
    )
