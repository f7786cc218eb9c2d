"""Acknowledged writes are durable: a ``twin serve`` killed with SIGKILL loses none of them."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import cast

import aiohttp
import pytest
from serve_process import free_port, serve

from twin.errors import ConflictError, NotFoundError
from twin.ngsild.entity import ExpandedEntity
from twin.ngsild.operations import Outcome, partial_update_attr
from twin.store import SQLiteStore
from twin.store.entities import Operation, create_op, delete_op, modify_op

API = "/ngsi-ld/v1"
ROOMS = 120
JSON = {"Content-Type": "application/json"}


def room(i: int) -> dict[str, object]:
    return {"id": f"urn:ngsi-ld:Room:{i}", "type": "Room",
            "temperature": {"type": "Property", "value": 0}}  # fmt: skip


async def _write_concurrently(base: str) -> None:
    async with aiohttp.ClientSession() as http:

        async def create(i: int) -> None:
            async with http.post(f"{base}{API}/entities", json=room(i)) as r:
                assert r.status == 201, await r.text()

        async def patch(i: int) -> None:
            url = f"{base}{API}/entities/urn:ngsi-ld:Room:{i}/attrs/temperature"
            async with http.patch(url, json={"value": i}, headers=JSON) as r:
                assert r.status == 204, await r.text()

        await asyncio.gather(*(create(i) for i in range(ROOMS)))
        await asyncio.gather(*(patch(i) for i in range(ROOMS)))
        batch = [room(i) for i in range(ROOMS, 2 * ROOMS)]
        async with http.post(f"{base}{API}/entityOperations/create", json=batch) as r:
            assert r.status == 201, await r.text()


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    port = free_port()
    proc = serve(tmp_path / "data", port)
    try:
        asyncio.run(_write_concurrently(f"http://127.0.0.1:{port}"))
    finally:
        proc.kill()  # no shutdown, no checkpoint: what was answered must be on disk already
        proc.wait()
    store = SQLiteStore(tmp_path / "data")
    try:
        for i in range(ROOMS):
            body = store.entities.get("", f"urn:ngsi-ld:Room:{i}")
            (temperature,) = body["attrs"][
                "https://uri.etsi.org/ngsi-ld/default-context/temperature"
            ]
            assert temperature["value"] == i
        for i in range(ROOMS, 2 * ROOMS):
            store.entities.get("", f"urn:ngsi-ld:Room:{i}")
        (sync,) = store._db.execute("PRAGMA synchronous").fetchone()
        assert sync == 2  # FULL: the WAL is fsynced at every commit
    finally:
        store.close()


def test_a_failing_write_of_a_group_commit_is_undone_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    first = {"id": "urn:ngsi-ld:T:1", "type": ["T"], "attrs": {}, "createdAt": "x",
             "modifiedAt": "x"}  # fmt: skip
    second = {**first, "id": "urn:ngsi-ld:T:2"}
    results = store.entities.run([
        create_op("", first), create_op("", first), delete_op("", "urn:ngsi-ld:T:9"),
        create_op("", second),
    ])  # fmt: skip
    assert [type(r) for r in results] == [type(None), ConflictError, NotFoundError, type(None)]
    assert store.entities.get("", "urn:ngsi-ld:T:2")["id"] == "urn:ngsi-ld:T:2"
    assert not store._db.in_transaction  # the batch committed and left nothing open
    store.close()


def _raise_after_writing(entity: dict[str, object]) -> Operation[None]:
    def op(cur: sqlite3.Cursor) -> None:
        create_op("", entity)(cur)
        raise ConflictError("refused after writing")

    return op


def test_a_write_that_fails_after_writing_undoes_only_itself(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    temperature = "https://uri.etsi.org/ngsi-ld/default-context/temperature"
    room_1 = {"id": "urn:ngsi-ld:Room:1", "type": ["Room"], "createdAt": "x", "modifiedAt": "x",
              "attrs": {temperature: [{"type": "Property", "value": 0}]}}  # fmt: skip
    store.entities.create("", room_1)

    def set_to(value: int) -> Operation[Outcome]:
        fragment = {"value": value}
        return modify_op("", "urn:ngsi-ld:Room:1", lambda old: partial_update_attr(
            cast(ExpandedEntity, old), temperature, fragment, "y"))  # fmt: skip

    results = store.entities.run([
        set_to(1), _raise_after_writing({**room_1, "id": "urn:ngsi-ld:Room:2"}), set_to(2),
    ])  # fmt: skip
    assert [type(r) for r in results] == [Outcome, ConflictError, Outcome]
    assert store.entities.get("", "urn:ngsi-ld:Room:1")["attrs"][temperature][0]["value"] == 2
    with pytest.raises(NotFoundError):
        store.entities.get("", "urn:ngsi-ld:Room:2")
    # the writes around the failing one are stored, and in the history, once each
    values = [i["value"] for _, i in store.entities.history("", "urn:ngsi-ld:Room:1") if i]
    assert values == [0, 1, 2]
    store.close()


def _interrupted(cur: sqlite3.Cursor) -> None:
    raise KeyboardInterrupt


def test_a_batch_interrupted_in_a_write_is_undone_whole(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    first = {"id": "urn:ngsi-ld:T:1", "type": ["T"], "attrs": {}, "createdAt": "x",
             "modifiedAt": "x"}  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        store.entities.run([create_op("", first), _interrupted])
    assert not store._db.in_transaction
    with pytest.raises(NotFoundError):
        store.entities.get("", "urn:ngsi-ld:T:1")
    assert store.entities.run([create_op("", first)]) == [None]  # the store still writes
    store.close()
