"""``/ogc/collections/{ds}/aggregate``: count/sum/avg/min/max by group, bins, the same filters.

Expected numbers are computed here from the grid city's records with plain Python.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from twin.model import BuildingRecord, DatasetInfo
from twin.server import create_app
from twin.store import SQLiteStore

from .test_server_ogc_items import IMPORTED, RECORDS, Client, write_live


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    store = SQLiteStore(tmp_path / "data")
    info = DatasetInfo("grid", "Grid", "EPSG:4326", len(RECORDS), None, IMPORTED)
    store.publish(info, RECORDS, store.staging_dir("grid"))
    (tmp_path / "viewer").mkdir()
    return await aiohttp_client(create_app(store, viewer_dir=tmp_path / "viewer"))


async def _groups(client: Client, **params: str) -> list[dict[str, Any]]:
    resp = await client.get("/ogc/collections/grid/aggregate", params=params)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    groups: list[dict[str, Any]] = body["groups"]
    return groups


def _height(r: BuildingRecord) -> float:
    return float(r.attributes["measuredHeight"])


def _by(key: Callable[[BuildingRecord], Any], keep: Callable[[BuildingRecord], bool]) -> Any:
    found: dict[Any, list[BuildingRecord]] = defaultdict(list)
    for r in RECORDS:
        if keep(r):
            found[key(r)].append(r)
    return sorted(found.items(), key=lambda kv: (kv[0] is not None, kv[0] or 0))


async def test_totals_without_grouping(client: Client) -> None:
    stats = "count,sum(measuredHeight),avg(measuredHeight),min(yearOfConstruction),max(name)"
    (group,) = await _groups(client, stats=stats)
    heights = [_height(r) for r in RECORDS]
    assert group == {
        "count": len(RECORDS),
        "sum(measuredHeight)": pytest.approx(sum(heights)),
        "avg(measuredHeight)": pytest.approx(statistics.fmean(heights)),
        "min(yearOfConstruction)": min(r.attributes["yearOfConstruction"] for r in RECORDS),
        "max(name)": max(r.attributes["name"] for r in RECORDS),
    }


async def test_bins_of_year_with_a_filter(client: Client) -> None:
    groups = await _groups(
        client, bins="yearOfConstruction:25", stats="count,avg(measuredHeight)",
        filter="measuredHeight > 12",
    )  # fmt: skip
    expected = [
        {"key": k, "upper": k + 25, "count": len(rs),
         "avg(measuredHeight)": pytest.approx(statistics.fmean(_height(r) for r in rs))}
        for k, rs in _by(lambda r: r.attributes["yearOfConstruction"] // 25 * 25,
                         lambda r: _height(r) > 12)
    ]  # fmt: skip
    assert groups == expected


async def test_fractional_bins(client: Client) -> None:
    groups = await _groups(client, bins="measuredHeight:2.5", bbox="7.9,48.9,8.0035,49.1")
    expected = [
        {"key": k, "upper": k + 2.5, "count": len(rs)}
        for k, rs in _by(lambda r: math.floor(_height(r) / 2.5) * 2.5,
                         lambda r: r.bbox_wgs84[0] < 8.0035)
    ]  # fmt: skip
    assert groups == expected


async def test_groupby_a_sparse_attribute_has_a_null_group(client: Client) -> None:
    groups = await _groups(client, groupby="creationDate", stats="count,sum(yearOfConstruction)")
    expected = [
        {"key": None if k is None else k.isoformat(), "count": len(rs),
         "sum(yearOfConstruction)": sum(r.attributes["yearOfConstruction"] for r in rs)}
        for k, rs in _by(lambda r: r.attributes.get("creationDate"), lambda r: True)
    ]  # fmt: skip
    assert groups == expected


async def test_live_values_group_and_sum(client: Client) -> None:
    await write_live(client, "energyUse", {"B01": 50, "B02": 150, "B20": 200})
    groups = await _groups(client, bins="yearOfConstruction:50", stats="sum(energyUse)",
                           filter="energyUse > 60")  # fmt: skip
    assert groups == [{"key": 1900, "upper": 1950, "sum(energyUse)": 150},
                      {"key": 2000, "upper": 2050, "sum(energyUse)": 200}]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"stats": "median(measuredHeight)"}, "stats: 'median(measuredHeight)' is not count, "
         "sum(name), avg(name), min(name) or max(name)"),
        ({"groupby": "name", "bins": "lod:1"}, "use groupby or bins, not both"),
        ({"bins": "measuredHeight:0"},
         "bins must be name:width with a positive width, got 'measuredHeight:0'"),
        ({"bins": "measuredHeight"},
         "bins must be name:width with a positive width, got 'measuredHeight'"),
        ({"bins": "name:10"}, "name is a string, not a number"),
        ({"stats": "avg(name)"}, "name is a string, not a number"),
        ({"groupby": "colour"}, "unknown property colour; the queryables are: creationDate, id, "
         "lod, measuredHeight, name, parent_id, type, yearOfConstruction"),
        ({"limit": "3"}, "limit does not apply to aggregates"),
        ({"filter": "lod >"}, "invalid CQL2 filter at line 1, column 6: unexpected end of input"),
    ],
)  # fmt: skip
async def test_bad_aggregates_are_400(client: Client, params: dict[str, str], detail: str) -> None:
    resp = await client.get("/ogc/collections/grid/aggregate", params=params)
    assert resp.status == 400
    assert (await resp.json(content_type=None))["detail"] == detail


async def test_too_many_groups_is_a_400(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("twin.store.features.MAX_GROUPS", 5)
    monkeypatch.setattr("twin.store.features_aggregate.MAX_GROUPS", 5)
    resp = await client.get("/ogc/collections/grid/aggregate", params={"groupby": "id"})
    assert resp.status == 400
    assert (await resp.json(content_type=None))["detail"] == (
        "grouping by id makes more than 5 groups; filter first, or group by bins"
    )


async def test_unknown_collection_is_a_404(client: Client) -> None:
    resp = await client.get("/ogc/collections/nope/aggregate")
    assert resp.status == 404
