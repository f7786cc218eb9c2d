"""Drive the readings into a running twin over HTTP (aiohttp), as any NGSI-LD client would.

The buildings of a dataset are listed with ``GET /ngsi-ld/v1/entities?type=Building&idPattern=…``
(keyValues, paged); each round writes every building's four readings with batch
``POST /entityOperations/update`` (existing attributes overwritten, new ones appended), a few
hundred entities per request — one request per chunk instead of one per attribute is what keeps
a city of thousands of buildings within a two-second interval.

aiohttp is confined to the edges (ARCHITECTURE.md §3); the simulator is one: a client of the
public API, started by the CLI.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from twin.errors import NotFoundError, TwinError
from twin.sim.readings import BuildingProfile, profile_of, readings_at

__all__ = ["SimulateError", "SimulateOptions", "SimulateReport", "simulate"]

log = logging.getLogger(__name__)

PAGE: Final = 1000
_API: Final = "/ngsi-ld/v1"


class SimulateError(TwinError):
    """The server could not be reached or refused the readings."""

    status = 502
    title = "Simulation failed"


@dataclass(frozen=True, slots=True)
class SimulateOptions:
    """What to simulate, where, how often and for how long (None: until interrupted)."""

    url: str
    dataset: str
    interval_s: float = 2.0
    token: str | None = None
    count: int | None = None
    duration_s: float | None = None
    seed: int = 0
    chunk: int = 250
    wait_s: float = 30.0


@dataclass(frozen=True, slots=True)
class SimulateReport:
    """What a run did."""

    buildings: int
    rounds: int
    updates: int
    failures: int


def _headers(options: SimulateOptions) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if options.token:
        headers["Authorization"] = f"Bearer {options.token}"
    return headers


async def _wait_for_server(session: aiohttp.ClientSession, options: SimulateOptions) -> None:
    deadline = time.monotonic() + options.wait_s
    while True:
        try:
            async with session.get(options.url.rstrip("/") + "/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise SimulateError(f"no twin server answered at {options.url}")
        await asyncio.sleep(0.25)


async def fetch_buildings(
    session: aiohttp.ClientSession, options: SimulateOptions
) -> list[BuildingProfile]:
    """Return the profiles of the dataset's ``Building`` entities."""
    pattern = "^" + re.escape(f"urn:ngsi-ld:Building:{options.dataset}:")
    base = options.url.rstrip("/") + _API + "/entities"
    entities: list[dict[str, Any]] = []
    while True:
        params = {"type": "Building", "idPattern": pattern, "options": "keyValues",
                  "attrs": "measuredHeight,function,location", "limit": str(PAGE),
                  "offset": str(len(entities))}  # fmt: skip
        async with session.get(base, params=params, headers=_headers(options)) as resp:
            if resp.status != 200:
                raise SimulateError(f"listing buildings: HTTP {resp.status} {await resp.text()}")
            page = await resp.json()
        entities.extend(page)
        if len(page) < PAGE:
            break
    if not entities:
        raise NotFoundError(f"no buildings of dataset {options.dataset!r} at {options.url}")
    return [profile_of(e, i) for i, e in enumerate(entities)]


async def _write_round(
    session: aiohttp.ClientSession,
    options: SimulateOptions,
    profiles: list[BuildingProfile],
    rng: random.Random,
) -> int:
    when = dt.datetime.now(dt.UTC)
    url = options.url.rstrip("/") + _API + "/entityOperations/update"
    failures = 0
    for start in range(0, len(profiles), options.chunk):
        body = [
            {"id": p.entity_id, **readings_at(p, when, rng)}
            for p in profiles[start : start + options.chunk]
        ]
        async with session.post(url, json=body, headers=_headers(options)) as resp:
            text = await resp.text()
            if resp.status == 207:
                failures += len((await resp.json()).get("errors", []))
            elif resp.status != 204:
                raise SimulateError(f"writing readings: HTTP {resp.status} {text}")
    return failures


async def simulate(
    options: SimulateOptions, *, on_round: Callable[[int, int], None] | None = None
) -> SimulateReport:
    """Write readings for every building each ``interval_s`` until count or duration is reached.

    Parameters
    ----------
    options : SimulateOptions
    on_round : callable, optional
        Called with ``(round number, failures so far)`` after each round (for progress).

    Raises
    ------
    SimulateError
        The server is unreachable or refuses the writes.
    NotFoundError
        The dataset has no buildings on that server.
    """
    rng = random.Random(options.seed)
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await _wait_for_server(session, options)
            profiles = await fetch_buildings(session, options)
            log.info("simulating %d buildings of %s", len(profiles), options.dataset)
            return await _run(session, options, profiles, rng, on_round)
    except aiohttp.ClientError as exc:
        raise SimulateError(f"{options.url}: {exc}") from exc


async def _run(
    session: aiohttp.ClientSession,
    options: SimulateOptions,
    profiles: list[BuildingProfile],
    rng: random.Random,
    on_round: Callable[[int, int], None] | None,
) -> SimulateReport:
    started = time.monotonic()
    rounds = failures = 0
    while options.count is None or rounds < options.count:
        if options.duration_s is not None and time.monotonic() - started >= options.duration_s:
            break
        failures += await _write_round(session, options, profiles, rng)
        rounds += 1
        if on_round is not None:
            on_round(rounds, failures)
        if options.count is not None and rounds >= options.count:
            break
        next_tick = started + rounds * options.interval_s
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
    return SimulateReport(len(profiles), rounds, rounds * len(profiles), failures)
