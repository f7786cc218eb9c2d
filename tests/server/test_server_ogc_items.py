"""``/ogc``: landing, conformance, items (paging, bbox, datetime, CQL2, sortby, live), queryables.

A grid city of 30 buildings; expected ids are computed from the records with plain Python.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

import pytest
import shapely.geometry
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from twin.model import BuildingRecord, DatasetInfo
from twin.server import create_app
from twin.store import SQLiteStore

Client: TypeAlias = TestClient[web.Request, web.Application]

N = 30
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


def _record(i: int) -> BuildingRecord:
    x, y = 8.0 + (i % 6) * 0.001, 49.0 + (i // 6) * 0.001
    ring = [[x, y], [x + 0.0005, y], [x + 0.0005, y + 0.0005], [x, y + 0.0005], [x, y]]
    attributes: dict[str, Any] = {
        "measuredHeight": 5.0 + i,
        "yearOfConstruction": 1900 + 5 * i,
        "name": f"house {i:02d}",
    }
    if i % 3 == 0:
        attributes["creationDate"] = dt.date(2000 + i % 20, 1, 1)
    return BuildingRecord(
        dataset="grid",
        id=f"B{i:02d}",
        type="Building",
        bbox_wgs84=(x, y, 100.0, x + 0.0005, y + 0.0005, 110.0 + i),
        footprint={"type": "Polygon", "coordinates": [ring]},
        attributes=attributes,
    )


RECORDS = [_record(i) for i in range(N)]
IMPORTED = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


def _ids(keep: Callable[[BuildingRecord], bool]) -> list[str]:
    return sorted(r.id for r in RECORDS if keep(r))


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    store = SQLiteStore(tmp_path / "data")
    info = DatasetInfo(
        "grid", "Grid city", "EPSG:4326", N, (8.0, 49.0, 100, 8.006, 49.005, 140), IMPORTED
    )
    store.publish(info, RECORDS, store.staging_dir("grid"))
    (tmp_path / "viewer").mkdir()
    return await aiohttp_client(create_app(store, viewer_dir=tmp_path / "viewer"))


async def write_live(client: Client, name: str, values: dict[str, Any]) -> None:
    """Write the live property ``name`` on grid buildings: object id -> value (NGSI-LD)."""
    for object_id, value in values.items():
        resp = await client.post(
            f"/ngsi-ld/v1/entities/urn:ngsi-ld:Building:grid:{object_id}/attrs",
            json={name: {"type": "Property", "value": value}},
        )
        assert resp.status == 204, await resp.text()


async def _items(client: Client, **params: str) -> dict[str, Any]:
    resp = await client.get("/ogc/collections/grid/items", params=params)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/geo+json"
    body: dict[str, Any] = await resp.json(content_type=None)
    return body


async def _all_ids(client: Client, **params: str) -> list[str]:
    body = await _items(client, limit="1000", **params)
    assert body["numberMatched"] == body["numberReturned"]
    return sorted(f["id"] for f in body["features"])


async def test_landing_links_its_parts(client: Client) -> None:
    body = await (await client.get("/ogc")).json()
    rels = {link["rel"]: link["href"].split("/", 3)[3] for link in body["links"]}
    assert rels["service-desc"] == "openapi.json"
    assert rels["conformance"] == "ogc/conformance"
    assert rels["data"] == "ogc/collections"


async def test_conformance_declares_core_and_filter(client: Client) -> None:
    body = await (await client.get("/ogc/conformance")).json()
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in body["conformsTo"]
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in body["conformsTo"]


async def test_default_page_has_ten_and_a_next_link(client: Client) -> None:
    body = await _items(client)
    assert [f["id"] for f in body["features"]] == [f"B{i:02d}" for i in range(10)]
    assert (body["numberMatched"], body["numberReturned"]) == (N, 10)
    rels = {link["rel"] for link in body["links"]}
    assert "next" in rels
    assert "prev" not in rels
    assert body["timeStamp"].endswith("Z")


async def test_following_next_and_prev_links_walks_the_pages(client: Client) -> None:
    body = await _items(client, limit="12")
    seen = [f["id"] for f in body["features"]]
    while nxt := [x for x in body["links"] if x["rel"] == "next"]:
        resp = await client.get(nxt[0]["href"].split("/", 3)[3].join(["/", ""]))
        body = await resp.json(content_type=None)
        seen += [f["id"] for f in body["features"]]
    assert seen == [r.id for r in RECORDS]
    (prev,) = [x for x in body["links"] if x["rel"] == "prev"]
    assert "offset=12" in prev["href"]


async def test_limit_above_the_maximum_is_capped(client: Client) -> None:
    body = await _items(client, limit="20000", offset="28")
    assert [f["id"] for f in body["features"]] == ["B28", "B29"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"limit": "0"}, "limit must be at least 1, got 0"),
        ({"limit": "ten"}, "limit must be an integer, got 'ten'"),
        ({"offset": "-1"}, "offset must be at least 0, got -1"),
        ({"bbox": "1,2,3"}, "bbox must be 4 or 6 comma-separated numbers, got '1,2,3'"),
        (
            {"datetime": "yesterday"},
            "datetime 'yesterday': 'yesterday' is not an RFC 3339 date or time",
        ),
        (
            {"filter": "measuredHeight >"},
            "invalid CQL2 filter at line 1, column 17: unexpected end of input",
        ),
        (
            {"filter": "measuredHeight > > 3"},
            "invalid CQL2 filter at line 1, column 18: unexpected '>'",
        ),
        ({"filter-lang": "sql"}, "filter-lang must be cql2-text or cql2-json, got 'sql'"),
        (
            {"filter": '{"op": ', "filter-lang": "cql2-json"},
            "invalid CQL2 JSON at line 1, column 8: Expecting value",
        ),
        (
            {"filter": "colour = 'red'"},
            "unknown property colour; the queryables are: creationDate, id, lod, "
            "measuredHeight, name, parent_id, type, yearOfConstruction",
        ),
        (
            {"sortby": "-nope"},
            "cannot sort by nope; the sortables are: "
            "creationDate, id, lod, measuredHeight, name, parent_id, type, yearOfConstruction",
        ),
        (
            {"filter": "measuredHeight > 99999999999999999999999"},
            "the integer 99999999999999999999999 is out of range (64 bits)",
        ),
        ({"filter": "name LIKE 3"}, "LIKE needs a string pattern, got 3"),
        ({"filter": "geometry = 3"}, "geometry can only be used in spatial operators"),
        (
            {"filter": "S_INTERSECTS(lod, POINT(1 2))"},
            "spatial operators compare the geometry property with a geometry",
        ),
        ({"filter": "ACCENTI(name) = 'x'"}, "unsupported CQL2 function accenti"),
        ({"f": "xml"}, "f='xml' is not offered here; use one of: json, html, csv, parquet"),
        ({"yearOfConstruction": "old"}, "yearOfConstruction must be an integer, got 'old'"),
        ({"measuredHeight": "nan"}, "measuredHeight must be a number, got 'nan'"),
    ],
)
async def test_bad_parameters_are_400_problems(
    client: Client, params: dict[str, str], detail: str
) -> None:
    resp = await client.get("/ogc/collections/grid/items", params=params)
    assert resp.status == 400
    body = await resp.json(content_type=None)
    assert (body["type"], body["title"], body["detail"]) == ("about:blank", "Bad Request", detail)


async def test_bbox_uses_the_footprints(client: Client) -> None:
    # The box covers the first building's footprint corner only (x < 8.0002, y < 49.0002).
    ids = await _all_ids(client, bbox="7.9,48.9,8.0002,49.0002")
    assert ids == ["B00"]
    six = await _all_ids(client, bbox="7.9,48.9,0,8.0015,49.0015,1000")
    assert six == _ids(
        lambda r: r.footprint is not None and r.bbox_wgs84[0] < 8.0015 and r.bbox_wgs84[1] < 49.0015
    )


async def test_bbox_in_epsg_4326_is_lat_lon(client: Client) -> None:
    ids = await _all_ids(
        client,
        bbox="48.9,7.9,49.0002,8.0002",
        **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
    )
    assert ids == ["B00"]


def _crosses_antimeridian_box(r: BuildingRecord) -> bool:
    """Whether a footprint meets the box from 8.0002°E east across 180° to 7.9°E, 48.9–49.0002°N."""
    footprint = shapely.geometry.shape(r.footprint)
    east = shapely.box(8.0002, 48.9, 180, 49.0002)
    west = shapely.box(-180, 48.9, 7.9, 49.0002)
    return bool(footprint.intersects(east) or footprint.intersects(west))


@pytest.mark.parametrize(
    ("bbox", "crs"),
    [
        ("8.0002,48.9,7.9,49.0002", CRS84),
        ("48.9,8.0002,49.0002,7.9", EPSG4326),  # latitude first: longitude is the second axis
        ("8.0002,48.9,0,7.9,49.0002,50", CRS84),
        ("48.9,8.0002,0,49.0002,7.9,50", EPSG4326),
    ],
)
async def test_bbox_west_of_east_crosses_the_antimeridian(
    client: Client, bbox: str, crs: str
) -> None:
    # OGC API - Features Part 1, 7.15.3: a box spanning the antimeridian has its west-most
    # edge (the lower longitude) larger than its east-most one; the 4326 box was refused, and
    # the CRS84 one accepted but matched nothing.
    ids = await _all_ids(client, bbox=bbox, **{"bbox-crs": crs})
    assert ids == _ids(_crosses_antimeridian_box)
    assert 0 < len(ids) < N


@pytest.mark.parametrize(
    ("bbox", "crs", "detail"),
    [
        (
            "49.0002,7.9,48.9,8.0002",
            EPSG4326,
            "bbox '49.0002,7.9,48.9,8.0002': the lower latitude 49.0002 is above the upper "
            "latitude 48.9 (only longitudes may run west > east, across the antimeridian)",
        ),
        (
            "7.9,49.0002,8.0002,48.9",
            CRS84,
            "bbox '7.9,49.0002,8.0002,48.9': the lower latitude 49.0002 is above the upper "
            "latitude 48.9 (only longitudes may run west > east, across the antimeridian)",
        ),
        (  # a projected CRS has no longitude: neither axis wraps
            "900000,6300000,800000,6400000",
            "http://www.opengis.net/def/crs/EPSG/0/3857",
            "bbox '900000,6300000,800000,6400000': the lower easting 900000 is above the upper "
            "easting 800000 (only longitudes may run west > east, across the antimeridian)",
        ),
        (
            "7.9,48.9,100,8.0002,49.0002,0",
            CRS84,
            "bbox '7.9,48.9,100,8.0002,49.0002,0': the bottom 100.0 is above the top 0.0",
        ),
    ],
)
async def test_bbox_lower_latitude_above_the_upper_is_refused(
    client: Client, bbox: str, crs: str, detail: str
) -> None:
    # 7.15.3: the lower-left corner, then the upper-right: for latitude there is no wrapping;
    # with EPSG:4326 the reversed latitudes (its first axis) were accepted.
    resp = await client.get("/ogc/collections/grid/items", params={"bbox": bbox, "bbox-crs": crs})
    assert resp.status == 400
    assert (await resp.json(content_type=None))["detail"] == detail


async def test_datetime_uses_creation_date_else_import_time(client: Client) -> None:
    ids = await _all_ids(client, datetime="2010-01-01/2015-12-31")
    assert ids == _ids(
        lambda r: (
            "creationDate" in r.attributes and 2010 <= r.attributes["creationDate"].year <= 2015
        )
    )
    later = await _all_ids(client, datetime="2024-06-01T00:00:00Z/..")
    assert later == _ids(lambda r: "creationDate" not in r.attributes)


@pytest.mark.parametrize(
    ("interval", "after_import"),
    [
        ("2024-06-01T13:30:00+02:00/..", True),  # 11:30 UTC: the import (12:00 UTC) is after
        ("2024-06-01T14:30:00+02:00/..", False),
        ("../2024-06-01T09:30:00-03:00", True),  # 12:30 UTC
        ("../2024-06-01T08:30:00-03:00", False),
    ],
)
async def test_datetime_bounds_with_an_offset_compare_as_instants(
    client: Client, interval: str, after_import: bool
) -> None:
    # Bounds were compared as text with the UTC import time: "…13:30:00+02:00" sorted after
    # "…12:00:00+00:00" although it is the earlier instant.
    assert "creationDate" not in RECORDS[1].attributes  # B01 is stamped with the import time
    assert ("B01" in await _all_ids(client, datetime=interval)) == after_import


@pytest.mark.parametrize(
    ("cql", "keep"),
    [
        ("measuredHeight > 20", lambda r: r.attributes["measuredHeight"] > 20),
        (
            "yearOfConstruction < 1960 AND measuredHeight >= 8",
            lambda r: (
                r.attributes["yearOfConstruction"] < 1960 and r.attributes["measuredHeight"] >= 8
            ),
        ),
        (
            "NOT (measuredHeight <= 30) OR id = 'B01'",
            lambda r: r.attributes["measuredHeight"] > 30 or r.id == "B01",
        ),
        ("CASEI(name) = CASEI('HOUSE 01')", lambda r: r.id == "B01"),
        ("name LIKE 'house 1%'", lambda r: r.attributes["name"].startswith("house 1")),
        # CQL2's wildcards are % and _ only: a dot in the pattern is a dot (no name has one).
        ("name LIKE 'house.1%'", lambda r: "." in r.attributes["name"]),
        ("name LIKE 'house_1%'", lambda r: r.attributes["name"].startswith("house 1")),
        # LIKE is case-sensitive (CASEI is how CQL2 folds case), and only % _ \\ are special.
        ("name LIKE 'HOUSE 1%'", lambda r: r.attributes["name"].startswith("HOUSE 1")),
        ("name LIKE 'house*'", lambda r: r.attributes["name"].startswith("house*")),
        ("name LIKE 'house?01'", lambda r: r.attributes["name"] == "house?01"),
        ("name LIKE 'house\\_%'", lambda r: r.attributes["name"].startswith("house_")),
        ("id IN ('B03', 'B04', 'nope')", lambda r: r.id in ("B03", "B04")),
        ("id IN ('B03', 'it''s', 'O\\'Brien')", lambda r: r.id == "B03"),
        ("measuredHeight BETWEEN 10 AND 12", lambda r: 10 <= r.attributes["measuredHeight"] <= 12),
        ("creationDate IS NULL", lambda r: "creationDate" not in r.attributes),
        (
            "creationDate > DATE('2010-01-01')",
            lambda r: (
                "creationDate" in r.attributes
                and r.attributes["creationDate"] > dt.date(2010, 1, 1)
            ),
        ),
        (
            "measuredHeight * 10 > yearOfConstruction - 1800",
            lambda r: (
                r.attributes["measuredHeight"] * 10 > r.attributes["yearOfConstruction"] - 1800
            ),
        ),
        ("S_INTERSECTS(geometry, POINT(8.0012 49.0012))", lambda r: r.id == "B07"),
        (
            "S_WITHIN(geometry, BBOX(7.9, 48.9, 8.0026, 49.0016))",
            lambda r: r.id in ("B00", "B01", "B02", "B06", "B07", "B08"),
        ),
        ("NOT S_INTERSECTS(geometry, BBOX(7.9, 48.9, 8.0051, 49.0051))", lambda r: False),
    ],
)
async def test_cql2_text_filters(
    client: Client, cql: str, keep: Callable[[BuildingRecord], bool]
) -> None:
    assert await _all_ids(client, filter=cql) == _ids(keep)


async def test_cql2_json_filter(client: Client) -> None:
    triangle = {
        "type": "Polygon",
        "coordinates": [[[7.9, 48.9], [8.0031, 48.9], [8.0031, 49.1], [7.9, 48.9]]],
    }
    cql = {"op": "and", "args": [
        {"op": ">", "args": [{"property": "measuredHeight"}, 20]},
        {"op": "s_intersects", "args": [{"property": "geometry"}, triangle]},
    ]}  # fmt: skip
    ids = await _all_ids(client, filter=json.dumps(cql), **{"filter-lang": "cql2-json"})
    area = shapely.geometry.shape(triangle)
    expected = _ids(
        lambda r: (
            r.attributes["measuredHeight"] > 20
            and area.intersects(shapely.geometry.shape(r.footprint))
        )
    )
    assert ids == expected
    assert 0 < len(expected) < N


@pytest.mark.parametrize(
    "bbox",
    [[7.9, 48.9, 8.0026, 49.0016], [7.9, 48.9, 0.0, 8.0026, 49.0016, 500.0]],
)
async def test_cql2_json_bbox_is_min_x_min_y_max_x_max_y(client: Client, bbox: list[float]) -> None:
    # CQL2 JSON's bbox literal is GeoJSON's order (OGC 21-065, bbox-literal); pygeofilter
    # read [minx, miny, maxx, maxy] as x1, x2, y1, y2: the box of 7.9-48.9°E, 8.0026-49.0016°N.
    cql = {"op": "s_within", "args": [{"property": "geometry"}, {"bbox": bbox}]}
    ids = await _all_ids(client, filter=json.dumps(cql), **{"filter-lang": "cql2-json"})
    assert ids == ["B00", "B01", "B02", "B06", "B07", "B08"]


async def test_cql2_json_like_takes_a_dot_literally(client: Client) -> None:
    cql = {"op": "like", "args": [{"property": "name"}, "house.0%"]}
    ids = await _all_ids(client, filter=json.dumps(cql), **{"filter-lang": "cql2-json"})
    assert ids == _ids(lambda r: r.attributes["name"].startswith("house.0"))


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"name": "house 07"}, lambda r: r.attributes["name"] == "house 07"),
        ({"yearOfConstruction": "1950"}, lambda r: r.attributes["yearOfConstruction"] == 1950),
        ({"measuredHeight": "12"}, lambda r: r.attributes["measuredHeight"] == 12.0),
        ({"lod": "2"}, lambda r: r.lod == 2),
        (
            {"yearOfConstruction": "1950", "filter": "measuredHeight > 1"},
            lambda r: r.attributes["yearOfConstruction"] == 1950,
        ),
        ({"yearOfConstruction": "1950", "name": "house 08"}, lambda r: False),
    ],
)
async def test_queryables_as_query_parameters_filter_by_equality(
    client: Client, params: dict[str, str], keep: Callable[[BuildingRecord], bool]
) -> None:
    # Declared conformance class queryables-query-parameters (OGC API - Features Part 3):
    # a parameter named after a queryable selects the features whose value equals it.
    assert await _all_ids(client, **params) == _ids(keep)


async def test_sortby_descending(client: Client) -> None:
    body = await _items(client, sortby="-measuredHeight", limit="3")
    assert [f["id"] for f in body["features"]] == ["B29", "B28", "B27"]


async def test_items_carry_live_values_and_filter_on_them(client: Client) -> None:
    for object_id, use in [("B01", 50), ("B02", 150), ("B20", 200)]:
        entity = {"id": f"urn:ngsi-ld:Building:grid:{object_id}", "type": "Building",
                  "energyUse": {"type": "Property", "value": use}}  # fmt: skip
        resp = await client.post(
            f"/ngsi-ld/v1/entities/{entity['id']}/attrs", json={"energyUse": entity["energyUse"]}
        )
        assert resp.status == 204, await resp.text()
    body = await _items(client, filter="energyUse > 100 AND yearOfConstruction < 1960")
    assert [(f["id"], f["properties"]["energyUse"]) for f in body["features"]] == [("B02", 150)]
    item = await (await client.get("/ogc/collections/grid/items/B20")).json(content_type=None)
    assert item["properties"]["energyUse"] == 200
    ranked = await _items(client, sortby="-energyUse", limit="3")
    assert [f["id"] for f in ranked["features"]] == ["B20", "B02", "B01"]
    schema = await (await client.get("/ogc/collections/grid/queryables")).json(content_type=None)
    assert schema["properties"]["energyUse"]["type"] == "integer"


async def test_queryables_are_typed(client: Client) -> None:
    resp = await client.get("/ogc/collections/grid/queryables")
    assert resp.content_type == "application/schema+json"
    props = (await resp.json(content_type=None))["properties"]
    assert {k: v.get("type") for k, v in props.items()} == {
        "geometry": None, "creationDate": "string", "id": "string", "lod": "integer",
        "measuredHeight": "number", "name": "string", "parent_id": "string",
        "type": "string", "yearOfConstruction": "integer",
    }  # fmt: skip


@pytest.mark.parametrize(
    "path",
    [
        "/ogc",
        "/ogc/collections",
        "/ogc/collections/grid",
        "/ogc/collections/grid/items",
        "/ogc/collections/grid/items/B01",
        "/ogc/collections/grid/queryables",
    ],
)
async def test_html_by_content_negotiation(client: Client, path: str) -> None:
    resp = await client.get(path, headers={"Accept": "text/html,application/xhtml+xml"})
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert (await resp.text()).startswith("<!doctype html>")


async def test_html_escapes_values(client: Client) -> None:
    text = await (
        await client.get(
            "/ogc/collections/grid/items", params={"f": "html", "filter": "name = '<b>'"}
        )
    ).text()
    assert "&lt;b&gt;" not in text  # no such house: the filter is only echoed in escaped links
    assert "<b>" not in text.replace("<body>", "")
