"""``/ngsi-ld/v1/entities/{entityId}`` and its attributes (CIM 009 §5.6, §5.7.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from aiohttp import web

from twin.errors import NotFoundError
from twin.ngsild.entity import (
    ENTITY_KEYWORDS,
    ExpandedEntity,
    parse_attribute,
    parse_attribute_fragment,
    parse_attributes,
    parse_entity,
)
from twin.ngsild.errors import BadRequestDataError
from twin.ngsild.operations import (
    Outcome,
    append_attrs,
    delete_attr,
    merge_entity,
    parse_merge_fragment,
    partial_update_attr,
    replace_attr,
    replace_entity,
    update_attrs,
)
from twin.ngsild.render import render_entity, render_feature
from twin.server.ngsild.common import (
    S,
    entities_of,
    entity_id_of,
    modify_entity,
    notify_deleted,
    options_of,
    projection_of,
    publish_changes,
    representation,
    write,
)
from twin.server.ngsild.http import (
    GEOJSON,
    NGSILD_PREFIX,
    Negotiated,
    json_response,
    negotiate,
    now_iso,
)
from twin.server.state import call_store
from twin.store.entities import create_op, delete_op

__all__ = ["add_entity_routes", "update_result"]

_ENTITIES = NGSILD_PREFIX + "/entities"
_ENTITY = _ENTITIES + "/{entityId}"
_ATTR = _ENTITY + "/attrs/{attrId}"


def add_entity_routes(app: web.Application) -> None:
    """Register the single-entity routes under ``/ngsi-ld/v1``.

    The router tries the routes under ``/entities/`` in the order they are added (their
    patterns never match the same path): the attribute routes, where most live writes go,
    first.
    """
    app.router.add_patch(_ATTR + S, patch_attr)
    app.router.add_put(_ATTR + S, put_attr)
    app.router.add_delete(_ATTR + S, delete_attribute)
    app.router.add_post(_ENTITIES + S, create_entity)
    app.router.add_get(_ENTITY + S, retrieve_entity)
    app.router.add_delete(_ENTITY + S, delete_entity)
    app.router.add_put(_ENTITY + S, put_entity)
    app.router.add_patch(_ENTITY + S, patch_entity)
    app.router.add_post(_ENTITY + "/attrs" + S, post_attrs)
    app.router.add_patch(_ENTITY + "/attrs" + S, patch_attrs)


def update_result(outcome: Outcome, neg: Negotiated) -> dict[str, Any]:
    """Return the UpdateResult body of a 207 answer."""
    return {
        "updated": [neg.context.compact(a) for a in outcome.updated],
        "notUpdated": [
            {"attributeName": neg.context.compact(a), "reason": r} for a, r in outcome.not_updated
        ],
    }


async def create_entity(request: web.Request) -> web.Response:
    """POST /entities: 201 with Location, 409 AlreadyExists."""
    neg = await negotiate(request, body=True)
    entity = parse_entity(neg.body, neg.context, now_iso())
    await write(request, create_op(neg.tenant, entity))
    publish_changes(request, neg.tenant, entity, list(entity["attrs"]), created=True)
    location = f"/ngsi-ld/v1/entities/{entity['id']}"
    return web.Response(status=201, headers={"Location": location})


async def retrieve_entity(request: web.Request) -> web.Response:
    """GET /entities/{entityId}: the entity in the negotiated representation."""
    neg = await negotiate(request, allow_geo=True)
    options = options_of(request)
    body = cast(
        ExpandedEntity,
        await call_store(entities_of(request).get, neg.tenant, entity_id_of(request)),
    )
    projection = projection_of(request, neg.context)
    if projection.attrs is not None and not projection.attrs & set(body["attrs"]):
        raise NotFoundError(f"entity {entity_id_of(request)} has none of the requested attributes")
    form = representation(options)
    sys_attrs = "sysAttrs" in options
    if neg.accept == GEOJSON:
        geo = neg.context.expand(request.query.get("geometryProperty", "location"))
        data = render_feature(
            body, neg.context, form, geoproperty=geo, sys_attrs=sys_attrs, projection=projection
        )
    else:
        data = render_entity(body, neg.context, form, sys_attrs=sys_attrs, projection=projection)
    return json_response(request, neg, data)


async def delete_entity(request: web.Request) -> web.Response:
    """DELETE /entities/{entityId}: 204, 404 ResourceNotFound."""
    neg = await negotiate(request)
    old = await write(request, delete_op(neg.tenant, entity_id_of(request)))
    links = {k: v for k, v in old["attrs"].items() if v and v[0].get("type") == "Relationship"}
    removed = [k for k in old["attrs"] if k not in links]
    publish_changes(request, neg.tenant, {**old, "attrs": links}, removed)
    notify_deleted(request, neg.tenant, old)
    return web.Response(status=204)


def _fragment(neg: Negotiated, entity_id: str) -> dict[str, Any]:
    if not isinstance(neg.body, dict):
        raise BadRequestDataError("the body must be a JSON object")
    if neg.body.get("id", entity_id) != entity_id:
        raise BadRequestDataError("the id in the body differs from the one in the URL")
    return {k: v for k, v in neg.body.items() if k not in ENTITY_KEYWORDS}


async def put_entity(request: web.Request) -> web.Response:
    """PUT /entities/{entityId}: replace the entity (type and attributes) — 204."""
    neg = await negotiate(request, body=True)
    entity_id = entity_id_of(request)
    body = dict(neg.body) if isinstance(neg.body, dict) else neg.body
    if isinstance(body, dict):
        body.setdefault("id", entity_id)
        if body["id"] != entity_id:
            raise BadRequestDataError("the id in the body differs from the one in the URL")
    replacement = parse_entity(body, neg.context, now_iso())
    await _modify(request, neg, lambda old: replace_entity(old, replacement, now_iso()))
    return web.Response(status=204)


async def patch_entity(request: web.Request) -> web.Response:
    """PATCH /entities/{entityId}: merge a fragment (urn:ngsi-ld:null deletes) — 204."""
    neg = await negotiate(request, body=True, merge=True)
    now = now_iso()
    attrs, nulls = parse_merge_fragment(_fragment(neg, entity_id_of(request)), neg.context, now)
    await _modify(request, neg, lambda old: merge_entity(old, attrs, nulls, now))
    return web.Response(status=204)


async def post_attrs(request: web.Request) -> web.Response:
    """POST /entities/{entityId}/attrs: append (``options=noOverwrite``) — 204 or 207."""
    neg = await negotiate(request, body=True)
    no_overwrite = "noOverwrite" in options_of(request)
    now = now_iso()
    attrs = parse_attributes(_fragment(neg, entity_id_of(request)), neg.context, now)
    outcome = await _modify(
        request, neg, lambda old: append_attrs(old, attrs, now, no_overwrite=no_overwrite)
    )
    return _multi_status(request, neg, outcome)


async def patch_attrs(request: web.Request) -> web.Response:
    """PATCH /entities/{entityId}/attrs: update existing attributes — 204 or 207."""
    neg = await negotiate(request, body=True)
    now = now_iso()
    attrs = parse_attributes(_fragment(neg, entity_id_of(request)), neg.context, now)
    outcome = await _modify(request, neg, lambda old: update_attrs(old, attrs, now))
    return _multi_status(request, neg, outcome)


async def _modify(
    request: web.Request, neg: Negotiated, change: Callable[[ExpandedEntity], Outcome]
) -> Outcome:
    """Apply ``change`` to the entity in the URL in one store transaction, then publish it."""
    outcome = await write(request, modify_entity(neg.tenant, entity_id_of(request), change))
    publish_changes(request, neg.tenant, outcome.entity, outcome.updated, before=outcome.before)
    return outcome


def _multi_status(request: web.Request, neg: Negotiated, outcome: Outcome) -> web.Response:
    if not outcome.not_updated:
        return web.Response(status=204)
    return web.json_response(update_result(outcome, neg), status=207)


async def patch_attr(request: web.Request) -> web.Response:
    """PATCH /entities/{entityId}/attrs/{attrId}: partial attribute update — 204."""
    neg = await negotiate(request, body=True, merge=True)
    name = request.match_info["attrId"]
    iri = neg.context.expand(name)
    now = now_iso()
    fragment = parse_attribute_fragment(name, neg.body, neg.context, now)
    await _modify(request, neg, lambda old: partial_update_attr(old, iri, fragment, now))
    return web.Response(status=204)


async def put_attr(request: web.Request) -> web.Response:
    """PUT /entities/{entityId}/attrs/{attrId}: replace one attribute — 204."""
    neg = await negotiate(request, body=True)
    name = request.match_info["attrId"]
    iri = neg.context.expand(name)
    now = now_iso()
    attr = parse_attribute(name, iri, neg.body, neg.context, now)
    await _modify(request, neg, lambda old: replace_attr(old, iri, attr, now))
    return web.Response(status=204)


async def delete_attribute(request: web.Request) -> web.Response:
    """DELETE /entities/{entityId}/attrs/{attrId} (``datasetId``, ``deleteAll``) — 204."""
    neg = await negotiate(request)
    iri = neg.context.expand(request.match_info["attrId"])
    dataset_id = request.query.get("datasetId")
    delete_all = request.query.get("deleteAll", "false").lower() == "true"
    now = now_iso()
    await _modify(
        request,
        neg,
        lambda old: delete_attr(old, iri, now, dataset_id=dataset_id, delete_all=delete_all),
    )
    return web.Response(status=204)
