"""Publishing a dataset holds the write lock in short transactions: another connection (a
``twin serve`` beside the import) writes between them, reads the old dataset or the new one
whole, and its live writes to building entities survive the sync."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.errors import ConflictError, StoreBusyError
from twin.model import BuildingRecord, DatasetInfo
from twin.ngsild.entity import parse_attributes
from twin.ngsild.jsonld import CORE
from twin.ngsild.operations import append_attrs
from twin.store import SQLiteStore
from twin.store.buildings import building_entity_id
from twin.store.features import FeatureQuery
from twin.store.sqlite import _PUBLISH_CHUNK

NOW = "2026-01-01T00:00:00.000Z"
WORLD = (-180.0, -90.0, 180.0, 90.0)
OCCUPANCY = CORE.expand("occupancy")
STOREYS = CORE.expand("storeys")


def city(n: int, storeys: int) -> Iterator[BuildingRecord]:
    """Yield ``n`` buildings on a grid, each with ``storeys`` as a static attribute."""
    for i in range(n):
        x, y = 11.0 + (i % 50) * 1e-3, 48.0 + (i // 50) * 1e-3
        yield BuildingRecord(
            dataset="city", id=f"B{i:05d}", type="Building",
            bbox_wgs84=(x, y, 500.0, x + 5e-4, y + 5e-4, 510.0), footprint=None,
            attributes={"storeys": storeys},
        )  # fmt: skip


def publish(store: SQLiteStore, records: Iterator[BuildingRecord], n: int) -> None:
    staging = store.staging_dir("city")
    (staging / "tileset.json").write_text("{}")
    info = DatasetInfo("city", "city", "EPSG:4326", n, None, dt.datetime.now(dt.UTC))
    store.publish(info, records, staging)


def counts(store: SQLiteStore) -> tuple[int, int, int]:
    """Return the dataset's count as its row says, as a query says, as a bbox query says."""
    return (
        store.get_dataset("city").object_count,
        store.features.count(FeatureQuery("city")),
        store.features.count(FeatureQuery("city", bbox_crs84=WORLD)),
    )


def set_occupancy(store: SQLiteStore, object_id: str, value: int) -> None:
    attrs = parse_attributes({"occupancy": value}, CORE, NOW)
    store.entities.modify(
        "", building_entity_id("city", object_id), lambda old: append_attrs(old, attrs, NOW)
    )


