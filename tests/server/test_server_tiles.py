"""``/tiles/``: content types, ETags and 304, caching, ranges, CORS and path traversal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from yarl import URL

from twin.pipeline import ImportOptions, import_files
from twin.server.app import create_app
from twin.store import SQLiteStore

from .demo_data import SECRET, TILE_FILES

Client: TypeAlias = TestClient[web.Request, web.Application]

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("path", "content_type", "cache_control"),
    [
        ("tileset.json", "application/json", "no-cache"),
        ("external/child.json", "application/json", "no-cache"),
        ("content/0.glb", "model/gltf-binary", IMMUTABLE),
        ("subtrees/0.0.0.subtree", "application/octet-stream", IMMUTABLE),
        ("content/legacy.b3dm", "application/octet-stream", IMMUTABLE),
        ("content/buffer.bin", "application/octet-stream", IMMUTABLE),
    ],
)
async def test_tile_file_is_served_with_type_and_cache_policy(
    client: Client, path: str, content_type: str, cache_control: str
) -> None:
    resp = await client.get(f"/tiles/demo/{path}")
    assert resp.status == 200
    assert resp.content_type == content_type
    assert resp.headers["Cache-Control"] == cache_control
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert await resp.read() == TILE_FILES[path]


async def test_head_gives_headers_without_body(client: Client) -> None:
    resp = await client.head("/tiles/demo/content/0.glb")
    assert resp.status == 200
    assert resp.content_type == "model/gltf-binary"
    assert resp.headers["Content-Length"] == str(len(TILE_FILES["content/0.glb"]))
    assert resp.headers["ETag"].startswith('"')
    assert await resp.read() == b""


async def test_if_none_match_with_the_etag_gives_304(client: Client) -> None:
    first = await client.get("/tiles/demo/tileset.json")
    etag = first.headers["ETag"]
    again = await client.get("/tiles/demo/tileset.json", headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "no-cache"
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert await again.read() == b""


@pytest.mark.parametrize("header", ["W/{etag}", '"other", {etag}', "*"])
async def test_if_none_match_forms_that_match(client: Client, header: str) -> None:
    etag = (await client.get("/tiles/demo/content/0.glb")).headers["ETag"]
    resp = await client.get(
        "/tiles/demo/content/0.glb", headers={"If-None-Match": header.format(etag=etag)}
    )
    assert resp.status == 304


async def test_stale_etag_gives_the_file(client: Client) -> None:
    resp = await client.get("/tiles/demo/content/0.glb", headers={"If-None-Match": '"stale"'})
    assert resp.status == 200
    assert await resp.read() == TILE_FILES["content/0.glb"]


async def test_different_files_have_different_etags(client: Client) -> None:
    a = await client.get("/tiles/demo/content/0.glb")
    b = await client.get("/tiles/demo/content/1.glb")
    assert a.headers["ETag"] != b.headers["ETag"]
    assert a.headers["ETag"] == (await client.get("/tiles/demo/content/0.glb")).headers["ETag"]


@pytest.mark.parametrize(
    ("range_header", "body", "content_range"),
    [
        ("bytes=0-3", b"glTF", "bytes 0-3/72"),
        ("bytes=70-", bytes([62, 63]), "bytes 70-71/72"),
        ("bytes=-2", bytes([62, 63]), "bytes 70-71/72"),
        ("bytes=68-1000", bytes([60, 61, 62, 63]), "bytes 68-71/72"),
    ],
)
async def test_range_gives_206(
    client: Client, range_header: str, body: bytes, content_range: str
) -> None:
    resp = await client.get("/tiles/demo/content/0.glb", headers={"Range": range_header})
    assert resp.status == 206
    assert resp.headers["Content-Range"] == content_range
    assert await resp.read() == body


@pytest.mark.parametrize("range_header", ["bytes=0-1,4-5", "items=0-3", "bytes=5-2"])
async def test_unusable_range_is_ignored(client: Client, range_header: str) -> None:
    resp = await client.get("/tiles/demo/content/0.glb", headers={"Range": range_header})
    assert resp.status == 200
    assert await resp.read() == TILE_FILES["content/0.glb"]


async def test_range_past_the_end_gives_416_problem(client: Client) -> None:
    resp = await client.get("/tiles/demo/content/0.glb", headers={"Range": "bytes=500-"})
    assert resp.status == 416
    assert resp.headers["Content-Range"] == "bytes */72"
    assert resp.content_type == "application/problem+json"
    body = await resp.json(content_type=None)
    assert body["detail"] == "range starts at 500 but the file has 72 bytes"


@pytest.mark.parametrize("range_header", ["bytes=-0", "bytes=-000"])
async def test_a_zero_length_suffix_range_gives_416(client: Client, range_header: str) -> None:
    # RFC 9110 §14.1.1: a suffix-range is satisfiable only if its length is not zero; aiohttp
    # reads "-0" as the slice 0: (the whole file), which was answered 206 with every byte
    resp = await client.get("/tiles/demo/content/0.glb", headers={"Range": range_header})
    assert resp.status == 416
    assert resp.headers["Content-Range"] == "bytes */72"
    body = await resp.json(content_type=None)
    assert body["detail"] == "a suffix range of 0 bytes selects nothing of the file's 72 bytes"


async def test_if_range_with_an_old_etag_gives_the_whole_file(client: Client) -> None:
    headers = {"Range": "bytes=0-3", "If-Range": '"old"'}
    resp = await client.get("/tiles/demo/content/0.glb", headers=headers)
    assert resp.status == 200


async def test_options_preflight_is_answered(client: Client) -> None:
    resp = await client.options(
        "/tiles/demo/tileset.json",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range, if-none-match",
        },
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert resp.headers["Access-Control-Allow-Headers"] == "range, if-none-match"
    assert resp.headers["Access-Control-Max-Age"] == "86400"


async def test_etag_is_exposed_to_cross_origin_scripts(client: Client) -> None:
    resp = await client.get("/tiles/demo/tileset.json", headers={"Origin": "https://x.org"})
    assert "ETag" in resp.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/tiles/nowhere/tileset.json", 404, "no tileset for dataset 'nowhere'"),
        (
            "/tiles/demo/missing.glb",
            404,
            "no file 'missing.glb' in the tileset of dataset 'demo'",
        ),
        ("/tiles/demo/content", 404, "no file 'content' in the tileset of dataset 'demo'"),
    ],
)
async def test_unknown_tile_gives_404_problem(
    client: Client, path: str, status: int, detail: str
) -> None:
    resp = await client.get(path)
    assert resp.status == status
    assert resp.content_type == "application/problem+json"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    body: dict[str, Any] = await resp.json(content_type=None)
    assert body == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": detail,
        "instance": path,
    }


INVALID = "invalid path {!r}: use '/'-separated names without '.', '..' or empty parts"


@pytest.mark.parametrize(
    ("raw_path", "status", "detail"),
    [
        ("/tiles/demo/../../twin.db", 404, "nothing is served at /twin.db"),
        ("/tiles/demo/%2e%2e%2f%2e%2e%2ftwin.db", 400, INVALID.format("../../twin.db")),
        ("/tiles/demo/..%2f..%2ftwin.db", 400, INVALID.format("../../twin.db")),
        ("/tiles/demo/%2e%2e/%2e%2e/twin.db", 400, INVALID.format("../../twin.db")),
        ("/tiles/demo/..%5c..%5ctwin.db", 400, INVALID.format("..\\..\\twin.db")),
        ("/tiles/demo/%2Fetc%2Fpasswd", 400, INVALID.format("/etc/passwd")),
        ("/tiles/demo//etc/passwd", 400, INVALID.format("/etc/passwd")),
        ("/tiles/demo/content/%00.glb", 400, INVALID.format("content/\x00.glb")),
        (
            "/tiles/demo/content/escape.glb",
            404,
            "no file 'content/escape.glb' in the tileset of dataset 'demo'",
        ),
        (
            "/tiles/demo/up/secret.txt",
            404,
            "no file 'up/secret.txt' in the tileset of dataset 'demo'",
        ),
        (
            "/tiles/%2e%2e/data/twin.db",
            400,
            "invalid dataset name '..': use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit",
        ),
    ],
)
async def test_traversal_is_refused(
    client: Client, raw_path: str, status: int, detail: str
) -> None:
    resp = await client.get(URL(raw_path, encoded=True))
    body = await resp.read()
    assert resp.status == status
    assert resp.content_type == "application/problem+json"
    assert (await resp.json(content_type=None))["detail"] == detail
    assert SECRET not in body
    assert b"SQLite format 3" not in body


@pytest.mark.parametrize(
    "raw_path",
    [
        "/tiles/demo/../../twin.db",
        "/tiles/demo/content/../../../secret.txt",
        "/viewer/../secret.txt",
    ],
)
async def test_literal_dot_segments_on_the_wire_are_refused(client: Client, raw_path: str) -> None:
    """Send the request line by hand: HTTP clients would normalise the dots away first."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {raw_path} HTTP/1.1\r\nHost: twin\r\nConnection: close\r\n\r\n".encode())
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"application/problem+json" in head
    assert SECRET not in body
    assert b"SQLite format 3" not in body


