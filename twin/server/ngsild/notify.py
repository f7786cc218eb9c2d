"""HTTP notifications of subscriptions, sent off the writers' path (CIM 009 §5.11, §6.3.13).

:class:`Notifier` keeps every subscription compiled in memory (loaded from the store when the
server starts, updated by the subscription routes after each committed change). A write calls
:meth:`Notifier.entity_changed`, which never awaits: it tests the subscriptions of the tenant,
applies ``throttling`` (a notification inside the window is not sent) and appends a job to
the subscription's backlog. Worker tasks POST the notifications with one aiohttp session and a
short timeout, taking the subscriptions with a backlog in turn: at most ``per_subscription``
requests of one subscription are in flight (in the order of the writes, answered in any), so
a receiver that is slow or down holds that many workers, a quarter by default, never the
notifications of other subscriptions. When the subscription's backlog holds
``backlog`` jobs, or all together hold ``queue_size``, the notification counts as failed instead
of making the writer wait. Counters (``timesSent``, ``timesFailed``, ``lastNotification``,
``lastSuccess``, ``lastFailure``, ``status``) change in memory at once and reach the store at most
once a second.

Periodic subscriptions (``timeInterval``) are not matched on writes: a ticker task checks once a
second which are due, queries the entities they select (the store narrows by id, idPattern and
type, the subscription's own test decides) and queues one notification with all of them; none
is sent when nothing matches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from aiohttp import web

from twin.errors import NotFoundError
from twin.ngsild.jsonld import CORE, CORE_CONTEXT_URL, Context, ContextResolver, link_url
from twin.ngsild.subscriptions import StoredSubscription
from twin.ngsild.subscriptions_match import (
    CompiledSubscription,
    EntityChange,
    compile_subscription,
    entities_data,
    notification_data,
    selector_terms,
)
from twin.ngsild.subscriptions_render import subscription_status
from twin.server.ngsild.http import LD_CONTEXT_REL, now_iso
from twin.store.entities import EntityFilter, SQLiteEntities

__all__ = ["NOTIFIER", "NOTIFY_TIMEOUT_S", "Notifier"]

log = logging.getLogger(__name__)

Found = list[dict[str, Any]]
"""Entities a periodic subscription selects."""
SubKey = tuple[str, str]
"""A subscription's tenant and id."""

NOTIFY_TIMEOUT_S: Final = 5.0
FLUSH_S: Final = 1.0
TICK_S: Final = 1.0
MAX_PERIODIC: Final = 1000
"""Most entities one periodic notification carries."""


@dataclass(slots=True, eq=False)
class _Entry:
    tenant: str
    compiled: CompiledSubscription
    context: Context
    last_sent: float | None = None
    next_due: float = 0.0

    @property
    def stored(self) -> StoredSubscription:
        return self.compiled.stored


@dataclass(frozen=True, slots=True)
class _Job:
    entry: _Entry
    change: EntityChange | None
    reason: str | None
    at: str = field(default_factory=now_iso)
    entities: list[dict[str, Any]] = field(default_factory=list)
    """What a periodic notification carries (``change`` is None)."""


@dataclass(slots=True, eq=False)
class _Backlog:
    """A subscription's notifications not sent yet, and its workers (``turns``: in flight or
    queued in ``ready``; the backlog goes once it is empty and no worker holds a turn)."""

    jobs: deque[_Job] = field(default_factory=deque)
    turns: int = 0


