"""Group commit: concurrent NGSI-LD writes share one SQLite transaction and one ``fsync``.

Handlers hand a write operation (:func:`twin.store.entities.create_op`, ``modify_op``,
``delete_op``) to :meth:`GroupCommit.write` and await it. One writer task takes every operation
waiting, runs them in one transaction in a worker thread (:meth:`SQLiteEntities.run`: one
failing write does not undo the others; modifications write their rows together) and resolves
each request's future only after ``COMMIT`` has returned. While a batch commits the next one
gathers, so under load a batch holds about as many writes as there are requests in flight, and a
lone write waits for nobody.

Why ``synchronous=FULL`` (set by :class:`twin.store.SQLiteStore`): in WAL mode with
``synchronous=NORMAL`` a commit is handed to the operating system but the WAL is only fsynced at
checkpoints, so SQLite's own documentation says a transaction committed that way "might roll back
following a power loss or system crash" — an answered 204 could be lost. With FULL the WAL is
fsynced before ``COMMIT`` returns; batching makes that one fsync per batch, not per request.

While the writer runs, WAL checkpoints happen in a background thread
(:class:`twin.store.checkpoint.WalCheckpointer`), not inside the commit that fills the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Final, TypeVar, cast

from aiohttp import web

from twin.store.entities import Operation, SQLiteEntities

__all__ = ["MAX_BATCH", "GroupCommit"]

T = TypeVar("T")

MAX_BATCH: Final = 512
"""Most writes in one transaction (bounds how long a batch holds the store's lock)."""


class GroupCommit:
    """The single writer of NGSI-LD entities: batches concurrent writes into transactions.

    Parameters
    ----------
    entities : SQLiteEntities
        The store's entity side; :meth:`SQLiteEntities.run` commits each batch.
    """

    def __init__(self, entities: SQLiteEntities) -> None:
        self._entities = entities
        self._pending: list[tuple[Operation[object], asyncio.Future[object]]] = []
        self._wake = asyncio.Event()
        self._stopping = False

    async def write(self, operation: Operation[T]) -> T:
        """Run ``operation`` in the next batch; return once that batch is committed.

        Raises whatever the operation raised (its savepoint is rolled back), or the commit's
        error.
        """
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        # (the type as a string: subscribing the Callable alias at run time costs every write)
        self._pending.append((cast("Operation[object]", operation), future))
        self._wake.set()
        # a gone client cancels the future, not the queued operation: its write still commits
        return cast(T, await future)

    async def _run(self) -> None:
        while not self._stopping or self._pending:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[Operation[object], asyncio.Future[object]]]) -> None:
        try:
            results: list[Any] = await asyncio.to_thread(
                self._entities.run, [op for op, _ in batch]
            )
        except Exception as exc:  # the commit itself failed: every write of the batch did
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx``: run the writer task (and the WAL checkpointer) while the app runs;
        commit what is left."""
        checkpointer = self._entities.wal_checkpointer()
        checkpointer.start()
        task = asyncio.create_task(self._run(), name="twin.ngsild.group-commit")
        yield
        self._stopping = True
        self._wake.set()
        await task
        await asyncio.to_thread(checkpointer.stop)
