"""A third-party client, ``ngsildclient`` (PyPI), against a real ``twin serve`` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ngsildclient = pytest.importorskip("ngsildclient")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """Run ``twin serve`` on a free port; yield the port."""
    port = _free_port()
    env = {**os.environ, "TWIN_TOKENS": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "serve", "--data-dir", str(tmp_path / "data"),
         "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    output = proc.stdout.read().decode() if proc.stdout else ""
                    raise AssertionError(output) from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


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
