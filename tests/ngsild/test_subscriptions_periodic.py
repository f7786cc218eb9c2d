"""Periodic subscriptions (``timeInterval``, CIM 009 §5.2.12) notify matching entities on time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp.test_utils import TestClient
from test_subscriptions import (
    API,
    DEV,
    SUB,
    Receiver,
    _without,
    create_device,
    get_sub,
    patch,
    receiver,
    subscribe,
    subscription,
)

__all__ = ["receiver"]  # the fixture, imported so that pytest finds it here


def periodic(receiver: Receiver, **members: Any) -> dict[str, Any]:
    return {**_without(subscription(receiver), "watchedAttributes"), "timeInterval": 1,
            **members}  # fmt: skip


async def until(receiver: Receiver, count: int, seconds: float = 6.0) -> None:
    deadline = time.monotonic() + seconds
    while len(receiver.received) < count:
        assert time.monotonic() < deadline, f"{len(receiver.received)} of {count} notifications"
        await asyncio.sleep(0.05)


async def test_matching_entities_are_notified_every_interval(
    client: TestClient, receiver: Receiver
) -> None:
    await create_device(client, temperature={"type": "Property", "value": 30})
    other = {"id": "urn:ngsi-ld:Device:cold", "type": "Device", "temperature": 10}
    assert (await client.post(f"{API}/entities", json=other)).status == 201
    started = time.monotonic()
    await subscribe(client, periodic(receiver))
    await until(receiver, 2)
    assert time.monotonic() - started >= 1.0  # the first one after one interval, not at once
    for _, body in receiver.received[:2]:
        assert body["subscriptionId"] == SUB
        assert "triggerReason" not in body
        assert body["data"] == [{"id": DEV, "type": "Device", "temperature": 30}]
    sub = await get_sub(client)
    assert sub["timeInterval"] == 1
    assert "watchedAttributes" not in sub


async def test_changes_do_not_notify_and_nothing_matching_sends_nothing(
    client: TestClient, receiver: Receiver
) -> None:
    await create_device(client)  # temperature 20: q temperature>25 selects nothing
    await subscribe(client, periodic(receiver))
    await asyncio.sleep(1.5)
    assert receiver.received == []
    await patch(client, temperature={"type": "Property", "value": 31})
    await until(receiver, 1)
    assert receiver.received[0][1]["data"][0]["temperature"] == 31


async def test_paused_periodic_subscription_sends_nothing(
    client: TestClient, receiver: Receiver
) -> None:
    await create_device(client, temperature={"type": "Property", "value": 30})
    await subscribe(client, periodic(receiver, isActive=False))
    await asyncio.sleep(2.2)
    assert receiver.received == []
