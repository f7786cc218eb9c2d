"""``GET /entities`` and ``POST /entityOperations/query`` (CIM 009 §5.7.2, §5.7.3 …)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final, cast

from aiohttp import web

from twin.ngsild.entity import ExpandedEntity
from twin.ngsild.errors import BadRequestDataError, TooManyResultsError
from twin.ngsild.render import render_entity, render_feature
from twin.ngsild.selection import Selection
from twin.server.ngsild.common import (
    S,
    entities_of,
    options_of,
    projection_of,
    representation,
    split_list,
)
from twin.server.ngsild.http import GEOJSON, NGSILD_PREFIX, Negotiated, json_response, negotiate
from twin.server.ngsild.state import SELECTIONS
from twin.server.state import call_store
from twin.store.entities import EntityFilter

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "add_search_routes", "page_of", "paging_links"]

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 1000


def add_search_routes(app: web.Application) -> None:
    """Register the query routes under ``/ngsi-ld/v1``."""
    app.router.add_get(NGSILD_PREFIX + "/entities" + S, query_entities)
    app.router.add_post(NGSILD_PREFIX + "/entityOperations/query" + S, post_query)


def _int(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequestDataError(f"{name} must be an integer, got {text!r}") from None
    if value < 0:
        raise BadRequestDataError(f"{name} must not be negative")
    return value


def _text(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise BadRequestDataError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _names(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequestDataError(f"{name} must be an array of names, got {json.dumps(value)}")
    return value


def page_of(request: web.Request) -> tuple[int, int, bool]:
    """Return ``limit``, ``offset`` and ``count`` of a query; raise 400/403 on bad ones."""
    limit = _int(request, "limit", DEFAULT_LIMIT)
    offset = _int(request, "offset", 0)
    count = request.query.get("count", "false").lower() == "true"
    if limit > MAX_LIMIT:
        raise TooManyResultsError(f"limit {limit} exceeds the maximum of {MAX_LIMIT}")
    if limit == 0 and not count:
        raise BadRequestDataError("limit=0 is only allowed together with count=true")
    return limit, offset, count


async def query_entities(request: web.Request) -> web.Response:
    """GET /entities?id=&idPattern=&type=&attrs=&q=&georel=… with paging and count."""
    neg = await negotiate(request, allow_geo=True)
    query = request.query
    selection = request.app[SELECTIONS].parse(
        neg.context,
        ids=split_list(query.get("id")),
        id_pattern=query.get("idPattern"),
        type_text=query.get("type"),
        attrs=split_list(query.get("attrs")),
        q=query.get("q"),
        geo=(query.get("georel"), query.get("geometry"), query.get("coordinates"),
             query.get("geoproperty")),
        scope_q=query.get("scopeQ"),
    )  # fmt: skip
    if not (selection.ids or selection.id_pattern or selection.types or selection.attrs
            or selection.q or selection.geo or selection.scope):  # fmt: skip
        raise BadRequestDataError(
            "a query needs at least one of id, idPattern, type, attrs, q, scopeQ or a geo-query"
        )
    return await _answer(request, neg, selection)


async def post_query(request: web.Request) -> web.Response:
    """POST /entityOperations/query with a Query body (entities, attrs, q, geoQ)."""
    neg = await negotiate(request, body=True, allow_geo=True)
    body = neg.body
    if not isinstance(body, dict) or body.get("type", "Query") != "Query":
        raise BadRequestDataError('the body must be a Query object ({"type": "Query", …})')
    selectors = body.get("entities") or [{}]
    if not isinstance(selectors, list) or len(selectors) != 1:
        raise BadRequestDataError("this server answers queries with exactly one entities item")
    sel = selectors[0] if isinstance(selectors[0], dict) else {}
    geo = body.get("geoQ") or {}
    if not isinstance(geo, dict):
        raise BadRequestDataError(f"geoQ must be an object, got {type(geo).__name__}")
    coordinates = geo.get("coordinates")
    if coordinates is not None and not isinstance(coordinates, str):
        coordinates = json.dumps(coordinates)
    selection = request.app[SELECTIONS].parse(
        neg.context,
        ids=[sel["id"]] if isinstance(sel.get("id"), str) else [],
        id_pattern=_text(sel.get("idPattern"), "idPattern"),
        type_text=_text(sel.get("type"), "type"),
        attrs=_names(body.get("attrs", []), "attrs"),
        q=_text(body.get("q"), "q"),
        geo=(
            _text(geo.get("georel"), "georel"),
            _text(geo.get("geometry"), "geometry"),
            coordinates,
            _text(geo.get("geoproperty"), "geoproperty"),
        ),
        scope_q=_text(body.get("scopeQ"), "scopeQ"),
    )
    return await _answer(request, neg, selection)


async def _answer(request: web.Request, neg: Negotiated, selection: Selection) -> web.Response:
    limit, offset, count = page_of(request)
    options = options_of(request)
    where = EntityFilter(
        ids=selection.ids, types=selection.types, attrs=selection.attrs,
        id_pattern=selection.id_pattern, condition=selection.q_sql,
        exact=selection.sql_decides,
    )  # fmt: skip
    page, total = await call_store(
        entities_of(request).query, neg.tenant, where, selection.matches,
        offset=offset, limit=limit,
    )  # fmt: skip
    # the attrs of the selection project too (§5.7.2), also those of a POST query's body
    projection = dataclasses.replace(
        projection_of(request, neg.context), attrs=frozenset(selection.attrs) or None
    )
    form = representation(options)
    sys_attrs = "sysAttrs" in options
    headers = paging_links(request, offset, limit, total)
    if count:
        headers["NGSILD-Results-Count"] = str(total)
    entities = [cast(ExpandedEntity, e) for e in page]
    data: Any
    if neg.accept == GEOJSON:
        geo = neg.context.expand(request.query.get("geometryProperty", "location"))
        features = [
            render_feature(
                e, neg.context, form, geoproperty=geo, sys_attrs=sys_attrs, projection=projection
            )
            for e in entities
        ]
        data = {"type": "FeatureCollection", "features": features}
    else:
        data = [
            render_entity(e, neg.context, form, sys_attrs=sys_attrs, projection=projection)
            for e in entities
        ]
    return json_response(request, neg, data, headers=headers)


def paging_links(request: web.Request, offset: int, limit: int, total: int) -> dict[str, str]:
    """Return the ``Link`` header with ``next``/``prev`` pages, when there are some."""
    links = []
    if limit and offset + limit < total:
        url = request.rel_url.update_query(offset=offset + limit, limit=limit)
        links.append(f'<{url}>; rel="next"; type="application/ld+json"')
    if limit and offset > 0:
        url = request.rel_url.update_query(offset=max(0, offset - limit), limit=limit)
        links.append(f'<{url}>; rel="prev"; type="application/ld+json"')
    return {"Link": ", ".join(links)} if links else {}
