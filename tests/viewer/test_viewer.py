"""The web viewer in real headless Chromium against a real ``twin serve`` of the demo city."""

from __future__ import annotations

import base64
import re
from urllib.parse import urlsplit

import pytest

from .harness import BUILDING_IDS, DEMO_GML, FIND_BUILDING_JS, ViewerSession

pytestmark = pytest.mark.browser

FIND_EMPTY_SPOT_JS = """
() => {
  const scene = window.twinViewer.viewer.scene;
  for (const [x, y] of [[640, 120], [100, 700], [1200, 700], [100, 120], [640, 760]]) {
    if (!(scene.pick(new Cesium.Cartesian2(x, y)) instanceof Cesium.Cesium3DTileFeature)) {
      return { x, y };
    }
  }
  return null;
}
"""

COUNT_CHANGED_PIXELS_JS = """
async ([a, b]) => {
  // Decode two PNG screenshots in the page (no Python imaging library needed).
  const pixels = async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    return context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  };
  const [pa, pb] = await Promise.all([pixels(a), pixels(b)]);
  let changed = 0;
  for (let i = 0; i < pa.length; i += 4) {
    let d = 0;
    for (let c = 0; c < 3; c++) d += Math.abs(pa[i + c] - pb[i + c]);
    if (d > 48) changed += 1;
  }
  return { changed, total: pa.length / 4 };
}
"""

SHOW_TILESETS_JS = """
async (show) => {
  const { viewer, tilesets } = await window.twinViewer.ready;
  for (const tileset of tilesets) tileset.show = show;
  // The viewer renders on demand: ask for a few frames and wait for them.
  for (let frame = 0; frame < 3; frame++) {
    await new Promise((resolve) => {
      const remove = viewer.scene.postRender.addEventListener(() => {
        remove();
        resolve();
      });
      viewer.scene.requestRender();
    });
  }
}
"""


def open_panel_on_a_building(viewer: ViewerSession) -> dict[str, object]:
    """Find a building on screen from its server footprint and click it with the mouse."""
    page = viewer.page
    target = page.evaluate(FIND_BUILDING_JS, BUILDING_IDS)
    assert target is not None, "no demo building is visible and pickable in the initial view"
    page.mouse.click(target["x"], target["y"])
    page.wait_for_selector('[data-testid="panel"]:not([hidden])')
    page.wait_for_selector(
        '[data-testid="panel-note"][hidden]', state="attached"
    )  # the server's details are in
    return target


def test_viewer_loads_the_demo_tileset(viewer: ViewerSession) -> None:
    hook = viewer.page.evaluate(
        """async () => {
          const { datasets, tilesets } = await window.twinViewer.ready;
          return { datasets: datasets.map((d) => d.id), tilesets: tilesets.length };
        }"""
    )
    assert hook == {"datasets": ["demo"], "tilesets": 1}
    assert viewer.page.inner_text('[data-testid="datasets"]') == "· demo"
    assert viewer.page.locator('[data-testid="status"]').is_hidden()


def test_viewer_renders_the_buildings(viewer: ViewerSession) -> None:
    page = viewer.page
    with_tiles = page.screenshot(type="png")
    page.evaluate(SHOW_TILESETS_JS, False)
    without_tiles = page.screenshot(type="png")
    page.evaluate(SHOW_TILESETS_JS, True)

    count = page.evaluate(
        COUNT_CHANGED_PIXELS_JS,
        [base64.b64encode(with_tiles).decode(), base64.b64encode(without_tiles).decode()],
    )
    assert count["total"] == 1280 * 800
    # The district covers a good part of the initial oblique view.
    assert count["changed"] > 0.03 * count["total"], count


def test_clicking_a_building_shows_its_gml_id(viewer: ViewerSession) -> None:
    target = open_panel_on_a_building(viewer)

    page = viewer.page
    assert page.inner_text('[data-testid="object-id"]') == target["id"]
    assert page.inner_text('[data-testid="object-type"]').lower() == "building"
    assert page.inner_text('[data-testid="object-name"]') == target["name"]
    labels = page.locator('[data-testid="object-properties"] dt').all_inner_texts()
    assert {"Year of construction", "Measured height", "Address"} <= set(labels)


def test_the_panel_groups_attributes_and_shows_units(viewer: ViewerSession) -> None:
    target = open_panel_on_a_building(viewer)

    page = viewer.page
    groups = page.eval_on_selector_all(
        '[data-testid="object-properties"] section', "all => all.map((s) => s.dataset.group)"
    )
    assert groups == ["Building", "Address", "Identity", "Attributes"]
    value = page.inner_text('section[data-group="Building"] dd[data-attribute="measuredHeight"]')
    source = DEMO_GML.read_text("utf-8")
    start = source.index(f'gml:id="{target["id"]}"')
    written = re.search(r"<bldg:measuredHeight[^>]*>([^<]+)<", source[start:])
    assert written is not None
    assert value == f"{float(written.group(1)):g} m"
    area = page.inner_text('section[data-group="Building"] dd[data-attribute="footprintArea"]')
    assert re.fullmatch(r"\d+(\.\d+)? m²", area.replace(",", "")), area
    assert page.inner_text('section[data-group="Identity"] dd[data-attribute="lod"]') == "2"


def test_escape_closes_the_panel(viewer: ViewerSession) -> None:
    open_panel_on_a_building(viewer)

    viewer.page.keyboard.press("Escape")

    viewer.page.wait_for_selector('[data-testid="panel"]', state="hidden")


def test_clicking_empty_space_closes_the_panel(viewer: ViewerSession) -> None:
    open_panel_on_a_building(viewer)
    spot = viewer.page.evaluate(FIND_EMPTY_SPOT_JS)
    assert spot is not None

    viewer.page.mouse.click(spot["x"], spot["y"])

    viewer.page.wait_for_selector('[data-testid="panel"]', state="hidden")


def test_every_request_stays_on_the_machine(viewer: ViewerSession) -> None:
    open_panel_on_a_building(viewer)  # item lookups count too

    server = urlsplit(viewer.base_url).netloc
    remote = {
        url
        for url in viewer.requests
        if urlsplit(url).scheme not in {"data", "blob"} and urlsplit(url).netloc != server
    }
    assert remote == set()
    paths = {urlsplit(url).path for url in viewer.requests}
    assert "/viewer/cesium/Cesium.js" in paths
    assert "/tiles/demo/tileset.json" in paths
    assert any(path.endswith(".glb") for path in paths)
    assert any(path.startswith("/viewer/cesium/Assets/Textures/NaturalEarthII/") for path in paths)


def test_viewer_raises_no_script_errors(viewer: ViewerSession) -> None:
    assert viewer.errors == []
