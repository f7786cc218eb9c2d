"""``/healthz``: 200 when the store can be read, 503 otherwise."""

from __future__ import annotations

import logging

from aiohttp import web

from twin.server.errors import problem_response
from twin.server.state import STORE, call_store

__all__ = ["add_health_routes"]

log = logging.getLogger(__name__)


async def get_health(request: web.Request) -> web.StreamResponse:
    """Read the dataset list; answer ``{"status": "ok"}``, or a 503 problem if that fails."""
    try:
        await call_store(request.app[STORE].list_datasets)
    except Exception:  # any failure of the store means "not ready", whatever its class
        log.exception("health check: the store cannot be read")
        return problem_response(
            request,
            status=503,
            title="Service Unavailable",
            detail="The store cannot be read; the error is in the server's log.",
        )
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


def add_health_routes(app: web.Application) -> None:
    """Mount ``/healthz``."""
    app.router.add_get("/healthz", get_health, name="health")
