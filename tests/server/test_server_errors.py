"""Problem details for every error; the server keeps answering after any of them."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.typedefs import Handler
from pytest_aiohttp import AiohttpClient

from twin.errors import ConflictError, QueryError, ReprojectionError, StoreError, TwinError
from twin.model import DatasetInfo
from twin.server import create_app
from twin.store import SQLiteStore

Client: TypeAlias = TestClient[web.Request, web.Application]

GENERIC = "The server failed to answer this request; the error is in its log."


async def _boom(request: web.Request) -> web.StreamResponse:
    raise RuntimeError("secret internals: /etc/twin/key")


def _raising(exc: TwinError) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise exc

    return handler


async def test_unknown_route_gives_404_problem(client: Client) -> None:
    resp = await client.get("/no/such/thing")
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert await resp.json(content_type=None) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "nothing is served at /no/such/thing",
        "instance": "/no/such/thing",
    }


async def test_wrong_method_gives_405_problem_with_allow(client: Client) -> None:
    resp = await client.post("/ogc/collections", data=b"{}")
    assert resp.status == 405
    assert resp.content_type == "application/problem+json"
    assert "GET" in resp.headers["Allow"]
    body = await resp.json(content_type=None)
    assert (body["title"], body["status"]) == ("Method Not Allowed", 405)
    assert body["detail"] == "POST is not allowed on /ogc/collections"


async def test_unexpected_exception_gives_500_and_server_keeps_answering(
    aiohttp_client: AiohttpClient, app: web.Application, caplog: pytest.LogCaptureFixture
) -> None:
    app.router.add_get("/boom", _boom)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="twin.server.errors"):
        resp = await client.get("/boom")
        text = await resp.text()
    assert resp.status == 500
    assert resp.content_type == "application/problem+json"
    assert await resp.json(content_type=None) == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": GENERIC,
        "instance": "/boom",
    }
    assert "secret internals" not in text
    assert "Traceback" not in text
    assert "secret internals" in caplog.text
    assert caplog.records[-1].exc_info is not None
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/boom")).status == 500


@pytest.mark.parametrize(
    ("exc", "status", "problem_type", "title", "detail"),
    [
        (
            QueryError("limit must be a positive integer, got -1"),
            400,
            "about:blank",
            "Bad Request",
            "limit must be a positive integer, got -1",
        ),
        (
            ConflictError("dataset 'demo' is being imported"),
            409,
            "about:blank",
            "Conflict",
            "dataset 'demo' is being imported",
        ),
        (
            ReprojectionError("PROJ failed in /srv/private/grid.tif"),
            500,
            "about:blank",
            "Internal Server Error",
            GENERIC,
        ),
    ],
)
async def test_twin_errors_map_to_their_problem(
    aiohttp_client: AiohttpClient,
    app: web.Application,
    exc: TwinError,
    status: int,
    problem_type: str,
    title: str,
    detail: str,
) -> None:
    app.router.add_get("/raise", _raising(exc))
    client = await aiohttp_client(app)
    resp = await client.get("/raise")
    assert resp.status == status
    assert resp.content_type == "application/problem+json"
    assert await resp.json(content_type=None) == {
        "type": problem_type,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "/raise",
    }


ETSI = "https://uri.etsi.org/ngsi-ld/errors/"


@pytest.mark.parametrize(
    ("path", "status", "problem_type", "title"),
    [
        ("/ogc/collections/nope", 404, "about:blank", "Not Found"),
        ("/ogc/collections/demo/items?limit=-1", 400, "about:blank", "Bad Request"),
        ("/ogc/collections/demo/items?filter=height%20%3E", 400, "about:blank", "Bad Request"),
        ("/tiles/nope/tileset.json", 404, "about:blank", "Not Found"),
        ("/ngsi-ld/v1/entities/urn:ngsi-ld:Building:nope", 404, ETSI + "ResourceNotFound", None),
        ("/ngsi-ld/v1/entities?type=Building&limit=-1", 400, ETSI + "BadRequestData", None),
    ],
)
async def test_only_ngsild_answers_carry_etsi_problem_types(
    client: Client, path: str, status: int, problem_type: str, title: str | None
) -> None:
    resp = await client.get(path)
    body = await resp.json(content_type=None)
    assert (resp.status, body["type"], body["status"]) == (status, problem_type, status)
    if title is not None:  # about:blank: the status phrase (RFC 9457 §4.2.1)
        assert body["title"] == title
    assert body["detail"]


async def test_health_ok(client: Client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_health_503_when_the_store_cannot_be_read(client: Client, store: SQLiteStore) -> None:
    store.close()
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert resp.content_type == "application/problem+json"
    body = await resp.json(content_type=None)
    assert (body["status"], body["title"]) == (503, "Service Unavailable")
    assert body["detail"] == "The store cannot be read; the error is in the server's log."


class _BrokenCatalog(SQLiteStore):
    """A store whose catalog fails the way a broken disk makes it fail."""

    def list_datasets(self) -> list[DatasetInfo]:
        raise StoreError(f"catalog {self.data_dir / 'twin.db'}: disk I/O error")


async def test_store_failure_is_a_500_problem_without_its_paths(
    aiohttp_client: AiohttpClient, tmp_path: Path, viewer_dir: Path
) -> None:
    store = _BrokenCatalog(tmp_path / "broken")
    client = await aiohttp_client(create_app(store, viewer_dir=viewer_dir))
    resp = await client.get("/ogc/collections")
    body = await resp.json(content_type=None)
    assert resp.status == 500
    assert (body["type"], body["title"], body["detail"]) == (
        "about:blank",
        "Internal Server Error",
        GENERIC,
    )
    assert str(tmp_path) not in await resp.text()


async def test_app_closes_the_store_on_shutdown(
    aiohttp_client: AiohttpClient, app: web.Application, store: SQLiteStore
) -> None:
    client = await aiohttp_client(app)
    assert (await client.get("/healthz")).status == 200
    await client.close()
    with pytest.raises(Exception, match="closed database"):
        store.list_datasets()


async def test_a_bbox_read_while_an_import_holds_the_write_lock_is_answered(
    client: Client, store: SQLiteStore
) -> None:
    """Another process's import holds the catalog's write lock: reads need none (the R*Tree
    is written by the publish, not built by the first bbox query after it)."""
    everything = await client.get("/ogc/collections/demo/items?limit=100")
    expected = sorted(f["id"] for f in (await everything.json())["features"])
    importer = sqlite3.connect(store.data_dir / "twin.db", isolation_level=None)
    importer.execute("BEGIN IMMEDIATE")
    try:
        resp = await client.get("/ogc/collections/demo/items?bbox=-180,-90,180,90&limit=100")
        body = await resp.json(content_type=None)
    finally:
        importer.execute("ROLLBACK")
        importer.close()
    assert resp.status == 200, body
    assert sorted(f["id"] for f in body["features"]) == expected != []
