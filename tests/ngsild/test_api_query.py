"""``GET /entities`` and ``POST /entityOperations/query``: filters, paging, count, GeoJSON."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

API = "/ngsi-ld/v1"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"


def sensor(n: int, types: str | list[str] = "Sensor", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Sensor:{n:03d}",
        "type": types,
        "temperature": {"type": "Property", "value": 15 + n},
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [11.0 + n / 1000, 48.0]}},
        **extra,
    }  # fmt: skip


@pytest.fixture
async def seeded(client: TestClient) -> TestClient:
    batch = [sensor(n) for n in range(1, 8)]
    batch.append(sensor(50, ["Sensor", "Meter"]))
    batch.append({"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "energy": 3})
    resp = await client.post(f"{API}/entityOperations/create", json=batch)
    assert resp.status == 201, await resp.text()
    return client


async def ids(client: TestClient, query: str, status: int = 200) -> list[str]:
    resp = await client.get(f"{API}/entities?{query}")
    assert resp.status == status, await resp.text()
    return [e["id"].rsplit(":", 1)[-1] for e in await resp.json()]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=Meter", ["050", "1"]),
        ("type=Sensor;Meter", ["050"]),
        ("type=Meter|Building&limit=3", ["B1", "B2", "050"]),
        ("type=(Sensor;Meter),Building", ["B1", "B2", "050"]),
        ("id=urn:ngsi-ld:Sensor:002,urn:ngsi-ld:Sensor:004", ["002", "004"]),
        ("idPattern=urn:ngsi-ld:Sensor:00[12]", ["001", "002"]),
        ("type=Sensor&q=temperature>20", ["006", "007", "050"]),
        ("type=Sensor&q=temperature==16..17", ["001", "002"]),
        ("attrs=energy", ["1"]),
        ("q=temperature>20&attrs=energy", []),
        ("q=temperature>20&attrs=temperature", ["006", "007", "050"]),
        ("type=Sensor&georel=near;maxDistance==100&geometry=Point&coordinates=[11.001,48.0]",
         ["001", "002"]),
        ("georel=intersects&geometry=Point&coordinates=[11.0005,48.0005]", ["B1"]),
    ],
)  # fmt: skip
async def test_filters(seeded: TestClient, query: str, expected: list[str]) -> None:
    assert await ids(seeded, query) == expected


async def test_paging_count_and_links(seeded: TestClient) -> None:
    resp = await seeded.get(f"{API}/entities?type=Sensor&limit=3&offset=3&count=true")
    assert resp.headers["NGSILD-Results-Count"] == "8"
    assert [e["id"][-3:] for e in await resp.json()] == ["004", "005", "006"]
    links = resp.headers["Link"]
    assert 'rel="next"' in links
    assert "offset=6" in links
    assert 'rel="prev"' in links
    assert "offset=0" in links
    assert "ngsi-ld-core-context-v1.8.jsonld" in links


async def test_count_only(seeded: TestClient) -> None:
    resp = await seeded.get(f"{API}/entities?type=Meter&limit=0&count=true")
    assert resp.status == 200
    assert await resp.json() == []
    assert resp.headers["NGSILD-Results-Count"] == "2"


@pytest.mark.parametrize(
    ("query", "status", "ptype"),
    [
        ("", 400, "BadRequestData"),
        ("type=Sensor&limit=1001", 403, "TooManyResults"),
        ("type=Sensor&limit=-1", 400, "BadRequestData"),
        ("type=Sensor&limit=x", 400, "BadRequestData"),
        ("type=Sensor&limit=0", 400, "BadRequestData"),
        ("type=Sensor&q=temperature>>", 400, "InvalidRequest"),
        ("type=(Sensor", 400, "BadRequestData"),
        ("idPattern=(", 400, "BadRequestData"),
        # CIM 009 §5.7.2.4: an id of the list that is no URI is BadRequestData, not left out
        ("id=urn:ngsi-ld:Sensor:001,notauri", 400, "BadRequestData"),
        ("type=Sensor&georel=near", 400, "BadRequestData"),
        ("type=Sensor&options=bogus", 400, "BadRequestData"),
        ("type=Sensor&pick=id&omit=type", 400, "BadRequestData"),
    ],
)
async def test_query_errors(seeded: TestClient, query: str, status: int, ptype: str) -> None:
    resp = await seeded.get(f"{API}/entities?{query}")
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    assert (await resp.json())["type"] == ERR + ptype


async def test_a_query_id_that_is_no_uri_is_named(seeded: TestClient) -> None:
    for resp in (
        await seeded.get(f"{API}/entities?id=urn:ngsi-ld:Sensor:001,notauri"),
        await seeded.post(f"{API}/entityOperations/query",
                          json={"type": "Query", "entities": [{"id": "notauri"}]}),
    ):  # fmt: skip
        assert resp.status == 400, await resp.text()
        assert "'notauri'" in (await resp.json())["detail"]


async def test_key_values_and_attrs_projection(seeded: TestClient) -> None:
    resp = await seeded.get(f"{API}/entities?id=urn:ngsi-ld:Sensor:001&attrs=temperature"
                            "&options=keyValues")  # fmt: skip
    assert await resp.json() == [
        {"id": "urn:ngsi-ld:Sensor:001", "type": "Sensor", "temperature": 16}
    ]


async def test_geojson_output(seeded: TestClient) -> None:
    resp = await seeded.get(
        f"{API}/entities?type=Meter&options=keyValues",
        headers={"Accept": "application/geo+json"},
    )
    assert resp.content_type == "application/geo+json"
    body = await resp.json()
    assert body["type"] == "FeatureCollection"
    first = body["features"][0]
    assert first["type"] == "Feature"
    assert first["id"] == "urn:ngsi-ld:Sensor:050"
    assert first["geometry"] == {"type": "Point", "coordinates": [11.05, 48.0]}
    assert first["properties"]["temperature"] == 65
    assert body["features"][1]["geometry"] is None


async def test_post_query(seeded: TestClient) -> None:
    body = {"type": "Query", "entities": [{"type": "Sensor"}], "q": "temperature>=21",
            "geoQ": {"georel": "near;maxDistance==5000", "geometry": "Point",
                     "coordinates": [11.0, 48.0]}}  # fmt: skip
    resp = await seeded.post(f"{API}/entityOperations/query?count=true", json=body)
    assert resp.status == 200
    assert [e["id"][-3:] for e in await resp.json()] == ["006", "007", "050"]
    assert resp.headers["NGSILD-Results-Count"] == "3"


async def test_post_query_attrs_select_and_project(seeded: TestClient) -> None:
    body = {"type": "Query", "entities": [{"type": "Sensor"}], "attrs": ["energy", "temperature"],
            "q": "temperature<17"}  # fmt: skip
    resp = await seeded.post(f"{API}/entityOperations/query?options=keyValues", json=body)
    assert resp.status == 200, await resp.text()
    assert await resp.json() == [{"id": "urn:ngsi-ld:Sensor:001", "type": "Sensor",
                                  "temperature": 16}]  # fmt: skip
    body = {"type": "Query", "entities": [{"type": "Meter"}], "attrs": ["energy"]}
    resp = await seeded.post(f"{API}/entityOperations/query?options=keyValues", json=body)
    assert await resp.json() == [{"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "energy": 3}]


@pytest.mark.parametrize(
    ("member", "body"),
    [
        ("attrs", {"entities": [{"type": "Sensor"}], "attrs": "temperature"}),
        ("attrs", {"entities": [{"type": "Sensor"}], "attrs": ["temperature", 3]}),
        ("type", {"entities": [{"type": ["Sensor"]}]}),
        ("idPattern", {"entities": [{"type": "Sensor", "idPattern": {"a": 1}}]}),
        ("q", {"q": ["temperature>1"]}),
        ("q", {"q": {"a": 1}}),
        ("georel", {"entities": [{"type": "Sensor"}],
                    "geoQ": {"georel": {"near": 1}, "geometry": "Point", "coordinates": [1, 2]}}),
        ("geometry", {"entities": [{"type": "Sensor"}], "geoQ": {
            "georel": "near;maxDistance==5", "geometry": ["Point"], "coordinates": [1, 2]}}),
        ("geoQ", {"entities": [{"type": "Sensor"}], "geoQ": ["near"]}),
    ],
)  # fmt: skip
async def test_a_query_member_that_is_no_string_is_bad_request_data(
    client: TestClient, member: str, body: dict[str, Any]
) -> None:
    resp = await client.post(f"{API}/entityOperations/query", json={"type": "Query", **body})
    assert resp.status == 400, await resp.text()
    problem = await resp.json()
    assert problem["type"] == ERR + "BadRequestData"
    assert problem["detail"].startswith(f"{member} must be a")
