"""A texture whose alpha cuts holes draws with holes in the real viewer.

The textured wall of the hand-written building (tests/appearance_documents.py, without its roof
and ground) twice on the same spot: textured with an opaque red image, and with the same image
whose left half has alpha 0 (imported as ``alphaMode`` MASK). Seen from the same camera against
a plain background, the cut-out wall keeps its red where the image is opaque and shows the
background through the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from appearance_documents import textured_building, write_textured
from numpy.typing import NDArray
from PIL import Image
from playwright.sync_api import Browser

from .harness import Pixels, ViewerSession, open_viewer, serve_city, shot, wait_for_tiles

pytestmark = pytest.mark.browser

RED = (220, 20, 20)

FACE_WALL_JS = """
async () => {
  // Look north at the wall (it faces south), against a plain blue background.
  const { viewer, tilesets } = await window.twinViewer.ready;
  viewer.scene.globe.show = false;
  viewer.scene.skyBox.show = false;
  viewer.scene.skyAtmosphere.show = false;
  viewer.scene.sun.show = false;
  viewer.scene.moon.show = false;
  viewer.scene.backgroundColor = Cesium.Color.fromBytes(40, 90, 200, 255);
  const sphere = tilesets.find((t) => t.twinDataset.id === "opaque").boundingSphere;
  viewer.camera.flyToBoundingSphere(sphere, {
    offset: new Cesium.HeadingPitchRange(0, Cesium.Math.toRadians(-5), sphere.radius * 2.5),
    duration: 0,
  });
  viewer.scene.requestRender();
}
"""


def _wall(folder: Path, cut_out: bool) -> Path:
    """The fixture's wall alone with a 64×64 red texture, its left half transparent or not."""
    others = r"<bldg:boundedBy><bldg:(Roof|Ground)Surface>.*?</bldg:boundedBy>"
    source = write_textured(folder, re.sub(others, "", textured_building()))
    image = Image.new("RGBA", (64, 64), (*RED, 255))
    if cut_out:
        image.paste((*RED, 0), (0, 0, 32, 64))
    image.save(source.parent / "tex.png")
    return source


@pytest.fixture(scope="module")
def alpha_viewer(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ViewerSession]:
    datasets = {
        "opaque": _wall(tmp_path_factory.mktemp("opaque"), cut_out=False),
        "cutout": _wall(tmp_path_factory.mktemp("cutout"), cut_out=True),
    }
    with serve_city(tmp_path_factory.mktemp("alpha-data"), datasets) as base_url:
        for session in open_viewer(browser, base_url, "/viewer/"):
            session.page.evaluate(FACE_WALL_JS)
            wait_for_tiles(session.page)
            yield session


def _red(pixels: Pixels) -> NDArray[np.bool_]:
    """Where the canvas is the wall's red, however lit."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (r > 60) & (r > 3 * g) & (r > 3 * b)


def test_a_texture_with_transparent_texels_cuts_holes(alpha_viewer: ViewerSession) -> None:
    background, opaque = shot(alpha_viewer, None), shot(alpha_viewer, "opaque")
    cutout = shot(alpha_viewer, "cutout")
    wall = _red(opaque)
    assert wall.sum() > 2000, "the close-up does not show the red wall"
    # The wall's texture coordinates put about half of its area at s < 0.5: there the
    # background shows through (drawn OPAQUE, those texels would be black or red instead).
    kept = (_red(cutout) & wall).sum() / wall.sum()
    see_through = (np.abs(cutout - background).sum(axis=2) < 24)[wall].mean()
    assert 0.2 < kept < 0.8, f"{kept:.0%} of the red wall is left"
    assert see_through > 0.9 * (1 - kept), f"background behind {see_through:.0%} of the wall"
    # The holes are on the wall's west end (s < 0.5), on the left seen from the south.
    assert np.nonzero(_red(cutout))[1].mean() > np.nonzero(wall)[1].mean()
    assert alpha_viewer.errors == alpha_viewer.console_errors == alpha_viewer.refused == []
