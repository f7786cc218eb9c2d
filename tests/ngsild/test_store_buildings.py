"""The import's building sync: streamed in chunks, index rows and live attributes kept right."""

from __future__ import annotations

import dataclasses
import gc
import sqlite3
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from ngsild_api_data import demo_records, publish

from twin.errors import StoreBusyError
from twin.model import BuildingRecord
from twin.store import SQLiteStore
from twin.store.buildings import (
    CHUNK,
    BuildingSync,
    building_entity_id,
    sync_building_entities,
)

API = "/ngsi-ld/v1"
B1 = "urn:ngsi-ld:Building:demo:B1"


def many(n: int, dataset: str = "big") -> Iterator[BuildingRecord]:
    template = demo_records(dataset)[2]
    for i in range(n):
        yield dataclasses.replace(template, id=f"b{i}", attributes={"storeys": i % 7})


def sync(store: SQLiteStore, dataset: str, records: Iterator[BuildingRecord]) -> None:
    with store._cursor() as cur:
        cur.execute("BEGIN IMMEDIATE")
        sync_building_entities(cur, dataset, records)
        cur.execute("COMMIT")


def count(cur: sqlite3.Cursor, sql: str) -> int:
    (n,) = cur.execute(sql).fetchone()
    return int(n)


def test_records_are_read_once_and_written_chunk_by_chunk(tmp_path: object) -> None:
    store = SQLiteStore(tmp_path / "data")  # type: ignore[operator]
    written_while_reading: list[int] = []

    def one_pass() -> Iterator[BuildingRecord]:
        for i, record in enumerate(many(2 * CHUNK + 1)):
            if i == CHUNK + 1:  # the same connection: it sees the open transaction
                written_while_reading.append(
                    count(store._db.cursor(), "SELECT count(*) FROM entities")
                )
            yield record

    sync(store, "big", one_pass())
    assert written_while_reading == [CHUNK]
    with store._cursor() as cur:
        assert count(cur, "SELECT count(*) FROM entities") == 2 * CHUNK + 1
        assert count(cur, "SELECT count(*) FROM entity_types") == 2 * CHUNK + 1
        assert count(cur, "SELECT count(*) FROM building_entities") == 2 * CHUNK + 1
        assert count(cur, "SELECT count(*) FROM attr_index WHERE attr LIKE '%storeys'") == (
            2 * CHUNK + 1
        )
    store.close()


def test_entities_created_after_a_sync_get_fresh_sequence_numbers(tmp_path: object) -> None:
    store = SQLiteStore(tmp_path / "data")  # type: ignore[operator]
    sync(store, "big", many(3))
    sync(store, "big", many(1))  # two buildings deleted: their seqs are never reused
    sync(store, "big", many(3))
    store.entities.create("", {"id": "urn:x:1", "type": ["T"], "attrs": {},
                               "createdAt": "2024-01-01T00:00:00Z",
                               "modifiedAt": "2024-01-01T00:00:00Z"})  # fmt: skip
    with store._cursor() as cur:
        seqs = [s for (s,) in cur.execute("SELECT seq FROM entities ORDER BY seq")]
    assert seqs == [1, 4, 5, 6]
    store.close()


async def test_reimport_replaces_static_index_rows_and_keeps_live_ones(
    client: TestClient, store: SQLiteStore
) -> None:
    await client.post(f"{API}/entities/{B1}/attrs", json={"occupancy": 12})
    records = demo_records()
    publish(store, [dataclasses.replace(records[0], attributes={"measuredHeight": 13.0})])
    found = await client.get(f'{API}/entities?type=Building&q=function=="31001_1000"')
    assert await found.json() == []
    found = await client.get(f"{API}/entities?type=Building&q=measuredHeight==13.0")
    assert [e["id"] for e in await found.json()] == [B1]
    found = await client.get(f"{API}/entities?type=Building&q=occupancy==12")
    assert [e["id"] for e in await found.json()] == [B1]
    everything = await client.get(f"{API}/entities?type=Building")
    assert [e["id"] for e in await everything.json()] == [B1]
    with store._cursor() as cur:
        b2 = building_entity_id("demo", "B2")
        assert count(cur, f"SELECT count(*) FROM entities WHERE id = '{b2}'") == 0
        assert count(cur, "SELECT count(*) FROM entity_types") == 1
        assert count(cur, "SELECT count(*) FROM building_entities") == 1


