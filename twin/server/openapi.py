"""``/openapi.json`` and ``/openapi.html``: the OpenAPI 3.0.3 document of the whole server.

The document is built from one declarative table, :data:`OPERATIONS` (one :class:`Operation`
per method and path), and the shared parameters and schemas of
:mod:`twin.server.openapi_parts`. A test compares the table with the application's router, so a
route cannot be added without being described.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from aiohttp import web

from twin.server.openapi_html import openapi_page
from twin.server.openapi_parts import PARAMETERS, SCHEMAS

__all__ = ["OPENAPI_MEDIA", "OPERATIONS", "Operation", "add_openapi_routes", "build_openapi"]

OPENAPI_MEDIA: Final = "application/vnd.oai.openapi+json;version=3.0"
Method = Literal["get", "post", "put", "patch", "delete"]
_GEOJSON: Final = "application/geo+json"
_JSON: Final = "application/json"
_LD: Final = "application/ld+json"
_HTML: Final = "text/html"


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path, as the OpenAPI document describes it.

    ``ok`` is ``(status, media type, schema component or None)`` of the success answer;
    ``alt`` more media types of that answer (same schema for JSON ones, none for others);
    ``body`` the request body's schema component; ``write`` marks bearer-token operations.
    """

    method: Method
    path: str
    tag: str
    summary: str
    params: tuple[str, ...] = ()
    ok: tuple[int, str, str | None] = (200, _JSON, "Any")
    alt: tuple[str, ...] = ()
    body: str | None = None
    write: bool = False


_ITEMS_Q: Final = ("bbox", "bbox-crs", "datetime", "filter", "filter-lang", "filter-crs")
_NGSI: Final = ("tenant", "link")
_QUERY: Final = ("ngsiId", "ngsiType", "idPattern", "attrs", "q", "scopeQ", "georel",
                 "geometry", "coordinates", "options", "lang", "ngsiLimit", "ngsiOffset",
                 "count")  # fmt: skip
_TEMPORAL: Final = ("timerel", "timeAt", "endTimeAt", "lastN", "attrs", "options")
_E: Final = "/ngsi-ld/v1/entities/{entityId}"
_A: Final = _E + "/attrs/{attrId}"
_INSTANCE: Final = "/ngsi-ld/v1/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}"
_SUB: Final = "/ngsi-ld/v1/subscriptions/{subscriptionId}"
_N: Final = "NGSI-LD"


def _batch(name: str, status: int) -> Operation:
    return Operation(
        "post", f"/ngsi-ld/v1/entityOperations/{name}", _N, f"batch {name} of entities",
        _NGSI, (status, _JSON, "BatchResult"), body="Entities", write=True,
    )  # fmt: skip


OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation("get", "/", "viewer", "redirect to the web viewer", ok=(302, _HTML, None)),
    Operation("get", "/viewer", "viewer", "redirect to /viewer/", ok=(302, _HTML, None)),
    Operation("get", "/viewer/", "viewer", "the web viewer", ok=(200, _HTML, None)),
    Operation("get", "/viewer/{path}", "viewer", "a file of the viewer", ("viewerPath",),
              (200, "application/octet-stream", None)),
    Operation("get", "/viewer/cesium/{path}", "viewer", "a file of CesiumJS's build",
              ("viewerPath",), (200, "application/octet-stream", None)),
    Operation("get", "/tiles/{dataset}/{path}", "3D Tiles",
              "a file of a dataset's 3D Tiles 1.1 tileset (tileset.json, glb, subtrees)",
              ("dataset", "path"), (200, _JSON, None), ("model/gltf-binary",)),
    Operation("get", "/ogc", "OGC API", "landing page", ("f",), (200, _JSON, "Landing"),
              (_HTML,)),
    Operation("get", "/ogc/", "OGC API", "landing page (same as /ogc)", ("f",),
              (200, _JSON, "Landing"), (_HTML,)),
    Operation("get", "/ogc/conformance", "OGC API", "conformance classes implemented",
              ok=(200, _JSON, "Conformance")),
    Operation("get", "/ogc/collections", "OGC API", "the collections, one per dataset", ("f",),
              (200, _JSON, "Collections"), (_HTML,)),
    Operation("get", "/ogc/collections/{dataset}", "OGC API", "one collection",
              ("dataset", "f"), (200, _JSON, "Collection"), (_HTML,)),
    Operation("get", "/ogc/collections/{dataset}/items", "OGC API",
              "features (joined static and live values), filtered, sorted, paged or exported",
              ("dataset", "limit", "offset", *_ITEMS_Q, "sortby", "crs", "ogcGeometry", "f"),
              (200, _GEOJSON, "FeatureCollection"),
              (_HTML, "text/csv", "application/vnd.apache.parquet")),
    Operation("get", "/ogc/collections/{dataset}/items/{id}", "OGC API", "one feature",
              ("dataset", "featureId", "crs", "ogcGeometry", "f"), (200, _GEOJSON, "Feature"),
              (_HTML,)),
    Operation("get", "/ogc/collections/{dataset}/queryables", "OGC API",
              "what filters, sortby and aggregates may name", ("dataset", "f"),
              (200, "application/schema+json", "Queryables"), (_HTML,)),
    Operation("get", "/ogc/collections/{dataset}/sortables", "OGC API",
              "what sortby may name (OGC API – Features Part 8 draft)", ("dataset", "f"),
              (200, "application/schema+json", "Queryables"), (_HTML,)),
    Operation("get", "/ogc/collections/{dataset}/schema", "OGC API",
              "a JSON Schema of the features (GeoJSON), what GDAL sets a layer's fields from",
              ("dataset",), (200, "application/schema+json", "Queryables")),
    Operation("get", "/ogc/collections/{dataset}/aggregate", "OGC API",
              "count, sum, avg, min, max of the filtered features, grouped by a property or bins",
              ("dataset", "groupby", "bins", "stats", *_ITEMS_Q),
              (200, _JSON, "Aggregate")),
    Operation("post", "/ngsi-ld/v1/entities", _N, "create an entity", _NGSI,
              (201, _JSON, None), body="Entity", write=True),
    Operation("get", "/ngsi-ld/v1/entities", _N, "query entities", (*_NGSI, *_QUERY),
              (200, _JSON, "Entities"), (_LD, _GEOJSON)),
    Operation("get", _E, _N, "retrieve an entity",
              ("entityId", *_NGSI, "attrs", "options", "lang"), (200, _JSON, "Entity"),
              (_LD, _GEOJSON)),
    Operation("put", _E, _N, "replace an entity", ("entityId", *_NGSI), (204, _JSON, None),
              body="Entity", write=True),
    Operation("patch", _E, _N, "merge into an entity", ("entityId", *_NGSI), (204, _JSON, None),
              body="Entity", write=True),
    Operation("delete", _E, _N, "delete an entity", ("entityId", *_NGSI), (204, _JSON, None),
              write=True),
    Operation("post", _E + "/attrs", _N, "append attributes", ("entityId", *_NGSI),
              (204, _JSON, None), body="Entity", write=True),
    Operation("patch", _E + "/attrs", _N, "update attributes", ("entityId", *_NGSI),
              (204, _JSON, None), body="Entity", write=True),
    Operation("patch", _A, _N, "partially update an attribute", ("entityId", "attrId", *_NGSI),
              (204, _JSON, None), body="Any", write=True),
    Operation("put", _A, _N, "replace an attribute", ("entityId", "attrId", *_NGSI),
              (204, _JSON, None), body="Any", write=True),
    Operation("delete", _A, _N, "delete an attribute", ("entityId", "attrId", *_NGSI),
              (204, _JSON, None), write=True),
    _batch("create", 201), _batch("upsert", 201), _batch("update", 204), _batch("merge", 204),
    _batch("delete", 204),
    Operation("post", "/ngsi-ld/v1/entityOperations/query", _N, "query entities (POST body)",
              _NGSI, (200, _JSON, "Entities"), body="Any"),
    Operation("get", "/ngsi-ld/v1/types", _N, "entity types", _NGSI),
    Operation("get", "/ngsi-ld/v1/types/{type}", _N, "one entity type", ("type", *_NGSI)),
    Operation("get", "/ngsi-ld/v1/attributes", _N, "attribute names", _NGSI),
    Operation("get", "/ngsi-ld/v1/attributes/{attrId}", _N, "one attribute",
              ("attrId", *_NGSI)),
    Operation("post", "/ngsi-ld/v1/subscriptions", _N, "create a subscription", _NGSI,
              (201, _JSON, None), body="Subscription", write=True),
    Operation("get", "/ngsi-ld/v1/subscriptions", _N, "list subscriptions",
              (*_NGSI, "ngsiLimit", "ngsiOffset", "count")),
    Operation("get", _SUB, _N, "retrieve a subscription", ("subscriptionId", *_NGSI),
              (200, _JSON, "Subscription")),
    Operation("patch", _SUB, _N, "update a subscription", ("subscriptionId", *_NGSI),
              (204, _JSON, None), body="Subscription", write=True),
    Operation("delete", _SUB, _N, "delete a subscription", ("subscriptionId", *_NGSI),
              (204, _JSON, None), write=True),
    Operation("get", "/ngsi-ld/v1/temporal/entities", _N, "query temporal evolution",
              (*_NGSI, "ngsiId", "ngsiType", "q", *_TEMPORAL, "ngsiLimit")),
    Operation("get", "/ngsi-ld/v1/temporal/entities/{entityId}", _N,
              "one entity's temporal evolution", ("entityId", *_NGSI, *_TEMPORAL)),
    Operation("delete", "/ngsi-ld/v1/temporal/entities/{entityId}", _N,
              "delete an entity's temporal evolution (its current state stays)",
              ("entityId", *_NGSI), (204, _JSON, None), write=True),
    Operation("post", "/ngsi-ld/v1/temporal/entities", _N,
              "create or add to an entity's temporal evolution (201 created, 204 added)", _NGSI,
              (201, _JSON, None), body="Entity", write=True),
    Operation("post", "/ngsi-ld/v1/temporal/entities/{entityId}/attrs", _N,
              "add attribute instances to an entity's temporal evolution",
              ("entityId", *_NGSI), (204, _JSON, None), body="Entity", write=True),
    Operation("delete", "/ngsi-ld/v1/temporal/entities/{entityId}/attrs/{attrId}", _N,
              "delete an attribute's temporal evolution",
              ("entityId", "attrId", *_NGSI, "datasetId", "deleteAll"), (204, _JSON, None),
              write=True),
    Operation("patch", _INSTANCE, _N, "modify one attribute instance of the temporal evolution",
              ("entityId", "attrId", "instanceId", *_NGSI), (204, _JSON, None), body="Entity",
              write=True),
    Operation("delete", _INSTANCE, _N, "delete one attribute instance of the temporal evolution",
              ("entityId", "attrId", "instanceId", *_NGSI), (204, _JSON, None), write=True),
    Operation("get", "/live", "live", "Server-Sent Events of joined value changes",
              ("liveDataset", "liveAttribute"), (200, "text/event-stream", None)),
    Operation("get", "/api/joined/{dataset}/{id}", "live", "one building's joined view",
              ("dataset", "featureId"), (200, _JSON, "Joined")),
    Operation("post", "/api/joined/{dataset}", "live", "many buildings' joined views",
              ("dataset",), body="Any"),
    Operation("get", "/healthz", "operations", "200 when the store can be read, else 503",
              ok=(200, _JSON, "Health")),
    Operation("get", "/openapi.json", "operations", "this document",
              ok=(200, OPENAPI_MEDIA, None)),
    Operation("get", "/openapi.html", "operations", "this document as HTML",
              ok=(200, _HTML, None)),
)  # fmt: skip
"""Every operation the server answers (HEAD and OPTIONS come with GET, for every path)."""


