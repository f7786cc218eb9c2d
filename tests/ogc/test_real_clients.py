"""Real OGC API – Features clients against a real ``twin serve``: GDAL (ogrinfo, ogr2ogr), OWSLib.

Expected ids come from the source CityGML (lxml) or the SQLite catalog (shapely), never from
the API under test.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import shapely
import shapely.geometry
from lxml import etree
from owslib.ogcapi.features import Features
from pyproj import Proj, Transformer
from serve_process import free_port, serve, stop

from twin.model import BuildingRecord, DatasetInfo
from twin.store import SQLiteStore

from .conftest import DEMO_GML

NS = {
    "bldg": "http://www.opengis.net/citygml/building/2.0",
    "gml": "http://www.opengis.net/gml",
}
SPAT = (6.5720, 50.9870, 6.5730, 50.9880)


def _source_buildings() -> dict[str, dict[str, Any]]:
    """Return gml:id -> {measuredHeight, year, name} read straight from the file."""
    tree = etree.parse(str(DEMO_GML))
    found: dict[str, dict[str, Any]] = {}
    for building in tree.iterfind(".//bldg:Building", NS):
        gml_id = building.get("{http://www.opengis.net/gml}id")
        height = building.findtext("bldg:measuredHeight", namespaces=NS)
        year = building.findtext("bldg:yearOfConstruction", namespaces=NS)
        name = building.findtext("gml:name", namespaces=NS) or ""
        found[gml_id] = {"measuredHeight": float(height or "nan"), "year": float(year or "nan")}
        found[gml_id]["name"] = name
    return found


def _catalog_ids_intersecting(data_dir: Path, box: tuple[float, ...]) -> list[str]:
    query = shapely.box(*box)
    with sqlite3.connect(data_dir / "twin.db") as db:
        rows = db.execute(
            "SELECT id, footprint FROM objects WHERE dataset = "
            "(SELECT generation FROM datasets WHERE name = 'teco')"
        ).fetchall()
    return sorted(
        oid for oid, fp in rows if fp and shapely.geometry.shape(json.loads(fp)).intersects(query)
    )


def _logged(log: Path, text: str, wait_s: float = 10.0) -> bool:
    """Whether ``text`` reaches the server log within ``wait_s`` (access lines are batched)."""
    deadline = time.monotonic() + wait_s
    while text not in log.read_text():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _ogr(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_ogrinfo_lists_the_collection_and_its_features(ogc_server: tuple[str, Path]) -> None:
    base, _ = ogc_server
    listing = _ogr("ogrinfo", "-ro", f"OAPIF:{base}/ogc")
    assert "1: teco (title: teco) (Polygon)" in listing
    summary = _ogr("ogrinfo", "-ro", "-so", f"OAPIF:{base}/ogc", "teco")
    assert f"Feature Count: {len(_source_buildings())}" in summary


def test_ogrinfo_spat_filters_on_the_server(ogc_server: tuple[str, Path]) -> None:
    base, data_dir = ogc_server
    out = _ogr("ogrinfo", "-ro", "-al", "-spat", *map(str, SPAT), f"OAPIF:{base}/ogc", "teco")
    ids = sorted(
        line.split("=", 1)[1].strip() for line in out.splitlines() if "  id (String)" in line
    )
    expected = _catalog_ids_intersecting(data_dir, SPAT)
    assert ids == expected
    assert 0 < len(expected) < len(_source_buildings())
    assert _logged(data_dir / "serve.log", "/ogc/collections/teco/items?limit=10&bbox=6.572")


def test_ogr2ogr_exports_a_geopackage(ogc_server: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = ogc_server
    target = tmp_path / "teco.gpkg"
    _ogr("ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{base}/ogc", "teco")
    summary = _ogr("ogrinfo", "-ro", "-so", str(target), "teco")
    assert f"Feature Count: {len(_source_buildings())}" in summary
    assert "measuredHeight: Real" in summary
    assert "roofArea: Real" in summary


def _grid_records(n: int) -> list[BuildingRecord]:
    """Return ``n`` square buildings; only the last has ``rare``, ``built`` (a date) and
    ``osmId`` (past 32 bits) attributes, and a text ``storeys`` (the others' are integers)."""
    records = []
    for i in range(n):
        x = 8.0 + i * 0.001
        ring = [[x, 49.0], [x + 0.0005, 49.0], [x + 0.0005, 49.0005], [x, 49.0005], [x, 49.0]]
        attributes: dict[str, Any] = {"storeys": i % 5}
        if i == n - 1:
            attributes |= {"rare": 7.5, "built": dt.date(1990, 5, 1), "osmId": 2**40 + 1}
            attributes["storeys"] = "3a"  # mixed types: GDAL parsed it as the integer 3
        records.append(BuildingRecord(
            dataset="grid", id=f"B{i:02d}", type="Building",
            bbox_wgs84=(x, 49.0, 0.0, x + 0.0005, 49.0005, 10.0),
            footprint={"type": "Polygon", "coordinates": [ring]}, attributes=attributes,
        ))  # fmt: skip
    return records


def test_ogr2ogr_keeps_properties_the_first_page_lacks(tmp_path: Path) -> None:
    # GDAL sets a layer's fields from a JSON Schema the collection links (rel describedby)
    # or, without one, from its first page of 10 features: a property first met later was
    # dropped from the GeoPackage (PLATEAU's 市町村コード in plateauosm_53395404_bldg_6697_op).
    data_dir = tmp_path / "data"
    store = SQLiteStore(data_dir)
    records = _grid_records(25)
    staging = store.staging_dir("grid")
    (staging / "tileset.json").write_text("{}")
    info = DatasetInfo("grid", "grid", "EPSG:4326", len(records), None,
                       dt.datetime(2024, 1, 1, tzinfo=dt.UTC))  # fmt: skip
    store.publish(info, records, staging)
    port = free_port()
    server = serve(data_dir, port, log=tmp_path / "serve.log")
    try:
        target = tmp_path / "grid.gpkg"
        _ogr("ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:http://127.0.0.1:{port}/ogc", "grid")
    finally:
        stop(server)
    summary = _ogr("ogrinfo", "-ro", "-so", str(target), "grid")
    assert "rare: Real" in summary
    assert "built: Date" in summary
    with sqlite3.connect(target) as db:
        rows = db.execute(
            "SELECT id, rare, built, osmId FROM grid WHERE rare IS NOT NULL"
        ).fetchall()
    assert rows == [("B24", 7.5, "1990-05-01", 2**40 + 1)]  # not cut to 32 bits
    with sqlite3.connect(target) as db:
        storeys = db.execute("SELECT storeys FROM grid WHERE id IN ('B01', 'B24')").fetchall()
    assert storeys == [("1",), ("3a",)]


def test_owslib_sends_a_cql2_filter_and_gets_exactly_the_expected_ids(
    ogc_server: tuple[str, Path],
) -> None:
    base, _ = ogc_server
    api = Features(f"{base}/ogc")
    assert [c["id"] for c in api.collections()["collections"]] == ["teco"]
    found = api.collection_items(
        "teco",
        filter="name LIKE '10%' AND measuredHeight > 9 AND yearOfConstruction <= 2015",
        limit=1000,
    )
    expected = sorted(
        gml_id
        for gml_id, values in _source_buildings().items()
        if values["name"].startswith("10")
        and values["measuredHeight"] > 9
        and values["year"] <= 2015
    )
    assert sorted(f["id"] for f in found["features"]) == expected
    assert found["numberMatched"] == len(expected)
    assert 0 < len(expected) < len(_source_buildings())


def _source_ground_areas() -> dict[str, float]:
    """Return gml:id -> summed GroundSurface area in true metres, from the file (lxml, PROJ).

    The file is in UTM zone 32: areas there are scaled by k², k the projection's scale
    factor at the district (from PROJ), which is divided out.
    """
    tree = etree.parse(str(DEMO_GML))
    found: dict[str, float] = {}
    points = []
    for building in tree.iterfind(".//bldg:Building", NS):
        area = 0.0
        for pos_list in building.iterfind(".//bldg:GroundSurface//gml:posList", NS):
            xyz = [float(v) for v in pos_list.text.split()]
            ring = list(zip(xyz[0::3], xyz[1::3], strict=True))
            area += shapely.Polygon(ring).area
            points.append(ring[0])
        found[building.get("{http://www.opengis.net/gml}id")] = area
    x = sum(p[0] for p in points) / len(points)
    y = sum(p[1] for p in points) / len(points)
    lon, lat = Transformer.from_crs(25832, 4326, always_xy=True).transform(x, y)
    k = Proj("EPSG:25832").get_factors(lon, lat).meridional_scale
    return {gml_id: area / k**2 for gml_id, area in found.items()}


def test_owslib_filters_on_a_measure(ogc_server: tuple[str, Path]) -> None:
    base, _ = ogc_server
    areas = _source_ground_areas()
    ordered = sorted(areas.values())
    gaps = [(b / a, (a + b) / 2) for a, b in itertools.pairwise(ordered) if a > 0]
    ratio, threshold = max(gaps[len(gaps) // 4 : 3 * len(gaps) // 4])
    assert ratio > 1.002  # no building's area is near the threshold
    found = Features(f"{base}/ogc").collection_items(
        "teco", filter=f"groundArea > {threshold}", limit=1000
    )
    got = [(f["id"], f["properties"]["groundArea"]) for f in found["features"]]
    assert sorted(i for i, _ in got) == sorted(i for i, a in areas.items() if a > threshold)
    for gml_id, area in got:
        assert area == pytest.approx(areas[gml_id], rel=2e-4), gml_id
