"""Start and stop a real ``twin serve`` process on a free loopback port (for every test that
needs one: NGSI-LD clients, federation, durability, OGC clients, the simulator)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["free_port", "serve", "start", "stop"]


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(
    data_dir: Path, port: int, *extra: str, tokens: str = "", log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``twin serve`` on ``port``; wait until it listens.

    ``tokens`` (comma-separated) are the bearer tokens writes need, none by default; the
    server's output goes to ``log`` (default: ``serve-<port>.log`` beside the data directory).
    """
    argv = [sys.executable, "-m", "twin.cli", "serve", "--data-dir", str(data_dir),
            "--port", str(port), *extra]  # fmt: skip
    log = log or data_dir.parent / f"serve-{port}.log"
    return start(argv, port, log, env={**os.environ, "TWIN_TOKENS": tokens})


def start(
    argv: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start any server process that will listen on ``port``; wait until it does.

    Its output goes to ``log`` (a pipe nobody reads would stall it).
    """
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
    proc.kill()
    proc.wait()  # reaped, not left a zombie
    raise AssertionError(f"{argv[:4]} did not listen on {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the process (kill it after 15 s)."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
