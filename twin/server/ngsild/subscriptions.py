"""``/ngsi-ld/v1/subscriptions[/{subscriptionId}]`` (CIM 009 §5.8, §6.10, §6.11).

Every change is committed to the store first, then given to the :class:`Notifier`, which is
what reads answer from (it holds the live counters).
"""

from __future__ import annotations

import uuid

from aiohttp import web

from twin.ngsild.subscriptions import merge_subscription, parse_subscription
from twin.ngsild.subscriptions_render import render_subscription
from twin.server.ngsild.common import S, entities_of, uri_param
from twin.server.ngsild.http import NGSILD_PREFIX, json_response, negotiate, now_iso
from twin.server.ngsild.notify import NOTIFIER
from twin.server.ngsild.search import page_of, paging_links
from twin.server.state import call_store

__all__ = ["add_subscription_routes"]

_ONE = NGSILD_PREFIX + "/subscriptions/{subscriptionId}"


def add_subscription_routes(app: web.Application) -> None:
    """Register the subscription routes under ``/ngsi-ld/v1``."""
    app.router.add_post(NGSILD_PREFIX + "/subscriptions" + S, create_subscription)
    app.router.add_get(NGSILD_PREFIX + "/subscriptions" + S, list_subscriptions)
    app.router.add_get(_ONE + S, retrieve_subscription)
    app.router.add_patch(_ONE + S, update_subscription)
    app.router.add_delete(_ONE + S, delete_subscription)


async def create_subscription(request: web.Request) -> web.Response:
    """POST /subscriptions: 201 with Location, 409 AlreadyExists, 400/422 on bad content."""
    neg = await negotiate(request, body=True)
    new_id = f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    stored = parse_subscription(neg.body, neg.context, neg.context_ref, now_iso(), new_id)
    await call_store(entities_of(request).subscriptions.create, neg.tenant, stored)
    await request.app[NOTIFIER].put(neg.tenant, stored)
    location = f"/ngsi-ld/v1/subscriptions/{stored['id']}"
    return web.Response(status=201, headers={"Location": location})


async def list_subscriptions(request: web.Request) -> web.Response:
    """GET /subscriptions with limit, offset and count."""
    neg = await negotiate(request)
    limit, offset, count = page_of(request)
    subs = request.app[NOTIFIER].list(neg.tenant)
    now = now_iso()
    data = [render_subscription(s, neg.context, now) for s in subs[offset : offset + limit]]
    headers = paging_links(request, offset, limit, len(subs))
    if count:
        headers["NGSILD-Results-Count"] = str(len(subs))
    return json_response(request, neg, data, headers=headers)


async def retrieve_subscription(request: web.Request) -> web.Response:
    """GET /subscriptions/{id}: 200, 404 ResourceNotFound."""
    neg = await negotiate(request)
    stored = request.app[NOTIFIER].get(
        neg.tenant, uri_param(request, "subscriptionId", "subscription")
    )
    return json_response(request, neg, render_subscription(stored, neg.context, now_iso()))


async def update_subscription(request: web.Request) -> web.Response:
    """PATCH /subscriptions/{id}: merge a fragment — 204, 404, 400."""
    neg = await negotiate(request, body=True, merge=True)
    notifier = request.app[NOTIFIER]
    old = notifier.get(neg.tenant, uri_param(request, "subscriptionId", "subscription"))
    new = merge_subscription(old, neg.body, neg.context, now_iso())
    await call_store(entities_of(request).subscriptions.replace, neg.tenant, new)
    await notifier.put(neg.tenant, new)
    return web.Response(status=204)


async def delete_subscription(request: web.Request) -> web.Response:
    """DELETE /subscriptions/{id}: 204, 404 ResourceNotFound."""
    neg = await negotiate(request)
    sub_id = uri_param(request, "subscriptionId", "subscription")
    await call_store(entities_of(request).subscriptions.delete, neg.tenant, sub_id)
    request.app[NOTIFIER].remove(neg.tenant, sub_id)
    return web.Response(status=204)
