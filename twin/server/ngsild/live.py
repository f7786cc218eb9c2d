"""``/live``: Server-Sent Events of joined building values, and ``/api/joined`` views.

``GET /live?dataset=a,b&attribute=temperature`` streams one ``change`` event per joined value
change: ``{"dataset", "id", "attribute", "value", "observedAt", "source"}``. The stream starts
with ``retry:``, sends a comment heartbeat when idle, and reports lost events (the bounded
queue dropped them because the client read too slowly) as a ``dropped`` event with the count.

``GET /api/joined/{dataset}/{id}`` answers one building's joined view; ``POST
/api/joined/{dataset}`` with ``{"ids": [...]}`` answers many at once (a POST because a city
block's ids do not fit a URL), as ``{"buildings": [...], "missing": [...]}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Final

from aiohttp import web

from twin.errors import NotFoundError
from twin.ngsild.errors import BadRequestDataError
from twin.ngsild.join import JoinedBuilding, joined_view
from twin.server.ngsild.common import split_list
from twin.server.ngsild.state import HUB
from twin.server.state import STORE, call_store
from twin.store import Store
from twin.store.buildings import building_entity_id

__all__ = ["HEARTBEAT_S", "MAX_IDS", "RETRY_MS", "add_live_routes", "collect_joined"]

HEARTBEAT_S: Final = 15.0
RETRY_MS: Final = 3000
MAX_IDS: Final = 1000


_STOPPING: Final = web.AppKey("twin.live.stopping", asyncio.Event)


def add_live_routes(app: web.Application) -> None:
    """Register ``/live`` and ``/api/joined`` on the main application."""
    app[_STOPPING] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)
    app.cleanup_ctx.append(_heartbeats)
    app.router.add_get("/live", live_stream)
    app.router.add_get("/api/joined/{dataset}/{id}", get_joined)
    app.router.add_post("/api/joined/{dataset}", post_joined)


def collect_joined(
    store: Store, dataset: str, ids: list[str]
) -> tuple[list[JoinedBuilding], list[str]]:
    """Return the joined views of ``ids`` (blocking; run in a worker thread) and the unknown ids."""
    store.get_dataset(dataset)
    records, missing = [], []
    for object_id in ids:
        try:
            records.append(store.get_object(dataset, object_id))
        except NotFoundError:
            missing.append(object_id)
    entity_ids = [building_entity_id(dataset, r.id) for r in records]
    own = store.entities.get_many("", entity_ids)
    related: dict[str, list[tuple[str, dict[str, Any]]]] = {e: [] for e in entity_ids}
    for target, attr, body in store.entities.referring("", entity_ids):
        related[target].append((attr, body))
    views = [
        joined_view(dataset, r.id, eid, r.attributes, own.get(eid), related[eid])
        for r, eid in zip(records, entity_ids, strict=True)
    ]
    return views, missing


async def get_joined(request: web.Request) -> web.Response:
    """GET /api/joined/{dataset}/{id}: one building's joined view."""
    dataset, object_id = request.match_info["dataset"], request.match_info["id"]
    views, missing = await call_store(collect_joined, request.app[STORE], dataset, [object_id])
    if missing:
        raise NotFoundError(f"no object {object_id!r} in dataset {dataset!r}")
    return web.json_response(views[0])


async def post_joined(request: web.Request) -> web.Response:
    """POST /api/joined/{dataset} ``{"ids": [...]}``: many buildings' joined views."""
    try:
        body = json.loads(await request.read())
    except ValueError as exc:
        raise BadRequestDataError(f"the body is not valid JSON: {exc}") from exc
    ids = body.get("ids") if isinstance(body, dict) else body
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequestDataError('the body must be {"ids": ["gml id", …]}')
    if len(ids) > MAX_IDS:
        raise BadRequestDataError(f"at most {MAX_IDS} ids per request")
    dataset = request.match_info["dataset"]
    views, missing = await call_store(collect_joined, request.app[STORE], dataset, ids)
    return web.json_response({"buildings": views, "missing": missing})


def _filter(request: web.Request, name: str) -> frozenset[str] | None:
    items = split_list(request.query.get(name))
    return frozenset(items) if items else None


async def live_stream(request: web.Request) -> web.StreamResponse:
    """GET /live: the Server-Sent Events stream of joined-value changes."""
    hub = request.app[HUB]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(f"retry: {RETRY_MS}\n: twin live\n\n".encode())
    sent = 0
    reported = 0
    stopping = request.app[_STOPPING]
    with hub.listen(_filter(request, "dataset"), _filter(request, "attribute")) as listener:
        while not stopping.is_set():
            delivery = await listener.queue.get()
            if delivery is None:  # the nudge of the heartbeat task, or of shutdown
                if not stopping.is_set():
                    await response.write(b": heartbeat\n\n")
                continue
            frames = []
            if listener.dropped != reported:
                reported = listener.dropped
                frames.append(f"event: dropped\ndata: {reported}\n\n")
            while delivery is not None:  # everything waiting goes out in one write
                sent += 1
                frames.append(f"id: {sent}\nevent: change\ndata: {delivery.data}\n\n")
                delivery = None if listener.queue.empty() else listener.queue.get_nowait()
            await response.write("".join(frames).encode())
    return response


async def _heartbeats(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: wake idle streams every HEARTBEAT_S so they send a comment."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            app[HUB].nudge()

    task = asyncio.create_task(beat(), name="twin.live.heartbeats")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _stop_streams(app: web.Application) -> None:
    """Let every open stream end, so shutdown does not wait for their heartbeats."""
    app[_STOPPING].set()
    app[HUB].nudge()