def _content(media: str, schema: str | None) -> dict[str, Any]:
    if schema is None or "json" not in media:
        return {media: {}}
    return {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _operation(op: Operation) -> dict[str, Any]:
    status, media, schema = op.ok
    content = _content(media, schema)
    for extra in op.alt:
        content.update(_content(extra, schema))
    problem = {"description": "a problem (RFC 9457)", "content": _content(
        "application/problem+json", "Problem")}  # fmt: skip
    responses: dict[str, Any] = {str(status): {"description": op.summary}}
    if status not in (204, 302):
        responses[str(status)]["content"] = content
    responses["default"] = problem
    found: dict[str, Any] = {
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": f"{op.method}{op.path}".replace("/", "_").translate(
            str.maketrans("", "", "{}.-")
        ),
        "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in op.params],
        "responses": responses,
    }
    if op.body is not None:
        found["requestBody"] = {"required": True, "content": {
            _JSON: {"schema": {"$ref": f"#/components/schemas/{op.body}"}},
            _LD: {"schema": {"$ref": f"#/components/schemas/{op.body}"}},
        }}  # fmt: skip
    if op.write:
        found["security"] = [{"bearer": []}]
    return found


def build_openapi(base: str) -> dict[str, Any]:
    """Return the OpenAPI 3.0.3 document of the server at ``base``.

    >>> doc = build_openapi("http://127.0.0.1:8000")
    >>> doc["openapi"], doc["servers"][0]["url"]
    ('3.0.3', 'http://127.0.0.1:8000')
    >>> sorted(doc["paths"]["/ngsi-ld/v1/entities"])
    ['get', 'post']
    """
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    tags = sorted({op.tag for op in OPERATIONS})
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "twin",
            "version": "0.1.0",
            "description": "3D city model server: OGC API – Features (Parts 1, 2, 3) over "
            "buildings with live NGSI-LD values joined on, the NGSI-LD API, 3D Tiles and /live.",
            "license": {"name": "Apache-2.0"},
        },
        "servers": [{"url": base}],
        "tags": [{"name": t} for t in tags],
        "paths": paths,
        "components": {
            "parameters": PARAMETERS,
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


async def get_openapi(request: web.Request) -> web.StreamResponse:
    """Answer the OpenAPI document, its server URL being the one the client used."""
    body = json.dumps(build_openapi(str(request.url.origin())), ensure_ascii=False)
    return web.Response(body=body.encode(), headers={"Content-Type": OPENAPI_MEDIA})


async def get_openapi_html(request: web.Request) -> web.StreamResponse:
    """Answer the OpenAPI document rendered as one static HTML page (no script, no CDN)."""
    doc = build_openapi(str(request.url.origin()))
    return web.Response(text=openapi_page(doc), content_type=_HTML)


def add_openapi_routes(app: web.Application) -> None:
    """Mount ``/openapi.json`` and ``/openapi.html``."""
    app.router.add_get("/openapi.json", get_openapi, name="openapi")
    app.router.add_get("/openapi.html", get_openapi_html, name="openapi_html")
