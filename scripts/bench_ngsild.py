#!/usr/bin/env python3
"""Measure the embedded NGSI-LD broker of a real ``twin serve`` against floors from the same run.

Usage::

    .venv/bin/python scripts/bench_ngsild.py [--sizes 1000,10000,100000] [--seconds 5]

Starts ``twin serve`` on a free loopback port with a fresh data directory, and a bare aiohttp
app the same way (the floor: ``PATCH`` answered 204 without work, a ``GET`` answered with a
canned page of 20 entities, and an SSE fan-out of a ``POST``ed line to the same number of
streams). Each floor is measured right before the figure it is the floor of, so that a machine
whose load changes during the run still gives comparable ratios. Measures, with an aiohttp
client:

- partial attribute updates/s (``PATCH /entities/{id}/attrs/temperature``, concurrency 32);
- creates/s (``POST /entities``, concurrency 32);
- query by type + q (``GET /entities?type=Room&q=temperature>…;occupied==true``) p50/p95 at
  each size (entities seeded by batch create through the API);
- write→SSE latency p50/p99 with 100 ``/live`` subscribers (writes spaced out, not saturating).

Every request count and duration is bounded. Prints one table; the floor column is the same
figure for the bare app, the ratio twin ÷ floor (for rates) or floor ÷ twin (for latencies)
shows how much of the floor twin keeps. The last two columns are the CPU time (user + sys, from
``/proc``) each server process spent per request of the figure. It moves less with the load
other processes put on the machine than rates and latencies do, but still moves (a shared core's
caches): compare twin's against the floor's of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # as pytest does

from serve_process import free_port, serve, start, stop  # noqa: E402

CONCURRENCY = 32
SUBSCRIBERS = 100
JSON = {"Content-Type": "application/json"}

FLOOR_APP = r"""
import asyncio, json, sys
from aiohttp import web
streams = set()
PAGE = json.dumps([{"id": f"urn:ngsi-ld:Room:{i}", "type": "Room",
                    "temperature": {"type": "Property", "value": 29.5},
                    "occupied": {"type": "Property", "value": True}} for i in range(20)])
async def nothing(request):
    await request.read()
    return web.Response(status=204)
async def page(request):
    return web.Response(text=PAGE, content_type="application/json",
                        headers={"NGSILD-Results-Count": "2000"})
async def live(request):
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(b": floor\n\n")
    queue = asyncio.Queue(256)
    streams.add(queue)
    try:
        while True:
            await resp.write(await queue.get())
    finally:
        streams.discard(queue)
async def publish(request):
    line = await request.read()
    for queue in list(streams):
        queue.put_nowait(b"event: change\ndata: " + line + b"\n\n")
    return web.Response(status=204)
app = web.Application()
app.router.add_route("*", "/noop/{tail:.*}", nothing)
app.router.add_get("/ngsi-ld/v1/entities", page)
app.router.add_get("/live", live)
app.router.add_post("/publish", publish)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


F = TypeVar("F")
Row = tuple[str, float, float, str, float, float]
"""measure, twin, floor, kind ("rate" or "ms"), twin and floor server CPU µs per request."""


class CpuClock:
    """CPU seconds (user + sys) a process has used, read from ``/proc/<pid>/stat``."""

    def __init__(self, pid: int) -> None:
        self._path = Path(f"/proc/{pid}/stat")
        self._tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float:
        fields = self._path.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self._tick


async def per_request(clock: CpuClock, run: Awaitable[tuple[F, int]]) -> tuple[F, float]:
    """Await ``run`` (giving a figure and its request count); return the figure and the
    process's CPU µs per request."""
    before = clock.seconds()
    figure, requests = await run
    return figure, (clock.seconds() - before) / max(requests, 1) * 1e6


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run_concurrent(
    count: int, seconds: float, send: Callable[[int], Awaitable[None]]
) -> tuple[float, int]:
    """Run ``send(i)`` for i < count with CONCURRENCY workers for at most ``seconds``."""
    counter = iter(range(count))
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        for i in counter:
            if time.perf_counter() > deadline:
                return
            await send(i)
            done += 1

    start_t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start_t
    return done / elapsed, done


async def expect(resp: aiohttp.ClientResponse, *statuses: int) -> None:
    if resp.status not in statuses:
        raise SystemExit(f"{resp.method} {resp.url}: {resp.status} {await resp.text()}")
    await resp.read()


def room(i: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Room:{i}",
        "type": "Room",
        "temperature": {"type": "Property", "value": 15 + (i * 7919 % 1500) / 100},
        "occupied": {"type": "Property", "value": i % 3 == 0},
        "refBuilding": {"type": "Relationship", "object": f"urn:ngsi-ld:Building:x:{i % 50}"},
    }


