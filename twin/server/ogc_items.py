"""``/ogc/collections/{ds}/items`` and ``/queryables``: pages of joined features, CQL2 filters.

Items carry the joined view of each building (twin.ngsild.join through
:func:`twin.server.ngsild.live.collect_joined`): static attributes plus live values, under the
same id as the tiles and the NGSI-LD entity. A filter or ``sortby`` naming a live property
binds that property's current values (``{id: value}`` of the buildings that have live
context) into the SQL, so static and live conditions combine in one query.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any, Final, Literal, NotRequired, TypedDict

from aiohttp import web

from twin.model import BuildingRecord
from twin.ngsild.join import JoinedBuilding, joined_view
from twin.server.ngsild.live import collect_joined
from twin.server.ogc import GEOJSON, JSON, Feature, Link, feature_of, json_response, path_of
from twin.server.ogc_crs import (
    answer_crs,
    bbox_in_crs84,
    filter_to_crs84,
    reproject,
    set_lod_geometries,
)
from twin.server.ogc_html import items_page, queryables_page
from twin.server.ogc_params import (
    GeometryChoice,
    feature_query,
    filter_names,
    parse_geometry,
    sortable_names,
    wanted_format,
)
from twin.server.state import STORE, call_store
from twin.store import Store
from twin.store.buildings import building_entity_id
from twin.store.derived import DERIVED
from twin.store.features import FeatureQuery, JsonType, json_type, several_types

__all__ = [
    "FeatureCollection",
    "Queryables",
    "get_items",
    "get_queryables",
    "get_schema",
    "get_sortables",
    "live_properties",
    "mixed_live",
    "prepare_query",
]

_ITEM_FORMATS: Final = ("json", "html", "csv", "parquet")
_JSON_SCHEMA: Final = "https://json-schema.org/draft/2020-12/schema"
_LIVE_TYPES: Final[dict[type, JsonType]] = {
    bool: "boolean", int: "integer", float: "number", str: "string", dict: "object", list: "array",
    type(None): "null",
}  # fmt: skip


class FeatureCollection(TypedDict):
    """A GeoJSON FeatureCollection page as OGC API – Features answers it."""

    type: str
    features: list[Feature]
    numberMatched: int
    numberReturned: int
    timeStamp: str
    links: list[Link]


class QueryableProperty(TypedDict):
    """One property of the queryables schema."""

    title: NotRequired[str]
    type: NotRequired[str]
    format: NotRequired[str]
    description: NotRequired[str]


Queryables = TypedDict(
    "Queryables",
    {
        "$schema": str,
        "$id": str,
        "type": str,
        "title": str,
        "properties": dict[str, QueryableProperty],
        "additionalProperties": bool,
    },
)
"""The JSON Schema of a collection's queryables (OGC API – Features Part 3), sortables, or
its features' properties."""


def live_properties(store: Store, dataset: str) -> dict[str, dict[str, Any]]:
    """Return live property name -> ``{object id: value}`` over the dataset (blocking)."""
    ids = store.features.live_building_ids(dataset)
    views, _ = collect_joined(store, dataset, ids)
    values: dict[str, dict[str, Any]] = {}
    for view in views:
        for name, live in view["live"].items():
            values.setdefault(name, {})[view["id"]] = live["value"]
    return values


