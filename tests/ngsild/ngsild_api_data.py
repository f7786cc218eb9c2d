"""Catalog records of the NGSI-LD API tests: two buildings (one with a part) of ``demo``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from twin.model import Address, BuildingRecord, DatasetInfo
from twin.store import SQLiteStore

MakeClient = Callable[..., Awaitable[TestClient]]
"""The ``make_client`` fixture: an NGSI-LD test client on the store, options as keywords."""

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[11.0, 48.0], [11.001, 48.0], [11.001, 48.001], [11.0, 48.001], [11.0, 48.0]]],
}


def demo_records(dataset: str = "demo") -> list[BuildingRecord]:
    """Return two buildings (one with a part) of a small dataset."""
    return [
        BuildingRecord(
            dataset=dataset, id="B1", type="Building",
            bbox_wgs84=(11.0, 48.0, 500.0, 11.001, 48.001, 512.5), footprint=SQUARE,
            attributes={"measuredHeight": 12.5, "function": "31001_1000",
                        "yearOfConstruction": dt.date(1972, 1, 1)},
            address=Address(street="Arcisstraße", house_number="21", locality="München"),
        ),
        BuildingRecord(
            dataset=dataset, id="B1-part", type="BuildingPart", parent_id="B1",
            bbox_wgs84=(11.0, 48.0, 500.0, 11.0005, 48.0005, 505.0), footprint=None,
            attributes={"measuredHeight": 5.0},
        ),
        BuildingRecord(
            dataset=dataset, id="B2", type="Building",
            bbox_wgs84=(11.01, 48.01, 500.0, 11.011, 48.011, 520.0), footprint=None,
            attributes={"measuredHeight": 20.0},
        ),
    ]  # fmt: skip


def publish(store: SQLiteStore, records: list[BuildingRecord], dataset: str = "demo") -> None:
    """Publish ``records`` as ``dataset`` with an empty tileset."""
    staging = store.staging_dir(dataset)
    (staging / "tileset.json").write_text("{}")
    info = DatasetInfo(
        name=dataset, title=dataset, srs_name="EPSG:4326", object_count=len(records),
        bbox_wgs84=None, imported_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    store.publish(info, records, staging)


def without_instance_ids(body: dict[str, Any]) -> dict[str, Any]:
    """Return a temporal entity with its instances' ``instanceId`` removed (each must have one)."""
    for instances in body.values():
        for inst in instances if isinstance(instances, list) else ():
            assert inst.pop("instanceId").startswith("urn:ngsi-ld:AttributeInstance:")
    return body
