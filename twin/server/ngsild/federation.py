"""Federation: mirror entities of an external NGSI-LD broker into twin's store.

With ``twin serve --context-broker URL``, :func:`add_federation` makes the server, once it
runs, create a subscription on the external broker (entities of the chosen types; see
:func:`twin.ngsild.federation.federation_subscription`) whose notifications come to
``POST /api/federation/notify/{secret}`` — the random secret in the path is the only
credential, made fresh at each start. Each notified entity is upserted into the default tenant,
so the building join, ``/live`` and twin's own subscriptions see it as a local write. While the
subscription cannot be created (the broker is down), and later to check it still exists, the
server retries every ``retry_s``; on shutdown it deletes the subscription. Its id is the
same for every run with the same callback URL, broker and tenant, so a run started after a
crash finds the one left behind (``409 AlreadyExists``) and replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import aiohttp
from aiohttp import web

from twin.errors import ConflictError, NotFoundError
from twin.ngsild.entity import ExpandedEntity, parse_entity
from twin.ngsild.federation import changed_attributes, federation_subscription, notified_entities
from twin.ngsild.operations import Outcome, replace_entity
from twin.server.ngsild.common import notify_deleted, publish_changes
from twin.server.ngsild.http import negotiate, now_iso
from twin.server.state import STORE, call_store
from twin.store.entities import SQLiteEntities

__all__ = ["FederationOptions", "add_federation"]

log = logging.getLogger(__name__)

NOTIFY_PATH: Final = "/api/federation/notify/{secret}"
_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class FederationOptions:
    """Where the external broker is and what to mirror from it."""

    broker_url: str
    """Base URL of the broker, e.g. ``http://orion:1026`` (``/ngsi-ld/v1`` is appended)."""
    callback_url: str
    """twin's own base URL as the broker can reach it, e.g. ``http://twin:8000``."""
    types: tuple[str, ...]
    """Entity types to mirror (short names of the core context, or IRIs)."""
    tenant: str | None = None
    """The broker's tenant (``NGSILD-Tenant``); mirrored entities land in twin's default one."""
    retry_s: float = 10.0


_FEDERATION: Final = web.AppKey("twin.federation", FederationOptions)
_SECRET: Final = web.AppKey("twin.federation.secret", str)


def add_federation(app: web.Application, options: FederationOptions) -> None:
    """Register the notify endpoint and the subscription's lifetime on the main application."""
    app[_FEDERATION] = options
    app[_SECRET] = secrets.token_urlsafe(24)
    app.router.add_post(NOTIFY_PATH, receive_notification)
    app.cleanup_ctx.append(_subscription_lifetime)


async def receive_notification(request: web.Request) -> web.Response:
    """POST /api/federation/notify/{secret}: upsert (or delete) the notified entities."""
    if not secrets.compare_digest(request.match_info["secret"], request.app[_SECRET]):
        raise web.HTTPNotFound()
    neg = await negotiate(request, body=True)
    upserts, deleted = notified_entities(neg.body)
    entities = request.app[STORE].entities
    for raw in upserts:
        entity = parse_entity(raw, neg.context, now_iso())
        outcome, created = await call_store(_upsert, entities, entity)
        if outcome.updated:
            publish_changes(request, "", outcome.entity, outcome.updated, created=created,
                            before=outcome.before)  # fmt: skip
    for entity_id in deleted:
        with contextlib.suppress(NotFoundError):
            old = await call_store(entities.delete, "", entity_id)
            links = {k: v for k, v in old["attrs"].items() if v[0].get("type") == "Relationship"}
            publish_changes(request, "", {**old, "attrs": links}, [k for k in old["attrs"]
                                                                   if k not in links])  # fmt: skip
            notify_deleted(request, "", old)
    return web.Response(status=204)


def _upsert(entities: SQLiteEntities, entity: ExpandedEntity) -> tuple[Outcome, bool]:
    """Store the mirrored entity; return what changed and whether it is new (blocking)."""
    try:
        entities.create("", entity)
    except ConflictError:
        pass
    else:
        return Outcome(entity, tuple(sorted(entity["attrs"]))), True

    def replace(old: dict[str, Any]) -> Outcome:
        new = replace_entity(cast(ExpandedEntity, old), entity, entity["modifiedAt"]).entity
        return Outcome(new, tuple(changed_attributes(old, new)), before=cast(ExpandedEntity, old))

    return entities.modify("", entity["id"], replace), False


def _headers(options: FederationOptions) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if options.tenant:
        headers["NGSILD-Tenant"] = options.tenant
    return headers


async def _subscription_lifetime(app: web.Application) -> AsyncIterator[None]:
    """Keep the external subscription while the server runs; delete it on shutdown."""
    options = app[_FEDERATION]
    base = options.broker_url.rstrip("/") + "/ngsi-ld/v1/subscriptions"
    # One id for every run of this twin (its callback URL) at this broker and tenant, so that a
    # run meets the subscription a killed one left behind, with that run's secret, and replaces it.
    name = f"{options.callback_url}|{options.broker_url}|{options.tenant or ''}"
    sub_id = f"urn:ngsi-ld:Subscription:twin-federation:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
    endpoint = options.callback_url.rstrip("/") + NOTIFY_PATH.format(secret=app[_SECRET])
    body = federation_subscription(sub_id, options.types, endpoint)
    timeout = aiohttp.ClientTimeout(total=_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, headers=_headers(options)) as session:
        keeper = asyncio.create_task(_keep(session, base, sub_id, body, options.retry_s))
        yield
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await _delete(session, f"{base}/{sub_id}")


async def _keep(
    session: aiohttp.ClientSession, base: str, sub_id: str, body: dict[str, Any], retry_s: float
) -> None:
    """Create the subscription, then check every ``retry_s`` that it exists (recreate if not)."""
    exists = False
    while True:
        try:
            if exists:
                async with session.get(f"{base}/{sub_id}") as resp:
                    exists = resp.status == 200
            if not exists:
                exists = await _create(session, base, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("context broker %s unreachable (%s); retrying in %g s", base, exc, retry_s)
            exists = False
        await asyncio.sleep(retry_s)


async def _create(session: aiohttp.ClientSession, base: str, body: dict[str, Any]) -> bool:
    for _ in range(2):
        async with session.post(base, json=body) as resp:
            text = await resp.text()
        if resp.status == 201:
            log.info("subscribed to %s for %s", base, ", ".join(_types(body)))
            return True
        if resp.status != 409:
            break
        # AlreadyExists: an earlier run's, which notifies that run's secret URL; replaced
        await _delete(session, f"{base}/{body['id']}")
    log.warning("context broker %s refused the subscription: %d %s", base, resp.status, text)
    return False


def _types(body: dict[str, Any]) -> Sequence[str]:
    return [e["type"] for e in body["entities"]]


async def _delete(session: aiohttp.ClientSession, url: str) -> None:
    try:
        async with session.delete(url) as resp:
            log.info("deleted the federation subscription %s: %d", url, resp.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not delete the federation subscription %s: %s", url, exc)