async def test_an_entity_created_before_the_import_keeps_its_attributes_and_types(
    client: TestClient, store: SQLiteStore
) -> None:
    early = building_entity_id("demo", "B3")
    doc = {"id": early, "type": ["Building", "Landmark"], "occupancy": 3}
    assert (await client.post(f"{API}/entities", json=doc)).status == 201
    created = await (await client.get(f"{API}/entities/{early}?options=sysAttrs")).json()
    b3 = dataclasses.replace(demo_records()[2], id="B3")
    publish(store, [*demo_records(), b3])
    body = await (await client.get(f"{API}/entities/{early}?options=sysAttrs")).json()
    assert body["type"] == ["Building", "Landmark"]
    assert body["occupancy"]["value"] == 3
    assert body["measuredHeight"]["value"] == 20.0
    assert body["createdAt"] == created["createdAt"]
    landmarks = await client.get(f"{API}/entities?type=Landmark")
    assert [e["id"] for e in await landmarks.json()] == [early]


async def test_a_write_while_an_import_holds_the_database_is_503(
    client: TestClient, store: SQLiteStore
) -> None:
    """``twin import`` in another process holds the write lock through the building sync (a
    minute at 100k buildings): the live writes meanwhile say "busy, retry", not 500."""
    importer = sqlite3.connect(store.data_dir / "twin.db", isolation_level=None)
    importer.execute("BEGIN IMMEDIATE")  # what SQLiteStore.publish does in that process
    try:
        resp = await client.post(f"{API}/entities/{B1}/attrs", json={"occupancy": 12})
        body = await resp.json(content_type=None)
        assert resp.status == 503, body
        assert "busy" in body["detail"], body
    finally:
        importer.execute("ROLLBACK")
        importer.close()
    resp = await client.post(f"{API}/entities/{B1}/attrs", json={"occupancy": 12})
    assert resp.status == 204, await resp.text()


def test_an_import_while_another_holds_the_database_says_busy(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    other = sqlite3.connect(store.data_dir / "twin.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusyError, match="busy"):  # not "cannot rollback"
            publish(store, demo_records())
    finally:
        other.execute("ROLLBACK")
        other.close()
    publish(store, demo_records())
    assert [d.name for d in store.list_datasets()] == ["demo"]
    store.close()


def test_the_sync_keeps_no_memory_per_building(tmp_path: Path) -> None:
    # Which buildings an import wrote, and which were there before it, stay in the store:
    # a set of ids costs ~90 B a building, 90 MB at a million.
    store = SQLiteStore(tmp_path / "data")
    sync(store, "big", many(CHUNK))  # a previous import
    every = list(many(5 * CHUNK))
    records = [every[i : i + CHUNK] for i in range(0, len(every), CHUNK)]
    building_sync = BuildingSync("big")
    with store._cursor() as cur:
        cur.execute("BEGIN IMMEDIATE")
        tracemalloc.start()
        for chunk in records[:2]:  # an update, an insert: what each leaves behind is traced
            building_sync.write(cur, chunk)
        gc.collect()  # (which empties the interpreter's free lists: up to 2,000 tuples a size)
        before = tracemalloc.take_snapshot()
        for chunk in records[2:]:
            building_sync.write(cur, chunk)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        cur.execute("COMMIT")
    mine = [tracemalloc.Filter(False, tracemalloc.__file__)]  # the snapshot `before` itself
    held = sum(
        s.size_diff
        for s in after.filter_traces(mine).compare_to(before.filter_traces(mine), "filename")
    )
    assert held < 16 * 3 * CHUNK, f"{held / (3 * CHUNK):.0f} B a building"
