"""Textured buildings in the real viewer: the c4j LoD3 building (8 JPEG/PNG facade and roof
textures, 3092 textured surfaces) drawn from the default meshopt tiles (float TEXCOORD_0), from
Draco tiles (TEXCOORD_0 quantized by Draco), and from a copy without its images, which twin
draws in class colours.

Both datasets stand on the same spot; the tests show one at a time at the same camera and compare
the pixels, so a texture that stops drawing (lost image, broken UVs, a sampler Cesium refuses)
shows up as a building that looks like its untextured twin or as flat faces.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.typing import NDArray
from playwright.sync_api import Browser

from .harness import (
    ROOT,
    TWIN,
    Pixels,
    ViewerSession,
    open_viewer,
    serve_city,
    shot,
    wait_for_tiles,
)

pytestmark = pytest.mark.browser

C4J = (
    ROOT.parent
    / "shared"
    / "data"
    / "citygml"
    / "c4j_lod3_building_v2"
    / "c4j_lod3_building_v2.gml"
)
BUILDING = "UUID_4d4d75e4-83e7-46c1-9c1a-1faee756fcd4"
"""The gml:id of the c4j Building (its one BuildingInstallation is the other object)."""

CLOSE_UP_JS = """
async () => {
  // Look at the textured facade from 3.2 building radii, without the globe (its imagery loads at
  // its own pace and would change the background between screenshots).
  const { viewer, tilesets } = await window.twinViewer.ready;
  viewer.scene.globe.show = false;
  const sphere = tilesets.find((t) => t.twinDataset.id === "c4j").boundingSphere;
  viewer.camera.flyToBoundingSphere(sphere, {
    offset: new Cesium.HeadingPitchRange(
      Cesium.Math.toRadians(-30), Cesium.Math.toRadians(-20), sphere.radius * 3.2),
    duration: 0,
  });
  viewer.scene.requestRender();
}
"""

FIND_FACADE_JS = """
async ([building, points]) => {
  // The first of these canvas points where the scene picks the textured building.
  const { viewer } = await window.twinViewer.ready;
  for (const [x, y] of points) {
    const picked = viewer.scene.pick(new Cesium.Cartesian2(x, y));
    if (picked instanceof Cesium.Cesium3DTileFeature && picked.getProperty("id") === building
        && picked.tileset.twinDataset.id === "c4j") {
      return { x, y };
    }
  }
  return null;
}
"""

TEXTURED_PROPERTY_NAMES_JS = """
async () => {
  const { tilesets, thematic } = await window.twinViewer.ready;
  const textured = tilesets.filter((t) => t.twinDataset.id === "c4j");
  return [...thematic.propertyNames.call({ tilesets: textured })];
}
"""

RESTYLE_JS = """
async (plain) => {
  // plain: draw the tilesets with no style at all; else restore the viewer's own style.
  const { viewer, tilesets, thematic } = await window.twinViewer.ready;
  if (plain) for (const tileset of tilesets) tileset.style = undefined;
  else thematic.restyle();
  for (let frame = 0; frame < 3; frame++) {
    await new Promise((resolve) => {
      const remove = viewer.scene.postRender.addEventListener(() => { remove(); resolve(); });
      viewer.scene.requestRender();
    });
  }
}
"""


def differs(a: Pixels, b: Pixels, threshold: int = 48) -> NDArray[np.bool_]:
    """Pixels whose RGB differ by more than ``threshold`` (sum over the channels)."""
    return np.abs(a - b).sum(axis=2) > threshold


def inside(mask: NDArray[np.bool_], margin: int = 2) -> NDArray[np.bool_]:
    """The mask less a ``margin``-pixel border (so silhouette edges and FXAA do not count)."""
    core = mask.copy()
    for shift in range(1, margin + 1):
        for axis in (0, 1):
            for step in (shift, -shift):
                core &= np.roll(mask, step, axis=axis)
    return core


def detail(pixels: Pixels, where: NDArray[np.bool_]) -> float:
    """Mean colour change from a pixel to its right and lower neighbours, over ``where``."""
    dx = np.abs(np.diff(pixels, axis=1)).sum(axis=2)[:-1, :]
    dy = np.abs(np.diff(pixels, axis=0)).sum(axis=2)[:, :-1]
    region = where[:-1, :-1] & where[1:, :-1] & where[:-1, 1:]
    return float((dx + dy)[region].mean())


@pytest.fixture(scope="module")
def textured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    bare = tmp_path_factory.mktemp("bare") / C4J.name
    shutil.copy(C4J, bare)  # without appearances/: the import reports the images missing
    data_dir = tmp_path_factory.mktemp("textured-data")
    subprocess.run(
        [
            str(TWIN),
            "import",
            str(C4J),
            *("--dataset", "draco", "--compress", "draco"),
            *("--data-dir", str(data_dir)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    with serve_city(data_dir, {"c4j": C4J, "bare": bare}) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def textured(browser: Browser, textured_server: str) -> Iterator[ViewerSession]:
    for session in open_viewer(browser, textured_server, "/viewer/"):
        session.page.evaluate(CLOSE_UP_JS)
        wait_for_tiles(session.page)
        yield session


@pytest.fixture(scope="module")
def renders(textured: ViewerSession) -> dict[str, Pixels]:
    """The close-up with the textured building (meshopt, Draco), its untextured twin, neither."""
    frames = {name: shot(textured, name) for name in ("c4j", "draco", "bare")}
    frames["empty"] = shot(textured, None)
    shot(textured, "c4j")
    return frames


def test_textures_draw_image_colours_not_the_fallback(
    textured: ViewerSession, renders: dict[str, Pixels]
) -> None:
    building = differs(renders["c4j"], renders["empty"]) | differs(
        renders["bare"], renders["empty"]
    )
    core = inside(building)
    assert core.sum() > 0.05 * core.size, "the close-up does not show the building"

    # Walls and roof are in the texture's colours, not the class colours of the untextured twin.
    changed = differs(renders["c4j"], renders["bare"])[core].mean()
    assert changed > 0.5, f"only {changed:.0%} of the building differs from its untextured twin"
    # Windows, bricks and slates painted on the faces: far more detail than flat class colours
    # (UVs that collapse to one texel per face would be as flat as the twin).
    textured_detail, bare_detail = detail(renders["c4j"], core), detail(renders["bare"], core)
    assert textured_detail > 2 * bare_detail, (textured_detail, bare_detail)
    # Draco's quantized UVs land on the same texels as meshopt's floats.
    moved = differs(renders["draco"], renders["c4j"])[core].mean()
    assert moved < 0.05, f"{moved:.1%} of the building looks different from Draco tiles"
    assert textured.errors == textured.console_errors == textured.refused == []


def test_no_attribute_leaves_the_textures_as_drawn_unstyled(
    textured: ViewerSession, renders: dict[str, Pixels]
) -> None:
    core = inside(differs(renders["c4j"], renders["empty"]))
    textured.page.evaluate(RESTYLE_JS, True)
    unstyled = shot(textured, "c4j")
    textured.page.evaluate(RESTYLE_JS, False)

    # colorBlendMode MIX with amount 0: the viewer's white style does not touch a texel.
    assert differs(renders["c4j"], unstyled, threshold=12)[core].mean() < 0.01


def test_a_textured_building_is_tinted_by_an_attribute_and_picked(
    textured: ViewerSession, renders: dict[str, Pixels]
) -> None:
    page = textured.page
    core = inside(differs(renders["c4j"], renders["empty"]))
    # The textured tileset's root is a LoD block with only id and type (the images push the
    # building past the tile byte budget): the attributes to colour by come from its leaves.
    names = page.evaluate(TEXTURED_PROPERTY_NAMES_JS)
    assert {"type", "function", "address_street"} <= set(names), names
    page.select_option('[data-testid="style-attribute"]', "static:function")
    tinted = shot(textured, "c4j")

    assert differs(renders["c4j"], tinted)[core].mean() > 0.5  # the ramp colour is mixed in
    assert detail(tinted, core) > 0.2 * detail(renders["c4j"], core)  # the texture shows through

    rows, cols = np.nonzero(core)
    order = np.argsort(np.abs(rows - rows.mean()) + np.abs(cols - cols.mean()))[::97]
    points = [[int(cols[i]), int(rows[i])] for i in order[:40]]
    target = page.evaluate(FIND_FACADE_JS, [BUILDING, points])
    assert target is not None, "no pixel of the close-up picks the textured building"
    page.mouse.click(target["x"], target["y"])
    page.wait_for_selector('[data-testid="panel"]:not([hidden])')
    page.wait_for_selector('[data-testid="panel-note"][hidden]', state="attached")

    assert page.inner_text('[data-testid="object-id"]') == BUILDING
    assert page.inner_text('[data-testid="object-type"]').lower() == "building"
    labels = page.locator('[data-testid="object-properties"] dt').all_inner_texts()
    assert "Postal code" in labels or any("Address" in label for label in labels), labels
    assert textured.errors == textured.console_errors == textured.refused == []
