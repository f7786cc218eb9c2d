"""Helpers for the browser tests: Chromium flags, the served city, the viewer's load flag.

The server is started by ``tests/serve_process.py`` like every other process test; scripts that
reuse this module (``scripts/bench_viewer.py``, ``scripts/screenshot.py``) put ``tests/`` on
``sys.path`` as pytest does.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from playwright.sync_api import Browser, Page, Request
from serve_process import free_port, serve, stop

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
TOKEN = "viewer-test-token"
"""Bearer token the test server accepts for NGSI-LD writes."""
VIEWPORT = {"width": 1280, "height": 800}
WAIT_MS = 60_000
"""Upper bound for any one wait in the browser (SwiftShader renders on the CPU)."""


def import_datasets(data_dir: Path, datasets: dict[str, Path]) -> None:
    """Import each file with ``twin import`` as the dataset its key names."""
    for name, path in datasets.items():
        subprocess.run(
            [str(TWIN), "import", str(path), "--dataset", name, "--data-dir", str(data_dir)],
            check=True,
            capture_output=True,
            timeout=300,
        )


@contextmanager
def serve_city(data_dir: Path, datasets: dict[str, Path]) -> Iterator[str]:
    """Import each file as its dataset, serve them (writes need TOKEN), yield the base URL."""
    import_datasets(data_dir, datasets)
    port = free_port()
    server = serve(data_dir, port, tokens=TOKEN, log=data_dir / "serve.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server)


@dataclass
class ViewerSession:
    """The viewer page once its tiles are in, with everything it asked the network for."""

    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    """What the page logged as errors (Cesium reports a model or texture it cannot load there)."""
    refused: list[str] = field(default_factory=list)
    """``status url`` of every response with an error status (4xx, 5xx)."""
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


def open_viewer(browser: Browser, base_url: str, path: str) -> Iterator[ViewerSession]:
    """Open ``path`` in a fresh context, record its requests and errors, wait for its tools.

    Only one viewer page may be open at a time. Chromium draws every page's WebGL in one GPU
    process; with SwiftShader an idle viewer keeps it 60-95 % busy (Cesium's render loop asks
    for a frame on every vsync), and a second page's WebGL setup (hundreds of synchronous GPU
    calls) queues behind that: its DOMContentLoaded came after 30 s instead of 1 s, past the
    60 s of ``page.goto`` under load. A test that needs another URL uses :func:`reopen_viewer`.
    """
    busy = [page.url for context in browser.contexts for page in context.pages]
    if busy:
        raise AssertionError(f"a viewer page is still open ({', '.join(busy)}): use reopen_viewer")
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    session = ViewerSession(page=page, base_url=base_url)

    def record(request: Request) -> None:
        session.requests.append(request.url)

    page.on("request", record)
    page.on("pageerror", lambda error: session.errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            session.refused.append(f"{response.status} {response.url}")
            if response.status >= 400
            else None
        ),
    )
    page.on(
        "console",
        lambda message: (
            session.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.set_default_timeout(WAIT_MS)
    _load(session, path)
    yield session
    context.close()


def reopen_viewer(session: ViewerSession, path: str) -> None:
    """Load ``path`` in the session's page instead of its viewer; the records start afresh.

    The old document goes first (``about:blank``), so its WebGL context is gone before the new
    one is made, and a URL that differs only in its hash loads a new document all the same.
    """
    session.page.goto("about:blank")
    for record in (session.requests, session.errors, session.console_errors, session.refused):
        record.clear()
    _load(session, path)


def _load(session: ViewerSession, path: str) -> None:
    """Navigate to ``path``, wait for the tiles and the tools, note how long it took."""
    page = session.page
    started = time.monotonic()
    # The tiles-loaded flag below is what counts; the load event can lag far behind it on a busy
    # machine (Cesium.js and its workers are large).
    page.goto(f"{session.base_url}{path}", wait_until="domcontentloaded")
    wait_for_tiles(page)
    page.evaluate("window.twinViewer.ready.then(() => true)")
    session.load_seconds = time.monotonic() - started


BUILDING_IDS = re.findall(r'<bldg:Building gml:id="([^"]+)"', DEMO_GML.read_text("utf-8"))

FIND_BUILDING_JS = """
async (ids) => {
  // Project each building's footprint centre, half-way up, to the screen; keep the first one
  // that the scene itself picks there (so nothing stands in front of it).
  const { viewer } = await window.twinViewer.ready;
  const scene = viewer.scene;
  const rect = scene.canvas.getBoundingClientRect();
  for (const id of ids) {
    const response = await fetch(`../ogc/collections/demo/items/${encodeURIComponent(id)}`);
    if (!response.ok) continue;
    const item = await response.json();
    let ring = item.geometry.coordinates[0];
    if (item.geometry.type === "MultiPolygon") ring = ring[0];
    const corners = ring.slice(0, -1);
    const lon = corners.reduce((s, p) => s + p[0], 0) / corners.length;
    const lat = corners.reduce((s, p) => s + p[1], 0) / corners.length;
    const height = (item.bbox[2] + item.bbox[5]) / 2;
    const world = Cesium.Cartesian3.fromDegrees(lon, lat, height);
    const win = Cesium.SceneTransforms.worldToWindowCoordinates(scene, world);
    if (!win || win.x < 300 || win.y < 60 || win.x > rect.width - 400 || win.y > rect.height - 60) {
      continue;  // off screen, under the tools column, or where the panel will open
    }
    const top = document.elementFromPoint(rect.left + win.x, rect.top + win.y);
    if (!(top instanceof HTMLCanvasElement)) continue;  // covered by a control
    const picked = scene.pick(win);
    if (picked instanceof Cesium.Cesium3DTileFeature && picked.getProperty("id") === id) {
      return { id, name: item.properties.name ?? null, x: rect.left + win.x, y: rect.top + win.y };
    }
  }
  return null;
}
"""


SHOW_ONLY_JS = """
async (name) => {
  // Show the tileset of dataset `name` (none for null), render, and wait until its tiles are in.
  const { viewer, tilesets } = await window.twinViewer.ready;
  for (const tileset of tilesets) tileset.show = tileset.twinDataset.id === name;
  const shown = tilesets.filter((t) => t.show);
  for (let frame = 0; frame < 60; frame++) {
    await new Promise((resolve) => {
      const remove = viewer.scene.postRender.addEventListener(() => { remove(); resolve(); });
      viewer.scene.requestRender();
    });
    if (frame >= 2 && shown.every((t) => t.tilesLoaded)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}
"""

Pixels = NDArray[np.int16]


def shot(viewer: ViewerSession, dataset: str | None) -> Pixels:
    """Show only ``dataset`` (nothing for None) and return the canvas as an RGB array."""
    assert viewer.page.evaluate(SHOW_ONLY_JS, dataset), f"tiles of {dataset} did not load"
    png = viewer.page.screenshot(type="png")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
