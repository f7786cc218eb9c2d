"""Attributes named like the catalog's own properties (``type``, ``lod``, ``height`` …) are kept.

A CityJSON city whose buildings carry attributes ``type``, ``lod``, ``height``, ``address``,
``id`` and ``type_2`` is imported with ``twin import``; the OGC API gives each colliding one the
first free ``name_2``, ``name_3`` … among the dataset's names (``type`` → ``type_3``, as
``type_2`` is an attribute already), in items, filters, sortby, aggregates, exports and schemas.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeAlias

import pyarrow.parquet as pq
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from twin.server import create_app
from twin.store import SQLiteStore

Client: TypeAlias = TestClient[web.Request, web.Application]

TWIN = Path(sys.executable).with_name("twin")
ATTRIBUTES = {
    "b1": {"type": "shed", "lod": "x", "height": 99.5, "address": "Main 1", "id": "old-1",
           "type_2": "taken"},
    "b2": {"type": "barn", "lod": "y", "height": 3.0, "address": "Side 2", "id": "old-2",
           "type_2": "also"},
    "b3": {"type": "hut", "geometry": "odd", "bbox": "1,2"},  # type_3 too, without a type_2
}  # fmt: skip
RENAMED = {"type": "type_3", "lod": "lod_2", "height": "height_2", "address": "address_2",
           "id": "id_2", "type_2": "type_2", "geometry": "geometry_2",
           "bbox": "bbox_2"}  # fmt: skip
"""Attribute -> the name the OGC API gives it (worked out by hand from the rule)."""


def _box(x: float, y: float, size: float, top: float) -> tuple[list[list[float]], list[Any]]:
    """Return the vertices and Solid boundaries of an axis-aligned box (metres)."""
    corners = ((0, 0), (size, 0), (size, size), (0, size))
    v = [[x + dx, y + dy, z] for z in (0.0, top) for dx, dy in corners]
    faces = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]]
    return v, [[[f] for f in faces]]


def _city() -> dict[str, Any]:
    vertices: list[list[float]] = []
    objects: dict[str, Any] = {}
    for k, (oid, attributes) in enumerate(ATTRIBUTES.items()):
        v, shells = _box(457000.0 + 30 * k, 5439000.0, 10.0, 8.0 + k)
        shells = [[[[i + len(vertices) for i in ring] for ring in face] for face in shell]
                  for shell in shells]  # fmt: skip
        vertices += v
        objects[oid] = {
            "type": "Building",
            "attributes": attributes,
            "geometry": [{"type": "Solid", "lod": "2", "boundaries": shells}],
        }
    return {
        "type": "CityJSON",
        "version": "2.0",
        "transform": {"scale": [0.001, 0.001, 0.001], "translate": [0.0, 0.0, 0.0]},
        "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/25832"},
        "CityObjects": objects,
        "vertices": [[round(c * 1000) for c in p] for p in vertices],
    }


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("colliding")
    source = root / "city.city.json"
    source.write_text(json.dumps(_city()))
    subprocess.run(
        [str(TWIN), "import", str(source), "--dataset", "odd", "--data-dir", str(root / "data")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return root / "data"


@pytest.fixture
async def client(data_dir: Path, tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    (tmp_path / "viewer").mkdir()
    app = create_app(SQLiteStore(data_dir), viewer_dir=tmp_path / "viewer")
    return await aiohttp_client(app)


async def _json(client: Client, path: str, **params: str) -> Any:
    resp = await client.get(path, params=params)
    assert resp.status == 200, await resp.text()
    return await resp.json(content_type=None)


async def _ids(client: Client, **params: str) -> list[str]:
    body = await _json(client, "/ogc/collections/odd/items", **params)
    return [f["id"] for f in body["features"]]


def _expected(oid: str) -> dict[str, Any]:
    return {RENAMED[k]: v for k, v in ATTRIBUTES[oid].items()}


def _renamed(properties: dict[str, Any], oid: str) -> dict[str, Any]:
    """Return the properties named as the attributes of ``oid`` should be."""
    return {k: properties[k] for k in _expected(oid) if k in properties}


async def test_items_keep_colliding_attributes_under_free_names(client: Client) -> None:
    body = await _json(client, "/ogc/collections/odd/items")
    for feature in body["features"]:
        props = feature["properties"]
        assert _renamed(props, feature["id"]) == _expected(feature["id"])
        assert not (set(RENAMED.values()) - set(_expected(feature["id"]))) & set(props)
        assert (props["type"], props["lod"]) == ("Building", 2)
        assert props["height"] == pytest.approx(8.0 + int(feature["id"][1]) - 1, abs=0.01)


async def test_one_item_keeps_them_too(client: Client) -> None:
    props = (await _json(client, "/ogc/collections/odd/items/b2"))["properties"]
    assert _renamed(props, "b2") == _expected("b2")
    assert props["type"] == "Building"
    resp = await client.get("/ogc/collections/odd/items/b3", params={"f": "html"})
    page = await resp.text()
    assert resp.status == 200
    assert all(name in page for name in ("type_3", "hut", "geometry_2", "odd")), page


async def test_queryables_and_schema_list_the_free_names(client: Client) -> None:
    queryables = (await _json(client, "/ogc/collections/odd/queryables"))["properties"]
    schema = await _json(client, "/ogc/collections/odd/schema")
    inner = schema["properties"]["properties"]["properties"]
    kinds = {"type_3": "string", "lod_2": "string", "height_2": "number", "id_2": "string",
             "address_2": "string", "type_2": "string", "type": "string", "lod": "integer",
             "height": "number", "geometry_2": "string"}  # fmt: skip
    assert {k: queryables[k]["type"] for k in kinds} == kinds
    assert {k: inner[k]["type"] for k in kinds if k != "id"} == kinds


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"filter": "type_3 = 'shed'"}, ["b1"]),
        ({"filter": "type = 'Building' AND lod_2 = 'y'"}, ["b2"]),
        ({"filter": "type_3 = 'hut' AND geometry_2 = 'odd'"}, ["b3"]),
        ({"filter": "height_2 > 50"}, ["b1"]),
        ({"filter": "id_2 = 'old-2' OR address_2 = 'Main 1'"}, ["b1", "b2"]),
        ({"filter": "type_2 = 'also'"}, ["b2"]),
        (
            {
                "filter": json.dumps({"op": "=", "args": [{"property": "type_3"}, "barn"]}),
                "filter-lang": "cql2-json",
            },
            ["b2"],
        ),
        ({"type_3": "barn"}, ["b2"]),
        ({"sortby": "-height_2"}, ["b1", "b2", "b3"]),
        ({"sortby": "type_3"}, ["b2", "b3", "b1"]),
    ],
)
async def test_filters_and_sortby_read_the_renamed_attribute(
    client: Client, params: dict[str, str], expected: list[str]
) -> None:
    ids = await _ids(client, **params)
    assert ids == expected if "sortby" in params else sorted(ids) == expected


async def test_aggregates_group_by_a_renamed_attribute(client: Client) -> None:
    body = await _json(
        client, "/ogc/collections/odd/aggregate", groupby="type_3", stats="count,max(height_2)"
    )
    assert body["groups"] == [
        {"key": "barn", "count": 1, "max(height_2)": 3.0},
        {"key": "hut", "count": 1, "max(height_2)": None},
        {"key": "shed", "count": 1, "max(height_2)": 99.5},
    ]


async def test_csv_and_parquet_exports_carry_the_renamed_columns(client: Client) -> None:
    resp = await client.get("/ogc/collections/odd/items", params={"f": "csv"})
    assert resp.status == 200
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(await resp.text()))}
    for oid in ATTRIBUTES:
        assert _renamed(rows[oid], oid) == {k: str(v) for k, v in _expected(oid).items()}
        assert rows[oid]["type"] == "Building"
    resp = await client.get("/ogc/collections/odd/items", params={"f": "parquet"})
    assert resp.status == 200
    table = pq.read_table(io.BytesIO(await resp.read())).to_pylist()
    by_id = {r["id"]: r for r in table}
    for oid in ATTRIBUTES:
        assert _renamed(by_id[oid], oid) == _expected(oid)
        assert (by_id[oid]["type"], by_id[oid]["lod"]) == ("Building", 2)
