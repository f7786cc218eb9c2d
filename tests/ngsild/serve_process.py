"""Start and stop a real ``twin serve`` process on a free loopback port (for tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["free_port", "serve", "stop"]


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """Start ``twin serve`` on ``port`` (log beside the data directory); wait until it listens."""
    env = {**os.environ, "TWIN_TOKENS": ""}
    log = (data_dir.parent / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "serve", "--data-dir", str(data_dir),
         "--port", str(port), *extra],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            assert proc.poll() is None, (data_dir.parent / f"serve-{port}.log").read_text()
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"twin serve did not listen on {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the process (kill it after 15 s)."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
