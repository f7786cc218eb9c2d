"""``/ogc/``: collections (one per dataset, linking its tileset) and single items."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from yarl import URL

from twin.pipeline import ImportOptions, import_files
from twin.server.app import create_app
from twin.store import SQLiteStore

from .demo_data import FOOTPRINT, SPECIAL_ID

Client: TypeAlias = TestClient[web.Request, web.Application]

CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _expected_collection(base: str) -> dict[str, Any]:
    here = f"{base}/ogc/collections/demo"
    return {
        "id": "demo",
        "title": "Demo city",
        "itemType": "feature",
        "crs": [
            CRS84,
            "http://www.opengis.net/def/crs/EPSG/0/4326",
            "http://www.opengis.net/def/crs/EPSG/0/3857",
            "http://www.opengis.net/def/crs/EPSG/0/25832",
        ],
        "storageCrs": CRS84,
        "extent": {
            "spatial": {"bbox": [[11.0, 48.0, 500.0, 11.001, 48.001, 512.5]], "crs": CRS84H}
        },
        "links": [
            {"href": here, "rel": "self", "type": "application/json", "title": "this collection"},
            {
                "href": f"{here}/items",
                "rel": "items",
                "type": "application/geo+json",
                "title": "its features",
            },
            {
                "href": f"{here}/queryables",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "title": "what filters may name",
            },
            {
                "href": f"{here}/sortables",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/sortables",
                "type": "application/schema+json",
                "title": "what sortby may name",
            },
            {
                "href": f"{here}/schema",
                "rel": "describedBy",
                "type": "application/schema+json",
                "title": "the schema of its features",
            },
            {
                "href": f"{base}/tiles/demo/tileset.json",
                "rel": "alternate",
                "type": "application/json",
                "title": "3D Tiles 1.1 tileset",
            },
        ],
    }


async def test_collections_list_one_collection_per_dataset(client: Client) -> None:
    resp = await client.get("/ogc/collections")
    base = str(client.make_url("/").origin())
    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert await resp.json() == {
        "collections": [_expected_collection(base)],
        "links": [
            {
                "href": f"{base}/ogc/collections",
                "rel": "self",
                "type": "application/json",
                "title": "collections",
            }
        ],
    }


async def test_viewer_finds_the_tileset_link_and_it_resolves(client: Client) -> None:
    body = await (await client.get("/ogc/collections")).json()
    (link,) = [x for x in body["collections"][0]["links"] if x["href"].endswith("/tileset.json")]
    resp = await client.get(URL(link["href"]).path)
    assert resp.status == 200
    assert (await resp.json())["asset"] == {"version": "1.1"}


async def test_one_collection(client: Client) -> None:
    resp = await client.get("/ogc/collections/demo")
    assert resp.status == 200
    assert await resp.json() == _expected_collection(str(client.make_url("/").origin()))


async def test_item_with_special_characters_in_its_id(client: Client) -> None:
    path = f"/ogc/collections/demo/items/{quote(SPECIAL_ID, safe='')}"
    resp = await client.get(URL(path, encoded=True))
    base = str(client.make_url("/").origin())
    assert resp.status == 200
    assert resp.content_type == "application/geo+json"
    assert await resp.json() == {
        "type": "Feature",
        "id": SPECIAL_ID,
        "geometry": FOOTPRINT,
        "bbox": [11.0, 48.0, 500.0, 11.001, 48.001, 512.5],
        "properties": {
            "measuredHeight": 12.5,
            "function": "31001_1000",
            "yearOfConstruction": 1972,
            "type": "BuildingPart",
            "parent_id": "DEBY_LOD2_4959457",
            "lod": 2,
            "address": {"street": "Arcisstraße", "house_number": "21", "locality": "München"},
            "streetAddress": "Arcisstraße 21",
            "addressLocality": "München",
        },
        "links": [
            {
                "href": f"{base}/ogc/collections/demo/items/{SPECIAL_ID}",
                "rel": "self",
                "type": "application/geo+json",
            },
            {
                "href": f"{base}/ogc/collections/demo",
                "rel": "collection",
                "type": "application/json",
            },
        ],
    }


async def test_item_unescaped_id_is_found_too(client: Client) -> None:
    resp = await client.get(f"/ogc/collections/demo/items/{SPECIAL_ID}")
    assert resp.status == 200
    assert (await resp.json())["id"] == SPECIAL_ID


async def test_item_without_footprint_has_null_geometry(client: Client) -> None:
    resp = await client.get("/ogc/collections/demo/items/DEBY_LOD2_4959457")
    body = await resp.json()
    assert body["geometry"] is None
    assert body["properties"] == {
        "creationDate": "2020-05-17",
        "type": "Building",
        "parent_id": None,
        "lod": None,
        "address": None,
    }


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/ogc/collections/nowhere", "no dataset named 'nowhere'"),
        ("/ogc/collections/nowhere/items/x", "no dataset named 'nowhere'"),
        ("/ogc/collections/demo/items/no:such.id", "no object 'no:such.id' in dataset 'demo'"),
    ],
)
async def test_unknown_collection_or_item_gives_404_problem(
    client: Client, path: str, detail: str
) -> None:
    resp = await client.get(path)
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"
    assert await resp.json(content_type=None) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": detail,
        "instance": path,
    }


async def test_a_collection_carries_its_import_timings_with_the_publish(
    aiohttp_client: Any, tmp_path: Path, viewer_dir: Path, shared_data: Path
) -> None:
    """The import report stored in the catalog was written during the publish, without its
    "publish" stage: the collection serves the same timings the CLI printed."""
    store = SQLiteStore(tmp_path / "timed")
    options = ImportOptions(dataset="teco", workers=1)
    printed = import_files([shared_data / "citygml/teco_district1_LoD2.gml"], store, options)
    expected = printed.as_json()
    assert set(expected["stage_seconds"]) == {"read", "tile", "publish"}  # type: ignore[arg-type]
    assert store.get_dataset("teco").report["stage_seconds"] == expected["stage_seconds"]
    client = await aiohttp_client(create_app(store, viewer_dir=viewer_dir))
    try:
        collection = await (await client.get("/ogc/collections/teco")).json()
        served = collection["importReport"]
        assert served["stage_seconds"] == expected["stage_seconds"]
        assert served["seconds"] == expected["seconds"]
        assert served["objects"] == expected["objects"]
        beside = await (await client.get("/tiles/teco/import-report.json")).json()
        assert beside["stage_seconds"] == expected["stage_seconds"]
    finally:
        store.close()
