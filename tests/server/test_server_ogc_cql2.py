"""``/ogc/…/items?filter=``: CQL2 arithmetic (OGC 21-065 requirements class *arithmetic*),
boolean literals as predicates and one-letter property names, in both encodings.

Twenty buildings with an integer ``storeys``, a float ``depth`` and a one-letter ``h``;
expected ids are computed from the records with plain Python.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from twin.model import BuildingRecord, DatasetInfo
from twin.server import create_app
from twin.store import SQLiteStore

Client: TypeAlias = TestClient[web.Request, web.Application]
Keep: TypeAlias = Callable[[dict[str, Any]], bool]

N = 20


def _record(i: int) -> BuildingRecord:
    x, y = 8.0 + (i % 5) * 0.001, 49.0 + (i // 5) * 0.001
    attributes: dict[str, Any] = {"storeys": i, "depth": 2.5 * i, "h": i - 10}
    return BuildingRecord(
        dataset="calc",
        id=f"B{i:02d}",
        type="Building",
        bbox_wgs84=(x, y, 100.0, x + 0.0005, y + 0.0005, 110.0),
        footprint=None,
        attributes=attributes,
    )


RECORDS = [_record(i) for i in range(N)]


def _ids(keep: Keep) -> list[str]:
    return sorted(r.id for r in RECORDS if keep(r.attributes))


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    store = SQLiteStore(tmp_path / "data")
    imported = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
    info = DatasetInfo(
        "calc", "Calc", "EPSG:4326", N, (8.0, 49.0, 100, 8.005, 49.004, 110), imported
    )
    store.publish(info, RECORDS, store.staging_dir("calc"))
    (tmp_path / "viewer").mkdir()
    return await aiohttp_client(create_app(store, viewer_dir=tmp_path / "viewer"))


async def _ids_matching(client: Client, cql: str, lang: str = "cql2-text") -> list[str]:
    params = {"filter": cql, "filter-lang": lang, "limit": "1000"}
    resp = await client.get("/ogc/collections/calc/items", params=params)
    assert resp.status == 200, await resp.text()
    body = await resp.json(content_type=None)
    return sorted(f["id"] for f in body["features"])


def _trunc_div(a: float, b: float) -> int:
    return math.trunc(a / b)


@pytest.mark.parametrize(
    ("cql", "keep"),
    [
        ("storeys % 2 = 0", lambda a: a["storeys"] % 2 == 0),
        ("depth % 2 = 0.5", lambda a: a["depth"] % 2 == 0.5),  # % keeps the fraction
        ("storeys div 4 = 2", lambda a: a["storeys"] // 4 == 2),
        ("depth DIV 4 = 2", lambda a: _trunc_div(a["depth"], 4) == 2),
        ("h div 4 = -1", lambda a: _trunc_div(a["h"], 4) == -1),  # truncates towards zero
        ("storeys / 4 = 2.25", lambda a: a["storeys"] / 4 == 2.25),  # not integer division
        ("storeys ^ 2 > 100", lambda a: a["storeys"] ** 2 > 100),
        ("2 ^ storeys < 64", lambda a: 2 ** a["storeys"] < 64),
        ("-storeys < -10", lambda a: -a["storeys"] < -10),
        ("-depth >= -5", lambda a: -a["depth"] >= -5),
        # precedence (CQL2 BNF): ^ before * / % div before + -, left to right within a level,
        # and the unary minus belongs to its operand: -h ^ 2 is (-h) ^ 2
        ("1 + storeys * 2 ^ 2 = 13", lambda a: 1 + a["storeys"] * 4 == 13),
        ("storeys - 3 - 2 = 10", lambda a: a["storeys"] - 5 == 10),
        ("storeys * 3 % 4 = 1", lambda a: a["storeys"] * 3 % 4 == 1),
        ("(storeys + 1) * 2 = 10", lambda a: (a["storeys"] + 1) * 2 == 10),
        ("-h ^ 2 = 4", lambda a: (-a["h"]) ** 2 == 4),
        ("h BETWEEN -2 * 2 AND storeys div 5", lambda a: -4 <= a["h"] <= a["storeys"] // 5),
        # division by zero is SQL NULL: the comparison is unknown, the building not selected
        ("storeys div 0 = 1 OR storeys / 0 = 1 OR storeys % 0 = 1", lambda a: False),
        (
            "storeys div (storeys - 3) = 1",
            lambda a: a["storeys"] != 3 and _trunc_div(a["storeys"], a["storeys"] - 3) == 1,
        ),
        ("storeys % 0 IS NULL", lambda a: True),
        # boolean literals are predicates (booleanExpression = ... | booleanLiteral)
        ("TRUE", lambda a: True),
        ("FALSE", lambda a: False),
        ("(TRUE) AND NOT FALSE AND storeys < 3", lambda a: a["storeys"] < 3),
        ("FALSE OR storeys > 17", lambda a: a["storeys"] > 17),
        # one-letter property names (identifier = identifierStart [{identifierPart}])
        ("h > 1", lambda a: a["h"] > 1),
        ('"h" <= -9', lambda a: a["h"] <= -9),
    ],
)
async def test_cql2_text_arithmetic(client: Client, cql: str, keep: Keep) -> None:
    assert await _ids_matching(client, cql) == _ids(keep)


def _p(name: str) -> dict[str, str]:
    return {"property": name}


_TWICE_H = {"op": "*", "args": [2, _p("h")]}
_BY_ZERO = {"op": "div", "args": [_p("storeys"), 0]}


@pytest.mark.parametrize(
    ("cql", "keep"),
    [
        ({"op": "=", "args": [{"op": "%", "args": [_p("storeys"), 3]}, 0]},
         lambda a: a["storeys"] % 3 == 0),
        ({"op": "=", "args": [{"op": "div", "args": [_p("storeys"), 3]}, 2]},
         lambda a: a["storeys"] // 3 == 2),
        ({"op": ">", "args": [{"op": "^", "args": [_p("depth"), 2]}, 400]},
         lambda a: a["depth"] ** 2 > 400),
        ({"op": "=", "args": [{"op": "/", "args": [_p("storeys"), 8]}, 0.375]},
         lambda a: a["storeys"] / 8 == 0.375),
        ({"op": "<", "args": [{"op": "-", "args": [_p("h"), _TWICE_H]}, -8]},
         lambda a: a["h"] - 2 * a["h"] < -8),
        ({"op": "=", "args": [{"op": "+", "args": [_BY_ZERO, 1]}, 1]}, lambda a: False),
        (True, lambda a: True),
        (False, lambda a: False),
        ({"op": "and", "args": [True, {"op": "<", "args": [_p("h"), -8]}]}, lambda a: a["h"] < -8),
    ],
)  # fmt: skip
async def test_cql2_json_arithmetic(client: Client, cql: object, keep: Keep) -> None:
    assert await _ids_matching(client, json.dumps(cql), "cql2-json") == _ids(keep)


@pytest.mark.parametrize(
    ("cql", "lang", "detail"),
    [
        # powerTerm = arithmeticFactor ["^" arithmeticFactor]: one ^ without parentheses
        ("2 ^ 3 ^ 2 = 64", "cql2-text", "invalid CQL2 filter at line 1, column 7: unexpected '^'"),
        (
            "storeys AND h > 1",
            "cql2-text",
            "invalid CQL2 filter: storeys is not a predicate (a comparison, a spatial or "
            "temporal operator, TRUE or FALSE)",
        ),
        (
            '{"op": "%", "args": [{"property": "storeys"}]}',
            "cql2-json",
            "invalid CQL2 filter: % takes 2 arguments, got 1",
        ),
        (
            '{"op": "=", "args": [{"op": "^", "args": [{"property": "nope"}, 2]}, 4]}',
            "cql2-json",
            "unknown property nope; the queryables are: depth, h, id, lod, parent_id, "
            "storeys, type",
        ),
    ],
)
async def test_bad_arithmetic_is_a_400_problem(
    client: Client, cql: str, lang: str, detail: str
) -> None:
    params = {"filter": cql, "filter-lang": lang}
    resp = await client.get("/ogc/collections/calc/items", params=params)
    assert resp.status == 400
    assert (await resp.json(content_type=None))["detail"] == detail
