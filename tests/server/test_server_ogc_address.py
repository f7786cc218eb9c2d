"""Addresses and 3D measures in OGC items: queryables, CQL2, sortby, aggregates, exports.

Two real files imported end to end: Lorup (Lower Saxony, xAL with street and number on 65 of
243 buildings) and the KIT FZK-Haus (xAL with a postal code). Expected values are read from
the GML with lxml, independently of twin's reader.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import shapely
import shapely.geometry
from lxml import etree
from pyproj import Transformer
from pytest_aiohttp import AiohttpClient

from twin.pipeline import ImportOptions, import_files
from twin.server import create_app
from twin.store import SQLiteStore

from .test_server_ogc_items import Client

LORUP = "citygml/nds_LoD1_24085862_2_2021-01-25.gml"
FZK = "citygml/teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml"
_XAL = "urn:oasis:names:tc:ciq:xsdschema:xAL:2.0"
_GML = "http://www.opengis.net/gml"
ADDRESS_NAMES = {"streetAddress", "postalCode", "addressLocality", "addressCountry"}


def _streets(path: Path) -> dict[str, str]:
    """Return gml:id -> "ThoroughfareName ThoroughfareNumber" of each Building that has both."""
    found = {}
    for building in etree.parse(str(path)).iter("{*}Building"):
        name = building.findtext(f".//{{{_XAL}}}ThoroughfareName")
        number = building.findtext(f".//{{{_XAL}}}ThoroughfareNumber")
        if name and number:
            found[building.get(f"{{{_GML}}}id")] = f"{name} {number}"
    return found


@pytest.fixture(scope="module")
def imported(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a data directory with both files imported (closed, so it can be copied)."""
    data_dir = tmp_path_factory.mktemp("address") / "data"
    store = SQLiteStore(data_dir)
    import_files([shared_data / LORUP], store, ImportOptions("lorup", workers=1))
    import_files([shared_data / FZK], store, ImportOptions("fzk", workers=1))
    store.close()
    return data_dir


