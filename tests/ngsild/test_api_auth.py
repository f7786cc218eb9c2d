"""Bearer tokens: reads public, writes need a configured token; CORS preflight for writes."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from twin.cli import _tokens

API = "/ngsi-ld/v1"
BODY = {"id": "urn:x:1", "type": "T", "p": 1}


@pytest.fixture
async def guarded(make_client: Any) -> TestClient:
    return await make_client(tokens=("s3cret", "other"))


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Basic s3cret", "Bearer "], ids=str
)
async def test_writes_without_valid_token_are_401(
    guarded: TestClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    resp = await guarded.post(f"{API}/entities", json=BODY, headers=headers)
    assert resp.status == 401
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["status"] == 401
    assert "Bearer" in body["detail"]
    # RFC 6750 §3: a 401 names the scheme; a bearer token that was sent but is wrong is an
    # invalid_token (a request without one gets no error code)
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="twin"')
    assert ('error="invalid_token"' in challenge) == (authorization == "Bearer wrong")


@pytest.mark.parametrize("token", ["s3cret", "other"])
async def test_writes_with_a_token_pass(guarded: TestClient, token: str) -> None:
    resp = await guarded.post(
        f"{API}/entities", json=BODY, headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 201


async def test_reads_and_post_query_stay_public(guarded: TestClient) -> None:
    assert (await guarded.get(f"{API}/entities?type=Building")).status == 200
    query = {"type": "Query", "entities": [{"type": "Building"}]}
    assert (await guarded.post(f"{API}/entityOperations/query", json=query)).status == 200
    assert (await guarded.get(f"{API}/types")).status == 200


async def test_open_when_no_token_is_configured(client: TestClient) -> None:
    assert (await client.post(f"{API}/entities", json=BODY)).status == 201


async def test_preflight_allows_writes_on_ngsild_routes(client: TestClient) -> None:
    resp = await client.options(
        f"{API}/entities",
        headers={"Origin": "http://x", "Access-Control-Request-Method": "PATCH"},
    )
    assert resp.status == 204
    assert "PATCH" in resp.headers["Access-Control-Allow-Methods"]
    for name in ("Link", "NGSILD-Tenant", "Authorization"):
        assert name in resp.headers["Access-Control-Allow-Headers"]


def test_tokens_come_from_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_TOKENS", "b, c,,a")
    assert _tokens(["a"]) == ("a", "b", "c")
