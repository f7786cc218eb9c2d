"""Problem details (RFC 9457): the one place where errors become HTTP answers.

Every route but NGSI-LD's answers through :func:`problem_middleware` (the NGSI-LD paths have
their own middleware, inside this one, :mod:`twin.server.ngsild.http`, which keeps the ETSI
problem types the error classes carry). OGC API – Features defines HTTP statuses only (Part 1
§7.5.1), no problem types, and an ETSI NGSI-LD type would tell an OGC client something false;
so here ``type`` is ``about:blank``, ``title`` the status phrase (RFC 9457 §4.2.1) and
``detail`` says exactly what was wrong.

Three kinds of failure reach :func:`problem_middleware`:

- a :class:`twin.errors.TwinError`: its class carries the status; the message becomes
  ``detail`` (for 5xx but 503 a generic detail instead, the message goes to the log);
- an aiohttp :class:`~aiohttp.web.HTTPException` (unknown route, method not allowed …):
  ``type`` is ``about:blank`` and ``title`` the status phrase, as RFC 9457 §4.2.1 asks;
- anything else: a programming error — a 500 with a generic detail, traceback logged, never sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Final, TypedDict

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from twin.errors import TwinError

__all__ = ["PROBLEM_JSON", "ProblemDetails", "problem_middleware", "problem_response"]

log = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"

GENERIC_DETAIL: Final = "The server failed to answer this request; the error is in its log."

# Headers of an HTTPException that describe its own (plain-text) body, not the problem body.
_BODY_HEADERS: Final = frozenset({hdrs.CONTENT_TYPE, hdrs.CONTENT_LENGTH, hdrs.CONTENT_ENCODING})


class ProblemDetails(TypedDict):
    """An RFC 9457 problem details object, with the RFC's member names."""

    type: str
    title: str
    status: int
    detail: str
    instance: str


def problem_response(
    request: web.Request,
    *,
    status: int,
    title: str,
    detail: str,
    problem_type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """Return an ``application/problem+json`` response about ``request``.

    Parameters
    ----------
    request : web.Request
        Its path is the problem's ``instance``.
    status : int
        HTTP status of the response and the problem.
    title, detail : str
        Short summary of the problem type, and the explanation for this occurrence.
    problem_type : str
        URI of the problem type; ``about:blank`` means "just the HTTP status".
    headers : Mapping[str, str], optional
        Extra response headers (``Allow`` of a 405 …).
    """
    body: ProblemDetails = {
        "type": problem_type,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.rel_url.raw_path,
    }
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def _from_twin_error(request: web.Request, exc: TwinError) -> web.Response:
    if exc.status >= 500 and exc.status != 503:  # a 503 says why and that a retry may work
        log.error("%s %s failed", request.method, request.path, exc_info=exc)
        detail = GENERIC_DETAIL
    else:
        detail = str(exc) or exc.title
    title = _phrase(exc.status, exc.title)
    return problem_response(request, status=exc.status, title=title, detail=detail)


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    phrase = _phrase(exc.status, exc.reason)
    text = exc.text or ""
    default_text = f"{exc.status}: {exc.reason}"
    detail = text if text and text != default_text else _default_detail(request, exc.status)
    headers = {k: v for k, v in exc.headers.items() if k not in _BODY_HEADERS}
    return problem_response(
        request, status=exc.status, title=phrase, detail=detail, headers=headers
    )


def _default_detail(request: web.Request, status: int) -> str:
    if status == 404:
        return f"nothing is served at {request.path}"
    if status == 405:
        return f"{request.method} is not allowed on {request.path}"
    known = _status(status)
    return known.description if known else "The request failed."


def _phrase(code: int, fallback: str) -> str:
    """Return the status phrase of ``code`` (RFC 9457 §4.2.1: ``title`` of about:blank), or
    ``fallback`` for a code HTTPStatus does not know."""
    known = _status(code)
    return known.phrase if known else fallback


def _status(code: int) -> HTTPStatus | None:
    try:
        return HTTPStatus(code)
    except ValueError:
        return None


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error raised below with a problem details body.

    Redirects and other non-error ``HTTPException`` pass through untouched.
    """
    try:
        return await handler(request)
    except TwinError as exc:
        return _from_twin_error(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(request, exc)
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return problem_response(
            request, status=500, title="Internal Server Error", detail=GENERIC_DETAIL
        )
