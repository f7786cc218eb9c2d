"""Helpers shared by the NGSI-LD route modules: store calls, options, live publication."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar, cast

from aiohttp import web

from twin.ngsild.entity import ExpandedEntity, is_uri
from twin.ngsild.errors import BadRequestDataError
from twin.ngsild.join import live_events
from twin.ngsild.jsonld import Context
from twin.ngsild.language import parse_lang
from twin.ngsild.operations import Outcome
from twin.ngsild.render import Form, Projection
from twin.ngsild.subscriptions_match import EntityChange
from twin.server.ngsild.notify import NOTIFIER
from twin.server.ngsild.state import HUB, WRITER
from twin.server.state import STORE
from twin.store.buildings import parse_building_entity_id
from twin.store.entities import Operation, SQLiteEntities, modify_op

__all__ = [
    "S",
    "entities_of",
    "modify_entity",
    "notify_deleted",
    "options_of",
    "projection_of",
    "publish_changes",
    "representation",
    "split_list",
    "write",
]

T = TypeVar("T")

S: Final = "{_slash:/?}"
"""Suffix of every route: a trailing slash is accepted."""

_KNOWN_OPTIONS: Final = frozenset(
    {"keyValues", "simplified", "concise", "normalized", "sysAttrs", "noOverwrite", "update",
     "replace", "count"}
)  # fmt: skip


def entities_of(request: web.Request) -> SQLiteEntities:
    """Return the entity side of the app's store."""
    return request.app[STORE].entities


def modify_entity(
    tenant: str, entity_id: str, change: Callable[[ExpandedEntity], Outcome]
) -> Operation[Outcome]:
    """Return the store operation applying an :mod:`twin.ngsild.operations` change."""

    # the store keeps bodies as plain dicts of the expanded form
    def apply(old: dict[str, Any]) -> Outcome:
        before = cast(ExpandedEntity, old)
        return dataclasses.replace(change(before), before=before)

    return modify_op(tenant, entity_id, apply)


async def write(request: web.Request, operation: Operation[T]) -> T:
    """Run a store write in the next group commit; return once it is durable."""
    return await request.app[WRITER].write(operation)


def uri_param(request: web.Request, key: str, what: str) -> str:
    """Return path parameter ``key``, which must be a URI (CIM 009 §4.5.1: ids are URIs)."""
    value = request.match_info[key]
    if not is_uri(value):
        raise BadRequestDataError(f"{what} id must be a URI, got {value!r}")
    return value


def entity_id_of(request: web.Request) -> str:
    """Return the ``{entityId}`` of the URL (a URI, or BadRequestData)."""
    return uri_param(request, "entityId", "entity")


def split_list(text: str | None) -> list[str]:
    """Return the items of a comma-separated parameter (empty items dropped)."""
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def options_of(request: web.Request) -> frozenset[str]:
    """Return ``options`` (and ``format``) of the query string; unknown ones are 400."""
    opts = set(split_list(request.query.get("options")))
    if "format" in request.query:
        opts.add(request.query["format"])
    unknown = opts - _KNOWN_OPTIONS
    if unknown:
        raise BadRequestDataError(f"unknown options: {', '.join(sorted(unknown))}")
    return frozenset(opts)


def representation(options: frozenset[str]) -> Form:
    """Return the representation the options ask for."""
    if options & {"keyValues", "simplified"}:
        return "keyValues"
    if "concise" in options:
        return "concise"
    return "normalized"


def projection_of(request: web.Request, ctx: Context) -> Projection:
    """Return the ``attrs``/``pick``/``omit``/``lang`` projection of a request."""
    attrs = split_list(request.query.get("attrs"))
    pick = split_list(request.query.get("pick"))
    omit = split_list(request.query.get("omit"))
    if pick and omit:
        raise BadRequestDataError("pick and omit cannot be used together")
    lang = request.query.get("lang")
    return Projection(
        attrs=frozenset(ctx.expand(a) for a in attrs) if attrs else None,
        pick=frozenset(pick) if pick else None,
        omit=frozenset(omit),
        lang=parse_lang(lang) if lang is not None else None,
    )


def publish_changes(
    request: web.Request,
    tenant: str,
    entity: ExpandedEntity | Mapping[str, Any],
    touched: Iterable[str],
    *,
    created: bool = False,
    before: Mapping[str, Any] | None = None,
) -> None:
    """Push the joined-value changes a write caused to ``/live`` (default tenant only), and
    give the change to the subscriptions (``created``: the write created the entity;
    ``before``: the entity the write changed, whose Relationships may have been dropped)."""
    touched = list(touched)
    app = request.app
    if app[NOTIFIER].watches(tenant):
        _notify(request, tenant, entity, touched, created, before)
    hub = app[HUB]
    if tenant or not hub.listener_count:  # (nobody to tell: the events are not worked out)
        return
    events = live_events(entity, touched, parse_building_entity_id, before)
    if events:
        hub.publish(events)


def _notify(
    request: web.Request,
    tenant: str,
    entity: ExpandedEntity | Mapping[str, Any],
    touched: list[str],
    created: bool,
    before: Mapping[str, Any] | None,
) -> None:
    body = cast(ExpandedEntity, entity)
    if created:
        change = EntityChange("created", body, created=frozenset(touched))
    else:
        attrs = body["attrs"]
        deleted = frozenset(t for t in touched if t not in attrs)
        fresh = frozenset(
            t for t in touched if t in attrs
            and all(i.get("createdAt") == i.get("modifiedAt") for i in attrs[t])
        )  # fmt: skip
        updated = frozenset(touched) - deleted - fresh
        change = EntityChange(
            "updated", body, created=fresh, updated=updated, deleted=deleted,
            before=cast(ExpandedEntity | None, before),
        )  # fmt: skip
    request.app[NOTIFIER].entity_changed(tenant, change)


def notify_deleted(request: web.Request, tenant: str, entity: Mapping[str, Any]) -> None:
    """Give the deletion of ``entity`` (its last stored form) to the subscriptions."""
    change = EntityChange("deleted", cast(ExpandedEntity, entity))
    request.app[NOTIFIER].entity_changed(tenant, change)
