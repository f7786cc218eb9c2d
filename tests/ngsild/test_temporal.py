"""Temporal API: timerel, lastN, temporalValues and aggregations over the stored history."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from ngsild_api_data import without_instance_ids

from twin.ngsild.temporal import parse_duration

API = "/ngsi-ld/v1"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
DEV = "urn:ngsi-ld:Device:d1"
T = [f"2024-01-01T{h}Z" for h in ("00:00:00", "00:30:00", "01:00:00", "01:30:00", "02:00:00")]
VALUES = [10, 20, 20, 40, 50]


def reading(value: float, when: str) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": when, "unitCode": "CEL"}


@pytest.fixture
async def history(client: TestClient) -> TestClient:
    body = {"id": DEV, "type": "Device", "temperature": reading(VALUES[0], T[0]),
            "humidity": {"type": "Property", "value": 40, "observedAt": T[0]}}  # fmt: skip
    assert (await client.post(f"{API}/entities", json=body)).status == 201
    for value, when in zip(VALUES[1:], T[1:], strict=True):
        resp = await client.patch(
            f"{API}/entities/{DEV}/attrs/temperature", json=reading(value, when)
        )
        assert resp.status == 204, await resp.text()
    return client


async def temporal(client: TestClient, query: str, path: str = f"/{DEV}") -> Any:
    resp = await client.get(f"{API}/temporal/entities{path}?{query}")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return (
        [without_instance_ids(e) for e in body]
        if isinstance(body, list)
        else (without_instance_ids(body))
    )


def series(*indexes: int) -> list[dict[str, Any]]:
    return [reading(VALUES[i], T[i]) for i in indexes]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("attrs=temperature", series(0, 1, 2, 3, 4)),
        (f"attrs=temperature&timerel=before&timeAt={T[2]}", series(0, 1)),
        (f"attrs=temperature&timerel=after&timeAt={T[2]}", series(2, 3, 4)),
        (f"attrs=temperature&timerel=between&timeAt={T[1]}&endTimeAt={T[3]}", series(1, 2)),
        ("attrs=temperature&lastN=2", series(3, 4)),
        (f"attrs=temperature&timerel=before&timeAt={T[4]}&lastN=1", series(3)),
        (
            "attrs=temperature&timerel=after&timeAt=2024-01-01T01:00:00%2B01:00",
            series(0, 1, 2, 3, 4),
        ),
        ("attrs=temperature&timerel=after&timeAt=2024-01-01T03:00:00%2B01:00", series(4)),
    ],
    ids=["all", "before", "after", "between", "lastN", "before-lastN", "offset", "offset-late"],
)
async def test_series(history: TestClient, query: str, expected: list[dict[str, Any]]) -> None:
    body = await temporal(history, query)
    assert body == {"id": DEV, "type": "Device", "temperature": expected}


async def test_without_attrs_every_attribute_is_there(history: TestClient) -> None:
    body = await temporal(history, "")
    assert body["humidity"] == [{"type": "Property", "value": 40, "observedAt": T[0]}]
    assert len(body["temperature"]) == 5


async def test_sys_attrs_shows_the_system_timestamps(history: TestClient) -> None:
    current = await (await history.get(f"{API}/entities/{DEV}?options=sysAttrs")).json()
    body = await temporal(history, "attrs=temperature&options=sysAttrs")
    assert (body["createdAt"], body["modifiedAt"]) == (current["createdAt"], current["modifiedAt"])
    instances = body["temperature"]
    assert [i["value"] for i in instances] == VALUES
    assert {i["createdAt"] for i in instances} == {current["temperature"]["createdAt"]}
    modified = [i["modifiedAt"] for i in instances]
    assert modified == sorted(modified)
    assert modified[-1] == current["temperature"]["modifiedAt"]


async def test_a_recreated_entity_has_none_of_the_deleted_ones_history(
    history: TestClient,
) -> None:
    assert (await history.delete(f"{API}/entities/{DEV}")).status == 204
    body = {"id": DEV, "type": "Device", "temperature": reading(99, "2024-02-01T00:00:00Z")}
    assert (await history.post(f"{API}/entities", json=body)).status == 201
    assert (await temporal(history, "")) == {
        "id": DEV, "type": "Device", "temperature": [reading(99, "2024-02-01T00:00:00Z")]
    }  # fmt: skip


async def test_temporal_values(history: TestClient) -> None:
    body = await temporal(history, "attrs=temperature&options=temporalValues&lastN=3")
    assert body["temperature"] == {
        "type": "Property",
        "values": [[20, T[2]], [40, T[3]], [50, T[4]]],
    }


def _span(*hours: int) -> tuple[str, str]:
    return tuple(f"2024-01-01T{h:02d}:00:00.000Z" for h in hours)  # type: ignore[return-value]


async def test_aggregations_per_hour(history: TestClient) -> None:
    body = await temporal(
        history,
        "attrs=temperature&aggrMethods=totalCount,distinctCount,sum,avg,min,max"
        "&aggrPeriodDuration=PT1H",
    )
    h01, h12, h23 = _span(0, 1), _span(1, 2), _span(2, 3)
    assert body["temperature"] == {
        "type": "Property",
        "totalCount": [[2, *h01], [2, *h12], [1, *h23]],
        "distinctCount": [[2, *h01], [2, *h12], [1, *h23]],
        "sum": [[30, *h01], [60, *h12], [50, *h23]],
        "avg": [[15, *h01], [30, *h12], [50, *h23]],
        "min": [[10, *h01], [20, *h12], [50, *h23]],
        "max": [[20, *h01], [40, *h12], [50, *h23]],
    }


async def test_stddev_and_sumsq_per_hour(history: TestClient) -> None:
    # the other two aggregation methods of CIM 009 v1.8 (§4.5.19); the sample standard
    # deviation, none for a period of one value (as PostgreSQL's stddev)
    body = await temporal(
        history, "attrs=temperature&aggrMethods=stddev,sumsq&aggrPeriodDuration=PT1H"
    )
    h01, h12, h23 = _span(0, 1), _span(1, 2), _span(2, 3)
    assert body["temperature"] == {
        "type": "Property",
        "stddev": [[pytest.approx(50**0.5), *h01], [pytest.approx(200**0.5), *h12]],
        "sumsq": [[500, *h01], [2000, *h12], [2500, *h23]],
    }


async def test_aggregation_over_the_whole_interval(history: TestClient) -> None:
    body = await temporal(
        history,
        f"attrs=temperature&aggrMethods=avg,distinctCount&timerel=between&timeAt={T[0]}"
        f"&endTimeAt=2024-01-01T02:30:00Z",
    )
    whole = ["2024-01-01T00:00:00.000Z", "2024-01-01T02:30:00.000Z"]
    assert body["temperature"] == {
        "type": "Property",
        "avg": [[28, *whole]],
        "distinctCount": [[4, *whole]],
    }


async def test_query_by_type(history: TestClient) -> None:
    other = {"id": "urn:ngsi-ld:Room:r1", "type": "Room", "temperature": reading(5, T[0])}
    assert (await history.post(f"{API}/entities", json=other)).status == 201
    resp = await history.get(
        f"{API}/temporal/entities?type=Device&attrs=temperature&lastN=1&count=true"
    )
    assert resp.status == 200
    assert resp.headers["NGSILD-Results-Count"] == "1"
    (found,) = await resp.json()
    assert without_instance_ids(found) == {"id": DEV, "type": "Device", "temperature": series(4)}


async def test_query_by_type_and_q(history: TestClient) -> None:
    body = await temporal(history, "type=Device&q=temperature>45&attrs=humidity", path="")
    assert body == [
        {"id": DEV, "type": "Device",
         "humidity": [{"type": "Property", "value": 40, "observedAt": T[0]}]}
    ]  # fmt: skip
    assert await temporal(history, "type=Device&q=temperature>55", path="") == []


@pytest.mark.parametrize(
    "selector",
    ["", "type=Device&", f"id={DEV}&", "idPattern=urn:ngsi-ld:Device:.*&", "q=temperature>45&"],
    ids=["attrs-only", "type", "id", "id-pattern", "q"],
)
async def test_query_attrs_selects_on_the_history(history: TestClient, selector: str) -> None:
    # CIM 009 v1.8 §5.7.4: a temporal query is about the evolution, so an attribute that
    # the entity no longer has but had selects it
    assert (await history.delete(f"{API}/entities/{DEV}/attrs/humidity")).status == 204
    body = await temporal(history, f"{selector}attrs=humidity", path="")
    assert [(e["id"], "humidity" in e) for e in body] == [(DEV, True)]
    assert await temporal(history, f"{selector}attrs=co2", path="") == []


@pytest.mark.parametrize(
    ("query", "status", "ptype"),
    [
        ("timerel=before", 400, "BadRequestData"),
        (f"timeAt={T[0]}", 400, "BadRequestData"),
        (f"timerel=during&timeAt={T[0]}", 400, "BadRequestData"),
        (f"timerel=between&timeAt={T[0]}", 400, "BadRequestData"),
        (f"timerel=between&timeAt={T[2]}&endTimeAt={T[1]}", 400, "BadRequestData"),
        ("timerel=after&timeAt=yesterday", 400, "BadRequestData"),
        ("lastN=0", 400, "BadRequestData"),
        ("timeproperty=deletedAt", 400, "BadRequestData"),
        ("aggrMethods=median", 400, "BadRequestData"),
        ("options=aggregatedValues", 400, "BadRequestData"),
        ("aggrMethods=sum&aggrPeriodDuration=1h", 400, "BadRequestData"),
        ("aggrMethods=sum&aggrPeriodDuration=P1M", 422, "OperationNotSupported"),
        ("options=fast", 400, "BadRequestData"),
        ("attrs=co2", 404, "ResourceNotFound"),
    ],
)
async def test_bad_parameters(history: TestClient, query: str, status: int, ptype: str) -> None:
    resp = await history.get(f"{API}/temporal/entities/{DEV}?{query}")
    assert resp.status == status, await resp.text()
    assert (await resp.json())["type"] == ERR + ptype


async def test_unknown_entity_and_selectorless_query(client: TestClient) -> None:
    resp = await client.get(f"{API}/temporal/entities/urn:ngsi-ld:Device:none")
    assert resp.status == 404
    assert (await resp.json())["type"] == ERR + "ResourceNotFound"
    resp = await client.get(f"{API}/temporal/entities")
    assert resp.status == 400
    assert (await resp.json())["type"] == ERR + "BadRequestData"


@pytest.mark.parametrize(
    ("text", "seconds"), [("PT0S", 0), ("PT15M", 900), ("P1W", 604800), ("PT1.5S", 1.5)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds
