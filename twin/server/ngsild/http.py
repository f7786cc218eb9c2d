"""The HTTP edge of NGSI-LD: content negotiation, @context, tenants, errors (CIM 009 §6.3).

- Bodies: ``application/json`` takes its context from a ``Link`` header (rel
  ``http://www.w3.org/ns/json-ld#context``) and must not carry ``@context``;
  ``application/ld+json`` carries ``@context`` inline and must not send the Link header;
  ``application/merge-patch+json`` is accepted where a merge is; anything else is 415.
- Answers: ``Accept`` chooses ``application/json`` (context in a Link header, the default),
  ``application/ld+json`` (``@context`` inline) or ``application/geo+json``; nothing acceptable
  is 406.
- Errors: every NGSI-LD error is a ProblemDetails body with ``Content-Type: application/json``
  (the rest of twin answers ``application/problem+json``) — done here, in one middleware that
  the main application runs for the paths under :data:`NGSILD_PREFIX` only.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any, Final, Literal

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from twin.errors import TwinError
from twin.ngsild.errors import BadRequestDataError, InvalidRequestError, UnauthorizedError
from twin.ngsild.jsonld import CORE, CORE_CONTEXT_URL, Context, RawContext
from twin.server.errors import GENERIC_DETAIL, ProblemDetails
from twin.server.ngsild.auth import check_write_token
from twin.server.ngsild.state import RESOLVER

__all__ = [
    "JSON",
    "JSONLD",
    "LD_CONTEXT_REL",
    "NGSILD_PREFIX",
    "Negotiated",
    "json_response",
    "negotiate",
    "ngsild_middleware",
    "now_iso",
    "read_json",
]

log = logging.getLogger(__name__)

NGSILD_PREFIX: Final = "/ngsi-ld/v1"
"""Where the NGSI-LD API is mounted (CIM 009 §6.1: the resource tree under ``/ngsi-ld/v1``)."""
_SCOPE: Final = NGSILD_PREFIX + "/"

JSON: Final = "application/json"
JSONLD: Final = "application/ld+json"
GEOJSON: Final = "application/geo+json"
MERGE_PATCH: Final = "application/merge-patch+json"
LD_CONTEXT_REL: Final = "http://www.w3.org/ns/json-ld#context"
_LINK: Final = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")

_BODIES: Final = frozenset({JSON, JSONLD})
_MERGE_BODIES: Final = _BODIES | {MERGE_PATCH}

Accepted = Literal["application/json", "application/ld+json", "application/geo+json"]


_second: tuple[int, str] = (-1, "")
"""The last second :func:`now_iso` formatted (one tuple, replaced whole: thread-safe)."""


def now_iso() -> str:
    """Return the current UTC time as NGSI-LD writes it (ISO 8601, milliseconds, ``Z``).

    Every write calls it: the date and time of day are formatted once a second.

    >>> stamp = now_iso()
    >>> len(stamp), stamp[10], stamp[19:20], stamp[-1]
    (24, 'T', '.', 'Z')
    """
    global _second
    second, ms = divmod(time.time_ns() // 1_000_000, 1000)
    if _second[0] != second:
        _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second[1]}.{ms:03d}Z"


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The outcome of negotiation for one request."""

    context: Context
    context_ref: RawContext
    link: str | None
    accept: Accepted
    tenant: str
    body: Any = None


def _link_context(request: web.Request) -> str | None:
    for header in request.headers.getall(hdrs.LINK, []):
        for match in _LINK.finditer(header):
            params = match.group(2)
            if re.search(rf'rel\s*=\s*"?{re.escape(LD_CONTEXT_REL)}"?', params):
                return match.group(1)
    return None


_PLAIN_ACCEPT: Final[dict[str, Accepted]] = {
    "": JSON, "*/*": JSON, "application/json": JSON, JSONLD: JSONLD
}  # fmt: skip
"""Accept headers most requests send, with their answer (no parsing)."""


def _accept(request: web.Request, allow_geo: bool) -> Accepted:
    header = request.headers.get(hdrs.ACCEPT, "").strip()
    plain = _PLAIN_ACCEPT.get(header)
    if plain is not None:
        return plain
    best: tuple[float, Accepted] | None = None
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        choice = _media_choice(media.lower(), allow_geo)
        if choice is not None and q > 0 and (best is None or q > best[0]):
            best = (q, choice)
    if best is None:
        raise web.HTTPNotAcceptable(
            text=f"cannot answer with {header}; use application/json or application/ld+json"
        )
    return best[1]


def _media_choice(media: str, allow_geo: bool) -> Accepted | None:
    if media in ("application/json", "*/*", "application/*"):
        return JSON
    if media == JSONLD:
        return JSONLD
    if media == GEOJSON and allow_geo:
        return GEOJSON
    return None


def read_json(raw: bytes) -> Any:
    """Parse a request body; raise InvalidRequestError when it is not JSON."""
    if not raw:
        raise InvalidRequestError("the request needs a JSON body")
    try:  # (what json.loads does with bytes, without building a decoder at every call)
        return _decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"the body is not valid JSON: {exc}") from exc


