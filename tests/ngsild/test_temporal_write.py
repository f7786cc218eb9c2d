"""Temporal writes (CIM 009 §5.6.11 – §5.6.15): backfilled history, read by the temporal API."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from ngsild_api_data import without_instance_ids

API = "/ngsi-ld/v1"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
DEV = "urn:ngsi-ld:Meter:m1"
T = [f"2024-03-01T0{h}:00:00Z" for h in range(6)]


def reading(value: float, when: str, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": when, **extra}


async def history(client: TestClient, query: str = "attrs=power") -> Any:
    return without_instance_ids(await identified_history(client, query))


async def identified_history(client: TestClient, query: str = "attrs=power") -> Any:
    resp = await client.get(f"{API}/temporal/entities/{DEV}?{query}")
    assert resp.status == 200, await resp.text()
    return await resp.json()


@pytest.fixture
async def meter(client: TestClient) -> TestClient:
    body = {"id": DEV, "type": "Meter",
            "power": [reading(3, T[2]), reading(1, T[0]), reading(2, T[1])]}  # fmt: skip
    resp = await client.post(f"{API}/temporal/entities", json=body)
    assert resp.status == 201, await resp.text()
    assert resp.headers["Location"] == f"/ngsi-ld/v1/temporal/entities/{DEV}"
    return client


async def test_create_makes_history_and_a_current_entity(meter: TestClient) -> None:
    assert (await history(meter))["power"] == [reading(v, T[v - 1]) for v in (1, 2, 3)]
    current = await (await meter.get(f"{API}/entities/{DEV}")).json()
    assert current["power"] == reading(3, T[2])  # the latest observedAt, not the last given


async def test_post_again_appends_and_keeps_the_current_state(meter: TestClient) -> None:
    body = {"id": DEV, "type": "Meter", "power": reading(9, T[5])}
    resp = await meter.post(f"{API}/temporal/entities", json=body)
    assert resp.status == 204, await resp.text()
    values = [i["value"] for i in (await history(meter))["power"]]
    assert values == [1, 2, 3, 9]
    current = await (await meter.get(f"{API}/entities/{DEV}")).json()
    assert current["power"]["value"] == 3


async def test_append_attrs_and_last_n(meter: TestClient) -> None:
    body = {"power": [reading(4, T[3]), reading(5, T[4])], "voltage": reading(230, T[4])}
    resp = await meter.post(f"{API}/temporal/entities/{DEV}/attrs", json=body)
    assert resp.status == 204, await resp.text()
    got = await history(meter, "attrs=power,voltage&lastN=2")
    assert [i["value"] for i in got["power"]] == [4, 5]
    assert got["voltage"] == [reading(230, T[4])]


async def test_delete_attribute_history(meter: TestClient) -> None:
    extra = {"power": reading(7, T[3], datasetId="urn:ngsi-ld:Dataset:b")}
    assert (await meter.post(f"{API}/temporal/entities/{DEV}/attrs", json=extra)).status == 204
    resp = await meter.delete(f"{API}/temporal/entities/{DEV}/attrs/power")
    assert resp.status == 204, await resp.text()
    assert (await history(meter))["power"] == [reading(7, T[3], datasetId="urn:ngsi-ld:Dataset:b")]
    resp = await meter.delete(f"{API}/temporal/entities/{DEV}/attrs/power?deleteAll=true")
    assert resp.status == 204
    resp = await meter.delete(f"{API}/temporal/entities/{DEV}/attrs/power")
    assert resp.status == 404
    assert (await resp.json())["type"] == ERR + "ResourceNotFound"


async def test_delete_temporal_entity_drops_its_whole_history(meter: TestClient) -> None:
    # CIM 009 v1.8 §5.6.16: the temporal evolution goes; the current state is not touched
    body = {"voltage": reading(230, T[4])}
    assert (await meter.post(f"{API}/temporal/entities/{DEV}/attrs", json=body)).status == 204
    resp = await meter.delete(f"{API}/temporal/entities/{DEV}")
    assert resp.status == 204, await resp.text()
    assert await history(meter, "") == {"id": DEV, "type": "Meter"}
    assert (await meter.get(f"{API}/temporal/entities/{DEV}?attrs=power")).status == 404
    current = await (await meter.get(f"{API}/entities/{DEV}")).json()
    assert current["power"] == reading(3, T[2])
    assert (await meter.post(f"{API}/temporal/entities/{DEV}/attrs", json=body)).status == 204
    assert await history(meter, "") == {"id": DEV, "type": "Meter", "voltage": [body["voltage"]]}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "ptype"),
    [("POST", "/temporal/entities", {"id": "nope", "type": "Meter", "power": reading(1, T[0])},
      400, "BadRequestData"),
     ("POST", "/temporal/entities", {"id": DEV, "type": "Meter"}, 400, "BadRequestData"),
     ("POST", "/temporal/entities", {"id": DEV, "type": "Meter", "power": [1, 2]}, 400,
      "BadRequestData"),
     ("POST", "/temporal/entities", {"id": DEV, "type": "Meter",
      "power": reading(1, "yesterday")}, 400, "BadRequestData"),
     ("POST", "/temporal/entities/urn:ngsi-ld:Meter:none/attrs", {"power": reading(1, T[0])},
      404, "ResourceNotFound"),
     ("DELETE", "/temporal/entities/urn:ngsi-ld:Meter:none/attrs/power", None, 404,
      "ResourceNotFound"),
     ("DELETE", "/temporal/entities/urn:ngsi-ld:Meter:none", None, 404, "ResourceNotFound"),
     ("DELETE", "/temporal/entities/not-a-uri", None, 400, "BadRequestData")],
    ids=["bad-id", "no-attributes", "bare-values", "bad-observed-at", "unknown-entity",
         "unknown-history", "delete-unknown-entity", "delete-bad-id"],
)  # fmt: skip
async def test_bad_temporal_writes(
    client: TestClient, method: str, path: str, body: Any, status: int, ptype: str
) -> None:
    resp = await client.request(method, f"{API}{path}", json=body)
    assert resp.status == status, await resp.text()
    assert (await resp.json())["type"] == ERR + ptype


async def test_bad_temporal_bodies_say_what_was_received(client: TestClient) -> None:
    resp = await client.post(f"{API}/temporal/entities", json=[1])
    assert "must be a JSON object, got list" in (await resp.json())["detail"]
    resp = await client.post(f"{API}/temporal/entities", json={"id": "nope", "type": "Meter"})
    assert "got 'nope'" in (await resp.json())["detail"]
    other = "urn:ngsi-ld:Meter:other"
    resp = await client.post(f"{API}/temporal/entities/{DEV}/attrs", json={"id": other})
    detail = (await resp.json())["detail"]
    assert resp.status == 400
    assert other in detail, detail
    assert DEV in detail, detail


async def power_ids(client: TestClient) -> list[str]:
    return [i["instanceId"] for i in (await identified_history(client))["power"]]


async def test_every_instance_has_its_own_instance_id(meter: TestClient) -> None:
    ids = await power_ids(meter)
    assert len(set(ids)) == 3
    body = {"power": reading(4, T[3])}
    await meter.post(f"{API}/temporal/entities/{DEV}/attrs", json=body)
    assert (await power_ids(meter))[:3] == ids


async def test_patch_changes_one_instance_only(meter: TestClient) -> None:
    ids = await power_ids(meter)
    resp = await meter.patch(f"{API}/temporal/entities/{DEV}/attrs/power/{ids[1]}",
                             json={"power": {"type": "Property", "value": 20}})  # fmt: skip
    assert resp.status == 204, await resp.text()
    assert (await history(meter))["power"] == [reading(1, T[0]), reading(20, T[1]),
                                               reading(3, T[2])]  # fmt: skip
    assert await power_ids(meter) == ids
    current = await (await meter.get(f"{API}/entities/{DEV}")).json()
    assert current["power"]["value"] == 3


async def test_patch_cannot_change_the_kind_of_an_instance(meter: TestClient) -> None:
    ids = await power_ids(meter)
    before = await history(meter)
    relationship = {"power": {"type": "Relationship", "object": "urn:x:1"}}
    resp = await meter.patch(
        f"{API}/temporal/entities/{DEV}/attrs/power/{ids[1]}", json=relationship
    )
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert body["type"] == ERR + "BadRequestData"
    assert "Property" in body["detail"]
    assert "Relationship" in body["detail"]
    assert await history(meter) == before


async def test_delete_drops_one_instance(meter: TestClient) -> None:
    ids = await power_ids(meter)
    url = f"{API}/temporal/entities/{DEV}/attrs/power/{ids[0]}"
    assert (await meter.delete(url)).status == 204
    assert [i["value"] for i in (await history(meter))["power"]] == [2, 3]
    again = await meter.delete(url)
    assert again.status == 404
    assert (await again.json())["type"] == ERR + "ResourceNotFound"


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        (f"{DEV}/attrs/power/urn:ngsi-ld:AttributeInstance:999999", None, 404, "ResourceNotFound"),
        (f"{DEV}/attrs/power/urn:x:1", None, 404, "ResourceNotFound"),
        (f"{DEV}/attrs/power/urn:ngsi-ld:AttributeInstance:{2**64}", None, 404,
         "ResourceNotFound"),
        (f"{DEV}/attrs/power/urn:ngsi-ld:AttributeInstance:{2**64}", {"power": {"value": 1}},
         404, "ResourceNotFound"),
        (f"{DEV}/attrs/power/urn:ngsi-ld:AttributeInstance:{'9' * 5000}", None, 404,
         "ResourceNotFound"),
        ("urn:ngsi-ld:Meter:nope/attrs/power/FIRST", None, 404, "ResourceNotFound"),
        (f"{DEV}/attrs/voltage/FIRST", None, 404, "ResourceNotFound"),
        (f"{DEV}/attrs/power/not-a-uri", None, 400, "BadRequestData"),
        (f"{DEV}/attrs/power/FIRST", {"voltage": {"value": 1}}, 400, "BadRequestData"),
        (f"{DEV}/attrs/power/FIRST", {"power": [{"value": 1}, {"value": 2}]}, 400,
         "BadRequestData"),
        (f"{DEV}/attrs/power/FIRST", ["power"], 400, "BadRequestData"),
    ],
)  # fmt: skip
async def test_instance_errors(
    meter: TestClient, path: str, body: Any, status: int, error: str
) -> None:
    first = (await power_ids(meter))[0]
    url = f"{API}/temporal/entities/{path.replace('FIRST', first)}"
    resp = await (meter.delete(url) if body is None else meter.patch(url, json=body))
    assert resp.status == status, await resp.text()
    assert (await resp.json())["type"] == ERR + error