async def test_an_imported_b3dm_tileset_is_served_as_3d_tiles_1_0(
    aiohttp_client: Any, tmp_path: Path, viewer_dir: Path, shared_data: Path
) -> None:
    store = SQLiteStore(tmp_path / "b3dm-data")
    options = ImportOptions(dataset="legacy", tile_format="b3dm", workers=1)
    import_files([shared_data / "citygml/teco_district1_LoD2.gml"], store, options)
    client = await aiohttp_client(create_app(store, viewer_dir=viewer_dir))
    try:
        resp = await client.get("/tiles/legacy/tileset.json")
        tileset = await resp.json()
        assert tileset["asset"]["version"] == "1.0"
        uri = tileset["root"]["content"]["uri"]
        assert uri.endswith(".b3dm")
        tile = await client.get(f"/tiles/legacy/{uri}")
        assert tile.status == 200
        assert tile.content_type == "application/octet-stream"  # b3dm §File extension
        assert tile.headers["Cache-Control"] == IMMUTABLE
        body = await tile.read()
        assert body[:4] == b"b3dm"
        assert body == (store.tileset_dir("legacy") / uri).read_bytes()
        # The import report beside it says what the b3dm bytes are made of.
        report = await (await client.get("/tiles/legacy/import-report.json")).json()
        content = store.tileset_dir("legacy") / "content"
        assert report["tiles"]["content_bytes"] == sum(p.stat().st_size for p in content.iterdir())
        assert report["tiles"]["by_type"]["Building"]["objects"] == 104
        assert report["tiles"]["made_of"]["properties"] > 0  # the batch tables
    finally:
        store.close()
