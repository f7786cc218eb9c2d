"""``/live``: SSE of joined-value changes; the hub's bounded queues never block writers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from twin.live import LiveHub
from twin.ngsild.join import LiveEvent

API = "/ngsi-ld/v1"
B1 = "urn:ngsi-ld:Building:demo:B1"


async def events(resp: ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    """Yield ``(event, data)`` of an SSE stream (comments and retry lines skipped)."""
    name, data = "message", ""
    async for raw in resp.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            yield name, json.loads(data)
            name, data = "message", ""


async def test_patch_reaches_live_within_a_second(client: TestClient) -> None:
    resp = await client.get("/live?dataset=demo&attribute=temperature")
    assert resp.headers["Content-Type"] == "text/event-stream"
    first = await resp.content.readline()
    assert first.startswith(b"retry: ")
    device = {"id": "urn:ngsi-ld:Device:1", "type": "Device",
              "controlledAsset": {"type": "Relationship", "object": B1},
              "temperature": 20, "humidity": 40}  # fmt: skip
    await client.post(f"{API}/entities", json=device)
    stream = events(resp)
    name, data = await asyncio.wait_for(anext(stream), 1.0)
    assert name == "change"
    assert data == {"dataset": "demo", "id": "B1", "attribute": "temperature", "value": 20,
                    "observedAt": None, "source": "urn:ngsi-ld:Device:1"}  # fmt: skip
    patch = {"value": 22.5, "observedAt": "2024-01-01T00:00:00Z"}
    await client.patch(f"{API}/entities/urn:ngsi-ld:Device:1/attrs/temperature", json=patch)
    _, data = await asyncio.wait_for(anext(stream), 1.0)
    assert (data["value"], data["observedAt"]) == (22.5, "2024-01-01T00:00:00Z")
    resp.close()


async def test_unlinking_a_device_pushes_that_its_values_are_gone(client: TestClient) -> None:
    # as deleting the device does: the building's viewer must not keep showing its values
    link = {"type": "Relationship", "object": B1}
    device = {"id": "urn:ngsi-ld:Device:1", "type": "Device", "controlledAsset": link,
              "temperature": 20}  # fmt: skip
    assert (await client.post(f"{API}/entities", json=device)).status == 201
    resp = await client.get("/live?dataset=demo")
    await resp.content.readline()
    unlink = {"controlledAsset": {"type": "Relationship", "object": "urn:ngsi-ld:Building:x:B9"}}
    resp_patch = await client.patch(f"{API}/entities/urn:ngsi-ld:Device:1", json=unlink)
    assert resp_patch.status == 204
    _, data = await asyncio.wait_for(anext(events(resp)), 1.0)
    assert data == {"dataset": "demo", "id": "B1", "attribute": "temperature", "value": None,
                    "observedAt": None, "source": "urn:ngsi-ld:Device:1"}  # fmt: skip
    resp.close()


async def test_building_own_property_is_pushed(client: TestClient) -> None:
    resp = await client.get("/live")
    await resp.content.readline()
    await client.post(f"{API}/entities/{B1}/attrs", json={"occupancy": 3})
    _, data = await asyncio.wait_for(anext(events(resp)), 1.0)
    assert (data["id"], data["attribute"], data["value"], data["source"]) == (
        "B1", "occupancy", 3, B1
    )  # fmt: skip
    resp.close()


def event(n: int) -> LiveEvent:
    return LiveEvent("demo", "B1", "temperature", n, None, "urn:x:1")


async def test_slow_listener_drops_oldest_and_never_blocks() -> None:
    hub = LiveHub(queue_size=4)
    with hub.listen() as slow, hub.listen(attributes=frozenset({"co2"})) as other:
        for n in range(10):
            hub.publish([event(n)])  # synchronous: a full queue cannot make it wait
        assert slow.dropped == 6
        assert [slow.queue.get_nowait().value for _ in range(4)] == [6, 7, 8, 9]  # type: ignore[attr-defined]
        assert other.queue.empty()
    assert hub.listener_count == 0


async def test_writes_proceed_while_a_client_does_not_read(client: TestClient) -> None:
    resp = await client.get("/live")  # never read from
    await client.post(f"{API}/entities/{B1}/attrs", json={"occupancy": 0})
    for n in range(400):
        r = await client.patch(f"{API}/entities/{B1}/attrs/occupancy", json={"value": n})
        assert r.status == 204
    got = await (await client.get("/api/joined/demo/B1")).json()
    assert got["live"]["occupancy"]["value"] == 399
    resp.close()
