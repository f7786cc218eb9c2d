#!/usr/bin/env python3
"""Measure OGC API – Features queries of a real ``twin serve`` on a synthetic city.

Usage::

    scripts/bench_ogc.py --buildings 100000 --data-dir /tmp/benchogc/data

Unless the data directory already holds the dataset ``synth``, writes the city with
``scripts/synth_city.py`` and imports it with ``twin import`` (about 2 minutes per 10,000
buildings here), or with ``--records`` publishes synthetic catalog records directly (seconds).
Then starts ``twin serve`` on a free port (``tests/serve_process.py``, as the tests do) and
times, one request at a time over one keep-alive connection:

- ``/healthz`` — the floor: HTTP, routing and one catalog read on the same server and client;
- items with a random bbox of about ``--box-m`` metres (limit 100);
- the same bbox plus a CQL2 filter;
- a CQL2 filter alone over the whole city (limit 10);
- an address search over the whole city, ``CASEI(streetAddress) LIKE CASEI('%<street>%')``
  (limit 10; what the viewer's search box sends);
- a filter on a measure alone, ``height > 30``, over the whole city (limit 10);
- the ten largest buildings, ``sortby=-volume`` (limit 10);
- a bbox with ``height > 30``, ``sortby=-height`` (limit 100);
- items with a bbox and ``geometry=lod`` (the 3D surfaces instead of footprints, limit 100);
- an aggregate (bins of yearOfConstruction) over a random bbox.

Prints a Markdown table of p50/p95/max in milliseconds, the server's CPU time per request
(user + system of the server process, from ``/proc``: steadier than wall time on a shared
machine) and the mean numberMatched.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # as pytest does

from serve_process import free_port, serve, stop  # noqa: E402

TWIN = Path(sys.executable).with_name("twin")
DATASET = "synth"
FILTER = "measuredHeight > 12 AND yearOfConstruction < 1990"
STREETS = (
    "Hauptstraße",
    "Kaiserstraße",
    "Am Fasanengarten",
    "Waldstraße",
    "Engesserstraße",
    "Adenauerring",
    "Kriegsstraße",
    "Karlstraße",
    "Ritterstraße",
    "Südendstraße",
)
M_PER_DEG_LAT = 111_320.0


def ensure_city(data_dir: Path, buildings: int, seed: int) -> None:
    """Write and import the synthetic city unless the data directory has it already."""
    if (data_dir / "tilesets" / DATASET / "tileset.json").exists():
        print(f"reusing dataset {DATASET} in {data_dir}", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        gml = Path(tmp) / "city.gml"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "synth_city.py"),
                        str(buildings), str(gml), "--seed", str(seed)], check=True)  # fmt: skip
        started = time.perf_counter()
        subprocess.run([str(TWIN), "import", str(gml), "--dataset", DATASET,
                        "--data-dir", str(data_dir)], check=True)  # fmt: skip
        print(f"import: {time.perf_counter() - started:.0f} s", file=sys.stderr)


def publish_records(data_dir: Path, buildings: int, seed: int) -> None:
    """Publish synthetic catalog records directly (no CityGML, no tiles): the fast way to 100k.

    Buildings of 15 m x 17 m on a 22 m x 22 m grid in Karlsruhe, random height, year and
    function; what the OGC queries read is the catalog, which this fills like an import does.
    """
    import datetime as dt

    import numpy as np

    from twin.geometry.lod_geometry import surfaces_wkb
    from twin.model import Address, BuildingRecord, DatasetInfo, Measures
    from twin.store import SQLiteStore

    if (data_dir / "tilesets" / DATASET / "tileset.json").exists():
        print(f"reusing dataset {DATASET} in {data_dir}", file=sys.stderr)
        return
    rng, side = random.Random(seed), math.ceil(math.sqrt(buildings))
    dx, dy = 22 / (M_PER_DEG_LAT * math.cos(math.radians(49.0))), 22 / M_PER_DEG_LAT

    box_offsets = (np.arange(0, 25, 4), np.arange(7))  # six quads: rings, polygons

    def record(i: int) -> BuildingRecord:
        x, y = 8.38 + (i % side) * dx, 49.0 + (i // side) * dy
        ring = [[x, y], [x + 0.7 * dx, y], [x + 0.7 * dx, y + 0.77 * dy], [x, y + 0.77 * dy],
                [x, y]]  # fmt: skip
        attributes = {
            "measuredHeight": round(rng.uniform(3, 40), 2),
            "yearOfConstruction": rng.randint(1850, 2020),
            "function": rng.choice(["31001_1000", "31001_2000", "31001_3000"]),
        }
        height = float(attributes["measuredHeight"])
        corners = np.array(ring[:4])
        ground, roof = np.c_[corners, np.full(4, 110.0)], np.c_[corners, np.full(4, 110 + height)]
        walls = [np.stack([ground[k], ground[(k + 1) % 4], roof[(k + 1) % 4], roof[k]])
                 for k in range(4)]  # fmt: skip
        lod = surfaces_wkb(np.concatenate([ground[::-1], roof, *walls]), *box_offsets)
        address = Address(
            street=STREETS[i % len(STREETS)],
            house_number=str(i % 97 + 1),
            postal_code="76131",
            locality="Karlsruhe",
            country="Germany",
        )
        measures = Measures(height, 255.0, 255.0, 64.0 * height, 255.0, 255.0 * height)
        return BuildingRecord(DATASET, f"B{i:07d}", "Building", (x, y, 110.0, x + 0.7 * dx,
                              y + 0.77 * dy, 110.0 + height),
                              {"type": "Polygon", "coordinates": [ring]}, attributes,
                              address=address, measures=measures,
                              lod_geometry=lod)  # fmt: skip

    store = SQLiteStore(data_dir)
    box = (8.38, 49.0, 110.0, 8.38 + side * dx, 49.0 + side * dy, 130.0)
    info = DatasetInfo(DATASET, "synthetic records", "EPSG:25832", buildings, box,
                       dt.datetime.now(dt.UTC))  # fmt: skip
    staging = store.staging_dir(DATASET)
    (staging / "tileset.json").write_text("{}")
    store.publish(info, (record(i) for i in range(buildings)), staging)
    store.close()


def _get(conn: http.client.HTTPConnection, url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    conn.request("GET", url)
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {url}: {response.status} {body[:300]!r}")
    return elapsed, body


def _box(extent: list[float], rng: random.Random, box_m: float) -> str:
    x0, y0, x1, y1 = extent[0], extent[1], extent[3], extent[4]
    dlat = box_m / M_PER_DEG_LAT
    dlon = dlat / max(0.1, abs(math.cos(math.radians(y0))))
    lon = rng.uniform(x0, max(x0, x1 - dlon))
    lat = rng.uniform(y0, max(y0, y1 - dlat))
    return f"{lon:.6f},{lat:.6f},{lon + dlon:.6f},{lat + dlat:.6f}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    base: str, requests: int, box_m: float, seed: int, server_pid: int
) -> list[tuple[str, ...]]:
    """Time each kind of request ``requests`` times; return the table's rows."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    items = f"/ogc/collections/{DATASET}/items"
    _, body = _get(conn, f"/ogc/collections/{DATASET}")
    extent = json.loads(body)["extent"]["spatial"]["bbox"][0]
    rng = random.Random(seed)
    kinds: dict[str, Callable[[], str]] = {
        "/healthz (floor)": lambda: "/healthz",
        "items, bbox": lambda: items + "?" + urlencode(
            {"bbox": _box(extent, rng, box_m), "limit": 100}),
        "items, bbox + CQL2": lambda: items + "?" + urlencode(
            {"bbox": _box(extent, rng, box_m), "filter": FILTER, "limit": 100}),
        "items, CQL2 only (whole city)": lambda: items + "?" + urlencode({"filter": FILTER}),
        "items, address search (whole city)": lambda: items + "?" + urlencode({"filter":
            f"CASEI(streetAddress) LIKE CASEI('%{rng.choice(STREETS)[:6]}%')"}),
        "items, height > 30 (whole city)": lambda: items + "?" + urlencode(
            {"filter": "height > 30"}),
        "items, sortby -volume (whole city)": lambda: items + "?" + urlencode(
            {"sortby": "-volume"}),
        "items, bbox + height > 30, sortby -height": lambda: items + "?" + urlencode(
            {"bbox": _box(extent, rng, box_m), "filter": "height > 30", "sortby": "-height",
             "limit": 100}),
        "items, bbox, geometry=lod": lambda: items + "?" + urlencode(
            {"bbox": _box(extent, rng, box_m), "geometry": "lod", "limit": 100}),
        "aggregate bins, bbox": lambda: f"/ogc/collections/{DATASET}/aggregate?" + urlencode(
            {"bbox": _box(extent, rng, box_m), "bins": "yearOfConstruction:10",
             "stats": "count,avg(measuredHeight)"}),
    }  # fmt: skip
    rows = []
    for name, url_of in kinds.items():
        for _ in range(5):
            _get(conn, url_of())  # warm up
        times, matched = [], []
        cpu_before = _cpu_seconds(server_pid)
        for _ in range(requests):
            elapsed, body = _get(conn, url_of())
            times.append(elapsed)
            if body.startswith(b'{"type": "FeatureCollection"'):
                matched.append(json.loads(body)["numberMatched"])
        cpu_ms = (_cpu_seconds(server_pid) - cpu_before) * 1000 / requests
        mean = f"{statistics.fmean(matched):.0f}" if matched else "–"
        rows.append((name, f"{_percentile(times, 0.5):.1f}", f"{_percentile(times, 0.95):.1f}",
                     f"{max(times):.1f}", f"{cpu_ms:.1f}", mean))  # fmt: skip
    conn.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--buildings", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/twin-bench-ogc"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--box-m", type=float, default=300.0, help="bbox side in metres")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--records", action="store_true",
        help="publish synthetic catalog records directly instead of importing CityGML",
    )  # fmt: skip
    args = parser.parse_args()
    if args.records:
        publish_records(args.data_dir, args.buildings, args.seed)
    else:
        ensure_city(args.data_dir, args.buildings, args.seed)
    port = free_port()
    server = serve(args.data_dir, port, log=args.data_dir.parent / "bench-serve.log")
    try:
        rows = measure(f"http://127.0.0.1:{port}", args.requests, args.box_m, args.seed, server.pid)
    finally:
        stop(server)
    print(f"\n{args.requests} sequential requests each, {args.box_m:.0f} m boxes, filter "
          f"`{FILTER}`\n")  # fmt: skip
    print("| request | p50 ms | p95 ms | max ms | server CPU ms/request | mean numberMatched |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
