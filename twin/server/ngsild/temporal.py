"""``/ngsi-ld/v1/temporal/entities[/{entityId}]`` from the stored history (CIM 009 §5.7.3, §5.7.4).

The entities are selected like ``GET /entities`` (``id``, ``idPattern``, ``type``, ``q`` and
geo-queries against their current state) but for ``attrs``, which selects those with a history
of one of the attributes, then each one's attribute history is read and shaped
by :func:`twin.ngsild.temporal.temporal_entity`.

Writes (§5.6.11 – §5.6.13): ``POST /temporal/entities`` appends a temporal entity's instances to
its history (201 when that created the entity, 204 otherwise), ``POST …/{entityId}/attrs``
appends to an existing entity's history, ``DELETE …/{entityId}/attrs/{attrId}`` deletes an
attribute's history (``datasetId``, ``deleteAll``), ``PATCH`` and ``DELETE
…/{entityId}/attrs/{attrId}/{instanceId}`` modify or delete one instance (§5.6.14, §5.6.15; the
``instanceId`` of each instance is in the temporal output), ``DELETE …/{entityId}`` deletes the
entity's whole history (§5.6.16: afterwards its temporal representation holds ``id`` and
``type`` until new instances are written). They leave an existing entity's
current state as it is (see :mod:`twin.store.entities_history`).
"""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web

from twin.errors import NotFoundError
from twin.ngsild.entity import ExpandedEntity, is_uri, parse_types
from twin.ngsild.errors import BadRequestDataError
from twin.ngsild.temporal import TemporalQuery, parse_temporal_query, temporal_entity
from twin.ngsild.temporal_write import current_state, parse_temporal_attributes
from twin.server.ngsild.common import (
    S,
    entities_of,
    entity_id_of,
    publish_changes,
    split_list,
    uri_param,
    write,
)
from twin.server.ngsild.http import NGSILD_PREFIX, json_response, negotiate, now_iso
from twin.server.ngsild.search import page_of, paging_links
from twin.server.ngsild.state import SELECTIONS
from twin.server.state import call_store
from twin.store.entities import EntityFilter, SQLiteEntities
from twin.store.entities_history import (
    append_history_op,
    delete_entity_history_op,
    delete_history_op,
    delete_instance_op,
    modify_instance_op,
)

__all__ = ["add_temporal_routes"]

_TEMPORAL_OPTIONS = frozenset({"temporalValues", "aggregatedValues", "sysAttrs", "count"})


_T = NGSILD_PREFIX + "/temporal/entities"


def add_temporal_routes(app: web.Application) -> None:
    """Register the temporal routes under ``/ngsi-ld/v1``."""
    app.router.add_get(_T + S, query_temporal)
    app.router.add_get(_T + "/{entityId}" + S, retrieve_temporal)
    app.router.add_delete(_T + "/{entityId}" + S, delete_temporal_entity)
    app.router.add_post(_T + S, create_temporal)
    app.router.add_post(_T + "/{entityId}/attrs" + S, append_temporal)
    app.router.add_delete(_T + "/{entityId}/attrs/{attrId}" + S, delete_temporal)
    instance = _T + "/{entityId}/attrs/{attrId}/{instanceId}" + S
    app.router.add_patch(instance, modify_instance)
    app.router.add_delete(instance, delete_instance)


async def create_temporal(request: web.Request) -> web.Response:
    """POST /temporal/entities: create or extend a temporal representation — 201 or 204."""
    neg = await negotiate(request, body=True)
    body = neg.body
    if not isinstance(body, dict):
        raise BadRequestDataError(f"a temporal entity must be a JSON object, got {_kind(body)}")
    if not is_uri(body.get("id")):
        raise BadRequestDataError(
            f"a temporal entity needs an id that is a URI, got {body.get('id')!r}"
        )
    now = now_iso()
    entity_id = str(body["id"])
    types = parse_types(body.get("type"), neg.context)
    attrs = parse_temporal_attributes(body, neg.context, now)
    entity = current_state(entity_id, types, attrs, now)
    created = await write(request, append_history_op(neg.tenant, entity_id, attrs, entity))
    if not created:
        return web.Response(status=204)
    publish_changes(request, neg.tenant, entity, list(entity["attrs"]), created=True)
    location = f"/ngsi-ld/v1/temporal/entities/{entity_id}"
    return web.Response(status=201, headers={"Location": location})


async def append_temporal(request: web.Request) -> web.Response:
    """POST /temporal/entities/{entityId}/attrs: add instances to the history — 204."""
    neg = await negotiate(request, body=True)
    entity_id = entity_id_of(request)
    if not isinstance(neg.body, dict):
        raise BadRequestDataError(
            f"the body must be an object of attributes, got {_kind(neg.body)}"
        )
    if neg.body.get("id", entity_id) != entity_id:
        raise BadRequestDataError(
            f"the body's id {neg.body['id']!r} is not the URL's {entity_id!r}; omit it or match"
        )
    attrs = parse_temporal_attributes(neg.body, neg.context, now_iso())
    await write(request, append_history_op(neg.tenant, entity_id, attrs, None))
    return web.Response(status=204)


async def delete_temporal_entity(request: web.Request) -> web.Response:
    """DELETE /temporal/entities/{entityId}: drop the entity's whole history — 204."""
    neg = await negotiate(request)
    await write(request, delete_entity_history_op(neg.tenant, entity_id_of(request)))
    return web.Response(status=204)


