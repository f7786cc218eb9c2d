"""Reusable pieces of the OpenAPI document: parameters and schemas, by component name.

Operations of :mod:`twin.server.openapi` name these (``"limit"``, ``"FeatureCollection"``);
the document carries each once under ``components`` and refers to it with ``$ref``.
"""

from __future__ import annotations

from typing import Any, Final, Literal

__all__ = ["PARAMETERS", "SCHEMAS", "param"]

Where = Literal["query", "path", "header"]


def param(
    name: str, where: Where, description: str, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return one OpenAPI Parameter Object (path parameters are always required).

    >>> param("id", "path", "the id")["required"]
    True
    """
    found: dict[str, Any] = {
        "name": name,
        "in": where,
        "description": description,
        "schema": schema or {"type": "string"},
    }
    if where == "path":
        found["required"] = True
    return found


_STR: Final = {"type": "string"}
_CRS_URIS: Final = "a CRS URI of the collection's `crs` list"

PARAMETERS: Final[dict[str, dict[str, Any]]] = {
    "dataset": param("dataset", "path", "the dataset (collection id)"),
    "featureId": param("id", "path", "the city object's gml:id"),
    "path": param("path", "path", "a file of the tileset, relative to tileset.json"),
    "viewerPath": param("path", "path", "a file of the web viewer"),
    "limit": param(
        "limit", "query", "page size; values above 10000 are capped (follow the next link)",
        {"type": "integer", "minimum": 1, "default": 10},
    ),
    "offset": param(
        "offset", "query", "how many matching features to skip",
        {"type": "integer", "minimum": 0, "default": 0},
    ),
    "bbox": param(
        "bbox", "query", "minx,miny,maxx,maxy (or 6 numbers with heights) in `bbox-crs`",
        {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6},
    ),
    "bbox-crs": param("bbox-crs", "query", f"CRS of `bbox` ({_CRS_URIS}); CRS84 by default"),
    "crs": param("crs", "query", f"CRS of the answer's geometries ({_CRS_URIS}); CRS84 default"),
    "datetime": param(
        "datetime", "query", "RFC 3339 instant or interval (`start/end`, `..` open) matched "
        "against creationDate, else the import time",
    ),
    "filter": param("filter", "query", "a CQL2 filter over the queryables (live ones too)"),
    "filter-lang": param(
        "filter-lang", "query", "encoding of `filter`",
        {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"},
    ),
    "filter-crs": param(
        "filter-crs", "query", f"CRS of geometries in `filter` ({_CRS_URIS}); CRS84 by default"
    ),
    "sortby": param("sortby", "query", "comma-separated sortables, `-name` descending"),
    "ogcGeometry": param(
        "geometry", "query", "`footprint` (2D, the default) or `lod`: the LoD surfaces as a "
        "MultiPolygon Z in CRS84h (longitude, latitude, ellipsoidal height); `lod` answers in "
        "CRS84h only, so `crs` must be left out or be CRS84h",
        {"type": "string", "enum": ["footprint", "lod"], "default": "footprint"},
    ),
    "f": param(
        "f", "query", "representation (overrides Accept); csv (WKT) and parquet (GeoParquet "
        "1.1) export every match, streamed: limit and offset do not apply",
        {"type": "string", "enum": ["json", "html", "csv", "parquet"]},
    ),
    "groupby": param("groupby", "query", "a queryable whose distinct values form the groups"),
    "bins": param(
        "bins", "query", "`name:width`: group a numeric queryable into bins of that width"
    ),
    "stats": param(
        "stats", "query", "comma-separated `count`, `sum(name)`, `avg(name)`, `min(name)`, "
        "`max(name)`; `count` by default",
    ),
    "entityId": param("entityId", "path", "the entity's URI"),
    "attrId": param("attrId", "path", "an attribute name (compacted by the @context)"),
    "instanceId": param("instanceId", "path", "an attribute instance's instanceId (a URI)"),
    "type": param("type", "path", "an entity type"),
    "subscriptionId": param("subscriptionId", "path", "the subscription's URI"),
    "ngsiType": param("type", "query", "entity type selection (`A,B`, `A|B`)"),
    "ngsiId": param("id", "query", "comma-separated entity ids"),
    "idPattern": param("idPattern", "query", "a regular expression over entity ids"),
    "attrs": param("attrs", "query", "comma-separated attribute names to return"),
    "q": param("q", "query", "an NGSI-LD query (`energyUse>100;yearOfConstruction<1960`)"),
    "scopeQ": param("scopeQ", "query", "a scope query (`/Madrid/#`, `/A;/B`)"),
    "lang": param("lang", "query", "preferred languages of LanguageProperties (`en,de;q=0.8`)"),
    "datasetId": param("datasetId", "query", "the instances of this dataset only"),
    "deleteAll": param("deleteAll", "query", "every dataset's instances", {"type": "boolean"}),
    "georel": param("georel", "query", "near;maxDistance==…, within, intersects …"),
    "geometry": param("geometry", "query", "Point, Polygon … of `coordinates`"),
    "coordinates": param("coordinates", "query", "GeoJSON coordinates as JSON"),
    "options": param("options", "query", "keyValues, concise, sysAttrs, count …"),
    "ngsiLimit": param("limit", "query", "page size", {"type": "integer", "minimum": 0}),
    "ngsiOffset": param("offset", "query", "entities to skip", {"type": "integer", "minimum": 0}),
    "count": param("count", "query", "send NGSILD-Results-Count", {"type": "boolean"}),
    "timerel": param("timerel", "query", "before, after or between `timeAt`/`endTimeAt`"),
    "timeAt": param("timeAt", "query", "an RFC 3339 instant", {"type": "string",
                                                               "format": "date-time"}),
    "endTimeAt": param("endTimeAt", "query", "end of a `between` interval"),
    "lastN": param("lastN", "query", "the last N instances per attribute", {"type": "integer"}),
    "tenant": param("NGSILD-Tenant", "header", "the tenant (default: none)"),
    "link": param("Link", "header", "a JSON-LD @context link (`rel=...jsonld#context`)"),
    "liveDataset": param("dataset", "query", "comma-separated datasets to stream"),
    "liveAttribute": param("attribute", "query", "comma-separated attributes to stream"),
}  # fmt: skip
"""Every parameter an operation may name, under its component name."""

_LINK: Final = {
    "type": "object",
    "required": ["href", "rel"],
    "properties": {k: _STR for k in ("href", "rel", "type", "title")},
}
_LINKS: Final = {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}
_ANY: Final[dict[str, Any]] = {}
_NUMBERS: Final = {"type": "array", "items": {"type": "number"}}

SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "Link": _LINK,
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": _STR, "title": _STR, "status": {"type": "integer"}, "detail": _STR,
            "instance": _STR,
        },
    },
    "Landing": {"type": "object", "required": ["links"],
                "properties": {"title": _STR, "description": _STR, "links": _LINKS}},
    "Conformance": {"type": "object", "required": ["conformsTo"],
                    "properties": {"conformsTo": {"type": "array", "items": _STR}}},
    "Collection": {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": _STR, "title": _STR, "itemType": _STR, "links": _LINKS,
            "crs": {"type": "array", "items": _STR}, "storageCrs": _STR,
            "extent": {"type": "object", "properties": {"spatial": {
                "type": "object",
                "properties": {"bbox": {"type": "array", "items": _NUMBERS}, "crs": _STR},
            }}},
        },
    },
    "Collections": {
        "type": "object",
        "required": ["collections", "links"],
        "properties": {
            "collections": {"type": "array", "items": {"$ref": "#/components/schemas/Collection"}},
            "links": _LINKS,
        },
    },
    "Feature": {
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": _STR,
            "geometry": {"type": "object", "nullable": True,
                         "description": "the footprint, a GeoJSON Polygon or MultiPolygon"},
            "bbox": _NUMBERS,
            "properties": {
                "type": "object",
                "description": "static attributes, type, parent_id, lod, address and the "
                "live values joined on (see the collection's queryables)",
                "additionalProperties": True,
            },
            "links": _LINKS,
        },
    },
    "FeatureCollection": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
            "timeStamp": {"type": "string", "format": "date-time"},
            "links": _LINKS,
        },
    },
    "Queryables": {"type": "object", "description": "a JSON Schema (2020-12) of the properties",
                   "properties": {"properties": {"type": "object"}}},
    "Aggregate": {
        "type": "object",
        "required": ["groups"],
        "properties": {
            "groupby": _STR,
            "groups": {"type": "array", "items": {"type": "object", "properties": {
                "key": {"nullable": True, "description": "group value, or the bin's lower bound"},
                "count": {"type": "integer"},
            }, "additionalProperties": {"type": "number", "nullable": True}}},
        },
    },
    "Entity": {"type": "object", "required": ["id", "type"], "properties": {"id": _STR}},
    "Entities": {"type": "array", "items": {"$ref": "#/components/schemas/Entity"}},
    "BatchResult": {"type": "object", "properties": {
        "success": {"type": "array", "items": _STR}, "errors": {"type": "array", "items": _ANY}}},
    "Subscription": {"type": "object", "required": ["type"], "properties": {"id": _STR}},
    "Joined": {"type": "object", "description": "a building's static and live values",
               "properties": {"id": _STR, "static": {"type": "object"},
                              "live": {"type": "object"}}},
    "Health": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}},
    "Any": _ANY,
}  # fmt: skip
"""Every schema an operation may name, under its component name."""
