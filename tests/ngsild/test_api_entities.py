"""Single-entity routes: create, retrieve, delete, replace, merge and the attribute routes."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from twin.store import SQLiteStore

API = "/ngsi-ld/v1"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
DEV = "urn:ngsi-ld:Device:d1"


def device(**attrs: Any) -> dict[str, Any]:
    return {
        "id": DEV,
        "type": "Device",
        "temperature": {"type": "Property", "value": 21.5, "unitCode": "CEL"},
        **attrs,
    }


async def create(client: TestClient, body: dict[str, Any]) -> None:
    resp = await client.post(f"{API}/entities", json=body)
    assert resp.status == 201, await resp.text()


async def get(client: TestClient, entity_id: str = DEV, query: str = "") -> Any:
    resp = await client.get(f"{API}/entities/{entity_id}{query}")
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def problem(resp: Any, status: int, ptype: str) -> None:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["type"] == (ptype if ptype.startswith(("about", "http")) else ERR + ptype)
    assert body["status"] == status


async def test_create_answers_201_with_location(client: TestClient) -> None:
    resp = await client.post(f"{API}/entities", json=device())
    assert resp.status == 201
    assert resp.headers["Location"] == f"/ngsi-ld/v1/entities/{DEV}"


async def test_create_twice_is_already_exists(client: TestClient) -> None:
    await create(client, device())
    await problem(await client.post(f"{API}/entities", json=device()), 409, "AlreadyExists")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "Device"},
        {"id": "not a uri", "type": "Device"},
        {"id": DEV},
        {"id": DEV, "type": "Device", "p": {"type": "Property"}},
        {"id": DEV, "type": "Device", "r": {"type": "Relationship", "object": "nope"}},
        {"id": DEV, "type": "Device", "location": {"type": "Property", "value": 3}},
        {"id": DEV, "type": "Device", "p": {"type": "Property", "value": 1, "observedAt": "x"}},
        {"id": DEV, "type": "Device", "p": {"type": "Weird", "value": 1}},
        {"id": DEV, "type": "Device", "bad name": 1},
        [],
    ],
    ids=["no-id", "id-not-uri", "no-type", "no-value", "object-not-uri", "location-not-geo",
         "bad-observedAt", "unknown-attr-type", "bad-name", "not-object"],
)  # fmt: skip
async def test_create_refuses_invalid_entities(client: TestClient, body: Any) -> None:
    await problem(await client.post(f"{API}/entities", json=body), 400, "BadRequestData")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"id": DEV, "type": "Air Sensor"}, "entity type 'Air Sensor'"),
        ({"id": DEV, "type": "Device", "bad name": 1}, "attribute name 'bad name'"),
    ],
)
async def test_an_invalid_name_is_called_what_it_is(
    client: TestClient, body: Any, named: str
) -> None:
    resp = await client.post(f"{API}/entities", json=body)
    await problem(resp, 400, "BadRequestData")
    assert named in (await resp.json())["detail"]


def _located(geometry: dict[str, Any]) -> dict[str, Any]:
    return device(location={"type": "GeoProperty", "value": geometry})


@pytest.mark.parametrize(
    ("geometry", "detail"),
    [
        ({"type": "Point", "coordinates": [200, 100]},
         "position [200, 100] is outside lon [-180, 180], lat [-90, 90]"),
        ({"type": "Point", "coordinates": [8]}, "[8] is not a position [lon, lat] in the Point"),
        ({"type": "Point", "coordinates": [8, 49, 100, 5]},
         "[8, 49, 100, 5] is not a position [lon, lat] in the Point"),
        ({"type": "LineString", "coordinates": [[8, 49]]},
         "a line of the LineString has fewer than 2 positions"),
        ({"type": "Polygon", "coordinates": [[[8, 49], [9, 49], [9, 50]]]},
         "a ring of the Polygon is not closed or has fewer than 4 positions"),
        ({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": ["x", 1]}]},
         '["x", 1] is not a position [lon, lat] in the Point'),
    ],
    ids=["out-of-range", "one-number", "four-numbers", "one-point-line", "open-ring", "collection"],
)  # fmt: skip
async def test_create_refuses_geoproperties_that_are_not_geojson_geometries(
    client: TestClient, geometry: dict[str, Any], detail: str
) -> None:
    # RFC 7946 §3.1: positions are [lon, lat(, height)], rings closed with 4 positions; a
    # geo-query refused these coordinates, but a write stored them and queries matched them
    resp = await client.post(f"{API}/entities", json=_located(geometry))
    await problem(resp, 400, "BadRequestData")
    assert (await resp.json())["detail"] == f"GeoProperty 'location': {detail}"


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [8.4, 49.1, 112.5]},
        {"type": "GeometryCollection", "geometries": [
            {"type": "Point", "coordinates": [8, 49]},
            {"type": "LineString", "coordinates": [[8, 49], [9, 50]]}]},
    ],
    ids=["point-with-height", "collection"],
)  # fmt: skip
async def test_create_keeps_valid_geometries(client: TestClient, geometry: dict[str, Any]) -> None:
    await create(client, _located(geometry))
    assert (await get(client))["location"]["value"] == geometry


async def test_partial_update_refuses_a_location_out_of_range(client: TestClient) -> None:
    await create(client, _located({"type": "Point", "coordinates": [8, 49]}))
    resp = await client.patch(
        f"{API}/entities/{DEV}/attrs/location",
        json={"value": {"type": "Point", "coordinates": [8, 149]}},
    )
    await problem(resp, 400, "BadRequestData")
    assert (await get(client))["location"]["value"]["coordinates"] == [8, 49]


async def test_create_refuses_invalid_json(client: TestClient) -> None:
    resp = await client.post(
        f"{API}/entities", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    await problem(resp, 400, "InvalidRequest")


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1.5e400"])
async def test_create_refuses_json_with_non_finite_numbers(
    client: TestClient, constant: bytes
) -> None:
    # Python's json reads them (a number beyond the double range as an infinity), but they are
    # not JSON numbers (RFC 8259 §6): stored, they would make the entity's body malformed for
    # SQLite's JSON functions
    body = b'{"id": "urn:ngsi-ld:Device:d", "type": "Device", '
    body += b'"p": {"type": "Property", "value": ' + constant + b"}}"
    resp = await client.post(
        f"{API}/entities", data=body, headers={"Content-Type": "application/json"}
    )
    await problem(resp, 400, "InvalidRequest")


@pytest.mark.parametrize(
    "value",
    [2**70, -(2**64), 1e-07, 1.2345678901234567e300, 'é \u2028 \x01 "q" \\', {"1": [None, True]}],
)
async def test_values_read_back_as_written(client: TestClient, value: Any) -> None:
    # the store encodes bodies with orjson and falls back to the standard library for what
    # orjson refuses (integers beyond 64 bits); a partial update and a create both store them
    await create(client, device(p={"type": "Property", "value": value}))
    assert (await get(client))["p"]["value"] == value
    resp = await client.patch(f"{API}/entities/{DEV}/attrs/temperature", json={"value": value})
    assert resp.status == 204, await resp.text()
    assert (await get(client))["temperature"]["value"] == value


async def test_retrieve_normalized_and_sysattrs(client: TestClient) -> None:
    await create(client, device())
    assert await get(client) == device()
    with_sys = await get(client, query="?options=sysAttrs")
    assert with_sys["createdAt"].endswith("Z")
    assert "modifiedAt" in with_sys["temperature"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?options=keyValues", {"id": DEV, "type": "Device", "temperature": 21.5}),
        ("?format=simplified", {"id": DEV, "type": "Device", "temperature": 21.5}),
        ("?options=concise", {"id": DEV, "type": "Device",
                              "temperature": {"value": 21.5, "unitCode": "CEL"}}),
        ("?attrs=humidity", None),
        ("?pick=id,temperature", {"id": DEV, "temperature": {"type": "Property", "value": 21.5,
                                                             "unitCode": "CEL"}}),
        ("?omit=temperature,type", {"id": DEV}),
    ],
)  # fmt: skip
async def test_retrieve_representations(
    client: TestClient, query: str, expected: dict[str, Any] | None
) -> None:
    await create(client, device())
    resp = await client.get(f"{API}/entities/{DEV}{query}")
    if expected is None:
        await problem(resp, 404, "ResourceNotFound")
    else:
        assert await resp.json() == expected


async def test_concise_input_is_stored_normalized(client: TestClient) -> None:
    body = {"id": DEV, "type": "Device", "temperature": 20, "owner": {"object": "urn:x:1"},
            "location": {"type": "Point", "coordinates": [11.0, 48.0]}}  # fmt: skip
    await create(client, body)
    got = await get(client)
    assert got["temperature"] == {"type": "Property", "value": 20}
    assert got["owner"] == {"type": "Relationship", "object": "urn:x:1"}
    assert got["location"]["type"] == "GeoProperty"


async def test_trailing_slash_and_percent_encoded_id(client: TestClient) -> None:
    await create(client, device())
    resp = await client.get(f"{API}/entities/urn%3Angsi-ld%3ADevice%3Ad1/")
    assert resp.status == 200
    assert (await resp.json())["id"] == DEV


async def test_retrieve_unknown_and_invalid_ids(client: TestClient) -> None:
    await problem(await client.get(f"{API}/entities/urn:x:none"), 404, "ResourceNotFound")
    await problem(await client.get(f"{API}/entities/plain"), 400, "BadRequestData")
    # every route with an id in its path says the same (CIM 009: ids are URIs)
    for path in ("subscriptions/plain", "temporal/entities/plain", "entities/plain/attrs"):
        method = client.post if path.endswith("attrs") else client.get
        resp = await method(f"{API}/{path}", json={} if path.endswith("attrs") else None)
        await problem(resp, 400, "BadRequestData")


async def test_delete_then_gone(client: TestClient) -> None:
    await create(client, device())
    assert (await client.delete(f"{API}/entities/{DEV}")).status == 204
    await problem(await client.get(f"{API}/entities/{DEV}"), 404, "ResourceNotFound")
    await problem(await client.delete(f"{API}/entities/{DEV}"), 404, "ResourceNotFound")


async def test_put_replaces_everything_but_created_at(client: TestClient) -> None:
    await create(client, device())
    before = await get(client, query="?options=sysAttrs")
    resp = await client.put(f"{API}/entities/{DEV}", json={"type": "Sensor", "co2": 410})
    assert resp.status == 204
    after = await get(client, query="?options=sysAttrs")
    assert after["type"] == "Sensor"
    assert "temperature" not in after
    assert after["createdAt"] == before["createdAt"]


async def test_patch_merges_and_null_deletes(client: TestClient) -> None:
    await create(client, device(humidity={"type": "Property", "value": 40}))
    resp = await client.patch(
        f"{API}/entities/{DEV}",
        json={"temperature": {"value": 22.0}, "humidity": "urn:ngsi-ld:null", "co2": 400},
    )
    assert resp.status == 204
    got = await get(client)
    assert got["temperature"] == {"type": "Property", "value": 22.0, "unitCode": "CEL"}
    assert "humidity" not in got
    assert got["co2"]["value"] == 400


async def test_append_no_overwrite_answers_207(client: TestClient) -> None:
    await create(client, device())
    resp = await client.post(
        f"{API}/entities/{DEV}/attrs?options=noOverwrite",
        json={"temperature": {"type": "Property", "value": 99}, "co2": {"type": "Property",
                                                                       "value": 1}},
    )  # fmt: skip
    assert resp.status == 207
    assert await resp.json() == {
        "updated": ["co2"],
        "notUpdated": [{"attributeName": "temperature", "reason": resp_reason()}],
    }
    assert (await get(client))["temperature"]["value"] == 21.5


def resp_reason() -> str:
    return "attribute exists and noOverwrite was asked"


async def test_append_overwrites_by_default(client: TestClient) -> None:
    await create(client, device())
    resp = await client.post(f"{API}/entities/{DEV}/attrs", json={"temperature": 30})
    assert resp.status == 204
    assert (await get(client))["temperature"] == {"type": "Property", "value": 30}


async def test_update_attrs_reports_missing_with_207(client: TestClient) -> None:
    await create(client, device())
    resp = await client.patch(f"{API}/entities/{DEV}/attrs", json={"temperature": 25, "missing": 1})
    assert resp.status == 207
    body = await resp.json()
    assert body["updated"] == ["temperature"]
    assert body["notUpdated"][0]["attributeName"] == "missing"


async def test_partial_attribute_update(client: TestClient) -> None:
    await create(client, device())
    resp = await client.patch(
        f"{API}/entities/{DEV}/attrs/temperature",
        json={"value": 23.0, "observedAt": "2024-05-01T10:00:00Z"},
    )
    assert resp.status == 204
    assert (await get(client))["temperature"] == {
        "type": "Property", "value": 23.0, "unitCode": "CEL", "observedAt": "2024-05-01T10:00:00Z"
    }  # fmt: skip
    missing = await client.patch(f"{API}/entities/{DEV}/attrs/nope", json={"value": 1})
    await problem(missing, 404, "ResourceNotFound")


async def test_partial_attribute_update_with_ngsi_ld_null(client: TestClient) -> None:
    # merge-patch, as PATCH /entities/{id}: a member set to null goes; with the value, the
    # attribute goes (it was left as {"type": "Property"}, without a value)
    await create(client, device())
    url = f"{API}/entities/{DEV}/attrs/temperature"
    assert (await client.patch(url, json={"unitCode": "urn:ngsi-ld:null"})).status == 204
    assert (await get(client))["temperature"] == {"type": "Property", "value": 21.5}
    assert (await client.patch(url, json={"value": "urn:ngsi-ld:null"})).status == 204
    assert "temperature" not in await get(client)


async def test_put_attribute_replaces_it(client: TestClient) -> None:
    await create(client, device())
    resp = await client.put(
        f"{API}/entities/{DEV}/attrs/temperature", json={"type": "Property", "value": 1}
    )
    assert resp.status == 204
    assert (await get(client))["temperature"] == {"type": "Property", "value": 1}


async def test_delete_attribute_by_dataset_id_and_all(client: TestClient) -> None:
    temps = [{"type": "Property", "value": 1},
             {"type": "Property", "value": 2, "datasetId": "urn:ds:b"}]  # fmt: skip
    await create(client, {"id": DEV, "type": "Device", "temperature": temps})
    assert len((await get(client))["temperature"]) == 2
    url = f"{API}/entities/{DEV}/attrs/temperature"
    assert (await client.delete(url + "?datasetId=urn:ds:b")).status == 204
    assert (await get(client))["temperature"] == {"type": "Property", "value": 1}
    assert (await client.delete(url + "?deleteAll=true")).status == 204
    assert "temperature" not in await get(client)
    await problem(await client.delete(url), 404, "ResourceNotFound")


async def test_entities_survive_a_store_reopen(client: TestClient, store: SQLiteStore) -> None:
    await create(client, device())
    reopened = SQLiteStore(store.data_dir)
    try:
        assert reopened.entities.get("", DEV)["id"] == DEV
        history = reopened.entities.history("", DEV)
        assert [a.rsplit("/", 1)[-1] for a, _ in history] == ["temperature"]
    finally:
        reopened.close()


async def test_tenants_are_separate(client: TestClient) -> None:
    tenant = {"NGSILD-Tenant": "city"}
    resp = await client.post(f"{API}/entities", json=device(), headers=tenant)
    assert resp.status == 201
    await problem(await client.get(f"{API}/entities/{DEV}"), 404, "ResourceNotFound")
    assert (await client.get(f"{API}/entities/{DEV}", headers=tenant)).status == 200
    unknown = await client.get(f"{API}/entities/{DEV}", headers={"NGSILD-Tenant": "nobody"})
    await problem(unknown, 404, "NonexistentTenant")
