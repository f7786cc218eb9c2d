"""``twin simulate`` against a real ``twin serve`` process: readings reach the join and /live."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from serve_process import free_port, serve, stop

from twin.model import BuildingRecord, DatasetInfo
from twin.sim import BuildingProfile, profile_of, readings_at
from twin.store import SQLiteStore

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[11.0, 48.0], [11.0002, 48.0], [11.0002, 48.0002], [11.0, 48.0002],
                     [11.0, 48.0]]],
}  # fmt: skip


def _publish(data_dir: Path) -> None:
    store = SQLiteStore(data_dir)
    records = [
        BuildingRecord(
            dataset="demo", id="B1", type="Building", footprint=SQUARE,
            bbox_wgs84=(11.0, 48.0, 0.0, 11.0002, 48.0002, 9.0),
            attributes={"measuredHeight": 9.0, "function": "31001_1000"},
        ),
        BuildingRecord(
            dataset="demo", id="B2", type="Building", footprint=None,
            bbox_wgs84=(11.01, 48.01, 0.0, 11.011, 48.011, 20.0),
            attributes={"measuredHeight": 20.0, "function": "31001_2000"},
        ),
    ]  # fmt: skip
    staging = store.staging_dir("demo")
    (staging / "tileset.json").write_text("{}")
    info = DatasetInfo(
        name="demo", title="demo", srs_name=None, object_count=2, bbox_wgs84=None,
        imported_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    store.publish(info, records, staging)
    store.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """Run ``twin serve`` over a published two-building dataset; yield its URL."""
    _publish(tmp_path / "data")
    port = free_port()
    proc = serve(tmp_path / "data", port, tokens="sim-token")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


async def _changes(resp: aiohttp.ClientResponse, wanted: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async for line in resp.content:
        if line.startswith(b"data: {"):
            events.append(json.loads(line[6:]))
            if len(events) >= wanted:
                break
    return events


async def test_simulate_feeds_the_join_and_live(server: str) -> None:
    async with aiohttp.ClientSession() as session:
        live = await session.get(f"{server}/live?dataset=demo&attribute=energyUse")
        assert live.status == 200
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "twin.cli", "simulate", "--dataset", "demo", "--url", server,
            "--count", "2", "--interval", "0.1", "--token", "sim-token",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, output.decode()
        assert "2 rounds, 4 building updates (2 buildings), 0 refused" in output.decode()
        events = await asyncio.wait_for(_changes(live, 4), 10)
        live.close()
        assert sorted(e["id"] for e in events) == ["B1", "B1", "B2", "B2"]
        assert {e["attribute"] for e in events} == {"energyUse"}
        async with session.get(f"{server}/api/joined/demo/B1") as resp:
            assert resp.status == 200
            joined = await resp.json()
    units = {name: value.get("unitCode") for name, value in joined["live"].items()}
    assert units == {
        "energyUse": "KWH",
        "occupancy": "C62",
        "indoorTemperature": "CEL",
        "co2": "59",
    }
    assert 0 <= joined["live"]["occupancy"]["value"] <= 1
    assert 15 < joined["live"]["indoorTemperature"]["value"] < 30
    assert joined["live"]["energyUse"]["observedAt"].endswith("Z")


def test_simulate_without_buildings_fails(server: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "simulate", "--dataset", "nowhere", "--url", server,
         "--count", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "no buildings of dataset 'nowhere'" in result.stderr


WEDNESDAY = dt.datetime(2024, 1, 3, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("use", "hour", "low", "high"),
    [
        ("office", 12, 0.7, 1.0),
        ("office", 3, 0.0, 0.2),
        ("residential", 3, 0.75, 1.0),
        ("residential", 12, 0.2, 0.5),
    ],
)
def test_occupancy_follows_the_day(use: Any, hour: int, low: float, high: float) -> None:
    profile = BuildingProfile("urn:ngsi-ld:Building:d:B", 500.0, use)
    value = readings_at(profile, WEDNESDAY.replace(hour=hour), random.Random(3))["occupancy"]
    assert low <= value["value"] <= high


def test_energy_scales_with_floor_area() -> None:
    small, large = (BuildingProfile("urn:x:1", a, "office") for a in (100.0, 10_000.0))
    noon = WEDNESDAY.replace(hour=12)
    e_small = readings_at(small, noon, random.Random(1))["energyUse"]["value"]
    e_large = readings_at(large, noon, random.Random(1))["energyUse"]["value"]
    assert e_large == pytest.approx(100 * e_small, rel=0.01)


def test_profile_of_a_building_entity() -> None:
    entity = {"id": "urn:x:B1", "location": SQUARE, "measuredHeight": 9.0, "function": "31001_1000"}
    profile = profile_of(entity, 0)
    assert profile.use == "residential"
    # ~14.9 m × ~22.2 m footprint over three storeys
    assert profile.floor_area_m2 == pytest.approx(3 * 14.87 * 22.24, rel=0.01)