def mixed_live(live: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """Return the live properties whose values have several JSON types, integers and reals
    counting as one (as :attr:`twin.store.features.ValueHints.mixed` for attributes).

    >>> sorted(mixed_live({"a": {"b1": 3, "b2": 2.5, "b3": None}, "s": {"b1": 3, "b2": "x"}}))
    ['s']
    """
    return frozenset(
        name
        for name, by_id in live.items()
        if several_types(_LIVE_TYPES.get(type(v), "string") for v in by_id.values())
    )


def _known(store: Store, dataset: str) -> tuple[dict[str, JsonType], dict[str, dict[str, Any]]]:
    static = store.features.queryables(dataset)
    live = live_properties(store, dataset)
    known = dict(static)
    for name, by_id in live.items():
        if name not in known:
            kinds = Counter(_LIVE_TYPES.get(type(v), "string") for v in by_id.values())
            known[name] = json_type(kinds)
    return known, live


def prepare_query(
    store: Store,
    dataset: str,
    query: Mapping[str, str],
    *,
    with_live: bool = False,
    also: Collection[str] = (),
) -> tuple[FeatureQuery, dict[str, JsonType], dict[str, dict[str, Any]]]:
    """Check an items request's parameters against the dataset (blocking).

    Returns the query, the queryables it was checked against and the live values read (all of
    them when ``with_live``, else only when the filter, sortby or ``also`` names a live one).
    """
    info = store.get_dataset(dataset)
    query = bbox_in_crs84(query, info)
    to_crs84 = filter_to_crs84(query, info)
    static = store.features.queryables(dataset)
    live: dict[str, dict[str, Any]] = {}
    known = static
    if with_live or (filter_names(query) | set(also)) - set(static):
        known, live = _known(store, dataset)
    bound = {name: json.dumps(v, ensure_ascii=False) for name, v in live.items()}
    attribute_of = {new: old for old, new in store.features.renamed(dataset).items()}
    fq = feature_query(dataset, query, known, bound, to_crs84, attribute_of)
    return fq, known, live


def _search(
    store: Store, dataset: str, query: Mapping[str, str], geometry: GeometryChoice
) -> tuple[FeatureQuery, int, list[BuildingRecord], list[dict[str, Any]], dict[str, bytes]]:
    """Run one items request against the store (blocking; in a worker thread).

    Returns the query, numberMatched, the page's records, their live values and, when
    ``geometry`` is ``lod``, their LoD surfaces (WKB) by id.
    """
    fq, _, _ = prepare_query(store, dataset, query)
    records = store.features.page(fq)
    if fq.limit is not None and len(records) < fq.limit and (records or fq.offset == 0):
        matched = fq.offset + len(records)  # the last page: no second pass to count
    else:
        matched = store.features.count(fq)
    ids = [r.id for r in records]
    lods = store.features.lod_geometries(dataset, ids) if geometry == "lod" else {}
    by_id = {v["id"]: v for v in _joined(store, dataset, records)}
    lives = [
        {k: v["value"] for k, v in by_id[r.id]["live"].items()} if r.id in by_id else {}
        for r in records
    ]
    return fq, matched, records, lives, lods


def _joined(store: Store, dataset: str, records: list[BuildingRecord]) -> list[JoinedBuilding]:
    """Return the joined views of a page's buildings, from the records already read."""
    buildings = [r for r in records if r.type == "Building"]
    entity_ids = [building_entity_id(dataset, r.id) for r in buildings]
    own = store.entities.get_many("", entity_ids)
    related: dict[str, list[tuple[str, dict[str, Any]]]] = {e: [] for e in entity_ids}
    for target, attr, body in store.entities.referring("", entity_ids):
        related[target].append((attr, body))
    return [
        joined_view(dataset, r.id, eid, r.attributes, own.get(eid), related[eid])
        for r, eid in zip(buildings, entity_ids, strict=True)
    ]


def _page_link(request: web.Request, rel: str, offset: int, limit: int, kind: str) -> Link:
    url = request.url.update_query(offset=str(offset), limit=str(limit))
    return {"href": str(url), "rel": rel, "type": kind}


async def get_items(request: web.Request) -> web.StreamResponse:
    """GET items: one page of features (GeoJSON or HTML) with paging links and counts."""
    dataset = request.match_info["dataset"]
    fmt = wanted_format(request.query, request.headers.get("Accept", ""), _ITEM_FORMATS)
    if fmt in ("csv", "parquet"):
        from twin.server.ogc_export import export_items

        return await export_items(request, dataset, fmt)
    info = await call_store(request.app[STORE].get_dataset, dataset)
    geometry = parse_geometry(request.query)
    crs, transform = answer_crs(request.query, info, geometry)
    fq, matched, records, lives, lods = await call_store(
        _search, request.app[STORE], dataset, request.query, geometry
    )
    renamed = {own: new for new, own in fq.attribute_of.items()}
    base = str(request.url.origin())
    features = []
    for record, live in zip(records, lives, strict=True):
        feature = feature_of(record, base, renamed)
        feature["properties"].update(
            {k: v for k, v in live.items() if k not in feature["properties"]}
        )
        features.append(feature)
    if geometry == "lod":
        set_lod_geometries(features, lods)
    if transform is not None:
        reproject(features, transform)
    limit = fq.limit or 0
    links: list[Link] = [
        {
            "href": str(request.url),
            "rel": "self",
            "type": GEOJSON if fmt == "json" else "text/html",
        },
        {"href": str(request.url.update_query(f="html")), "rel": "alternate", "type": "text/html"},
        {"href": base + path_of("ogc", "collections", dataset), "rel": "collection", "type": JSON},
    ]
    if fq.offset + len(records) < matched:
        links.append(_page_link(request, "next", fq.offset + limit, limit, GEOJSON))
    if fq.offset > 0:
        links.append(_page_link(request, "prev", max(0, fq.offset - limit), limit, GEOJSON))
    body: FeatureCollection = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    if fmt == "html":
        return web.Response(text=items_page(dataset, body), content_type="text/html")
    response = json_response(body, GEOJSON)
    response.headers["Content-Crs"] = f"<{crs}>"
    return response


async def get_queryables(request: web.Request) -> web.StreamResponse:
    """GET queryables: a JSON Schema of the properties filters and sortby may name."""
    return await _property_schema(request, "queryables")


async def get_sortables(request: web.Request) -> web.StreamResponse:
    """GET sortables: a JSON Schema of the properties ``sortby`` accepts.

    OGC API – Features Part 8 (Sorting, draft): like the queryables resource, the properties
    a client may sort by; here every queryable except the geometry and objects or arrays.
    """
    return await _property_schema(request, "sortables")


async def get_schema(request: web.Request) -> web.StreamResponse:
    """GET schema: a JSON Schema of the collection's GeoJSON features (``describedby``).

    GDAL's OAPIF driver sets a layer's fields from it; without one, from the first page of
    features, dropping a property first met further on.
    """
    return await _property_schema(request, "schema")


async def _property_schema(
    request: web.Request, kind: Literal["queryables", "sortables", "schema"]
) -> web.StreamResponse:
    dataset = request.match_info["dataset"]
    store = request.app[STORE]
    await call_store(store.get_dataset, dataset)
    known, live = await call_store(_known, store, dataset)
    hints = await call_store(store.features.value_hints, dataset)
    mixed = hints.mixed | mixed_live(live)
    properties: dict[str, QueryableProperty] = {}
    if kind == "queryables":
        properties["geometry"] = {"format": "geometry-any", "description": "footprint (CRS84)"}
    derived = {d.name: d.description for d in DERIVED}
    names = sortable_names(known) if kind == "sortables" else known
    for name in names:
        prop: QueryableProperty = {"title": name, "type": known[name]}
        if name in hints.dates and known[name] == "string":
            prop["format"] = "date"
        if name in hints.wide_integers and kind == "schema":
            prop["type"] = "number"  # GDAL makes an "integer" a 32-bit field, cutting values
        if name in mixed and kind == "schema":
            prop["type"] = "string"  # as exported; GDAL would parse "3a" as 3, true as 0
        if name in derived:
            prop["description"] = derived[name]
        elif name in live:
            prop["description"] = "live value (NGSI-LD), joined onto the building"
        properties[name] = prop
    here = str(request.url.origin()) + path_of("ogc", "collections", dataset, kind)
    body: Queryables = {
        "$schema": _JSON_SCHEMA,
        "$id": here,
        "type": "object",
        "title": dataset,
        "properties": properties,
        "additionalProperties": False,
    }
    if kind == "schema":
        return json_response(_feature_schema(body), "application/schema+json")
    fmt = wanted_format(request.query, request.headers.get("Accept", ""), ("json", "html"))
    if fmt == "html":
        return web.Response(text=queryables_page(dataset, body, kind), content_type="text/html")
    return json_response(body, "application/schema+json")


def _feature_schema(properties: Queryables) -> dict[str, Any]:
    """Return the schema of a GeoJSON Feature whose ``properties`` are as ``properties`` says
    (its ``id`` is the feature's own; ``address`` the object of :func:`feature_of`)."""
    members = {k: v for k, v in properties["properties"].items() if k != "id"}
    members["address"] = {"title": "address", "type": "object"}
    inner: dict[str, Any] = {"type": "object", "properties": members}
    return {
        **properties,
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": {"format": "geometry-any", "description": "footprint (CRS84)"},
            "properties": inner,
        },
        "additionalProperties": True,
    }
