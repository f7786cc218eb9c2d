"""Buildings as entities (id rule, import sync) and the joined view served per building."""

from __future__ import annotations

import dataclasses

import pytest
from aiohttp.test_utils import TestClient
from ngsild_api_data import demo_records, publish

from twin.store import SQLiteStore
from twin.store.buildings import building_entity_id, parse_building_entity_id

API = "/ngsi-ld/v1"
B1 = "urn:ngsi-ld:Building:demo:B1"


@pytest.mark.parametrize("object_id", ["B1", "DEBY_LOD2:part.1-a_b~c", "a b/c%d", "ü"])
def test_building_ids_round_trip(object_id: str) -> None:
    entity_id = building_entity_id("demo", object_id)
    assert entity_id.startswith("urn:ngsi-ld:Building:demo:")
    assert parse_building_entity_id(entity_id) == ("demo", object_id)


async def test_every_building_is_an_entity(client: TestClient) -> None:
    resp = await client.get(f"{API}/entities?type=Building&options=keyValues")
    buildings = {e["id"]: e for e in await resp.json()}
    assert set(buildings) == {B1, "urn:ngsi-ld:Building:demo:B2"}
    b1 = buildings[B1]
    assert b1["measuredHeight"] == 12.5
    assert b1["address"] == {"streetAddress": "Arcisstraße 21", "addressLocality": "München"}
    assert b1["location"]["type"] == "Polygon"
    b2 = buildings["urn:ngsi-ld:Building:demo:B2"]
    assert b2["location"]["coordinates"][0][0] == [11.01, 48.01]  # bbox when no footprint


async def test_reimport_keeps_live_attributes_and_drops_gone_buildings(
    client: TestClient, store: SQLiteStore
) -> None:
    await client.post(f"{API}/entities/{B1}/attrs", json={"occupancy": 12})
    records = demo_records()
    changed = dataclasses.replace(records[0], attributes={"measuredHeight": 13.0})
    publish(store, [changed, records[1]])
    b1 = await (await client.get(f"{API}/entities/{B1}?options=keyValues")).json()
    assert b1["measuredHeight"] == 13.0
    assert b1["occupancy"] == 12
    assert "function" not in b1
    gone = await client.get(f"{API}/entities/urn:ngsi-ld:Building:demo:B2")
    assert gone.status == 404


async def test_same_gml_id_in_two_datasets_gives_two_entities(
    client: TestClient, store: SQLiteStore
) -> None:
    publish(store, demo_records("other"), dataset="other")
    resp = await client.get(f"{API}/entities?type=Building&idPattern=.*:B1$")
    assert sorted(e["id"] for e in await resp.json()) == [
        B1, "urn:ngsi-ld:Building:other:B1"
    ]  # fmt: skip


async def test_joined_view_has_static_own_and_related_values(client: TestClient) -> None:
    await client.patch(f"{API}/entities/{B1}", json={"occupancy": {"value": 5,
                       "observedAt": "2024-01-01T10:00:00Z"}})  # fmt: skip
    device = {"id": "urn:ngsi-ld:Device:t1", "type": "Device",
              "controlledAsset": {"type": "Relationship", "object": B1},
              "temperature": {"type": "Property", "value": 21.5, "unitCode": "CEL",
                              "observedAt": "2024-01-01T10:05:00Z"}}  # fmt: skip
    env = {"id": "urn:ngsi-ld:IndoorEnvironmentObserved:e1", "type": "IndoorEnvironmentObserved",
           "refBuilding": {"type": "Relationship", "object": B1},
           "co2": {"type": "Property", "value": 640}}  # fmt: skip
    await client.post(f"{API}/entityOperations/create", json=[device, env])
    resp = await client.get("/api/joined/demo/B1")
    assert resp.status == 200
    view = await resp.json()
    assert view["entityId"] == B1
    assert view["attributes"]["measuredHeight"] == 12.5
    assert view["live"]["occupancy"] == {"value": 5, "observedAt": "2024-01-01T10:00:00Z",
                                         "source": B1}  # fmt: skip
    assert view["live"]["temperature"] == {
        "value": 21.5, "observedAt": "2024-01-01T10:05:00Z", "source": "urn:ngsi-ld:Device:t1",
        "unitCode": "CEL", "via": "controlledAsset",
    }  # fmt: skip
    assert view["live"]["co2"]["via"] == "refBuilding"


async def test_joined_many_and_missing(client: TestClient) -> None:
    resp = await client.post("/api/joined/demo", json={"ids": ["B1", "B2", "nope"]})
    body = await resp.json()
    assert [b["id"] for b in body["buildings"]] == ["B1", "B2"]
    assert body["missing"] == ["nope"]


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("GET", "/api/joined/demo/nope", None, 404),
        ("GET", "/api/joined/nodata/B1", None, 404),
        ("POST", "/api/joined/demo", {"ids": "B1"}, 400),
        ("POST", "/api/joined/demo", {"ids": ["x"] * 1001}, 400),
    ],
)
async def test_joined_errors(
    client: TestClient, method: str, url: str, body: object, status: int
) -> None:
    resp = await client.request(method, url, json=body)
    assert resp.status == status
    assert resp.content_type == "application/problem+json"
