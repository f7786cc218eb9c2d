"""Discovery: ``/types``, ``/types/{type}``, ``/attributes``, ``/attributes/{attrId}`` (§5.7.5+)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web

from twin.errors import NotFoundError
from twin.server.ngsild.common import S, entities_of
from twin.server.ngsild.http import NGSILD_PREFIX, json_response, negotiate
from twin.server.state import call_store

__all__ = ["add_discovery_routes"]


def add_discovery_routes(app: web.Application) -> None:
    """Register the discovery routes under ``/ngsi-ld/v1``."""
    app.router.add_get(NGSILD_PREFIX + "/types" + S, list_types)
    app.router.add_get(NGSILD_PREFIX + "/types/{type}" + S, get_type)
    app.router.add_get(NGSILD_PREFIX + "/attributes" + S, list_attributes)
    app.router.add_get(NGSILD_PREFIX + "/attributes/{attrId}" + S, get_attribute)


def _details(request: web.Request) -> bool:
    return request.query.get("details", "false").lower() == "true"


async def _index(request: web.Request, tenant: str) -> tuple[
    dict[str, int], dict[str, set[str]], dict[str, int], dict[str, set[str]]
]:  # fmt: skip
    rows = await call_store(entities_of(request).summaries, tenant)
    type_count: dict[str, int] = defaultdict(int)
    type_attrs: dict[str, set[str]] = defaultdict(set)
    attr_count: dict[str, int] = defaultdict(int)
    attr_types: dict[str, set[str]] = defaultdict(set)
    for types, attrs in rows:
        for t in types:
            type_count[t] += 1
            type_attrs[t].update(attrs)
        for a in attrs:
            attr_count[a] += 1
            attr_types[a].update(types)
    return type_count, type_attrs, attr_count, attr_types


async def list_types(request: web.Request) -> web.Response:
    """GET /types: an EntityTypeList, or EntityType details with ``details=true``."""
    neg = await negotiate(request)
    ctx = neg.context
    counts, attrs, _, _ = await _index(request, neg.tenant)
    names = sorted(counts)
    data: Any
    if _details(request):
        data = [
            {"id": t, "type": "EntityType", "typeName": ctx.compact(t),
             "attributeNames": sorted(ctx.compact(a) for a in attrs[t])}
            for t in names
        ]  # fmt: skip
    else:
        data = {
            "id": "urn:ngsi-ld:EntityTypeList:twin",
            "type": "EntityTypeList",
            "typeList": [ctx.compact(t) for t in names],
        }
    return json_response(request, neg, data)


async def get_type(request: web.Request) -> web.Response:
    """GET /types/{type}: EntityTypeInfo (entity count, attribute details)."""
    neg = await negotiate(request)
    ctx = neg.context
    iri = ctx.expand(request.match_info["type"])
    counts, attrs, _, _ = await _index(request, neg.tenant)
    if iri not in counts:
        raise NotFoundError(f"no entity of type {request.match_info['type']}")
    data = {
        "id": iri,
        "type": "EntityTypeInfo",
        "typeName": ctx.compact(iri),
        "entityCount": counts[iri],
        "attributeDetails": [
            {"id": a, "type": "Attribute", "attributeName": ctx.compact(a)}
            for a in sorted(attrs[iri])
        ],
    }
    return json_response(request, neg, data)


async def list_attributes(request: web.Request) -> web.Response:
    """GET /attributes: an AttributeList, or Attribute details with ``details=true``."""
    neg = await negotiate(request)
    ctx = neg.context
    _, _, counts, types = await _index(request, neg.tenant)
    names = sorted(counts)
    data: Any
    if _details(request):
        data = [_attribute(a, counts[a], types[a], neg.context) for a in names]
    else:
        data = {
            "id": "urn:ngsi-ld:AttributeList:twin",
            "type": "AttributeList",
            "attributeList": [ctx.compact(a) for a in names],
        }
    return json_response(request, neg, data)


def _attribute(iri: str, count: int, types: set[str], ctx: Any) -> dict[str, Any]:
    return {
        "id": iri,
        "type": "Attribute",
        "attributeName": ctx.compact(iri),
        "attributeCount": count,
        "typeNames": sorted(ctx.compact(t) for t in types),
    }


async def get_attribute(request: web.Request) -> web.Response:
    """GET /attributes/{attrId}: one Attribute (count, types using it)."""
    neg = await negotiate(request)
    iri = neg.context.expand(request.match_info["attrId"])
    _, _, counts, types = await _index(request, neg.tenant)
    if iri not in counts:
        raise NotFoundError(f"no attribute {request.match_info['attrId']}")
    return json_response(request, neg, _attribute(iri, counts[iri], types[iri], neg.context))
