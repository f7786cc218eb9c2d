"""A third-party client, ``ngsildclient`` (PyPI), against a real ``twin serve`` process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_process import free_port, serve, stop

ngsildclient = pytest.importorskip("ngsildclient")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """Run ``twin serve`` on a free port; yield the port."""
    port = free_port()
    proc = serve(tmp_path / "data", port)
    try:
        yield port
    finally:
        stop(proc)


def test_create_get_query_upsert_delete(server: int) -> None:
    from ngsildclient import Client, Entity

    client = Client(hostname="127.0.0.1", port=server, verbose=False)
    room = Entity("RoomObserved", "room1")
    room.prop("temperature", 21.5, unitcode="CEL")
    room.rel("refBuilding", "urn:ngsi-ld:Building:demo:B1")
    client.create(room)

    got = client.get("urn:ngsi-ld:RoomObserved:room1")
    assert got["temperature.value"] == 21.5

    found = client.query(type="RoomObserved", q="temperature>20")
    assert [e.id for e in found] == ["urn:ngsi-ld:RoomObserved:room1"]

    room["temperature.value"] = 23.0
    client.upsert(room)
    assert client.get("urn:ngsi-ld:RoomObserved:room1")["temperature.value"] == 23.0

    client.delete(room)  # DELETE /entities/{id}
    assert not client.exists("urn:ngsi-ld:RoomObserved:room1")

    client.create(room)
    client.delete([room])  # batch delete: an ld+json list of ids
    assert not client.exists("urn:ngsi-ld:RoomObserved:room1")
    client.close()


def test_subscription_with_q(server: int) -> None:
    # ngsildclient URL-encodes the q of a subscription body ("temperature%3E20")
    from ngsildclient import Client, SubscriptionBuilder

    client = Client(hostname="127.0.0.1", port=server, verbose=False)
    sub = (
        SubscriptionBuilder("http://127.0.0.1:9/notify")
        .select_type("RoomObserved")
        .watch(["temperature"])
        .query('temperature>20;name=="a b"')
        .build()
    )
    sub_id = client.subscriptions.create(sub)
    assert client.subscriptions.get(sub_id)["q"] == 'temperature>20;name=="a b"'
    client.close()
