"""``/`` and ``/viewer/``: the redirect, the viewer's files and CesiumJS's build."""

from __future__ import annotations

from typing import TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from yarl import URL

from .demo_data import SECRET

Client: TypeAlias = TestClient[web.Request, web.Application]


@pytest.mark.parametrize("path", ["/", "/viewer"])
async def test_redirects_to_the_viewer(client: Client, path: str) -> None:
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/viewer/"


async def test_viewer_serves_index_html(client: Client) -> None:
    resp = await client.get("/viewer/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.charset == "utf-8"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert await resp.read() == b"<!doctype html><title>twin</title>"


async def test_root_ends_at_the_viewer(client: Client) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.url.path == "/viewer/"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/viewer/app.js", "text/javascript"),
        ("/viewer/style.css", "text/css"),
        ("/viewer/index.html", "text/html"),
        ("/viewer/cesium/Cesium.js", "text/javascript"),
        ("/viewer/cesium/Widgets/widgets.css", "text/css"),
        ("/viewer/cesium/ThirdParty/draco_decoder.wasm", "application/wasm"),
        ("/viewer/cesium/Assets/IAU2006_XYS/IAU2006_XYS_0.json", "application/json"),
        ("/viewer/cesium/Assets/Textures/moonSmall.jpg", "image/jpeg"),
    ],
)
async def test_viewer_files_have_their_content_type(
    client: Client, path: str, content_type: str
) -> None:
    resp = await client.get(path)
    assert resp.status == 200
    assert resp.content_type == content_type
    assert resp.headers["Cache-Control"] == "no-cache"


async def test_viewer_files_revalidate_with_etag(client: Client) -> None:
    etag = (await client.get("/viewer/cesium/Cesium.js")).headers["ETag"]
    resp = await client.get("/viewer/cesium/Cesium.js", headers={"If-None-Match": etag})
    assert resp.status == 304


@pytest.mark.parametrize(
    ("raw_path", "status", "detail"),
    [
        (
            "/viewer/node_modules/other/index.js",
            404,
            "no file 'node_modules/other/index.js' in the viewer",
        ),
        (
            "/viewer/node_modules/cesium/package.json",
            404,
            "no file 'node_modules/cesium/package.json' in the viewer",
        ),
        ("/viewer/.env", 404, "no file '.env' in the viewer"),
        ("/viewer/leak.txt", 404, "no file 'leak.txt' in the viewer"),
        ("/viewer/missing.js", 404, "no file 'missing.js' in the viewer"),
        ("/viewer/cesium/missing.js", 404, "no file 'missing.js' in the viewer"),
        (
            "/viewer/%2e%2e%2fsecret.txt",
            400,
            "invalid path '../secret.txt': "
            "use '/'-separated names without '.', '..' or empty parts",
        ),
        (
            "/viewer/cesium/..%2f..%2f..%2f..%2f..%2fsecret.txt",
            400,
            "invalid path '../../../../../secret.txt': "
            "use '/'-separated names without '.', '..' or empty parts",
        ),
    ],
)
async def test_viewer_refuses_what_is_not_the_viewer(
    client: Client, raw_path: str, status: int, detail: str
) -> None:
    resp = await client.get(URL(raw_path, encoded=True))
    body = await resp.read()
    assert resp.status == status
    assert resp.content_type == "application/problem+json"
    assert (await resp.json(content_type=None))["detail"] == detail
    assert SECRET not in body
