"""Acknowledged writes are durable: a ``twin serve`` killed with SIGKILL loses none of them."""

from __future__ import annotations

import asyncio
import json
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


TEMPERATURE = "https://uri.etsi.org/ngsi-ld/default-context/temperature"
REF = "https://uri.etsi.org/ngsi-ld/default-context/refBuilding"


def _stored_room(i: int, value: object = 0) -> dict[str, object]:
    building = f"urn:ngsi-ld:Building:{i}"
    attrs = {TEMPERATURE: [{"type": "Property", "value": value}],
             REF: [{"type": "Relationship", "object": building}]}  # fmt: skip
    return {"id": f"urn:ngsi-ld:Room:{i}", "type": ["Room"], "createdAt": "x", "modifiedAt": "x",
            "attrs": attrs}  # fmt: skip


def _set(i: int, value: object) -> Operation[Outcome]:
    fragment = {"value": value}
    return modify_op("", f"urn:ngsi-ld:Room:{i}", lambda old: partial_update_attr(
        cast(ExpandedEntity, old), TEMPERATURE, fragment, f"t{value}"))  # fmt: skip


def _refuse(old: dict[str, object]) -> Outcome:
    raise ConflictError("refused by the change")


def test_modifications_of_a_batch_are_written_together_and_one_failing_undoes_nothing(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "data")
    store.entities.run([create_op("", _stored_room(i)) for i in range(4)])
    results = store.entities.run([
        _set(0, 1), _set(1, 2), _set(9, 3),  # no Room 9
        modify_op("", "urn:ngsi-ld:Room:2", _refuse), _set(2, 4), _set(0, 5),  # Room 0 again
        delete_op("", "urn:ngsi-ld:Room:3"), _set(3, 6),  # deleted by the write before
    ])  # fmt: skip
    assert [type(r) for r in results] == [
        Outcome,
        Outcome,
        NotFoundError,
        ConflictError,
        Outcome,
        Outcome,
        dict,
        NotFoundError,
    ]
    assert str(results[2]) == "no entity urn:ngsi-ld:Room:9"
    values = {i: store.entities.get("", f"urn:ngsi-ld:Room:{i}")["attrs"][TEMPERATURE][0]["value"]
              for i in range(3)}  # fmt: skip
    assert values == {0: 5, 1: 2, 2: 4}
    history = {i: [(inst or {}).get("value") for _, inst in store.entities.history(
        "", f"urn:ngsi-ld:Room:{i}", [TEMPERATURE])] for i in range(3)}  # fmt: skip
    assert history == {0: [0, 1, 5], 1: [0, 2], 2: [0, 4]}
    index = store._db.execute(
        "SELECT e.id, i.kind, i.value FROM attr_index i JOIN entities e ON e.seq = i.seq "
        "WHERE i.attr = ? ORDER BY e.id",
        (TEMPERATURE,),
    ).fetchall()
    assert index == [("urn:ngsi-ld:Room:0", "n", 5), ("urn:ngsi-ld:Room:1", "n", 2),
                     ("urn:ngsi-ld:Room:2", "n", 4)]  # fmt: skip
    refs = store._db.execute("SELECT entity_id, target FROM entity_refs ORDER BY 1").fetchall()
    assert refs == [(f"urn:ngsi-ld:Room:{i}", f"urn:ngsi-ld:Building:{i}") for i in range(3)]
    assert not store._db.in_transaction
    store.close()


def test_a_modification_failing_to_write_is_undone_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    store.entities.run([create_op("", _stored_room(i)) for i in range(3)])
    # a value SQLite cannot bind (a lone surrogate: fine for Python's JSON encoder, not for
    # UTF-8): the statements writing the gathered rows raise, and the batch runs again
    results = store.entities.run([_set(0, 1), _set(1, "\ud800"), _set(2, 3)])
    assert [type(r) for r in results] == [Outcome, UnicodeEncodeError, Outcome]
    values = [store.entities.get("", f"urn:ngsi-ld:Room:{i}")["attrs"][TEMPERATURE][0]["value"]
              for i in range(3)]  # fmt: skip
    assert values == [1, 0, 3]
    counts = [len(store.entities.history("", f"urn:ngsi-ld:Room:{i}", [TEMPERATURE]))
              for i in range(3)]  # fmt: skip
    assert counts == [2, 1, 2]
    store.close()


