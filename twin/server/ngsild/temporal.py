"""``/ngsi-ld/v1/temporal/entities[/{entityId}]`` from the stored history (CIM 009 §5.7.3, §5.7.4).

The entities are selected like ``GET /entities`` (``id``, ``idPattern``, ``type``, ``q`` and
geo-queries against their current state), then each one's attribute history is read and shaped
by :func:`twin.ngsild.temporal.temporal_entity`.
"""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web

from twin.errors import NotFoundError
from twin.ngsild.entity import ExpandedEntity, is_uri
from twin.ngsild.errors import BadRequestDataError
from twin.ngsild.selection import parse_selection
from twin.ngsild.temporal import TemporalQuery, parse_temporal_query, temporal_entity
from twin.server.ngsild.common import S, entities_of, split_list
from twin.server.ngsild.http import json_response, negotiate
from twin.server.ngsild.search import page_of, paging_links
from twin.server.state import call_store
from twin.store.entities import EntityFilter, SQLiteEntities

__all__ = ["add_temporal_routes"]

_TEMPORAL_OPTIONS = frozenset({"temporalValues", "aggregatedValues", "sysAttrs", "count"})


def add_temporal_routes(app: web.Application) -> None:
    """Register the temporal routes on the NGSI-LD sub-application."""
    app.router.add_get("/temporal/entities" + S, query_temporal)
    app.router.add_get("/temporal/entities/{entityId}" + S, retrieve_temporal)


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
    entity_id = request.match_info["entityId"]
    if not is_uri(entity_id):
        raise BadRequestDataError(f"entity id must be a URI, got {entity_id!r}")
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
    selection = parse_selection(
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
    where = EntityFilter(ids=selection.ids, types=selection.types, attrs=selection.attrs,
                         id_pattern=selection.id_pattern, condition=selection.q_sql,
                         exact=selection.sql_decides)  # fmt: skip
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
