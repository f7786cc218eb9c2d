"""``/ogc/``: OGC API – Features collections (one per dataset) and single items.

Shapes follow OGC API – Features Part 1 (17-069r4): a collection has ``id``, ``title``,
``itemType``, ``extent`` and ``links``; an item is a GeoJSON Feature. Each collection also links
its 3D Tiles tileset (``rel: alternate``), which is how the viewer finds it. Coordinates are
CRS84h: longitude, latitude in degrees, ellipsoidal height in metres.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final, NotRequired, TypedDict
from urllib.parse import quote

from aiohttp import web

from twin.model import BuildingRecord, DatasetInfo
from twin.server.state import STORE, call_store

__all__ = [
    "CRS84H",
    "Collection",
    "Feature",
    "Link",
    "add_ogc_routes",
    "collection_of",
    "feature_of",
]

CRS84H: Final = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
GEOJSON: Final = "application/geo+json"
JSON: Final = "application/json"


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
    links: list[Link]


class Feature(TypedDict):
    """A GeoJSON Feature (RFC 7946) with OGC API links."""

    type: str
    id: str
    geometry: object
    bbox: list[float]
    properties: dict[str, object]
    links: list[Link]


def _path(*segments: str) -> str:
    return "/" + "/".join(quote(s, safe=":@") for s in segments)


def collection_of(info: DatasetInfo, base: str) -> Collection:
    """Return the collection describing one dataset.

    Parameters
    ----------
    info : DatasetInfo
        The dataset.
    base : str
        Scheme, host and port of the server (``http://127.0.0.1:8000``), for absolute links.
    """
    here = base + _path("ogc", "collections", info.name)
    collection: Collection = {
        "id": info.name,
        "title": info.title,
        "itemType": "feature",
        "links": [
            {"href": here, "rel": "self", "type": JSON, "title": "this collection"},
            {"href": here + "/items", "rel": "items", "type": GEOJSON, "title": "its features"},
            {
                "href": base + _path("tiles", info.name, "tileset.json"),
                "rel": "alternate",
                "type": JSON,
                "title": "3D Tiles 1.1 tileset",
            },
        ],
    }
    if info.bbox_wgs84 is not None:
        collection["extent"] = {"spatial": {"bbox": [list(info.bbox_wgs84)], "crs": CRS84H}}
    return collection


def feature_of(record: BuildingRecord, base: str) -> Feature:
    """Return a city object as a GeoJSON Feature.

    ``properties`` holds ``type``, ``parent_id``, ``lod``, every attribute and ``address`` (the
    fields that are set); these four names win over attributes that share them.
    """
    collection = base + _path("ogc", "collections", record.dataset)
    properties: dict[str, object] = dict(record.attributes)
    properties.update(type=record.type, parent_id=record.parent_id, lod=record.lod)
    properties["address"] = None if record.address is None else record.address.as_dict()
    return {
        "type": "Feature",
        "id": record.id,
        "geometry": record.footprint,
        "bbox": list(record.bbox_wgs84),
        "properties": properties,
        "links": [
            {"href": collection + _path("items", record.id), "rel": "self", "type": GEOJSON},
            {"href": collection, "rel": "collection", "type": JSON},
        ],
    }


def _json_default(value: object) -> str:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _json(body: Any, content_type: str = JSON) -> web.Response:
    text = json.dumps(body, default=_json_default, ensure_ascii=False)
    return web.Response(text=text, content_type=content_type)


def _base(request: web.Request) -> str:
    return str(request.url.origin())


async def get_collections(request: web.Request) -> web.StreamResponse:
    """List one collection per dataset."""
    base = _base(request)
    datasets = await call_store(request.app[STORE].list_datasets)
    links: list[Link] = [
        {"href": base + "/ogc/collections", "rel": "self", "type": JSON, "title": "collections"}
    ]
    return _json({"collections": [collection_of(d, base) for d in datasets], "links": links})


async def get_collection(request: web.Request) -> web.StreamResponse:
    """Describe one dataset's collection."""
    info = await call_store(request.app[STORE].get_dataset, request.match_info["dataset"])
    return _json(collection_of(info, _base(request)))


async def get_item(request: web.Request) -> web.StreamResponse:
    """Return one city object as a GeoJSON Feature; its id arrives percent-decoded."""
    store = request.app[STORE]
    record = await call_store(
        store.get_object, request.match_info["dataset"], request.match_info["id"]
    )
    return _json(feature_of(record, _base(request)), GEOJSON)


def add_ogc_routes(app: web.Application) -> None:
    """Mount the collections under ``/ogc/``."""
    app.router.add_get("/ogc/collections", get_collections, name="collections")
    app.router.add_get("/ogc/collections/{dataset}", get_collection, name="collection")
    app.router.add_get("/ogc/collections/{dataset}/items/{id}", get_item, name="item")
