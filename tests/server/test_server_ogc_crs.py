"""OGC API – Features Part 2: ``crs``, ``bbox-crs``, ``Content-Crs`` and the collection's CRSs.

Expected coordinates are computed here with the spherical Mercator formulas (EPSG:3857) and
Snyder's Transverse Mercator series (UTM 32N), independently of pyproj.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import shapely
from pytest_aiohttp import AiohttpClient

from twin.model import DatasetInfo
from twin.server import create_app
from twin.store import SQLiteStore

from .test_server_ogc_items import IMPORTED, RECORDS, Client

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
R = 6378137.0


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    return R * math.radians(lon), R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _utm32(lon: float, lat: float) -> tuple[float, float]:
    """Transverse Mercator on GRS80 (Snyder 1987, eq. 8-9 to 8-10), zone 32N."""
    a, f, k0 = 6378137.0, 1 / 298.257222101, 0.9996
    e2 = f * (2 - f)
    ep2 = e2 / (1 - e2)
    phi = math.radians(lat)
    n = a / math.sqrt(1 - e2 * math.sin(phi) ** 2)
    t, c = math.tan(phi) ** 2, ep2 * math.cos(phi) ** 2
    big_a = math.radians(lon - 9.0) * math.cos(phi)
    m = a * (
        (1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256) * phi
        - (3 * e2 / 8 + 3 * e2**2 / 32 + 45 * e2**3 / 1024) * math.sin(2 * phi)
        + (15 * e2**2 / 256 + 45 * e2**3 / 1024) * math.sin(4 * phi)
        - (35 * e2**3 / 3072) * math.sin(6 * phi)
    )
    x = k0 * n * (big_a + (1 - t + c) * big_a**3 / 6
                  + (5 - 18 * t + t**2 + 72 * c - 58 * ep2) * big_a**5 / 120)  # fmt: skip
    y = k0 * (m + n * math.tan(phi) * (
        big_a**2 / 2 + (5 - t + 9 * c + 4 * c**2) * big_a**4 / 24
        + (61 - 58 * t + t**2 + 600 * c - 330 * ep2) * big_a**6 / 720))  # fmt: skip
    return x + 500_000.0, y


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    store = SQLiteStore(tmp_path / "data")
    info = DatasetInfo("grid", "Grid", "urn:adv:crs:ETRS89_UTM32*DE_DHHN2016_NH", len(RECORDS),
                       (8.0, 49.0, 100, 8.006, 49.005, 140), IMPORTED)  # fmt: skip
    store.publish(info, RECORDS, store.staging_dir("grid"))
    (tmp_path / "viewer").mkdir()
    return await aiohttp_client(create_app(store, viewer_dir=tmp_path / "viewer"))


async def test_collection_lists_its_crs(client: Client) -> None:
    body = await (await client.get("/ogc/collections/grid")).json()
    assert body["crs"] == [CRS84, EPSG + "4326", EPSG + "3857", EPSG + "25832"]
    assert body["storageCrs"] == CRS84


async def test_default_is_crs84(client: Client) -> None:
    resp = await client.get("/ogc/collections/grid/items/B00")
    assert resp.headers["Content-Crs"] == f"<{CRS84}>"
    body = await resp.json(content_type=None)
    assert body["geometry"]["coordinates"][0][0] == [8.0, 49.0]


async def test_epsg_3857_matches_the_mercator_formulas(client: Client) -> None:
    resp = await client.get("/ogc/collections/grid/items/B07", params={"crs": EPSG + "3857"})
    assert resp.headers["Content-Crs"] == f"<{EPSG}3857>"
    body = await resp.json(content_type=None)
    ring = RECORDS[7].footprint["coordinates"][0]  # type: ignore[index]
    got = body["geometry"]["coordinates"][0]
    for (lon, lat), (x, y) in zip(ring, got, strict=True):
        assert (x, y) == pytest.approx(_mercator(lon, lat), abs=1e-3)
    x0, y0 = _mercator(ring[0][0], ring[0][1])
    assert body["bbox"][:2] == pytest.approx([x0, y0], abs=1e-3)


async def test_epsg_4326_is_latitude_first(client: Client) -> None:
    params = {"crs": EPSG + "4326", "limit": "1"}
    body = await (await client.get("/ogc/collections/grid/items", params=params)).json(
        content_type=None
    )
    assert body["features"][0]["geometry"]["coordinates"][0][0] == [49.0, 8.0]


async def test_source_crs_utm(client: Client) -> None:
    resp = await client.get("/ogc/collections/grid/items/B00", params={"crs": EPSG + "25832"})
    body = await resp.json(content_type=None)
    assert body["geometry"]["coordinates"][0][0] == pytest.approx(_utm32(8.0, 49.0), abs=0.01)


async def test_bbox_crs_3857_selects_like_crs84(client: Client) -> None:
    x0, y0 = _mercator(7.9, 48.9)
    x1, y1 = _mercator(8.0002, 49.0002)
    params = {"bbox": f"{x0},{y0},{x1},{y1}", "bbox-crs": EPSG + "3857", "limit": "100"}
    body = await (await client.get("/ogc/collections/grid/items", params=params)).json(
        content_type=None
    )
    assert [f["id"] for f in body["features"]] == ["B00"]


async def test_parquet_export_in_3857_says_so(client: Client) -> None:
    params = {"f": "parquet", "crs": EPSG + "3857"}
    resp = await client.get("/ogc/collections/grid/items", params=params)
    table = pq.read_table(io.BytesIO(await resp.read()))
    crs = json.loads(table.schema.metadata[b"geo"])["columns"]["geometry"]["crs"]
    assert crs["id"] == {"authority": "EPSG", "code": 3857}
    assert table.column("bbox").to_pylist()[0]["xmin"] == pytest.approx(_mercator(8, 49)[0])


async def test_parquet_export_in_4326_is_longitude_first(client: Client) -> None:
    # GeoParquet 1.1, "Coordinate axis order": x is longitude (or easting) whatever the CRS's
    # own axis order; the GeoJSON answer in EPSG:4326 stays latitude first (Part 2).
    params = {"f": "parquet", "crs": EPSG + "4326"}
    resp = await client.get("/ogc/collections/grid/items", params=params)
    table = pq.read_table(io.BytesIO(await resp.read()))
    geo = json.loads(table.schema.metadata[b"geo"])["columns"]["geometry"]
    assert geo["crs"]["id"] == {"authority": "EPSG", "code": 4326}
    first = shapely.from_wkb(table.column("geometry")[0].as_py())
    assert shapely.get_coordinates(first)[0].tolist() == pytest.approx([8.0, 49.0])
    assert table.column("bbox").to_pylist()[0]["xmin"] == pytest.approx(8.0)
    assert table.column("bbox").to_pylist()[0]["ymin"] == pytest.approx(49.0)


def _square_in(crs: str, lon: float, lat: float, half: float) -> str:
    """Return a WKT square of ``half`` degrees around ``lon, lat``, its corners in ``crs``."""
    corners = [(lon - half, lat - half), (lon + half, lat - half), (lon + half, lat + half),
               (lon - half, lat + half), (lon - half, lat - half)]  # fmt: skip
    to_crs = {
        CRS84: lambda x, y: (x, y),
        EPSG + "4326": lambda x, y: (y, x),  # latitude first
        EPSG + "3857": _mercator,
        EPSG + "25832": _utm32,
    }[crs]
    points = (to_crs(x, y) for x, y in corners)
    return "POLYGON((" + ", ".join(f"{a!r} {b!r}" for a, b in points) + "))"


@pytest.mark.parametrize("crs", [CRS84, EPSG + "4326", EPSG + "3857", EPSG + "25832"])
async def test_filter_crs_reads_spatial_literals_in_each_offered_crs(
    client: Client, crs: str
) -> None:
    # OGC API - Features Part 3, filter-crs: a CRS the collection offers for bbox-crs and crs.
    inside_b07 = _square_in(crs, 8.00125, 49.00125, 0.0001)
    params = {"filter": f"S_INTERSECTS(geometry, {inside_b07})", "filter-crs": crs}
    resp = await client.get("/ogc/collections/grid/items", params=params)
    body = await resp.json(content_type=None)
    assert resp.status == 200, body
    assert [f["id"] for f in body["features"]] == ["B07"]


async def test_filter_crs_reads_a_cql2_json_bbox_latitude_first(client: Client) -> None:
    inside_b07 = {"bbox": [49.00115, 8.00115, 49.00135, 8.00135]}  # EPSG:4326 axis order
    cql2 = {"op": "s_intersects", "args": [{"property": "geometry"}, inside_b07]}
    params = {"filter": json.dumps(cql2), "filter-lang": "cql2-json", "filter-crs": EPSG + "4326"}
    body = await (await client.get("/ogc/collections/grid/items", params=params)).json(
        content_type=None
    )
    assert [f["id"] for f in body["features"]] == ["B07"]


@pytest.mark.parametrize("name", ["crs", "bbox-crs", "filter-crs"])
async def test_unoffered_crs_is_a_400(client: Client, name: str) -> None:
    params = {
        name: EPSG + "2056",
        "bbox": "1,2,3,4",
        "filter": "S_INTERSECTS(geometry, POINT(1 2))",
    }
    resp = await client.get("/ogc/collections/grid/items", params=params)
    assert resp.status == 400
    body = await resp.json(content_type=None)
    assert body["detail"] == (
        f"{name} '{EPSG}2056' is not offered by collection grid; use one of: "
        f"{CRS84}, {EPSG}4326, {EPSG}3857, {EPSG}25832"
    )
