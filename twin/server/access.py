"""A cheap access log: one line per request, written in batches off the request path.

aiohttp's default access logger formats each request through its format mini-language and
emits one log record (and so one write to stderr) per request: under load that is a sizeable
share of the event loop's time. :class:`BatchedAccessLogger` keeps, per request, one short
line (client, request line, status, bytes, milliseconds, clock time) in memory and logs the
lines gathered every :data:`FLUSH_S` seconds as one record on the ``aiohttp.access`` logger —
nothing is lost, lines reach the log at most that late. Pass it as ``access_log_class`` to
``web.run_app``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

__all__ = ["FLUSH_S", "BatchedAccessLogger", "flush_access_log"]

FLUSH_S: Final = 0.5
"""Most seconds a line waits before it is logged."""


class _Lines:
    """The lines waiting in this process (aiohttp makes one access logger per connection)."""

    def __init__(self) -> None:
        self.pending: list[str] = []
        self.logger: logging.Logger | None = None
        self.scheduled_on: asyncio.AbstractEventLoop | None = None
        """The loop whose timer will flush, None when none will (a loop that closed before
        its timer fired counts as none: the next line schedules on its own loop)."""

    def add(self, logger: logging.Logger, line: str) -> None:
        self.pending.append(line)
        self.logger = logger
        loop = asyncio.get_running_loop()
        if self.scheduled_on is not loop:
            self.scheduled_on = loop
            loop.call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        self.scheduled_on = None
        lines, self.pending = self.pending, []
        if lines and self.logger is not None:
            self.logger.info("%s", "\n".join(lines))


_LINES: Final = _Lines()
_second: tuple[int, str] = (-1, "")


def _clock() -> str:
    """Return the local time of day, ``HH:MM:SS`` (formatted once a second)."""
    global _second
    now = int(time.time())
    if _second[0] != now:
        _second = (now, time.strftime("%H:%M:%S", time.localtime(now)))
    return _second[1]


def flush_access_log() -> None:
    """Log the lines still waiting (when the server stops)."""
    _LINES.flush()


class BatchedAccessLogger(AbstractAccessLogger):
    """One line per request, logged in batches every :data:`FLUSH_S` seconds."""

    def log(self, request: BaseRequest, response: StreamResponse, time_s: float) -> None:
        """Keep the request's line (``aiohttp`` calls this after each response)."""
        clock = _clock()
        _LINES.add(
            self.logger,
            f'{request.remote} {clock} "{request.method} {request.path_qs}" '
            f"{response.status} {response.body_length} {time_s * 1000:.1f}ms",
        )

    @property
    def enabled(self) -> bool:
        """Whether the ``aiohttp.access`` logger writes INFO (else aiohttp skips the call)."""
        return self.logger.isEnabledFor(logging.INFO)
