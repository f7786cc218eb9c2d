#!/usr/bin/env python3
"""Time the viewer on the demo city in headless Chromium: first frame, first tile, all tiles.

Imports ``data/teco_district1_LoD2.gml`` into a temporary data directory, runs ``twin serve``,
and opens ``/viewer/?instant`` in a fresh headless Chromium (WebGL on SwiftShader, cold HTTP
and shader caches) ``--runs`` times. The viewer sets User Timing marks (status.js):

- ``twin:first-frame``  the first frame Cesium rendered (globe, no city yet);
- ``twin:first-tile``   the first tile of the city became visible;
- ``twin:tiles-loaded`` every tile the initial view needs is loaded and drawn.

Prints each figure's median over the runs, in seconds since navigation start, plus the steady
render time of one frame with the city shown and hidden (median of 5 ``scene.render()`` calls).

    .venv/bin/python scripts/bench_viewer.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # as pytest does

from viewer.harness import CHROMIUM, CHROMIUM_ARGS, DEMO_GML, VIEWPORT, serve_city

MARKS = ("twin:first-frame", "twin:first-tile", "twin:tiles-loaded")
WAIT_MS = 300_000

MARKS_JS = """
(names) => Object.fromEntries(
  names.map((n) => [n, (performance.getEntriesByName(n)[0]?.startTime ?? NaN) / 1000]),
)
"""

RENDER_MS_JS = """
async () => {
  const { viewer, tilesets } = await window.twinViewer.ready;
  const scene = viewer.scene;
  const gl = scene.context._gl;
  const median = () => {
    const t = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      scene.render();
      gl.finish();
      t.push(performance.now() - start);
    }
    return t.sort((a, b) => a - b)[2];
  };
  const shown = median();
  for (const tileset of tilesets) tileset.show = false;
  const hidden = median();
  for (const tileset of tilesets) tileset.show = true;
  return { shown, hidden };
}
"""


def one_run(base_url: str) -> dict[str, float]:
    """Open the viewer in a fresh browser; return the marks (s) and steady render times (ms)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{base_url}/viewer/?instant")
        page.wait_for_function("document.body.dataset.tilesLoaded === 'true'", timeout=WAIT_MS)
        figures = page.evaluate(MARKS_JS, list(MARKS))
        figures.update(page.evaluate(RENDER_MS_JS))
        browser.close()
    return figures


def main() -> None:
    """Import and serve the demo, run the viewer ``--runs`` times, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="twin-bench-viewer-") as tmp,
        serve_city(Path(tmp), {"demo": DEMO_GML}) as base_url,
    ):
        runs = []
        for i in range(args.runs):
            started = time.monotonic()
            runs.append(one_run(base_url))
            print(f"run {i + 1}: {time.monotonic() - started:.1f} s wall", file=sys.stderr)

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(
        f"viewer on the demo city ({DEMO_GML.name}), headless Chromium + SwiftShader, "
        f"{VIEWPORT['width']}×{VIEWPORT['height']}, median of {args.runs} cold runs"
    )
    print(f"  first frame             {median('twin:first-frame'):6.1f} s")
    print(f"  first tile visible      {median('twin:first-tile'):6.1f} s")
    print(f"  all visible tiles in    {median('twin:tiles-loaded'):6.1f} s")
    print(f"  one frame, city shown   {median('shown'):6.0f} ms")
    print(f"  one frame, city hidden  {median('hidden'):6.0f} ms")


if __name__ == "__main__":
    main()