class Notifier:
    """Subscriptions in memory, matched on every write, notified by background workers.

    Parameters
    ----------
    entities : SQLiteEntities
        Where subscriptions and their counters persist, and what periodic ones query.
    resolver : ContextResolver
        Resolves each subscription's ``jsonldContext`` (to compact notified entities).
    backlog, queue_size : int
        Pending notifications held for one subscription, and for all, before new ones fail.
    workers, per_subscription : int
        Concurrent senders, and how many of them one subscription may hold.
    clock : callable
        Monotonic seconds, for throttling.
    """

    def __init__(
        self,
        entities: SQLiteEntities,
        resolver: ContextResolver,
        *,
        backlog: int = 1024,
        queue_size: int = 4096,
        workers: int = 16,
        per_subscription: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entities = entities
        self._store = entities.subscriptions
        self._resolver = resolver
        self._backlogs: dict[SubKey, _Backlog] = {}
        self._ready: asyncio.Queue[SubKey] = asyncio.Queue()
        """A turn of a subscription with a backlog, for the next free worker."""
        self._per_subscription = per_subscription
        self._pending = 0
        self._backlog = backlog
        self._queue_size = queue_size
        self._workers = workers
        self._clock = clock
        self._entries: dict[str, dict[str, _Entry]] = {}
        self._dirty: set[tuple[str, str]] = set()

    # -- the registry ------------------------------------------------------------------------

    async def put(self, tenant: str, stored: StoredSubscription) -> None:
        """Add or replace a subscription (after the store committed it)."""
        context = await self._context_of(stored)
        old = self._entries.get(tenant, {}).get(stored["id"])
        entry = _Entry(tenant, compile_subscription(stored), context)
        if old is not None:
            entry.last_sent = old.last_sent
        if entry.compiled.interval is not None:
            entry.next_due = self._clock() + entry.compiled.interval
        self._entries.setdefault(tenant, {})[stored["id"]] = entry

    async def _context_of(self, stored: StoredSubscription) -> Context:
        try:
            return await self._resolver.resolve(stored.get("jsonldContext"))
        except Exception:  # a remote context gone since: compact with the core context
            log.warning("subscription %s: its @context does not resolve", stored["id"])
            return await self._resolver.resolve(None)

    def remove(self, tenant: str, sub_id: str) -> None:
        """Forget a subscription (after the store deleted it) and drop its waiting jobs."""
        self._entries.get(tenant, {}).pop(sub_id, None)
        backlog = self._backlogs.get((tenant, sub_id))
        if backlog is not None:  # (it stays until the workers holding its turns let go)
            self._pending -= len(backlog.jobs)
            backlog.jobs.clear()

    def get(self, tenant: str, sub_id: str) -> StoredSubscription:
        """Return a subscription with its current counters; raise NotFoundError."""
        entry = self._entries.get(tenant, {}).get(sub_id)
        if entry is None:
            raise NotFoundError(f"no subscription {sub_id}")
        return entry.stored

    def list(self, tenant: str) -> list[StoredSubscription]:
        """Return the tenant's subscriptions in creation order."""
        entries = self._entries.get(tenant, {}).values()
        return sorted((e.stored for e in entries), key=lambda s: (s["createdAt"], s["id"]))

    # -- on writes ---------------------------------------------------------------------------

    def watches(self, tenant: str) -> bool:
        """Return whether any subscription of ``tenant`` may be notified of a change."""
        return bool(self._entries.get(tenant))

    def entity_changed(self, tenant: str, change: EntityChange) -> None:
        """Queue the notifications a committed write causes; never waits."""
        entries = self._entries.get(tenant)
        if not entries:
            return
        now = now_iso()
        for entry in list(entries.values()):
            reason = entry.compiled.fires(change, now)
            if reason is None or self._throttled(entry):
                continue
            self._enqueue(_Job(entry, change, reason, now), now)

    def _enqueue(self, job: _Job, now: str) -> None:
        key = (job.entry.tenant, job.entry.stored["id"])
        backlog = self._backlogs.setdefault(key, _Backlog())
        if self._pending >= self._queue_size or len(backlog.jobs) >= self._backlog:
            log.warning("notification queue full: subscription %s not notified", key[1])
            self._count(job.entry, now, ok=False)
            if not backlog.turns:
                del self._backlogs[key]
            return
        self._pending += 1
        backlog.jobs.append(job)
        if backlog.turns < self._per_subscription:
            backlog.turns += 1
            self._ready.put_nowait(key)

    def _throttled(self, entry: _Entry) -> bool:
        throttling = entry.stored.get("throttling")
        now = self._clock()
        if throttling is not None and entry.last_sent is not None \
                and now - entry.last_sent < throttling:  # fmt: skip
            return True
        entry.last_sent = now
        return False

    def _count(self, entry: _Entry, at: str, *, ok: bool) -> None:
        # on the subscription as it is now: a PATCH may have replaced the entry meanwhile
        entry = self._entries.get(entry.tenant, {}).get(entry.stored["id"], entry)
        n = entry.stored["notification"]
        n["timesSent"] = n.get("timesSent", 0) + 1
        n["lastNotification"] = at
        if ok:
            n["lastSuccess"] = at
            n["status"] = "ok"
        else:
            n["timesFailed"] = n.get("timesFailed", 0) + 1
            n["lastFailure"] = at
            n["status"] = "failed"
        self._dirty.add((entry.tenant, entry.stored["id"]))

    async def drain(self) -> None:
        """Wait until every queued notification was attempted."""
        await self._ready.join()

    # -- sending -----------------------------------------------------------------------------

    async def _send(self, session: aiohttp.ClientSession, job: _Job) -> None:
        entry = job.entry
        stored = entry.stored
        endpoint = stored["notification"]["endpoint"]
        accept = endpoint["accept"]
        body: dict[str, Any] = {
            "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
            "type": "Notification",
            "subscriptionId": stored["id"],
            "notifiedAt": job.at,
        }
        raw_context = stored.get("jsonldContext")
        headers = {"Content-Type": accept}
        for info in endpoint.get("receiverInfo", ()):
            headers[info["key"]] = info["value"]
        context = entry.context
        if accept != "application/ld+json":
            url = link_url(raw_context)
            if url is None:  # an inline @context: names stay expanded, as the core one reads them
                url, context = CORE_CONTEXT_URL, CORE
            headers["Link"] = f'<{url}>; rel="{LD_CONTEXT_REL}"; type="application/ld+json"'
        if job.change is None:
            body["data"] = entities_data(entry.compiled, job.entities, context)
        else:
            body["triggerReason"] = job.reason
            body["data"] = notification_data(entry.compiled, job.change, context, job.at)
        if accept == "application/ld+json":
            body["@context"] = raw_context or CORE_CONTEXT_URL
        if entry.tenant:
            headers["NGSILD-Tenant"] = entry.tenant
        data = json.dumps(body, ensure_ascii=False).encode()
        ok = False
        try:
            async with session.post(endpoint["uri"], data=data, headers=headers) as resp:
                await resp.read()
                ok = 200 <= resp.status < 300
                if not ok:
                    log.info("notification to %s answered %d", endpoint["uri"], resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("notification to %s failed: %s", endpoint["uri"], exc)
        self._count(entry, job.at, ok=ok)

    async def _work(self, session: aiohttp.ClientSession) -> None:
        while True:
            key = await self._ready.get()
            backlog = self._backlogs[key]
            job = None
            try:
                if backlog.jobs:  # (emptied when the subscription was deleted meanwhile)
                    self._pending -= 1
                    job = backlog.jobs.popleft()
                    await self._send(session, job)
            except Exception:
                log.exception("notification of %s failed", key[1])
                if job is not None:  # a notification not sent, as a refused one
                    self._count(job.entry, job.at, ok=False)
            finally:
                if backlog.jobs:  # its next notification, after those of the others ready now
                    self._ready.put_nowait(key)
                else:
                    backlog.turns -= 1
                    if not backlog.turns:
                        del self._backlogs[key]
                self._ready.task_done()

    async def flush(self) -> None:
        """Write the changed counters to the store."""
        rows = []
        for tenant, sub_id in self._dirty:
            entry = self._entries.get(tenant, {}).get(sub_id)
            if entry is not None:
                rows.append((tenant, sub_id, dict(entry.stored["notification"])))
        self._dirty.clear()
        if rows:
            await asyncio.to_thread(self._store.save_counters, rows)

    async def tick(self) -> None:
        """Queue the notifications of the periodic subscriptions that are due."""
        now, at = self._clock(), now_iso()
        for tenant, entries in list(self._entries.items()):
            for entry in list(entries.values()):
                interval = entry.compiled.interval
                if interval is None or entry.next_due > now:
                    continue
                entry.next_due = max(entry.next_due + interval, now)
                if subscription_status(entry.stored, at) != "active":
                    continue
                found = await asyncio.to_thread(self._select, tenant, entry.compiled)
                if found:
                    self._enqueue(_Job(entry, None, None, at, found), at)

    def _select(self, tenant: str, sub: CompiledSubscription) -> Found:
        """Return the entities a periodic subscription selects now (blocking), in order."""
        found: dict[str, dict[str, Any]] = {}
        for entity_id, pattern, types in selector_terms(sub):
            where = EntityFilter(
                ids=(entity_id,) if entity_id else (), id_pattern=pattern, types=tuple(types)
            )
            try:
                page, _ = self._entities.query(tenant, where, sub.selects, limit=MAX_PERIODIC)
            except NotFoundError:  # the tenant has no entities (yet)
                return []
            found.update((e["id"], e) for e in page)
        return list(found.values())[:MAX_PERIODIC]

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick()
            except Exception:
                log.exception("periodic notifications failed")

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            try:
                await self.flush()
            except Exception:
                log.exception("cannot save subscription counters")

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        """Load the stored subscriptions, run the workers; flush the counters on shutdown."""
        for tenant, body in await asyncio.to_thread(self._store.all):
            await self.put(tenant, body)  # type: ignore[arg-type]
        timeout = aiohttp.ClientTimeout(total=NOTIFY_TIMEOUT_S)
        connector = aiohttp.TCPConnector(limit=self._workers * 4)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            tasks = [asyncio.create_task(self._work(session)) for _ in range(self._workers)]
            tasks.append(asyncio.create_task(self._flush_forever()))
            tasks.append(asyncio.create_task(self._tick_forever()))
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await self.flush()


NOTIFIER: Final = web.AppKey[Notifier]("twin.ngsild.notifier")
"""Holds the subscriptions and sends their notifications."""