async def _patch_with_one_missing(base: str) -> list[tuple[int, str]]:
    async with aiohttp.ClientSession() as http:
        batch = [room(i) for i in range(30)]
        async with http.post(f"{base}{API}/entityOperations/create", json=batch) as r:
            assert r.status == 201, await r.text()

        async def patch(i: int) -> tuple[int, str]:
            url = f"{base}{API}/entities/urn:ngsi-ld:Room:{i}/attrs/temperature"
            async with http.patch(url, json={"value": i + 1}, headers=JSON) as r:
                return r.status, await r.text()

        # 31 writes in flight at once: the group commit gathers them into few batches
        return await asyncio.gather(*(patch(i) for i in [*range(15), 99, *range(15, 30)]))


def test_a_missing_entity_in_a_group_commit_is_answered_alone(tmp_path: Path) -> None:
    port = free_port()
    proc = serve(tmp_path / "data", port)
    try:
        answers = asyncio.run(_patch_with_one_missing(f"http://127.0.0.1:{port}"))
    finally:
        proc.terminate()
        proc.wait()
    missing = answers.pop(15)
    assert answers == [(204, "")] * 30
    assert missing[0] == 404
    problem = json.loads(missing[1])
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    assert problem["status"] == 404
    assert "urn:ngsi-ld:Room:99" in problem["detail"]
    assert problem["instance"] == f"{API}/entities/urn:ngsi-ld:Room:99/attrs/temperature"
    store = SQLiteStore(tmp_path / "data")
    try:
        for i in range(30):
            (temperature,) = store.entities.get("", f"urn:ngsi-ld:Room:{i}")["attrs"][TEMPERATURE]
            assert temperature["value"] == i + 1
    finally:
        store.close()


def _temperature(store: SQLiteStore, i: int) -> object:
    return store.entities.get("", f"urn:ngsi-ld:Room:{i}")["attrs"][TEMPERATURE][0]["value"]


def test_a_modification_starts_from_what_was_written_last_by_anyone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    other = SQLiteStore(tmp_path / "data")  # another connection, as another process has
    try:
        store.entities.run([create_op("", _stored_room(i)) for i in range(2)])
        store.entities.run([_set(0, 1), _set(1, 1)])
        other.entities.run([_set(0, 2)])  # committed by the other connection
        with store._db:  # written on the same connection, outside run
            store._db.execute(
                "UPDATE entities SET body = json_set(body, '$.attrs.\"" + REF + "\"', "
                'json(\'[{"type":"Relationship","object":"urn:x:moved"}]\')) '
                "WHERE id = 'urn:ngsi-ld:Room:1'"
            )
        store.entities.run([_set(0, 3), _set(1, 3)])
        assert _temperature(store, 0) == 3
        room_1 = store.entities.get("", "urn:ngsi-ld:Room:1")
        assert room_1["attrs"][REF][0]["object"] == "urn:x:moved"  # not the body before
        store.entities.run([delete_op("", "urn:ngsi-ld:Room:1")])
        (missing,) = store.entities.run([_set(1, 4)])
        assert isinstance(missing, NotFoundError)
        # a batch undone (a value SQLite refuses) leaves what was committed before it
        store.entities.run([_set(0, 5), _set(0, "\ud800")])
        store.entities.run([_set(0, 6)])
        history = other.entities.history("", "urn:ngsi-ld:Room:0", [TEMPERATURE])
        assert [(inst or {}).get("value") for _, inst in history] == [0, 1, 2, 3, 5, 6]
        assert _temperature(other, 0) == 6
    finally:
        other.close()
        store.close()
