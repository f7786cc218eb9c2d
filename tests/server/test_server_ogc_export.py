"""``/items?f=csv`` and ``f=parquet``: whole filtered queries streamed as CSV and GeoParquet 1.1.

The grid city of test_server_ogc_items; expected values come from its records, read back
through the csv module and pyarrow (independent readers).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pyarrow.parquet as pq
import pytest
import shapely
import shapely.geometry
from pytest_aiohttp import AiohttpClient

from twin.model import DatasetInfo
from twin.server import create_app
from twin.store import SQLiteStore

from .test_server_ogc_items import IMPORTED, RECORDS, Client, write_live

HEADER = ["id", "creationDate", "lod", "measuredHeight", "name", "parent_id", "type",
          "yearOfConstruction", "geometry"]  # fmt: skip


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    store = SQLiteStore(tmp_path / "data")
    info = DatasetInfo("grid", "Grid", "EPSG:4326", len(RECORDS), None, IMPORTED)
    store.publish(info, RECORDS, store.staging_dir("grid"))
    (tmp_path / "viewer").mkdir()
    return await aiohttp_client(create_app(store, viewer_dir=tmp_path / "viewer"))


async def _export(client: Client, fmt: str, **params: str) -> tuple[bytes, Any]:
    resp = await client.get("/ogc/collections/grid/items", params={"f": fmt, **params})
    assert resp.status == 200, await resp.text()
    return await resp.read(), resp.headers


async def test_csv_round_trips_through_the_csv_module(client: Client) -> None:
    body, headers = await _export(client, "csv")
    assert headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert headers["Content-Disposition"] == 'attachment; filename="grid.csv"'
    assert body.count(b"\r\n") == len(RECORDS) + 1
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == HEADER
    assert [r[0] for r in rows[1:]] == [r.id for r in RECORDS]
    first = dict(zip(HEADER, rows[1], strict=True))
    assert first["measuredHeight"] == "5.0"
    assert first["creationDate"] == "2000-01-01"
    assert first["name"] == "house 00"
    assert shapely.from_wkt(first["geometry"]).equals(shapely.geometry.shape(RECORDS[0].footprint))


async def test_csv_export_applies_the_filter_and_ignores_the_page(client: Client) -> None:
    body, _ = await _export(client, "csv", filter="yearOfConstruction < 1950", limit="2")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    expected = [r.id for r in RECORDS if r.attributes["yearOfConstruction"] < 1950]
    assert [r["id"] for r in rows] == expected


async def test_parquet_is_geoparquet_1_1(client: Client) -> None:
    body, headers = await _export(client, "parquet")
    assert headers["Content-Type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(body))
    geo = json.loads(table.schema.metadata[b"geo"])
    assert geo["version"] == "1.1.0"
    assert geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB"
    assert column["crs"]["id"] == {"authority": "OGC", "code": "CRS84"}
    assert column["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    assert table.column("id").to_pylist() == [r.id for r in RECORDS]
    assert table.schema.field("measuredHeight").type == "double"
    assert table.schema.field("yearOfConstruction").type == "int64"
    shapes = shapely.from_wkb(table.column("geometry").to_pylist())
    footprints = [shapely.geometry.shape(r.footprint) for r in RECORDS]
    assert all(shapely.equals(shapes, footprints))
    boxes = table.column("bbox").to_pylist()
    assert [tuple(b.values()) for b in boxes] == [f.bounds for f in footprints]


async def test_parquet_writes_a_row_group_per_chunk(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("twin.server.ogc_export._CHUNK", 7)
    body, _ = await _export(client, "parquet", bbox="7.9,48.9,8.0035,49.1")
    parquet = pq.ParquetFile(io.BytesIO(body))
    expected = [r.id for r in RECORDS if r.bbox_wgs84[0] < 8.0035]
    assert parquet.metadata.num_rows == len(expected)
    assert parquet.metadata.num_row_groups == -(-len(expected) // 7)
    assert parquet.read().column("id").to_pylist() == expected


async def test_parquet_export_filters_on_cql2_json(client: Client) -> None:
    height = {"property": "measuredHeight"}
    cql = {"op": "and", "args": [{"op": ">=", "args": [height, 10]},
                                 {"op": "<=", "args": [height, 20]}]}  # fmt: skip
    params = {"filter": json.dumps(cql), "filter-lang": "cql2-json"}
    body, _ = await _export(client, "parquet", **params)
    ids = pq.read_table(io.BytesIO(body)).column("id").to_pylist()
    assert ids == [r.id for r in RECORDS if 10 <= r.attributes["measuredHeight"] <= 20]


async def test_a_live_property_with_integers_and_reals_is_a_double_column(
    client: Client,
) -> None:
    # The column type came from one sample value: 12 made it int64 and 12.5 was left null.
    occupancy = {"B00": 12, "B01": 12.5, "B02": 3}
    await write_live(client, "occupancy", occupancy)
    data, _ = await _export(client, "parquet")
    table = pq.read_table(io.BytesIO(data))
    assert str(table.schema.field("occupancy").type) == "double"
    ids, values = table.column("id").to_pylist(), table.column("occupancy").to_pylist()
    got = dict(zip(ids, values, strict=True))
    assert {k: got[k] for k in occupancy} == occupancy


async def test_a_live_property_of_mixed_types_is_exported_as_text(client: Client) -> None:
    # The column took the most frequent type, int64, and "x" and true were left null.
    reading = {"B00": 3, "B01": 4, "B02": "x", "B03": True, "B04": 2.5}
    await write_live(client, "reading", reading)
    data, _ = await _export(client, "parquet")
    table = pq.read_table(io.BytesIO(data))
    got = dict(
        zip(table.column("id").to_pylist(), table.column("reading").to_pylist(), strict=True)
    )
    assert {k: got[k] for k in reading} == {
        "B00": "3",
        "B01": "4",
        "B02": "x",
        "B03": "true",
        "B04": "2.5",
    }
    schema = await (await client.get("/ogc/collections/grid/schema")).json()
    reading_schema = schema["properties"]["properties"]["properties"]["reading"]
    assert reading_schema["type"] == "string"  # as GDAL must read the column


async def test_an_attribute_of_mixed_types_is_exported_as_text(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    # The column took the most frequent type, int64, and "3a", true and 2.5 were left null.
    storeys = {"M0": 3, "M1": 4, "M2": "3a", "M3": 5, "M4": True, "M5": 2.5}
    records = [replace(RECORDS[k], id=oid, attributes={"storeys": v})
               for k, (oid, v) in enumerate(storeys.items())]  # fmt: skip
    store = SQLiteStore(tmp_path / "data")
    info = DatasetInfo("grid", "Grid", "EPSG:4326", len(records), None, IMPORTED)
    store.publish(info, records, store.staging_dir("grid"))
    (tmp_path / "viewer").mkdir()
    client = await aiohttp_client(create_app(store, viewer_dir=tmp_path / "viewer"))
    data, _ = await _export(client, "parquet")
    table = pq.read_table(io.BytesIO(data))
    ids, values = table.column("id").to_pylist(), table.column("storeys").to_pylist()
    assert dict(zip(ids, values, strict=True)) == {
        "M0": "3", "M1": "4", "M2": "3a", "M3": "5", "M4": "true", "M5": "2.5",
    }  # fmt: skip


async def test_an_empty_export_is_still_a_valid_file(client: Client) -> None:
    body, _ = await _export(client, "parquet", filter="measuredHeight < 0")
    assert pq.read_table(io.BytesIO(body)).num_rows == 0
    text, _ = await _export(client, "csv", filter="measuredHeight < 0")
    assert text.decode() == ",".join(HEADER) + "\r\n"


async def test_a_bad_export_parameter_is_a_400_before_streaming(client: Client) -> None:
    resp = await client.get("/ogc/collections/grid/items", params={"f": "csv", "filter": "lod >"})
    assert resp.status == 400
    body = await resp.json(content_type=None)
    assert body["detail"] == "invalid CQL2 filter at line 1, column 6: unexpected end of input"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
async def test_a_failure_mid_stream_cuts_the_transfer_instead_of_hanging(
    client: Client, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # Fault injection: no input is known to fail an export after its first bytes (a colliding
    # `bbox` attribute did, until it was renamed), so the second chunk's encoding is made to.
    # The status line is out by then, so no problem body can follow: the client must see a
    # transfer cut short (a chunked body without its last chunk, RFC 9112 §7.1), not wait.
    monkeypatch.setattr("twin.server.ogc_export._CHUNK", 7)
    chunks = 0
    real = "csv_rows" if fmt == "csv" else "parquet_table"
    encode = getattr(__import__("twin.server.ogc_export", fromlist=[real]), real)

    def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal chunks
        chunks += 1
        if chunks == 3:  # (csv: the header is the first call)
            raise ValueError("encoder failed")
        return encode(*args, **kwargs)

    monkeypatch.setattr(f"twin.server.ogc_export.{real}", failing)
    resp = await client.get("/ogc/collections/grid/items", params={"f": fmt}, timeout=20)
    assert resp.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await asyncio.wait_for(resp.read(), 10)
    health = await client.get("/healthz")  # and the server goes on serving
    assert health.status == 200
