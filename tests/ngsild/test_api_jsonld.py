"""JSON-LD: term expansion/compaction, Link vs inline @context, content negotiation (§6.3.5)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from twin.ngsild.errors import LdContextNotAvailableError
from twin.ngsild.jsonld import (
    CORE,
    CORE_CONTEXT_URL,
    CORE_CONTEXT_URLS,
    ContextResolver,
    build_context,
    core_context_document,
)
from twin.store import SQLiteStore

API = "/ngsi-ld/v1"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
USER_CTX = {"sdm": "https://smartdatamodels.org/", "Building2": "sdm:Building",
            "temp": "https://example.org/temperature"}  # fmt: skip
REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


@pytest.mark.parametrize(
    ("name", "iri"),
    [
        ("temperature", DEFAULT + "temperature"),
        ("location", "https://uri.etsi.org/ngsi-ld/location"),
        ("temp", "https://example.org/temperature"),
        ("Building2", "https://smartdatamodels.org/Building"),
        ("sdm:Thing", "https://smartdatamodels.org/Thing"),
        ("urn:x:y", "urn:x:y"),
        ("https://schema.org/name", "https://schema.org/name"),
    ],
)
def test_expand_and_compact_round_trip(name: str, iri: str) -> None:
    ctx = build_context([USER_CTX])
    assert ctx.expand(name) == iri
    assert ctx.compact(iri) == name


def test_core_terms_cannot_be_redefined_but_vocab_can() -> None:
    ctx = build_context([{"location": "https://example.org/loc", "@vocab": "https://v.org/"}])
    assert ctx.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
    assert ctx.expand("speed") == "https://v.org/speed"


@pytest.mark.parametrize("url", sorted(CORE_CONTEXT_URLS))
def test_every_core_context_is_bundled(url: str) -> None:
    ctx = core_context_document(url)["@context"]
    assert isinstance(ctx, dict)
    assert ctx["@vocab"] == DEFAULT
    assert "GeoProperty" in ctx


async def test_resolver_caches_and_reports_unreachable() -> None:
    calls: list[str] = []

    async def fetch(url: str) -> object:
        calls.append(url)
        if "down" in url:
            raise OSError("connection refused")
        return {"@context": [CORE_CONTEXT_URL, USER_CTX]}

    resolver = ContextResolver(fetch)
    first = await resolver.resolve("https://ctx.example/a.jsonld")
    again = await resolver.resolve(["https://ctx.example/a.jsonld"])
    assert first.expand("temp") == again.expand("temp") == "https://example.org/temperature"
    assert calls == ["https://ctx.example/a.jsonld"]
    assert await resolver.resolve(CORE_CONTEXT_URL) is CORE
    with pytest.raises(LdContextNotAvailableError, match="connection refused"):
        await resolver.resolve("https://down.example/c.jsonld")


@pytest.fixture
async def ctx_server(aiohttp_client: AiohttpClient) -> str:
    """Serve a user context over HTTP (a real fetch, on localhost)."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"@context": USER_CTX})

    app = web.Application()
    app.router.add_get("/ctx.jsonld", handler)
    server = await aiohttp_client(app)
    return str(server.make_url("/ctx.jsonld"))


async def test_link_header_context_expands_and_compacts(
    client: TestClient, ctx_server: str
) -> None:
    link = {"Link": f"<{ctx_server}>; {REL}"}
    body = {"id": "urn:x:1", "type": "Building2", "temp": 20}
    assert (await client.post(f"{API}/entities", json=body, headers=link)).status == 201
    plain = await (await client.get(f"{API}/entities/urn:x:1")).json()
    assert plain["type"] == "https://smartdatamodels.org/Building"
    assert plain["https://example.org/temperature"]["value"] == 20
    resp = await client.get(f"{API}/entities/urn:x:1", headers=link)
    assert (await resp.json())["temp"]["value"] == 20
    assert resp.headers["Link"].startswith(f"<{ctx_server}>")
    found = await client.get(f"{API}/entities?type=Building2&q=temp==20", headers=link)
    assert [e["id"] for e in await found.json()] == ["urn:x:1"]


async def test_a_context_server_that_does_not_answer_is_named_with_the_timeout(
    client: TestClient, aiohttp_client: AiohttpClient
) -> None:
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"@context": USER_CTX})

    app = web.Application()
    app.router.add_get("/slow.jsonld", stall)
    url = str((await aiohttp_client(app)).make_url("/slow.jsonld"))
    try:
        body = {"id": "urn:x:3", "type": "T", "@context": url}
        resp = await client.post(
            f"{API}/entities", json=body, headers={"Content-Type": "application/ld+json"}
        )
        assert resp.status == 503
        detail = (await resp.json())["detail"]
        assert detail == f"cannot retrieve the @context at {url}: no answer within 2 s"
    finally:
        release.set()


async def test_ld_json_inline_context(client: TestClient) -> None:
    body = {"id": "urn:x:2", "type": "Building2", "temp": 21, "@context": [USER_CTX]}
    resp = await client.post(
        f"{API}/entities", json=body, headers={"Content-Type": "application/ld+json"}
    )
    assert resp.status == 201
    got = await client.get(f"{API}/entities/urn:x:2", headers={"Accept": "application/ld+json"})
    assert got.content_type == "application/ld+json"
    data = await got.json()
    assert data["@context"] == CORE_CONTEXT_URL
    assert "Link" not in got.headers


@pytest.mark.parametrize(
    ("headers", "body", "status", "ptype"),
    [
        ({"Content-Type": "text/plain"}, {"id": "urn:x:1", "type": "T"}, 415, "about:blank"),
        ({"Content-Type": "application/ld+json"}, {"id": "urn:x:1", "type": "T"}, 400,
         "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"),
        ({}, {"id": "urn:x:1", "type": "T", "@context": {}}, 400,
         "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"),
        ({"Link": f"<https://unreachable.invalid/c.jsonld>; {REL}"}, {"id": "urn:x:1", "type": "T"},
         503, "https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable"),
    ],
    ids=["bad-content-type", "ld-json-without-context", "json-with-context", "unreachable"],
)  # fmt: skip
async def test_negotiation_errors(
    client: TestClient, headers: dict[str, str], body: Any, status: int, ptype: str
) -> None:
    import json

    hdrs = {"Content-Type": "application/json", **headers}
    resp = await client.post(f"{API}/entities", data=json.dumps(body), headers=hdrs)
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    assert (await resp.json())["type"] == ptype


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/entities"), ("PATCH", "/entities/urn:ngsi-ld:Building:demo:B1/attrs"),
     ("POST", "/entityOperations/upsert")],
)  # fmt: skip
async def test_body_without_content_length_is_411(
    client: TestClient, method: str, path: str
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # the aiohttp client sends it chunked
        yield b'{"id": "urn:x:1", '
        yield b'"type": "T"}'

    headers = {"Content-Type": "application/json"}
    resp = await client.request(method, f"{API}{path}", data=chunks(), headers=headers)
    assert resp.status == 411, await resp.text()
    assert "Content-Length" not in resp.request_info.headers
    assert (await resp.json())["status"] == 411


async def test_unacceptable_accept_is_406(client: TestClient, store: SQLiteStore) -> None:
    resp = await client.get(f"{API}/entities?type=Building", headers={"Accept": "text/html"})
    assert resp.status == 406
    ok = await client.get(f"{API}/entities?type=Building", headers={"Accept": "text/html, */*"})
    assert ok.status == 200
