"""A real SQLiteStore with a published two-building dataset, and NGSI-LD clients on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from ngsild_api_data import MakeClient, demo_records, publish
from pytest_aiohttp import AiohttpClient

from twin.server import create_app
from twin.store import SQLiteStore


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path) -> SQLiteStore:
    store = SQLiteStore(data_dir)
    publish(store, demo_records())
    return store


@pytest.fixture
def make_client(store: SQLiteStore, tmp_path: Path, aiohttp_client: AiohttpClient) -> MakeClient:
    """Return a factory of clients on an app over ``store`` (``tokens=`` optional)."""

    async def make(tokens: tuple[str, ...] = ()) -> TestClient:
        app = create_app(store, viewer_dir=tmp_path / "no-viewer", tokens=tokens)
        return await aiohttp_client(app)

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    return await make_client()
