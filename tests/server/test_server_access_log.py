"""The access log of ``twin serve``: one line per request by default, none when turned off."""

from __future__ import annotations

import asyncio
import logging
import re
import urllib.request
from pathlib import Path

import pytest
from serve_process import free_port, serve, stop

from twin.server.access import _LINES, FLUSH_S


def get(port: int, path: str) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        resp.read()


@pytest.mark.parametrize(("extra", "logged"), [((), 3), (("--no-access-log",), 0)],
                         ids=["default", "off"])  # fmt: skip
def test_every_request_is_logged_even_right_before_a_stop(
    tmp_path: Path, extra: tuple[str, ...], logged: int
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    proc = serve(tmp_path / "data", port, *extra, log=log)
    try:
        for _ in range(3):
            get(port, "/healthz?probe=1")
    finally:
        stop(proc)  # before the next batch is due: the lines are written on the way out
    lines = re.findall(r'127\.0\.0\.1 \d\d:\d\d:\d\d "GET /healthz\?probe=1" 200 \d+ [\d.]+ms',
                       log.read_text())  # fmt: skip
    assert len(lines) == logged


def test_a_line_kept_when_its_loop_ended_does_not_stall_the_next_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A loop closed before its flush was due (run_app run twice, an embedding test) must not
    leave the lines of the next loop waiting for a flush nobody schedules."""
    logger = logging.getLogger("aiohttp.access")
    caplog.set_level(logging.INFO, logger="aiohttp.access")

    async def one(line: str, wait_s: float) -> None:
        _LINES.add(logger, line)
        await asyncio.sleep(wait_s)

    asyncio.run(one("first", 0))  # closed before its flush was due
    asyncio.run(one("second", FLUSH_S * 2))
    assert "first\nsecond" in caplog.text