async def delete_temporal(request: web.Request) -> web.Response:
    """DELETE /temporal/entities/{entityId}/attrs/{attrId}: drop an attribute's history — 204."""
    neg = await negotiate(request)
    entity_id = entity_id_of(request)
    iri = neg.context.expand(request.match_info["attrId"])
    delete_all = request.query.get("deleteAll", "false").lower() == "true"
    dataset_id = request.query.get("datasetId")
    await write(request, delete_history_op(neg.tenant, entity_id, iri, dataset_id, delete_all))
    return web.Response(status=204)


async def modify_instance(request: web.Request) -> web.Response:
    """PATCH /temporal/entities/{entityId}/attrs/{attrId}/{instanceId}: change one instance.

    The body is a fragment holding the attribute with one instance (§5.6.14); its members
    replace the stored instance's — 204.
    """
    neg = await negotiate(request, body=True)
    entity_id = entity_id_of(request)
    instance = uri_param(request, "instanceId", "instance")
    attr_name = request.match_info["attrId"]
    iri = neg.context.expand(attr_name)
    if not isinstance(neg.body, dict):
        raise BadRequestDataError(f"the body must be an object, got {_kind(neg.body)}")
    attrs = parse_temporal_attributes(neg.body, neg.context, now_iso())
    if set(attrs) != {iri} or len(attrs[iri]) != 1:
        raise BadRequestDataError(
            f"the body must hold one instance of {attr_name!r} and nothing else, got "
            f"{', '.join(f'{len(v)} of {k}' for k, v in attrs.items())}"
        )
    op = modify_instance_op(neg.tenant, entity_id, iri, instance, attrs[iri][0], now_iso())
    await write(request, op)
    return web.Response(status=204)


async def delete_instance(request: web.Request) -> web.Response:
    """DELETE /temporal/entities/{entityId}/attrs/{attrId}/{instanceId}: drop one instance."""
    neg = await negotiate(request)
    entity_id = entity_id_of(request)
    instance = uri_param(request, "instanceId", "instance")
    iri = neg.context.expand(request.match_info["attrId"])
    await write(request, delete_instance_op(neg.tenant, entity_id, iri, instance))
    return web.Response(status=204)


def _query(request: web.Request, neg_ctx: Any) -> TemporalQuery:
    unknown = set(split_list(request.query.get("options"))) - _TEMPORAL_OPTIONS
    if unknown:
        raise BadRequestDataError(f"unknown options: {', '.join(sorted(unknown))}")
    return parse_temporal_query(request.query, neg_ctx)


def _read(
    entities: SQLiteEntities, tenant: str, bodies: list[dict[str, Any]], query: TemporalQuery
) -> list[tuple[ExpandedEntity, list[tuple[str, dict[str, Any] | None]]]]:
    attrs = sorted(query.attrs) if query.attrs else ()
    return [
        (cast(ExpandedEntity, body), entities.history(tenant, body["id"], attrs)) for body in bodies
    ]


async def retrieve_temporal(request: web.Request) -> web.Response:
    """GET /temporal/entities/{entityId}: one entity's temporal evolution."""
    neg = await negotiate(request)
    entity_id = entity_id_of(request)
    query = _query(request, neg.context)
    store = entities_of(request)
    body = await call_store(store.get, neg.tenant, entity_id)
    ((entity, history),) = await call_store(_read, store, neg.tenant, [body], query)
    data = temporal_entity(entity, history, query, neg.context)
    if query.attrs is not None and len(data) == 2:
        raise NotFoundError(f"entity {entity_id} has no history of the requested attributes")
    return json_response(request, neg, data)


async def query_temporal(request: web.Request) -> web.Response:
    """GET /temporal/entities?type=…&timerel=…: many entities' temporal evolution."""
    neg = await negotiate(request)
    params = request.query
    query = _query(request, neg.context)
    selection = request.app[SELECTIONS].parse(
        neg.context, ids=split_list(params.get("id")), id_pattern=params.get("idPattern"),
        type_text=params.get("type"), attrs=split_list(params.get("attrs")), q=params.get("q"),
        geo=(params.get("georel"), params.get("geometry"), params.get("coordinates"),
             params.get("geoproperty")),
    )  # fmt: skip
    if not (selection.ids or selection.id_pattern or selection.types or selection.attrs
            or selection.q or selection.geo):  # fmt: skip
        raise BadRequestDataError("a temporal query needs at least one of id, idPattern, type, "
                                  "attrs, q or a geo-query")  # fmt: skip
    limit, offset, count = page_of(request)
    # attrs select on the history (CIM 009 v1.8 §5.7.4: the query is about the evolution)
    where = EntityFilter(ids=selection.ids, types=selection.types, attrs=selection.attrs,
                         id_pattern=selection.id_pattern, condition=selection.q_sql,
                         exact=selection.sql_decides, attrs_in_history=True)  # fmt: skip
    store = entities_of(request)
    page, total = await call_store(
        store.query, neg.tenant, where, selection.matches, offset=offset, limit=limit
    )
    rows = await call_store(_read, store, neg.tenant, page, query)
    data = [temporal_entity(entity, history, query, neg.context) for entity, history in rows]
    headers = paging_links(request, offset, limit, total)
    if count:
        headers["NGSILD-Results-Count"] = str(total)
    return json_response(request, neg, data, headers=headers)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