def _refuse_constant(name: str) -> None:
    """Refuse the ``NaN``/``Infinity`` Python's json reads: JSON has no such numbers (RFC 8259
    §6), and a stored one would make the entity's body malformed for SQLite's JSON functions."""
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    """Return the float a JSON number spells; refuse one beyond the double range, which Python
    reads as an infinity (not a JSON number either, as :func:`_refuse_constant` says)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is beyond the range of a double")
    return value


_decode: Final = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float).decode


async def negotiate(
    request: web.Request, *, body: bool = False, allow_geo: bool = False, merge: bool = False
) -> Negotiated:
    """Check headers, read the body when there is one, resolve the @context.

    Raises
    ------
    web.HTTPUnsupportedMediaType, web.HTTPNotAcceptable, web.HTTPLengthRequired
        Bare 415/406 as §6.3.4 says (and 411 without Content-Length).
    BadRequestDataError
        ``@context`` where it must not be, or missing where it must.
    """
    accept = _accept(request, allow_geo)
    link = _link_context(request)
    ref: RawContext = link
    payload: Any = None
    if body:
        if hdrs.CONTENT_LENGTH not in request.headers:
            # CIM 009 §6.3 (HTTP binding): a request with a payload body must say its length;
            # aiohttp itself accepts chunked bodies, so refuse them here with a bare 411.
            raise web.HTTPLengthRequired(text="the request needs a Content-Length header")
        ctype = request.content_type
        allowed = _MERGE_BODIES if merge else _BODIES
        if ctype not in allowed:
            supported = ", ".join(sorted(allowed))
            raise web.HTTPUnsupportedMediaType(
                text=f"Content-Type {ctype or 'none'} is not supported; use {supported}"
            )
        payload = read_json(await request.read())
        ref = _body_context(ctype, link, payload)
    context = CORE if ref is None else await request.app[RESOLVER].resolve(ref)
    tenant = request.headers.get("NGSILD-Tenant", "")
    return Negotiated(context, ref, link, accept, tenant, payload)


def _body_context(ctype: str, link: str | None, payload: Any) -> RawContext:
    items = payload if isinstance(payload, list) else [payload]
    objects = [i for i in items if isinstance(i, dict)]
    inline = [i["@context"] for i in objects if "@context" in i]
    if ctype == JSONLD:
        if link is not None:
            raise BadRequestDataError("application/ld+json requests must not send a Link header")
        if not objects:  # a batch delete's list of ids has no room for @context
            return None
        if len(inline) != len(objects):
            raise BadRequestDataError("application/ld+json bodies must carry @context")
        first: RawContext = inline[0]
        return first
    if inline:
        raise BadRequestDataError(
            "application/json bodies must not carry @context; send it in a Link header"
        )
    return link


def json_response(
    request: web.Request,
    neg: Negotiated,
    data: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """Answer ``data`` in the negotiated media type, with its @context as §6.3.5 says."""
    out_headers = dict(headers or {})
    context_url = neg.link or CORE_CONTEXT_URL
    if neg.accept == JSONLD:
        ctx_value = neg.context_ref if neg.context_ref is not None else CORE_CONTEXT_URL
        if isinstance(data, list):
            data = [{**d, "@context": ctx_value} for d in data]
        elif isinstance(data, dict):
            data = {**data, "@context": ctx_value}
    else:
        link = f'<{context_url}>; rel="{LD_CONTEXT_REL}"; type="application/ld+json"'
        paging = out_headers.get(hdrs.LINK)
        out_headers[hdrs.LINK] = f"{link}, {paging}" if paging else link
    return web.Response(
        status=status,
        text=json.dumps(data, ensure_ascii=False),
        content_type=neg.accept,
        headers=out_headers,
    )


def problem(request: web.Request, status: int, ptype: str, title: str, detail: str) -> web.Response:
    """Return an NGSI-LD ProblemDetails answer (``application/json``)."""
    body: ProblemDetails = {
        "type": ptype,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.rel_url.raw_path,
    }
    return web.json_response(body, status=status, content_type=JSON)


@web.middleware
async def ngsild_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse writes without a valid bearer token (:func:`check_write_token`), and answer errors
    of the NGSI-LD routes as ProblemDetails with ``application/json``; pass other paths on.

    The routes are the main application's, not a sub-application's (that costs a second router
    pass and a wrapper per middleware on every request), so this middleware looks at the path:
    what is under ``/ngsi-ld/v1`` (the prefix itself included, and unknown paths under it: their
    404 and 405 answers are NGSI-LD's too). One middleware, not one for the tokens and one for
    the errors: every middleware is one more coroutine on every request.
    """
    path = request.path
    if not path.startswith(_SCOPE) and path != NGSILD_PREFIX:
        return await handler(request)
    try:
        check_write_token(request)
        return await handler(request)
    except TwinError as exc:
        if exc.status >= 500 and exc.status != 503:
            log.error("%s %s failed", request.method, request.path, exc_info=exc)
            return problem(request, exc.status, exc.problem_type, exc.title, GENERIC_DETAIL)
        response = problem(request, exc.status, exc.problem_type, exc.title, str(exc) or exc.title)
        if isinstance(exc, UnauthorizedError):
            response.headers[hdrs.WWW_AUTHENTICATE] = exc.challenge
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = problem(request, exc.status, "about:blank", exc.reason, exc.text or exc.reason)
        for key, value in exc.headers.items():
            if key not in (hdrs.CONTENT_TYPE, hdrs.CONTENT_LENGTH):
                response.headers[key] = value
        return response
