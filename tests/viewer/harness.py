"""Helpers for the browser tests: Chromium flags, the server process, the viewer's load flag."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
TWIN = Path(sys.executable).parent / "twin"
DEMO_GML = ROOT / "data" / "teco_district1_LoD2.gml"
CHROMIUM = os.environ.get("TWIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 800}
WAIT_MS = 60_000
"""Upper bound for any one wait in the browser (SwiftShader renders on the CPU)."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_health(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``/healthz`` until it answers 200, or fail with the server's log."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"twin serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"twin serve did not answer /healthz within 30 s:\n{log.read_text()}")


@dataclass
class ViewerSession:
    """The viewer page once its tiles are in, with everything it asked the network for."""

    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    load_seconds: float = 0.0


def wait_for_tiles(page: Page) -> None:
    """Wait until the viewer says every tile the current view needs is loaded."""
    page.wait_for_function(
        "['true', 'error', 'empty'].includes(document.body.dataset.tilesLoaded)",
        timeout=WAIT_MS,
    )
    state = page.evaluate("document.body.dataset.tilesLoaded")
    if state != "true":
        status = page.inner_text('[data-testid="status"]')
        raise AssertionError(f"viewer did not load its tiles ({state}): {status}")
