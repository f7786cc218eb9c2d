"""WAL checkpoints in a background thread, so that no write waits for one.

In WAL mode SQLite copies the log back into the database file (a checkpoint) by default inside
the ``COMMIT`` that makes the log pass 1000 pages: that one write then waits for the copy and
its ``fsync``. :class:`WalCheckpointer` turns those automatic checkpoints off on the store's
connection (``wal_autocheckpoint=0``) and instead runs ``PASSIVE`` checkpoints every
``interval_s`` from its own connection. A PASSIVE checkpoint takes no lock a writer needs: it
copies what no reader still uses and lets writers go on; once it has copied the whole log, the
next writer starts the log over, and ``journal_size_limit`` then truncates the file, so the WAL
stays about as large as what is written between two checkpoints. Should a passive checkpoint
fall behind past ``limit_pages`` (readers holding old snapshots), one ``RESTART`` checkpoint —
which does wait for writers, briefly — brings it back.

SQLite never shrinks the WAL file by itself: after a large publish it keeps its peak size (a
hundred MB) for as long as any connection holds the database open. Every store connection sets
``journal_size_limit`` to :data:`WAL_LIMIT_PAGES` pages, so the commit that starts the log over
truncates the file to that; a publish ends with :func:`truncate_wal`, which does so at once when
nobody is in the way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Final

from twin.errors import StoreError

__all__ = ["WAL_LIMIT_PAGES", "WalCheckpointer", "truncate_wal"]

log = logging.getLogger(__name__)

Cursor = Callable[[], AbstractContextManager[sqlite3.Cursor]]

AUTOCHECKPOINT_PAGES: Final = 1000
"""SQLite's default ``wal_autocheckpoint``, restored when the checkpointer stops."""
WAL_LIMIT_PAGES: Final = 16384
"""Log pages (64 MiB of 4 KiB pages) the WAL file is truncated to when the log starts over."""


def truncate_wal(cur: sqlite3.Cursor) -> bool:
    """Checkpoint the whole WAL and truncate its file to zero bytes, waiting for no one; return
    whether it was truncated.

    A ``PASSIVE`` checkpoint first copies every frame no reader still needs, taking no lock a
    writer needs. ``TRUNCATE`` then takes the writer lock only if it is free at once (busy
    timeout 0; else it runs as PASSIVE), finds next to nothing left to copy, and truncates the
    file — or gives up at once (busy) while a reader still uses an older snapshot, leaving the
    file to ``journal_size_limit`` at the next commit that starts the log over (SQLite,
    "PRAGMA wal_checkpoint", "PRAGMA journal_size_limit").
    """
    (timeout_ms,) = cur.execute("PRAGMA busy_timeout").fetchone()
    cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    cur.execute("PRAGMA busy_timeout=0")
    try:
        (busy, _, _) = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        cur.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
    return int(busy) == 0


class WalCheckpointer:
    """Checkpoint the store's WAL from a background thread while it runs.

    Parameters
    ----------
    cursor : callable
        The store's context manager giving its (writing) connection's cursor.
    interval_s : float
        Seconds between two passive checkpoints.
    limit_pages : int
        Log pages past which a passive checkpoint that fell behind is followed by a RESTART one;
        the WAL file is truncated to this size when the log starts over.
    """

    def __init__(
        self, cursor: Cursor, interval_s: float = 0.5, limit_pages: int = WAL_LIMIT_PAGES
    ) -> None:
        self._cursor = cursor
        self._interval_s = interval_s
        self._limit_pages = limit_pages
        with cursor() as cur:
            rows = cur.execute("PRAGMA database_list").fetchall()
            (page_size,) = cur.execute("PRAGMA page_size").fetchone()
        self._path = next(file for _, name, file in rows if name == "main")
        self._limit_bytes = limit_pages * page_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Turn automatic checkpoints off on the store's connection and start the thread."""
        with self._cursor() as cur:
            cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.execute(f"PRAGMA journal_size_limit={self._limit_bytes}")
        self._thread = threading.Thread(target=self._run, name="twin.wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, checkpoint once more and restore automatic checkpoints."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._restore()

    def _restore(self) -> None:
        """Turn SQLite's automatic checkpoints back on on the store's connection."""
        try:
            with self._cursor() as cur:
                cur.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        except StoreError:  # the store was closed first: nothing left to restore
            log.debug("store closed before the WAL checkpointer stopped")

    def checkpoint(self, db: sqlite3.Connection) -> tuple[int, int]:
        """Run one passive checkpoint on ``db``; return (log pages, pages checkpointed)."""
        _, logged, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if logged > self._limit_pages and copied < logged:
            log.info("WAL at %d pages, %d checkpointed: restarting it", logged, copied)
            _, logged, copied = db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        return int(logged), int(copied)

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            try:
                db.execute("PRAGMA busy_timeout=5000")
                while not self._stop.wait(self._interval_s):
                    try:
                        self.checkpoint(db)
                    except sqlite3.Error:  # busy or locked: the next round tries again
                        log.warning("WAL checkpoint failed", exc_info=True)
                self.checkpoint(db)
            finally:
                db.close()
        except Exception:  # the thread ends: the store's commits checkpoint again, as by default
            log.exception("WAL checkpointer failed; automatic checkpoints are back on")
            self._restore()
