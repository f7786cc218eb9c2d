"""``lang`` (LanguageProperty in one language, §4.5.18) and ``scopeQ`` (§4.19) on queries."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

API = "/ngsi-ld/v1"
BARN = "urn:ngsi-ld:Barn:1"
NAME = {"type": "LanguageProperty", "languageMap": {"en": "Big Red Barn", "de-DE": "Rote Scheune"}}
SCOPES = {
    "urn:ngsi-ld:Barn:1": ["/Madrid/Gardens/ParqueNorte"],
    "urn:ngsi-ld:Barn:2": ["/Madrid/Gardens/ParqueSur", "/CompanyA/Barns"],
    "urn:ngsi-ld:Barn:3": ["/Madrid"],
    "urn:ngsi-ld:Barn:4": None,
}


@pytest.fixture
async def barns(client: TestClient) -> TestClient:
    for entity_id, scope in SCOPES.items():
        body: dict[str, Any] = {"id": entity_id, "type": "Barn", "name": NAME}
        if scope is not None:
            body["scope"] = scope if len(scope) > 1 else scope[0]
        resp = await client.post(f"{API}/entities", json=body)
        assert resp.status == 201, await resp.text()
    none = {"type": "LanguageProperty", "languageMap": {"@none": "Barn", "fr": "Grange"}}
    resp = await client.post(f"{API}/entities/urn:ngsi-ld:Barn:4/attrs", json={"alias": none})
    assert resp.status == 204, await resp.text()
    return client


@pytest.mark.parametrize(
    ("lang", "options", "name"),
    [("de", "", {"type": "Property", "value": "Rote Scheune", "lang": "de-DE"}),
     ("fr,en;q=0.5", "", {"type": "Property", "value": "Big Red Barn", "lang": "en"}),
     ("fr;q=0.2,de-de", "", {"type": "Property", "value": "Rote Scheune", "lang": "de-DE"}),
     ("ja", "", {"type": "Property", "value": "Big Red Barn", "lang": "en"}),
     ("*", "", {"type": "Property", "value": "Big Red Barn", "lang": "en"}),
     ("de", "keyValues", "Rote Scheune"),
     ("de", "concise", {"value": "Rote Scheune", "lang": "de-DE"})],
)  # fmt: skip
async def test_lang_picks_one_language(
    barns: TestClient, lang: str, options: str, name: Any
) -> None:
    params = {"lang": lang, **({"options": options} if options else {})}
    resp = await barns.get(f"{API}/entities/{BARN}", params=params)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["name"] == name


async def test_lang_falls_back_to_none_and_leaves_other_attributes(barns: TestClient) -> None:
    resp = await barns.get(f"{API}/entities", params={"type": "Barn", "lang": "es",
                                                      "id": "urn:ngsi-ld:Barn:4"})  # fmt: skip
    (barn,) = await resp.json()
    assert barn["alias"] == {"type": "Property", "value": "Barn", "lang": "@none"}
    plain = await (await barns.get(f"{API}/entities/{BARN}")).json()
    assert plain["name"] == NAME


@pytest.mark.parametrize("lang", ["", "en;q=x", "e n", "en;q=0"])
async def test_bad_lang_is_400(barns: TestClient, lang: str) -> None:
    resp = await barns.get(f"{API}/entities/{BARN}", params={"lang": lang})
    assert resp.status == 400
    assert (await resp.json())["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


@pytest.mark.parametrize(
    ("scope_q", "numbers"),
    [("/Madrid/Gardens/ParqueNorte", [1]), ("/Madrid/#", [1, 2, 3]), ("/Madrid/+/ParqueSur", [2]),
     ("/#", [1, 2, 3]), ("/Madrid", [3]), ("/CompanyA/#;/Madrid/#", [2]),
     ("(/CompanyA/#,/Madrid/Gardens/ParqueNorte);/Madrid/+/+", [1, 2]), ("/Rome/#", [])],
)  # fmt: skip
async def test_scope_q(barns: TestClient, scope_q: str, numbers: list[int]) -> None:
    resp = await barns.get(f"{API}/entities", params={"type": "Barn", "scopeQ": scope_q})
    assert resp.status == 200, await resp.text()
    assert [e["id"] for e in await resp.json()] == [f"urn:ngsi-ld:Barn:{n}" for n in numbers]
    query = {"type": "Query", "entities": [{"type": "Barn"}], "scopeQ": scope_q}
    resp = await barns.post(f"{API}/entityOperations/query", json=query)
    assert [e["id"] for e in await resp.json()] == [f"urn:ngsi-ld:Barn:{n}" for n in numbers]


async def test_scope_q_alone_is_a_query(barns: TestClient) -> None:
    resp = await barns.get(f"{API}/entities", params={"scopeQ": "/CompanyA/Barns"})
    assert [e["id"] for e in await resp.json()] == ["urn:ngsi-ld:Barn:2"]


@pytest.mark.parametrize("scope_q", ["Madrid", "/Madrid/#/x", "(/a", "/a;;/b", "/a b"])
async def test_bad_scope_q_is_400(barns: TestClient, scope_q: str) -> None:
    resp = await barns.get(f"{API}/entities", params={"type": "Barn", "scopeQ": scope_q})
    assert resp.status == 400, scope_q
