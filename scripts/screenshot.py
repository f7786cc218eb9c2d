#!/usr/bin/env python3
"""Render the README's screenshot: the demo district coloured by live energy use, one inspected.

Imports ``data/teco_district1_LoD2.gml`` into a temporary data directory, runs ``twin serve`` on
it, writes a few rounds of simulated live readings with ``twin simulate``, opens the viewer in
headless Chromium (WebGL on SwiftShader), colours the city by live energy use, clicks a
building and writes ``docs/screenshot.png`` (1280×800).

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # as pytest does

from viewer.harness import CHROMIUM, CHROMIUM_ARGS, DEMO_GML, TOKEN, TWIN, VIEWPORT, serve_city  # noqa: E402

WAIT_MS = 180_000
STYLE = "live:energyUse"

FRAME_DISTRICT_JS = """
async () => {
  // Slide the view so the district sits left of where the panel opens.
  const { viewer, tilesets } = await window.twinViewer.ready;
  const sphere = Cesium.BoundingSphere.fromBoundingSpheres(tilesets.map((t) => t.boundingSphere));
  viewer.camera.moveRight(sphere.radius * 0.18);
  viewer.camera.moveBackward(sphere.radius * 0.35);
  viewer.scene.requestRender();
}
"""

FIND_BUILDING_JS = """
async () => {
  // Pick around the district's projected centre, nearest first, for a building to click.
  const { viewer, tilesets } = await window.twinViewer.ready;
  const scene = viewer.scene;
  const { center } = tilesets[0].boundingSphere;
  const centre = Cesium.SceneTransforms.worldToWindowCoordinates(scene, center);
  for (let r = 0; r < 300; r += 15) {
    for (let a = 0; a < 360; a += 30) {
      const x = centre.x + r * Math.cos((a * Math.PI) / 180);
      const y = centre.y + r * Math.sin((a * Math.PI) / 180);
      const picked = scene.pick(new Cesium.Cartesian2(x, y));
      if (picked instanceof Cesium.Cesium3DTileFeature) {
        return { x, y, id: picked.getProperty("id") };
      }
    }
  }
  return null;
}
"""


def wait_for_tiles(page: Page) -> None:
    """Wait until the viewer reports every visible tile loaded."""
    page.wait_for_function("document.body.dataset.tilesLoaded === 'true'", timeout=WAIT_MS)


def capture(base_url: str, out: Path) -> str:
    """Open the viewer, inspect one building, save the screenshot; return the building's id."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{base_url}/viewer/?instant")
        wait_for_tiles(page)
        page.evaluate("window.twinViewer.ready.then(() => true)")
        page.select_option('[data-testid="style-attribute"]', STYLE)
        page.evaluate(FRAME_DISTRICT_JS)
        wait_for_tiles(page)
        target = page.evaluate(FIND_BUILDING_JS)
        if target is None:
            raise SystemExit("no building under the district's centre to click")
        page.mouse.click(target["x"], target["y"])
        page.wait_for_selector('[data-testid="panel-note"][hidden]', state="attached")
        page.wait_for_selector(".chart[data-points]")
        wait_for_tiles(page)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
        return str(target["id"])


def main() -> None:
    """Import the demo, serve it, and capture the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="twin-screenshot-") as tmp,
        serve_city(Path(tmp), {"demo": DEMO_GML}) as base_url,
    ):
        simulate = [str(TWIN), "simulate", "--dataset", "demo", "--url", base_url]
        subprocess.run(
            [*simulate, "--token", TOKEN, "--count", "6", "--interval", "0.3"],
            check=True,
            capture_output=True,
        )
        started = time.monotonic()
        building = capture(base_url, args.out)
    sys.stderr.write(
        f"wrote {args.out} ({building} inspected) in {time.monotonic() - started:.0f} s\n"
    )


if __name__ == "__main__":
    main()