@pytest.fixture
async def client(imported: Path, tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    """Return a client on a copy of the imported data (the app closes its store)."""
    shutil.copytree(imported, tmp_path / "data", symlinks=True)
    (tmp_path / "viewer").mkdir()
    store = SQLiteStore(tmp_path / "data")
    return await aiohttp_client(create_app(store, viewer_dir=tmp_path / "viewer"))


async def _ids(client: Client, dataset: str, **params: str) -> list[str]:
    resp = await client.get(f"/ogc/collections/{dataset}/items", params={"limit": "1000", **params})
    assert resp.status == 200, await resp.text()
    return [f["id"] for f in (await resp.json())["features"]]


@pytest.mark.parametrize("dataset", ["lorup", "fzk"])
async def test_queryables_list_the_four_address_fields(client: Client, dataset: str) -> None:
    body = await (await client.get(f"/ogc/collections/{dataset}/queryables")).json()
    assert {n: body["properties"][n]["type"] for n in ADDRESS_NAMES} == dict.fromkeys(
        ADDRESS_NAMES, "string"
    )


def _viewer_search_filter(query: str, fields: list[str]) -> str:
    """Return the CQL2 filter the viewer's search box sends (viewer/src/search.js, run by node)."""
    module = Path(__file__).parents[2] / "viewer" / "src" / "search.js"
    script = (
        f"import {{ searchFilter }} from {json.dumps(module.as_uri())};"
        f"process.stdout.write(searchFilter({json.dumps(query)}, {json.dumps(fields)}));"
    )
    run = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return run.stdout


@pytest.mark.parametrize("typed", ["Werlter Straße", "WERLTER STRASSE", "werlter str"])
async def test_the_viewer_search_finds_the_street_as_it_is_written(
    client: Client, shared_data: Path, typed: str
) -> None:
    # The viewer lowered the typed text in JavaScript ("straße") while CASEI folds the
    # property the Unicode way ("strasse"): the street as the panel shows it found nothing.
    expected = sorted(i for i, s in _streets(shared_data / LORUP).items() if "Werlter" in s)
    cql = _viewer_search_filter(typed, ["streetAddress"])
    assert await _ids(client, "lorup", filter=cql) == expected


@pytest.mark.parametrize(
    "pattern", ["%werlter straße%", "%WERLTER STRASSE%", "%Werlter Straße%"], ids=str
)
async def test_casei_like_finds_the_street_in_any_case(
    client: Client, shared_data: Path, pattern: str
) -> None:
    expected = sorted(i for i, s in _streets(shared_data / LORUP).items() if "Werlter" in s)
    found = await _ids(client, "lorup", filter=f"CASEI(streetAddress) LIKE CASEI('{pattern}')")
    assert len(expected) > 3
    assert found == expected


async def test_equality_on_street_and_number(client: Client, shared_data: Path) -> None:
    streets = _streets(shared_data / LORUP)
    wanted = sorted(streets.values())[0]
    found = await _ids(client, "lorup", filter=f"streetAddress = '{wanted}'")
    assert found == sorted(i for i, s in streets.items() if s == wanted)


async def test_sortby_street_address(client: Client, shared_data: Path) -> None:
    streets = _streets(shared_data / LORUP)
    resp = await client.get(
        "/ogc/collections/lorup/items",
        params={"filter": "streetAddress IS NOT NULL", "sortby": "-streetAddress", "limit": "100"},
    )
    features = (await resp.json())["features"]
    assert [f["properties"]["streetAddress"] for f in features] == sorted(
        streets.values(), reverse=True
    )


async def test_items_carry_the_postal_address_fields(client: Client, shared_data: Path) -> None:
    (building_id,) = _streets(shared_data / FZK)
    resp = await client.get(f"/ogc/collections/fzk/items/{building_id}")
    properties = (await resp.json())["properties"]
    assert {k: properties.get(k) for k in ADDRESS_NAMES} == {
        "streetAddress": "Spöcker Straße 4711",
        "postalCode": "76344",
        "addressLocality": "Eggenstein-Leopoldshafen",
        "addressCountry": None,
    }
    assert await _ids(client, "fzk", filter="postalCode = '76344'") == [building_id]


async def test_buildings_without_address_have_no_address_fields(client: Client) -> None:
    resp = await client.get(
        "/ogc/collections/lorup/items", params={"filter": "type = 'BuildingPart'", "limit": "5"}
    )
    for feature in (await resp.json())["features"]:
        assert ADDRESS_NAMES.isdisjoint(feature["properties"])


MEASURES = ("height", "footprintArea", "roofArea", "wallArea", "groundArea", "volume")


async def test_queryables_list_the_measures(client: Client) -> None:
    body = await (await client.get("/ogc/collections/fzk/queryables")).json()
    assert {n: body["properties"][n]["type"] for n in MEASURES} == dict.fromkeys(MEASURES, "number")


@pytest.mark.parametrize(
    ("cql", "found"),
    [("volume > 600 AND roofArea < 140 AND height > 6.5", True), ("volume > 610", False)],
)
async def test_filters_on_measures(
    client: Client, shared_data: Path, cql: str, found: bool
) -> None:
    (building_id,) = _streets(shared_data / FZK)  # 609.4 m³, roofs 138.7 m², 6.52 m high
    assert await _ids(client, "fzk", filter=cql) == ([building_id] if found else [])


async def test_sortby_volume_and_open_shells_have_none(client: Client) -> None:
    resp = await client.get(
        "/ogc/collections/lorup/items",
        params={"filter": "volume IS NOT NULL", "sortby": "-volume", "limit": "1000"},
    )
    volumes = [f["properties"]["volume"] for f in (await resp.json())["features"]]
    assert len(volumes) > 50
    assert volumes == sorted(volumes, reverse=True)
    resp = await client.get(
        "/ogc/collections/lorup/items", params={"filter": "volume IS NULL", "limit": "5"}
    )
    features = (await resp.json())["features"]
    assert features
    assert all("volume" not in f["properties"] for f in features)


async def test_aggregate_sums_measures_like_the_items(client: Client) -> None:
    resp = await client.get(
        "/ogc/collections/lorup/aggregate",
        params={"groupby": "type", "stats": "count,sum(footprintArea)"},
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    items = await client.get("/ogc/collections/lorup/items", params={"limit": "1000"})
    features = (await items.json())["features"]
    for group in body["groups"]:
        mine = [f["properties"] for f in features if f["properties"]["type"] == group["key"]]
        assert group["count"] == len(mine)
        assert group["sum(footprintArea)"] == pytest.approx(
            sum(p["footprintArea"] for p in mine), rel=1e-9
        )


async def test_csv_export_has_the_address_and_measure_columns(client: Client) -> None:
    resp = await client.get("/ogc/collections/fzk/items", params={"f": "csv"})
    (row,) = csv.DictReader(io.StringIO(await resp.text()))
    assert float(row["volume"]) == pytest.approx(609.4, abs=0.1)
    assert row["streetAddress"] == "Spöcker Straße 4711"


async def test_sortables_are_the_queryables_sortby_accepts(client: Client) -> None:
    queryables = await (await client.get("/ogc/collections/lorup/queryables")).json()
    resp = await client.get("/ogc/collections/lorup/sortables")
    assert resp.status == 200
    assert resp.content_type == "application/schema+json"
    sortables = await resp.json()
    assert sortables["$id"].endswith("/ogc/collections/lorup/sortables")
    expected = {n: p for n, p in queryables["properties"].items() if n != "geometry"}
    assert sortables["properties"] == expected
    for name in sortables["properties"]:
        resp = await client.get("/ogc/collections/lorup/items", params={"sortby": f"-{name}"})
        assert resp.status == 200, (name, await resp.text())
    resp = await client.get("/ogc/collections/lorup/items", params={"sortby": "geometry"})
    assert resp.status == 400
    assert "the sortables are: " in (await resp.json())["detail"]


def _gml_rings(path: Path) -> list[np.ndarray]:
    """Return each polygon's exterior ring of a file as (n, 3) source coordinates."""
    rings = []
    for pos_list in etree.parse(str(path)).iter(f"{{{_GML}}}posList"):
        rings.append(np.array(pos_list.text.split(), dtype=float).reshape(-1, 3))
    return rings


async def test_lod_geometry_is_the_surfaces_in_crs84h(client: Client, shared_data: Path) -> None:
    (building_id,) = _streets(shared_data / FZK)
    resp = await client.get("/ogc/collections/fzk/items", params={"geometry": "lod"})
    assert resp.status == 200
    assert resp.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/0/CRS84h>"
    (feature,) = (await resp.json())["features"]
    single = await (
        await client.get(f"/ogc/collections/fzk/items/{building_id}?geometry=lod")
    ).json()
    assert single["geometry"] == feature["geometry"]
    geometry = shapely.geometry.shape(feature["geometry"])
    assert geometry.geom_type == "MultiPolygon"
    assert geometry.has_z
    rings = _gml_rings(shared_data / FZK)
    assert len(geometry.geoms) == len(rings) == 7
    to_lonlat = Transformer.from_crs(25832, 4326, always_xy=True)
    for polygon, ring in zip(geometry.geoms, rings, strict=True):
        xyz = np.array(polygon.exterior.coords)
        lon, lat = to_lonlat.transform(ring[:, 0], ring[:, 1])
        assert np.abs(xyz[:, 0] - lon).max() < 2e-8
        assert np.abs(xyz[:, 1] - lat).max() < 2e-8
        # one geoid undulation (~48 m here) between orthometric and ellipsoidal heights
        assert np.ptp(xyz[:, 2] - ring[:, 2]) < 0.002
    assert 40.0 < xyz[0, 2] - ring[0, 2] < 55.0


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"geometry": "solid"}, "geometry must be footprint or lod, got 'solid'"),
        (
            {"geometry": "lod", "crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
            "geometry=lod is given in http://www.opengis.net/def/crs/OGC/0/CRS84h (longitude, "
            "latitude, ellipsoidal height) only; leave crs out or ask for that CRS",
        ),
    ],
)
async def test_bad_geometry_requests_are_400(
    client: Client, params: dict[str, str], detail: str
) -> None:
    resp = await client.get("/ogc/collections/fzk/items", params=params)
    assert resp.status == 400
    assert (await resp.json())["detail"] == detail


