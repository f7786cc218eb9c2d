"""A real store with one published building, and a client on the full app."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from twin.model import BuildingRecord, DatasetInfo
from twin.server import create_app
from twin.store import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "data")
    staging = store.staging_dir("demo")
    (staging / "tileset.json").write_text("{}")
    record = BuildingRecord(
        dataset="demo", id="B1", type="Building", bbox_wgs84=(11.0, 48.0, 0.0, 11.001, 48.001, 9.0),
        footprint=None, attributes={"measuredHeight": 9.0},
    )  # fmt: skip
    info = DatasetInfo(
        name="demo", title="demo", srs_name=None, object_count=1, bbox_wgs84=None,
        imported_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    store.publish(info, [record], staging)
    return store


@pytest.fixture
async def client(store: SQLiteStore, tmp_path: Path, aiohttp_client: AiohttpClient) -> TestClient:
    return await aiohttp_client(create_app(store, viewer_dir=tmp_path / "no-viewer"))