async def seed(http: aiohttp.ClientSession, base: str, start_i: int, stop_i: int) -> None:
    """Create Rooms start_i … stop_i - 1 by batch create, 4 batches in flight."""
    batches = [range(s, min(s + 500, stop_i)) for s in range(start_i, stop_i, 500)]

    async def send(i: int) -> None:
        body = [room(j) for j in batches[i]]
        async with http.post(f"{base}/ngsi-ld/v1/entityOperations/create", json=body) as r:
            await expect(r, 201)

    sem = asyncio.Semaphore(4)

    async def bounded(i: int) -> None:
        async with sem:
            await send(i)

    await asyncio.gather(*(bounded(i) for i in range(len(batches))))


async def bench_updates(
    http: aiohttp.ClientSession, base: str, seconds: float
) -> tuple[float, int]:
    async def send(i: int) -> None:
        url = f"{base}/ngsi-ld/v1/entities/urn:ngsi-ld:Room:{i % 1000}/attrs/temperature"
        async with http.patch(url, data=json.dumps({"value": i % 40}), headers=JSON) as r:
            await expect(r, 204)

    return await run_concurrent(10**9, seconds, send)


async def bench_creates(
    http: aiohttp.ClientSession, base: str, seconds: float
) -> tuple[float, int]:
    async def send(i: int) -> None:
        body = {"id": f"urn:ngsi-ld:Thing:{i}", "type": "Thing",
                "temperature": {"type": "Property", "value": i}}  # fmt: skip
        async with http.post(f"{base}/ngsi-ld/v1/entities", json=body) as r:
            await expect(r, 201)

    return await run_concurrent(10**9, seconds, send)


async def bench_floor(http: aiohttp.ClientSession, base: str, seconds: float) -> tuple[float, int]:
    async def send(i: int) -> None:
        url = f"{base}/noop/entities/urn:ngsi-ld:Room:{i % 1000}/attrs/temperature"
        async with http.patch(url, data=json.dumps({"value": i % 40}), headers=JSON) as r:
            await expect(r, 204)

    return await run_concurrent(10**9, seconds, send)


async def bench_query(
    http: aiohttp.ClientSession, base: str, queries: int, seconds: float
) -> tuple[tuple[float, float], int]:
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    for i in range(queries):
        if time.perf_counter() > deadline and len(times) >= 5:
            break
        q = f"temperature>{29.0 + (i % 10) / 10};occupied==true"
        t0 = time.perf_counter()
        async with http.get(f"{base}/ngsi-ld/v1/entities",
                            params={"type": "Room", "q": q, "count": "true"}) as r:  # fmt: skip
            await expect(r, 200)
        times.append(time.perf_counter() - t0)
    return (pct(times, 50) * 1e3, pct(times, 95) * 1e3), len(times)


async def subscribe(
    http: aiohttp.ClientSession, url: str, seen: dict[int, list[float]], ready: asyncio.Event
) -> None:
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
        ready.set()
        async for line in resp.content:
            if line.startswith(b"data: {"):
                value = json.loads(line[6:])["value"]
                seen.setdefault(int(value), []).append(time.perf_counter())


async def bench_sse(
    http: aiohttp.ClientSession,
    live_url: str,
    write: Callable[[int], Awaitable[None]],
    writes: int,
) -> tuple[float, float]:
    """Return p50/p99 ms from a write's start to each subscriber's receipt of its event."""
    seen: dict[int, list[float]] = {}
    readies = [asyncio.Event() for _ in range(SUBSCRIBERS)]
    tasks = [asyncio.create_task(subscribe(http, live_url, seen, e)) for e in readies]
    await asyncio.gather(*(e.wait() for e in readies))
    await asyncio.sleep(0.5)
    sent: dict[int, float] = {}
    for n in range(1, writes + 1):
        sent[n] = time.perf_counter()
        await write(n)
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = [(t - sent[n]) * 1e3 for n, ts in seen.items() if n in sent for t in ts]
    received = len(lat) / (writes * SUBSCRIBERS)
    if received < 0.99:
        print(f"  warning: only {received:.1%} of SSE events arrived", file=sys.stderr)
    return pct(lat, 50), pct(lat, 99)


@dataclass(frozen=True)
class Servers:
    """The two servers under test: their base URLs and CPU clocks."""

    base: str
    fbase: str
    clock: CpuClock
    fclock: CpuClock


async def main_async(sizes: list[int], seconds: float) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="twin-bench-") as tmp:
        tport, fport = free_port(), free_port()
        twin = serve(Path(tmp, "data"), tport, log=Path(tmp, "twin.log"))
        floor = start([sys.executable, "-c", FLOOR_APP, str(fport)], fport, Path(tmp, "floor.log"))
        servers = Servers(f"http://127.0.0.1:{tport}", f"http://127.0.0.1:{fport}",
                          CpuClock(twin.pid), CpuClock(floor.pid))  # fmt: skip
        conn = aiohttp.TCPConnector(limit=0)
        try:
            async with aiohttp.ClientSession(connector=conn) as http:
                await run_all(http, servers, sizes, seconds, rows)
        finally:
            for proc in (twin, floor):
                stop(proc)
    return rows


