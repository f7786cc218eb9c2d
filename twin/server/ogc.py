"""``/ogc/``: OGC API – Features collections (one per dataset) and single items.

Shapes follow OGC API – Features Part 1 (17-069r4): a collection has ``id``, ``title``,
``itemType``, ``extent`` and ``links``; an item is a GeoJSON Feature. Each collection also links
its 3D Tiles tileset (``rel: alternate``), which is how the viewer finds it. Coordinates are
CRS84h: longitude, latitude in degrees, ellipsoidal height in metres.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final, NotRequired, TypedDict
from urllib.parse import quote

from aiohttp import web

from twin.model import BuildingRecord, DatasetInfo
from twin.server.ngsild.live import collect_joined
from twin.server.ogc_crs import (
    CRS84H,
    answer_crs,
    offered_crs,
    reproject,
    set_lod_geometries,
)
from twin.server.ogc_html import (
    collection_page,
    collections_page,
    item_page,
    landing_page,
)
from twin.server.ogc_params import parse_geometry, wanted_format
from twin.server.state import STORE, call_store
from twin.store.derived import catalog_attributes, derived_values

__all__ = [
    "CRS84H",
    "GEOJSON",
    "JSON",
    "Collection",
    "Feature",
    "Link",
    "add_ogc_routes",
    "collection_of",
    "feature_of",
    "json_response",
    "path_of",
]

GEOJSON: Final = "application/geo+json"
JSON: Final = "application/json"
HTML: Final = "text/html"
OPENAPI: Final = "application/vnd.oai.openapi+json;version=3.0"
DESCRIPTION: Final = (
    "Buildings of every imported city as OGC API – Features collections (one per dataset), "
    "with their live NGSI-LD values joined on, CQL2 filters, and a link to each 3D tileset."
)
REPORT_SUMMARY: Final = ("seconds", "stage_seconds", "objects")
"""Members of a dataset's import report its collection carries: the import's timings (total
and per stage: read, tile, publish) and object counts, not its lists of rejections."""
_CONF: Final = "http://www.opengis.net/spec/"
CONFORMANCE: Final = (
    _CONF + "ogcapi-features-1/1.0/conf/core",
    _CONF + "ogcapi-features-1/1.0/conf/geojson",
    _CONF + "ogcapi-features-1/1.0/conf/html",
    _CONF + "ogcapi-features-1/1.0/conf/oas30",
    _CONF + "ogcapi-features-2/1.0/conf/crs",
    _CONF + "ogcapi-features-3/1.0/conf/queryables",
    _CONF + "ogcapi-features-3/1.0/conf/queryables-query-parameters",
    _CONF + "ogcapi-features-3/1.0/conf/filter",
    _CONF + "ogcapi-features-3/1.0/conf/features-filter",
    _CONF + "cql2/1.0/conf/cql2-text",
    _CONF + "cql2/1.0/conf/cql2-json",
    _CONF + "cql2/1.0/conf/basic-cql2",
    _CONF + "cql2/1.0/conf/advanced-comparison-operators",
    _CONF + "cql2/1.0/conf/basic-spatial-functions",
    _CONF + "cql2/1.0/conf/basic-spatial-functions-plus",
    _CONF + "cql2/1.0/conf/spatial-functions",
    _CONF + "cql2/1.0/conf/property-property",
    _CONF + "cql2/1.0/conf/arithmetic",
)
"""What ``/ogc/conformance`` declares: only what is implemented and tested."""
CRS84: Final = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class Link(TypedDict):
    """A web link as OGC API writes it (RFC 8288 in JSON)."""

    href: str
    rel: str
    type: str
    title: NotRequired[str]


class SpatialExtent(TypedDict):
    bbox: list[list[float]]
    crs: str


class Extent(TypedDict):
    spatial: SpatialExtent


class Collection(TypedDict):
    """One collection of ``/ogc/collections``."""

    id: str
    title: str
    itemType: str
    extent: NotRequired[Extent]
    crs: list[str]
    storageCrs: str
    links: list[Link]
    surfaceAreas: NotRequired[dict[str, float]]
    importReport: NotRequired[dict[str, object]]


class Feature(TypedDict):
    """A GeoJSON Feature (RFC 7946) with OGC API links."""

    type: str
    id: str
    geometry: object
    bbox: list[float]
    properties: dict[str, object]
    links: list[Link]


def path_of(*segments: str) -> str:
    return "/" + "/".join(quote(s, safe=":@") for s in segments)


def collection_of(info: DatasetInfo, base: str) -> Collection:
    """Return the collection describing one dataset.

    Beside the members of OGC API – Features, ``surfaceAreas`` gives the dataset's summed
    triangle area (m²) per surface class (``roof``, ``wall``, ``ground`` …) when known, and
    ``importReport`` the :data:`REPORT_SUMMARY` members of the import report stored with the
    dataset (the whole report is ``import-report.json`` beside its tileset).

    Parameters
    ----------
    info : DatasetInfo
        The dataset.
    base : str
        Scheme, host and port of the server (``http://127.0.0.1:8000``), for absolute links.
    """
    here = base + path_of("ogc", "collections", info.name)
    collection: Collection = {
        "id": info.name,
        "title": info.title,
        "itemType": "feature",
        "crs": offered_crs(info),
        "storageCrs": CRS84,
        "links": [
            {"href": here, "rel": "self", "type": JSON, "title": "this collection"},
            {"href": here + "/items", "rel": "items", "type": GEOJSON, "title": "its features"},
            {
                "href": here + "/queryables",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "title": "what filters may name",
            },
            {
                "href": here + "/sortables",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/sortables",
                "type": "application/schema+json",
                "title": "what sortby may name",
            },
            {
                # RFC 8288 2.1.1 compares relation types case-insensitively; GDAL 3.6
                # looks for this spelling only (later versions for any case)
                "href": here + "/schema",
                "rel": "describedBy",
                "type": "application/schema+json",
                "title": "the schema of its features",
            },
            {
                "href": base + path_of("tiles", info.name, "tileset.json"),
                "rel": "alternate",
                "type": JSON,
                "title": "3D Tiles 1.1 tileset",
            },
        ],
    }
    if info.bbox_wgs84 is not None:
        collection["extent"] = {"spatial": {"bbox": [list(info.bbox_wgs84)], "crs": CRS84H}}
    if info.surface_areas_m2:
        collection["surfaceAreas"] = dict(info.surface_areas_m2)
    if summary := {k: info.report[k] for k in REPORT_SUMMARY if k in info.report}:
        collection["importReport"] = summary
    return collection


def feature_of(record: BuildingRecord, base: str, renamed: Mapping[str, str]) -> Feature:
    """Return a city object as a GeoJSON Feature.

    ``properties`` holds ``type``, ``parent_id``, ``lod``, every attribute, ``address`` (the
    fields that are set) and the derived properties that are known (schema.org address
    fields, 3D measures; :mod:`twin.store.derived`). An attribute named like one of these
    is kept under the new name ``renamed`` gives it (the dataset's
    :func:`twin.store.derived.catalog_names`: ``type`` → ``type_2``).
    """
    collection = base + path_of("ogc", "collections", record.dataset)
    properties: dict[str, object] = dict(catalog_attributes(record.attributes, renamed))
    properties.update(type=record.type, parent_id=record.parent_id, lod=record.lod)
    properties["address"] = None if record.address is None else record.address.as_dict()
    properties.update((k, v) for k, v in derived_values(record).items() if v is not None)
    return {
        "type": "Feature",
        "id": record.id,
        "geometry": record.footprint,
        "bbox": list(record.bbox_wgs84),
        "properties": properties,
        "links": [
            {"href": collection + path_of("items", record.id), "rel": "self", "type": GEOJSON},
            {"href": collection, "rel": "collection", "type": JSON},
        ],
    }


def _json_default(value: object) -> str:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def json_response(body: Any, content_type: str = JSON) -> web.Response:
    text = json.dumps(body, default=_json_default, ensure_ascii=False)
    return web.Response(text=text, content_type=content_type)


def _base(request: web.Request) -> str:
    return str(request.url.origin())


def _negotiate(request: web.Request) -> str:
    return wanted_format(request.query, request.headers.get("Accept", ""), ("json", "html"))


async def get_landing(request: web.Request) -> web.StreamResponse:
    """The landing page: what this API is and where its parts are."""
    base = _base(request)
    links: list[Link] = [
        {"href": base + "/ogc", "rel": "self", "type": JSON, "title": "this document"},
        {"href": base + "/ogc?f=html", "rel": "alternate", "type": HTML, "title": "as HTML"},
        {"href": base + "/openapi.json", "rel": "service-desc", "type": OPENAPI,
         "title": "the API definition"},
        {"href": base + "/openapi.html", "rel": "service-doc", "type": HTML,
         "title": "the API documentation"},
        {"href": base + "/ogc/conformance", "rel": "conformance", "type": JSON,
         "title": "conformance classes implemented"},
        {"href": base + "/ogc/collections", "rel": "data", "type": JSON,
         "title": "the collections, one per dataset"},
    ]  # fmt: skip
    body = {"title": "twin", "description": DESCRIPTION, "links": links}
    if _negotiate(request) == "html":
        return web.Response(text=landing_page(body), content_type=HTML)
    return json_response(body)


async def get_conformance(request: web.Request) -> web.StreamResponse:
    """The conformance classes this server implements (and only those)."""
    return json_response({"conformsTo": list(CONFORMANCE)})


async def get_collections(request: web.Request) -> web.StreamResponse:
    """List one collection per dataset."""
    base = _base(request)
    datasets = await call_store(request.app[STORE].list_datasets)
    links: list[Link] = [
        {"href": base + "/ogc/collections", "rel": "self", "type": JSON, "title": "collections"}
    ]
    body = {"collections": [collection_of(d, base) for d in datasets], "links": links}
    if _negotiate(request) == "html":
        return web.Response(text=collections_page(body), content_type=HTML)
    return json_response(body)


async def get_collection(request: web.Request) -> web.StreamResponse:
    """Describe one dataset's collection."""
    info = await call_store(request.app[STORE].get_dataset, request.match_info["dataset"])
    body = collection_of(info, _base(request))
    if _negotiate(request) == "html":
        return web.Response(text=collection_page(body), content_type=HTML)
    return json_response(body)


async def get_item(request: web.Request) -> web.StreamResponse:
    """Return one city object (its joined view) as a GeoJSON Feature; its id arrives decoded."""
    store = request.app[STORE]
    dataset, object_id = request.match_info["dataset"], request.match_info["id"]
    fmt = _negotiate(request)
    info = await call_store(store.get_dataset, dataset)
    geometry = parse_geometry(request.query)
    crs, transform = answer_crs(request.query, info, geometry)
    record = await call_store(store.get_object, dataset, object_id)
    renamed = await call_store(store.features.renamed, dataset)
    feature = feature_of(record, _base(request), renamed)
    if geometry == "lod":
        wkbs = await call_store(store.features.lod_geometries, dataset, [object_id])
        set_lod_geometries([feature], wkbs)
    views, _ = await call_store(collect_joined, store, dataset, [object_id])
    for name, live in (views[0]["live"] if views else {}).items():
        feature["properties"].setdefault(name, live["value"])
    if transform is not None:
        reproject([feature], transform)
    if fmt == "html":
        return web.Response(text=item_page(feature), content_type=HTML)
    response = json_response(feature, GEOJSON)
    response.headers["Content-Crs"] = f"<{crs}>"
    return response


def add_ogc_routes(app: web.Application) -> None:
    """Mount OGC API – Features under ``/ogc``."""
    from twin.server.ogc_aggregate import get_aggregate
    from twin.server.ogc_items import get_items, get_queryables, get_schema, get_sortables

    app.router.add_get("/ogc", get_landing, name="ogc")
    app.router.add_get("/ogc/", get_landing)
    app.router.add_get("/ogc/conformance", get_conformance, name="conformance")
    app.router.add_get("/ogc/collections", get_collections, name="collections")
    app.router.add_get("/ogc/collections/{dataset}", get_collection, name="collection")
    app.router.add_get("/ogc/collections/{dataset}/items", get_items, name="items")
    app.router.add_get("/ogc/collections/{dataset}/queryables", get_queryables)
    app.router.add_get("/ogc/collections/{dataset}/sortables", get_sortables)
    app.router.add_get("/ogc/collections/{dataset}/schema", get_schema)
    app.router.add_get("/ogc/collections/{dataset}/aggregate", get_aggregate, name="aggregate")
    app.router.add_get("/ogc/collections/{dataset}/items/{id}", get_item, name="item")