def test_another_connection_writes_between_chunks_and_reads_the_old_dataset_whole(
    tmp_path: Path,
) -> None:
    n_old, n_new = 2 * _PUBLISH_CHUNK + 10, 3 * _PUBLISH_CHUNK + 7
    store = SQLiteStore(tmp_path / "data")
    publish(store, city(n_old, storeys=2), n_old)
    server = SQLiteStore(tmp_path / "data")  # another connection, as twin serve beside it
    seen: list[tuple[int, int, int]] = []

    def records() -> Iterator[BuildingRecord]:
        for i, record in enumerate(city(n_new, storeys=3)):
            if i % (_PUBLISH_CHUNK // 2) == 1:
                set_occupancy(server, "B00000", i)  # busy for the whole publish before
                seen.append(counts(server))
            yield record

    publish(store, records(), n_new)
    assert seen == [(n_old, n_old, n_old)] * len(seen)
    assert len(seen) >= 6
    assert counts(server) == (n_new, n_new, n_new)
    assert server.features.page(FeatureQuery("city", limit=1))[0].attributes == {"storeys": 3}


def test_live_writes_during_the_building_sync_are_kept(tmp_path: Path) -> None:
    """A live value written to a building whose chunk is already synced, and to one whose
    chunk is not yet: both survive, beside the new static attributes."""
    n = 3 * _PUBLISH_CHUNK
    store = SQLiteStore(tmp_path / "data")
    publish(store, city(n, storeys=2), n)
    server = SQLiteStore(tmp_path / "data")
    synced, pending = "B00001", f"B{n - 1:05d}"

    def records() -> Iterator[BuildingRecord]:
        for i, record in enumerate(city(n, storeys=3)):
            if i == _PUBLISH_CHUNK + 1:  # the first chunk is written, the last is not
                set_occupancy(server, synced, 41)
                set_occupancy(server, pending, 42)
            yield record

    publish(store, records(), n)
    for object_id, value in ((synced, 41), (pending, 42)):
        body = server.entities.get("", building_entity_id("city", object_id))
        assert body["attrs"][OCCUPANCY][0]["value"] == value
        assert body["attrs"][STOREYS][0]["value"] == 3


def test_buildings_that_left_lose_their_entity_and_rows(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    publish(store, city(300, storeys=2), 300)
    publish(store, (dataclasses.replace(r, id=f"N{r.id}") for r in city(100, 3)), 100)
    rows = store._db.execute("SELECT count(*) FROM objects").fetchone()[0]
    rtree = store._db.execute("SELECT count(*) FROM feature_rtree_keys").fetchone()[0]
    entities = store._db.execute("SELECT count(*) FROM building_entities").fetchone()[0]
    pending = store._db.execute("SELECT count(*) FROM generations").fetchone()[0]
    assert (rows, rtree, entities, pending) == (100, 100, 100, 0)
    assert store.get_object("city", "NB00001").attributes == {"storeys": 3}


def test_an_export_that_straddles_a_reimport_is_a_conflict_not_a_mix(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    publish(store, city(300, storeys=2), 300)
    chunks = store.features.iter_chunks(FeatureQuery("city"), chunk=100)
    assert {r.attributes["storeys"] for r in next(chunks)} == {2}
    publish(store, city(300, storeys=3), 300)
    with pytest.raises(ConflictError, match="'city' was re-imported during this export; run it"):
        next(chunks)


@pytest.mark.parametrize("autocheckpoint", [1000, 0])
def test_a_publish_puts_the_connections_autocheckpoint_back(
    tmp_path: Path, autocheckpoint: int
) -> None:
    """The chunks commit without checkpointing (a PASSIVE one runs between them); after the
    publish the connection checkpoints as before: by default, or not at all beside the server's
    WalCheckpointer."""
    store = SQLiteStore(tmp_path)
    store._db.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
    n = 20 * _PUBLISH_CHUNK  # more than _CHECKPOINT_CHUNKS chunks
    publish(store, city(n, 3), n)
    assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone() == (autocheckpoint,)
    assert counts(store) == (n, n, n)


def test_a_second_import_of_a_dataset_being_imported_is_refused(tmp_path: Path) -> None:
    # Two imports of one dataset at once would each retire the building entities the other
    # wrote; the second is told, and may start once the first has published or failed.
    first, second = SQLiteStore(tmp_path / "data"), SQLiteStore(tmp_path / "data")
    staging = first.staging_dir("city")
    with pytest.raises(StoreBusyError, match="another import of dataset 'city'"):
        second.staging_dir("city")
    other = second.staging_dir("town")  # other datasets import meanwhile
    second.discard_staging(other)
    first.discard_staging(staging)  # failed: the next may start
    publish(second, city(3, 1), 3)
    publish(first, city(2, 1), 2)  # published: the next may start
    assert counts(first) == (2, 2, 2)


def test_a_report_update_for_a_replaced_publish_changes_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    publish(store, city(3, 2), 3)
    first = store.get_dataset("city")
    publish(store, city(3, 4), 3)
    store.update_report(dataclasses.replace(first, report={"stage_seconds": {"publish": 1.0}}))
    assert store.get_dataset("city").report == {}  # the later publish's, untouched
    latest = store.get_dataset("city")
    store.update_report(dataclasses.replace(latest, report={"stage_seconds": {"publish": 2.0}}))
    assert store.get_dataset("city").report == {"stage_seconds": {"publish": 2.0}}
    store.close()