async def seed_timed(http: aiohttp.ClientSession, base: str, count: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    await seed(http, base, 0, count)
    return count / (time.perf_counter() - t0), count // 500


async def run_all(
    http: aiohttp.ClientSession, s: Servers, sizes: list[int], seconds: float, rows: list[Row]
) -> None:
    floor_rate, fcpu = await per_request(s.fclock, bench_floor(http, s.fbase, seconds))
    seeded, cpu = await per_request(s.clock, seed_timed(http, s.base, 1000))
    # per request of 500 entities; the floor's per-request figure stays that of its PATCH
    rows.append(("batch create (500/batch), entities/s", seeded, floor_rate, "rate", cpu, fcpu))
    floor_rate, fcpu = await per_request(s.fclock, bench_floor(http, s.fbase, seconds))
    rate, cpu = await per_request(s.clock, bench_updates(http, s.base, seconds))
    rows.append(("partial updates/s (PATCH attrs/temperature)", rate, floor_rate, "rate", cpu,
                 fcpu))  # fmt: skip
    floor_rate, fcpu = await per_request(s.fclock, bench_floor(http, s.fbase, seconds))
    rate, cpu = await per_request(s.clock, bench_creates(http, s.base, seconds))
    rows.append(("creates/s (POST /entities)", rate, floor_rate, "rate", cpu, fcpu))
    have = 1000
    for size in sizes:
        if size > have:
            await seed(http, s.base, have, size)
            have = size
        query_s = max(seconds, 10.0)
        (f50, f95), fcpu = await per_request(s.fclock, bench_query(http, s.fbase, 100, query_s))
        (p50, p95), cpu = await per_request(s.clock, bench_query(http, s.base, 100, query_s))
        rows.append((f"query type+q p50 ms @ {size:,}", p50, f50, "ms", cpu, fcpu))
        rows.append((f"query type+q p95 ms @ {size:,}", p95, f95, "ms", cpu, fcpu))
    await sse_rows(http, s.base, s.fbase, rows)


async def sse_rows(http: aiohttp.ClientSession, base: str, fbase: str, rows: list[Row]) -> None:
    building = "urn:ngsi-ld:Building:bench:B1"
    async with http.post(f"{base}/ngsi-ld/v1/entities", json={"id": building, "type": "Building",
                         "energy": {"type": "Property", "value": 0}}) as r:  # fmt: skip
        await expect(r, 201)

    async def twin_write(n: int) -> None:
        url = f"{base}/ngsi-ld/v1/entities/{building}/attrs/energy"
        async with http.patch(url, data=json.dumps({"value": n}), headers=JSON) as r:
            await expect(r, 204)

    async def floor_write(n: int) -> None:
        async with http.post(f"{fbase}/publish", data=json.dumps({"value": n})) as r:
            await expect(r, 204)

    f50, f99 = await bench_sse(http, f"{fbase}/live", floor_write, 100)
    t50, t99 = await bench_sse(http, f"{base}/live?dataset=bench", twin_write, 100)
    rows.append((f"write→SSE p50 ms ({SUBSCRIBERS} subscribers)", t50, f50, "ms", 0.0, 0.0))
    rows.append((f"write→SSE p99 ms ({SUBSCRIBERS} subscribers)", t99, f99, "ms", 0.0, 0.0))


def print_table(rows: list[Row]) -> None:
    print(f"{'measure':46} {'twin':>9} {'floor':>9} {'ratio':>7} {'cpu µs/req':>11} {'floor':>6}")
    for name, value, floor, kind, cpu, fcpu in rows:
        ratio = value / floor if kind == "rate" else floor / value
        cpus = f"{cpu:11.0f} {fcpu:6.0f}" if cpu else ""
        print(f"{name:46} {value:9.1f} {floor:9.1f} {ratio:7.3f} {cpus}")
    print(
        "floor: a bare aiohttp app started the same way (PATCH → 204; GET → a canned page; "
        "POST → SSE fan-out), measured right before each figure."
    )
    print("ratio: twin ÷ floor for rates, floor ÷ twin for latencies (1 = as fast as the floor).")
    print("cpu µs/req: user + sys time of each server process per request of that figure "
          "(batch create: per request of 500 entities).")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="query sizes (1000,10000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per rate (5)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")  # fmt: skip
    t0 = time.perf_counter()
    rows = asyncio.run(main_async(sizes, args.seconds))
    print_table(rows)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{time.perf_counter() - t0:.0f} s in all")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
