"""``/openapi.json`` and ``/openapi.html``: a valid OpenAPI 3.0 document of every route."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from twin.server.openapi import OPENAPI_MEDIA, build_openapi

Client = TestClient[web.Request, web.Application]


def _registered(app: web.Application) -> set[tuple[str, str]]:
    """Return ``(method, path)`` of every route of the app, HEAD as GET."""
    found = set()
    for route in app.router.routes():
        if route.resource is None or route.method in ("HEAD", "OPTIONS", "*"):
            continue
        path = route.resource.canonical.replace("{_slash}", "")
        found.add((route.method.lower(), re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)))
    return found


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m, p) for p, methods in doc["paths"].items() for m in methods}


async def test_openapi_json_is_a_valid_openapi_30_document(client: Client) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == OPENAPI_MEDIA
    doc = await resp.json(content_type=None)
    validate(doc)
    assert doc["openapi"] == "3.0.3"
    assert doc["servers"] == [{"url": str(client.make_url("/")).rstrip("/")}]


def test_every_route_of_the_app_is_documented(app: web.Application) -> None:
    registered = _registered(app)
    assert ("get", "/ogc/collections/{dataset}/items") in registered
    assert ("post", "/ngsi-ld/v1/entityOperations/upsert") in registered
    assert registered - _documented(build_openapi("http://x")) == set()


def test_every_documented_operation_is_served(app: web.Application) -> None:
    assert _documented(build_openapi("http://x")) - _registered(app) == set()


@pytest.mark.parametrize(
    "name",
    ["limit", "offset", "bbox", "bbox-crs", "datetime", "filter", "filter-lang", "sortby", "f",
     "crs"],
)  # fmt: skip
def test_items_document_their_parameters(name: str) -> None:
    doc = build_openapi("http://x")
    items = doc["paths"]["/ogc/collections/{dataset}/items"]["get"]
    names = {doc["components"]["parameters"][r["$ref"].rsplit("/", 1)[1]]["name"]
             for r in items["parameters"]}  # fmt: skip
    assert name in names
    schema = items["responses"]["200"]["content"]["application/geo+json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/FeatureCollection"}


def test_writes_need_the_bearer_token() -> None:
    doc = build_openapi("http://x")
    assert doc["paths"]["/ngsi-ld/v1/entities"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/ngsi-ld/v1/entities"]["get"]


async def test_openapi_html_lists_paths_without_scripts(client: Client) -> None:
    resp = await client.get("/openapi.html")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    text = await resp.text()
    assert "<script" not in text
    assert "https://" not in text
    assert "GET <code>/ogc/collections/{dataset}/items</code>" in text
    assert "<code>filter-lang</code>" in text
    assert "DELETE <code>/ngsi-ld/v1/subscriptions/{subscriptionId}</code>" in text


async def test_conformance_declares_oas30(client: Client) -> None:
    body = await (await client.get("/ogc/conformance")).json()
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30" in body["conformsTo"]
