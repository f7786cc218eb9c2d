"""The application factory: routes, middlewares, CORS and the store's lifetime.

Nothing is built at import time; :func:`create_app` makes a fresh application each call::

    web.run_app(create_app(SQLiteStore(data_dir), viewer_dir=viewer), host=host, port=port)

The application owns the store it is given and closes it on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection
from pathlib import Path
from typing import Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from twin.server.errors import problem_middleware
from twin.server.health import add_health_routes
from twin.server.ngsild import add_ngsild_routes, ngsild_middleware
from twin.server.ogc import add_ogc_routes
from twin.server.openapi import add_openapi_routes
from twin.server.state import STORE, VIEWER_DIR
from twin.server.tiles import add_tile_routes
from twin.server.viewer import add_viewer_routes
from twin.store import Store

__all__ = ["CORS_HEADERS", "create_app"]

log = logging.getLogger(__name__)

CORS_HEADERS: Final = {
    hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: "*",
    hdrs.ACCESS_CONTROL_EXPOSE_HEADERS: (
        "ETag, Content-Length, Content-Range, Accept-Ranges, Location, Link, NGSILD-Results-Count"
    ),
}
"""Sent on every response: reads are public, from any origin, without credentials."""

_PREFLIGHT_HEADERS: Final = {
    hdrs.ACCESS_CONTROL_ALLOW_METHODS: "GET, HEAD, OPTIONS",
    hdrs.ACCESS_CONTROL_MAX_AGE: "86400",
    hdrs.ALLOW: "GET, HEAD, OPTIONS",
}
_DEFAULT_ALLOWED_HEADERS: Final = "Range, If-None-Match, If-Modified-Since, Accept"
_WRITE_PREFIXES: Final = ("/ngsi-ld/", "/api/")
_WRITE_PREFLIGHT: Final = {
    hdrs.ACCESS_CONTROL_ALLOW_METHODS: "GET, HEAD, OPTIONS, POST, PATCH, PUT, DELETE",
    hdrs.ALLOW: "GET, HEAD, OPTIONS, POST, PATCH, PUT, DELETE",
}
_WRITE_ALLOWED_HEADERS: Final = (
    "Accept, Content-Type, Link, NGSILD-Tenant, Authorization, If-None-Match"
)


async def _add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Put the CORS headers on every response, errors and 304s included, as it is sent."""
    response.headers.update(CORS_HEADERS)


@web.middleware
async def preflight_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every OPTIONS request (CORS preflight or not) with 204 and what is allowed."""
    if request.method != hdrs.METH_OPTIONS:
        return await handler(request)
    asked = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS)
    writable = request.path.startswith(_WRITE_PREFIXES)
    default_allowed = _WRITE_ALLOWED_HEADERS if writable else _DEFAULT_ALLOWED_HEADERS
    headers = {
        **_PREFLIGHT_HEADERS,
        **(_WRITE_PREFLIGHT if writable else {}),
        hdrs.ACCESS_CONTROL_ALLOW_HEADERS: asked or default_allowed,
    }
    return web.Response(status=204, headers=headers)


def create_app(store: Store, *, viewer_dir: Path, tokens: Collection[str] = ()) -> web.Application:
    """Build the twin web application.

    Parameters
    ----------
    store : Store
        The catalog and tilesets to serve; read only, closed when the application shuts down.
    viewer_dir : Path
        The viewer's folder: ``index.html`` and, installed by npm,
        ``node_modules/cesium/Build/Cesium``.
    tokens : collection of str
        Bearer tokens allowed to write through NGSI-LD; none leaves writes open.

    Returns
    -------
    web.Application
        Ready for ``web.run_app`` or a test client.
    """
    # innermost: NGSI-LD's own error answers (for its paths only) before the generic ones
    middlewares = [preflight_middleware, problem_middleware, ngsild_middleware]
    app = web.Application(middlewares=middlewares)
    app[STORE] = store
    app[VIEWER_DIR] = Path(viewer_dir).resolve()
    if not (app[VIEWER_DIR] / "index.html").is_file():
        log.warning("no viewer at %s: /viewer/ will answer 404", app[VIEWER_DIR])
    app.on_response_prepare.append(_add_cors_headers)
    app.cleanup_ctx.append(_close_store)
    add_viewer_routes(app)
    add_tile_routes(app)
    add_ogc_routes(app)
    add_health_routes(app)
    add_openapi_routes(app)
    add_ngsild_routes(app, tokens=tokens)
    return app


async def _close_store(app: web.Application) -> AsyncIterator[None]:
    """Close the store when the application shuts down."""
    yield
    app[STORE].close()
    log.info("store closed")