async def test_building_of_parts_has_its_parts_surfaces(client: Client) -> None:
    resp = await client.get(
        "/ogc/collections/lorup/items", params={"filter": "type = 'BuildingPart'", "limit": "1"}
    )
    (part,) = (await resp.json())["features"]
    parent = part["properties"]["parent_id"]
    pieces = await _ids(client, "lorup", filter=f"parent_id = '{parent}' OR id = '{parent}'")
    counts = {}
    for piece in pieces:
        body = await (await client.get(f"/ogc/collections/lorup/items/{piece}?geometry=lod")).json()
        counts[piece] = len(body["geometry"]["coordinates"])
    assert counts[parent] >= sum(n for k, n in counts.items() if k != parent)


_OLD_SCHEMA = """
CREATE TABLE datasets (name TEXT PRIMARY KEY, title TEXT NOT NULL, srs_name TEXT,
    object_count INTEGER NOT NULL, bbox TEXT, imported_at TEXT NOT NULL, report TEXT NOT NULL);
CREATE TABLE objects (dataset TEXT NOT NULL REFERENCES datasets(name) ON DELETE CASCADE,
    id TEXT NOT NULL, type TEXT NOT NULL, parent_id TEXT, lod INTEGER,
    min_lon REAL NOT NULL, min_lat REAL NOT NULL, min_h REAL NOT NULL,
    max_lon REAL NOT NULL, max_lat REAL NOT NULL, max_h REAL NOT NULL,
    footprint TEXT, attributes TEXT NOT NULL, address TEXT, tile TEXT, feature_id INTEGER,
    PRIMARY KEY (dataset, id)) WITHOUT ROWID;
INSERT INTO datasets VALUES ('old', 'Old', NULL, 1, NULL, '2024-01-01T00:00:00+00:00', '{}');
INSERT INTO objects VALUES ('old', 'B1', 'Building', NULL, 2, 8, 49, 100, 8.001, 49.001, 110,
    NULL, '{"name": "old house"}', '{"street": "Hauptstraße", "house_number": "5"}', NULL, NULL);
"""


