"""``/entityOperations/create|upsert|update|merge|delete``: 201/204/207 and BatchOperationResult."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

API = "/ngsi-ld/v1"
OPS = f"{API}/entityOperations"


def ent(n: int, **attrs: Any) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Meter:{n}", "type": "Meter", **attrs}


async def value(client: TestClient, n: int, attr: str) -> Any:
    resp = await client.get(f"{API}/entities/urn:ngsi-ld:Meter:{n}?options=keyValues")
    return (await resp.json()).get(attr)


async def test_create_all_ok_is_201_with_ids(client: TestClient) -> None:
    resp = await client.post(f"{OPS}/create", json=[ent(1, power=1), ent(2, power=2)])
    assert resp.status == 201
    assert await resp.json() == ["urn:ngsi-ld:Meter:1", "urn:ngsi-ld:Meter:2"]


async def test_create_partial_failure_is_207(client: TestClient) -> None:
    await client.post(f"{OPS}/create", json=[ent(1)])
    resp = await client.post(f"{OPS}/create", json=[ent(1), ent(2), {"type": "Meter"}])
    assert resp.status == 207
    body = await resp.json()
    assert body["success"] == ["urn:ngsi-ld:Meter:2"]
    errors = {e["entityId"]: e["error"]["type"].rsplit("/", 1)[-1] for e in body["errors"]}
    assert errors == {"urn:ngsi-ld:Meter:1": "AlreadyExists", "": "BadRequestData"}


async def test_upsert_creates_then_replaces_or_updates(client: TestClient) -> None:
    resp = await client.post(f"{OPS}/upsert", json=[ent(1, power=1, energy=5)])
    assert resp.status == 201
    resp = await client.post(f"{OPS}/upsert", json=[ent(1, power=2)])
    assert resp.status == 204
    assert await value(client, 1, "power") == 2
    assert await value(client, 1, "energy") is None
    resp = await client.post(f"{OPS}/upsert?options=update", json=[ent(1, energy=7)])
    assert resp.status == 204
    assert (await value(client, 1, "power"), await value(client, 1, "energy")) == (2, 7)


async def test_upsert_of_a_new_id_twice_in_one_batch_creates_then_replaces(
    client: TestClient,
) -> None:
    resp = await client.post(f"{OPS}/upsert", json=[ent(1, power=1), ent(1, power=2)])
    assert resp.status == 201, await resp.text()
    assert await resp.json() == ["urn:ngsi-ld:Meter:1", "urn:ngsi-ld:Meter:1"]
    assert await value(client, 1, "power") == 2


async def test_update_merge_and_delete(client: TestClient) -> None:
    await client.post(f"{OPS}/create", json=[ent(1, power=1), ent(2, power=2)])
    resp = await client.post(f"{OPS}/update", json=[ent(1, power=10), ent(9, power=1)])
    assert resp.status == 207
    assert (await resp.json())["errors"][0]["error"]["status"] == 404
    assert await value(client, 1, "power") == 10
    resp = await client.post(f"{OPS}/merge", json=[ent(2, energy=3)])
    assert resp.status == 204
    assert (await value(client, 2, "power"), await value(client, 2, "energy")) == (2, 3)
    resp = await client.post(f"{OPS}/delete", json=["urn:ngsi-ld:Meter:1", "urn:ngsi-ld:Meter:1"])
    assert resp.status == 207
    assert (await resp.json())["success"] == ["urn:ngsi-ld:Meter:1"]


async def test_merge_batch_deletes_attributes_set_to_ngsi_ld_null(client: TestClient) -> None:
    # as PATCH /entities/{id} does (merge-patch, §5.6.17)
    null = "urn:ngsi-ld:null"
    await client.post(f"{OPS}/create", json=[ent(1, power=1, energy=2, phase=3)])
    resp = await client.post(f"{OPS}/merge", json=[
        ent(1, power=null, energy={"type": "Property", "value": null}, phase=4)])  # fmt: skip
    assert resp.status == 204, await resp.text()
    resp = await client.get(f"{API}/entities/urn:ngsi-ld:Meter:1?options=keyValues")
    assert await resp.json() == ent(1, phase=4)


async def test_batch_body_must_be_an_array(client: TestClient) -> None:
    resp = await client.post(f"{OPS}/create", json=ent(1))
    assert resp.status == 400
    assert (await resp.json())["type"].endswith("/BadRequestData")


async def test_unknown_options_refuse_the_whole_batch(client: TestClient) -> None:
    resp = await client.post(f"{OPS}/upsert?options=updte", json=[ent(1), ent(2)])
    assert resp.status == 400, await resp.text()
    problem = await resp.json()
    assert problem["type"].endswith("/BadRequestData")
    assert problem["detail"] == "unknown options: updte"
    assert (await client.get(f"{API}/entities/urn:ngsi-ld:Meter:1")).status == 404


async def test_ld_json_batch_delete_of_ids_needs_no_context(client: TestClient) -> None:
    await client.post(f"{OPS}/create", json=[ent(1)])
    resp = await client.post(
        f"{OPS}/delete",
        data=b'["urn:ngsi-ld:Meter:1"]',
        headers={"Content-Type": "application/ld+json"},
    )
    assert resp.status == 204
