"""``/entityOperations/create|upsert|update|delete|merge`` (CIM 009 §5.6.7 – §5.6.10, §5.6.20).

Each entity is its own write (a savepoint): a batch answers 201/204 when every item succeeded and
207 with a BatchOperationResult (``success``, ``errors`` with ProblemDetails) otherwise. The
items are handed to the group commit together, so a batch usually commits in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

from aiohttp import web

from twin.errors import ConflictError, NotFoundError, TwinError
from twin.ngsild.entity import (
    ENTITY_KEYWORDS,
    ExpandedEntity,
    is_uri,
    parse_attributes,
    parse_entity,
)
from twin.ngsild.errors import BadRequestDataError
from twin.ngsild.jsonld import Context
from twin.ngsild.operations import (
    append_attrs,
    merge_entity,
    parse_merge_fragment,
    replace_entity,
)
from twin.server.ngsild.common import (
    S,
    modify_entity,
    notify_deleted,
    options_of,
    publish_changes,
    write,
)
from twin.server.ngsild.http import NGSILD_PREFIX, Negotiated, negotiate, now_iso
from twin.store.entities import create_op, delete_op

__all__ = ["BatchOperationResult", "add_batch_routes"]


class BatchEntityError(TypedDict):
    """One failed item of a batch."""

    entityId: str
    error: dict[str, Any]


class BatchOperationResult(TypedDict):
    """The 207 body of a batch operation."""

    success: list[str]
    errors: list[BatchEntityError]


Item = Callable[[web.Request, Negotiated, Any], Awaitable[tuple[str, bool]]]


def add_batch_routes(app: web.Application) -> None:
    """Register the batch routes under ``/ngsi-ld/v1``."""
    for name, item, status in (
        ("create", _create, 201),
        ("upsert", _upsert, 201),
        ("update", _update, 204),
        ("merge", _merge, 204),
        ("delete", _delete, 204),
    ):
        app.router.add_post(f"{NGSILD_PREFIX}/entityOperations/{name}" + S, _batch(item, status))


def _error(entity_id: str, exc: TwinError) -> BatchEntityError:
    detail = str(exc) or exc.title
    problem = {"type": exc.problem_type, "title": exc.title, "status": exc.status, "detail": detail}
    return {"entityId": entity_id, "error": problem}


def _batch(item: Item, ok_status: int) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        neg = await negotiate(request, body=True, merge=True)
        if not isinstance(neg.body, list):
            raise BadRequestDataError("a batch body must be a JSON array")
        options_of(request)  # an unknown option is the request's error, not each item's
        result: BatchOperationResult = {"success": [], "errors": []}
        created_any = False
        outcomes = await asyncio.gather(
            *(item(request, neg, raw) for raw in neg.body), return_exceptions=True
        )
        for raw, outcome in zip(neg.body, outcomes, strict=True):
            raw_id = raw.get("id") if isinstance(raw, dict) else raw
            entity_id = raw_id if isinstance(raw_id, str) else ""
            if isinstance(outcome, TwinError) and outcome.status < 500:
                result["errors"].append(_error(entity_id, outcome))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                result["success"].append(outcome[0])
                created_any = created_any or outcome[1]
        if result["errors"]:
            return web.json_response(result, status=207)
        if ok_status == 201 and created_any:
            return web.json_response(result["success"], status=201)
        return web.Response(status=204)

    return handler


def _parse(neg: Negotiated, raw: Any, ctx: Context) -> ExpandedEntity:
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "@context"}
    return parse_entity(raw, ctx, now_iso())


async def _create(request: web.Request, neg: Negotiated, raw: Any) -> tuple[str, bool]:
    entity = _parse(neg, raw, neg.context)
    await write(request, create_op(neg.tenant, entity))
    publish_changes(request, neg.tenant, entity, list(entity["attrs"]), created=True)
    return entity["id"], True


async def _upsert(request: web.Request, neg: Negotiated, raw: Any) -> tuple[str, bool]:
    entity = _parse(neg, raw, neg.context)
    now = now_iso()
    update = "update" in options_of(request)
    try:
        outcome = await write(request, modify_entity(
            neg.tenant, entity["id"],
            lambda old: append_attrs(old, entity["attrs"], now) if update
            else replace_entity(old, entity, now),
        ))  # fmt: skip
    except NotFoundError:
        try:
            return await _create(request, neg, raw)
        except ConflictError:  # created meanwhile (by an earlier item of the batch): replace it
            return await _upsert(request, neg, raw)
    publish_changes(request, neg.tenant, outcome.entity, outcome.updated, before=outcome.before)
    return entity["id"], False


def _members(raw: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not is_uri(raw.get("id")):
        raise BadRequestDataError("each item needs an id that is a URI")
    return raw["id"], {k: v for k, v in raw.items() if k not in ENTITY_KEYWORDS}


async def _update(request: web.Request, neg: Negotiated, raw: Any) -> tuple[str, bool]:
    entity_id, members = _members(raw)
    now = now_iso()
    attrs = parse_attributes(members, neg.context, now)
    no_overwrite = "noOverwrite" in options_of(request)
    outcome = await write(request, modify_entity(
        neg.tenant, entity_id,
        lambda old: append_attrs(old, attrs, now, no_overwrite=no_overwrite),
    ))  # fmt: skip
    publish_changes(request, neg.tenant, outcome.entity, outcome.updated, before=outcome.before)
    return entity_id, False


async def _merge(request: web.Request, neg: Negotiated, raw: Any) -> tuple[str, bool]:
    entity_id, members = _members(raw)
    now = now_iso()
    attrs, nulls = parse_merge_fragment(members, neg.context, now)
    outcome = await write(request, modify_entity(
        neg.tenant, entity_id, lambda old: merge_entity(old, attrs, nulls, now),
    ))  # fmt: skip
    publish_changes(request, neg.tenant, outcome.entity, outcome.updated, before=outcome.before)
    return entity_id, False


async def _delete(request: web.Request, neg: Negotiated, raw: Any) -> tuple[str, bool]:
    if not is_uri(raw):
        raise BadRequestDataError(f"{raw!r} is not an entity id")
    old = await write(request, delete_op(neg.tenant, raw))
    notify_deleted(request, neg.tenant, old)
    return raw, False