async def test_a_catalog_from_before_the_measures_opens_and_serves(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "twin.db") as db:
        db.executescript(_OLD_SCHEMA)
    (tmp_path / "viewer").mkdir()
    app = create_app(SQLiteStore(tmp_path / "data"), viewer_dir=tmp_path / "viewer")
    client = await aiohttp_client(app)
    body = await (await client.get("/ogc/collections/old/items/B1")).json()
    assert body["properties"]["name"] == "old house"
    assert "height" not in body["properties"]
    queryables = await (await client.get("/ogc/collections/old/queryables")).json()
    assert "volume" not in queryables["properties"]


async def test_exports_carry_the_lod_geometry_when_asked(client: Client) -> None:
    resp = await client.get("/ogc/collections/fzk/items", params={"f": "csv", "geometry": "lod"})
    assert resp.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/0/CRS84h>"
    (row,) = csv.DictReader(io.StringIO(await resp.text()))
    from_csv = shapely.from_wkt(row["geometry"])
    resp = await client.get(
        "/ogc/collections/fzk/items", params={"f": "parquet", "geometry": "lod"}
    )
    table = pq.read_table(io.BytesIO(await resp.read()))
    geo = json.loads(table.schema.metadata[b"geo"])
    assert geo["columns"]["geometry"]["crs"]["id"] == {"authority": "OGC", "code": "CRS84h"}
    from_parquet = shapely.from_wkb(table.column("geometry")[0].as_py())
    assert from_csv.geom_type == from_parquet.geom_type == "MultiPolygon"
    assert from_csv.has_z
    assert len(from_csv.geoms) == 7
    assert shapely.equals_exact(from_csv, from_parquet, tolerance=1e-9)


@pytest.mark.parametrize(("offset", "limit"), [(0, 1000), (0, 2), (3, 2), (5, 100), (400, 10)])
async def test_number_matched_whatever_the_page(
    client: Client, shared_data: Path, offset: int, limit: int
) -> None:
    expected = sorted(i for i, s in _streets(shared_data / LORUP).items() if "Werlter" in s)
    resp = await client.get(
        "/ogc/collections/lorup/items",
        params={"filter": "streetAddress LIKE 'Werlter%'", "offset": offset, "limit": limit},
    )
    body = await resp.json()
    assert body["numberMatched"] == len(expected)
    assert [f["id"] for f in body["features"]] == expected[offset : offset + limit]
