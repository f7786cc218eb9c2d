"""A real SQLiteStore with a tiny published tileset, a fake viewer folder, and a client on both."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from twin.server import create_app
from twin.store import SQLiteStore

from .demo_data import INFO, RECORDS, SECRET, TILE_FILES


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """Return a file outside every served folder, which must never be served."""
    path = tmp_path / "secret.txt"
    path.write_bytes(SECRET)
    return path


@pytest.fixture
def store(tmp_path: Path, secret_file: Path) -> SQLiteStore:
    """Return a store with dataset ``demo`` published (plus an escaping symlink in its tiles)."""
    store = SQLiteStore(tmp_path / "data")
    staging = store.staging_dir("demo")
    for name, content in TILE_FILES.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(content)
    (staging / "content" / "escape.glb").symlink_to(secret_file)
    (staging / "up").symlink_to(tmp_path)
    store.publish(INFO, RECORDS, staging)
    return store


@pytest.fixture
def viewer_dir(tmp_path: Path, secret_file: Path) -> Path:
    """Return a fake viewer folder with CesiumJS's build where npm puts it."""
    root = tmp_path / "viewer"
    cesium = root / "node_modules" / "cesium" / "Build" / "Cesium"
    files = {
        "index.html": b"<!doctype html><title>twin</title>",
        "app.js": b"export const x = 1;",
        "style.css": b"body { margin: 0 }",
        ".env": b"TOKEN=do-not-serve",
        "node_modules/other/index.js": b"// not served",
        "node_modules/cesium/package.json": b'{"name": "cesium"}',
    }
    cesium_files = {
        "Cesium.js": b"var Cesium = {};",
        "Widgets/widgets.css": b".cesium-widget {}",
        "ThirdParty/draco_decoder.wasm": b"\x00asm\x01\x00\x00\x00",
        "Assets/IAU2006_XYS/IAU2006_XYS_0.json": b"{}",
        "Assets/Textures/moonSmall.jpg": b"\xff\xd8\xff\xe0",
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    for name, content in cesium_files.items():
        (cesium / name).parent.mkdir(parents=True, exist_ok=True)
        (cesium / name).write_bytes(content)
    (root / "leak.txt").symlink_to(secret_file)
    return root


@pytest.fixture
def app(store: SQLiteStore, viewer_dir: Path) -> web.Application:
    """Return the application over the demo store and the fake viewer."""
    return create_app(store, viewer_dir=viewer_dir)


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, app: web.Application
) -> TestClient[web.Request, web.Application]:
    """Return a test client talking to :func:`app`."""
    return await aiohttp_client(app)
