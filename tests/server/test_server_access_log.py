"""The access log of ``twin serve``: one line per request by default, none when turned off."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from serve_process import free_port, serve, stop


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
