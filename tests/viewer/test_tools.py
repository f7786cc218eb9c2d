"""Thematic styling, live colours, search and the shareable URL in the real viewer."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser

from .harness import BUILDING_IDS, FIND_BUILDING_JS, TOKEN, ViewerSession, open_viewer

pytestmark = pytest.mark.browser

RENDER_FRAMES_JS = """
async () => {
  const { viewer } = window.twinViewer;
  for (let frame = 0; frame < 2; frame++) {
    await new Promise((resolve) => {
      const remove = viewer.scene.postRender.addEventListener(() => { remove(); resolve(); });
      viewer.scene.requestRender();
    });
  }
}
"""

PIXEL_JS = """
async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  const data = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += data[i + c];
  const n = data.length / 4;
  return sum.map((s) => Math.round(s / n));
}
"""

CAMERA_JS = """
() => {
  const c = window.twinViewer.viewer.camera;
  const p = c.positionCartographic;
  return {
    lon: Cesium.Math.toDegrees(p.longitude), lat: Cesium.Math.toDegrees(p.latitude),
    height: p.height, heading: Cesium.Math.toDegrees(c.heading),
    pitch: Cesium.Math.toDegrees(c.pitch),
  };
}
"""


@pytest.fixture(scope="module")
def tools_viewer(browser: Browser, demo_server: str) -> Iterator[ViewerSession]:
    """A viewer page of its own: these tests change its style and camera."""
    yield from open_viewer(browser, demo_server, "/viewer/?instant")


@pytest.fixture(scope="module")
def target(tools_viewer: ViewerSession) -> dict[str, object]:
    """A building visible and pickable in the initial view, with its screen position."""
    found = tools_viewer.page.evaluate(FIND_BUILDING_JS, BUILDING_IDS)
    assert found is not None, "no demo building is visible and pickable in the initial view"
    return found


def pixel(viewer: ViewerSession, at: dict[str, object]) -> list[int]:
    """Render, then return the mean RGB of a 5×5 patch of the page around ``at``."""
    import base64

    viewer.page.evaluate(RENDER_FRAMES_JS)
    shot = viewer.page.screenshot(
        type="png", clip={"x": float(at["x"]) - 2, "y": float(at["y"]) - 2, "width": 5, "height": 5}
    )
    return viewer.page.evaluate(PIXEL_JS, base64.b64encode(shot).decode())


def distance(a: list[int], b: list[int]) -> int:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


def write_co2(base_url: str, building_id: str, value: float, method: str = "PATCH") -> None:
    """Write a building entity's co2 through NGSI-LD with the server's token.

    POST appends the attribute (creating it); PATCH updates one that exists.
    """
    entity = f"urn:ngsi-ld:Building:demo:{quote(building_id, safe='')}"
    body = {
        "co2": {
            "type": "Property",
            "value": value,
            "unitCode": "59",
            "observedAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
    }
    request = urllib.request.Request(
        f"{base_url}/ngsi-ld/v1/entities/{quote(entity, safe='')}/attrs",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def wait_until(check, seconds: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Poll ``check()`` until it is true, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.3)


def test_choosing_a_style_changes_the_buildings_colour(
    tools_viewer: ViewerSession, target: dict[str, object]
) -> None:
    page = tools_viewer.page
    before = pixel(tools_viewer, target)

    page.select_option('[data-testid="style-attribute"]', "static:measuredHeight")

    after = pixel(tools_viewer, target)
    assert distance(before, after) > 40, (before, after)
    assert page.locator('[data-testid="legend"] li').count() == 2  # the demo has two heights
    assert "m" in page.inner_text('[data-testid="legend"]')


def test_filter_dims_the_buildings_that_fail_it(
    tools_viewer: ViewerSession, target: dict[str, object]
) -> None:
    page = tools_viewer.page
    page.select_option('[data-testid="style-attribute"]', "static:measuredHeight")
    styled = pixel(tools_viewer, target)

    page.fill('[data-testid="style-filter"]', "measuredHeight > 100")
    page.press('[data-testid="style-filter"]', "Enter")

    dimmed = pixel(tools_viewer, target)
    assert distance(styled, dimmed) > 40, (styled, dimmed)
    assert page.locator('[data-testid="style-error"]').is_hidden()
    page.fill('[data-testid="style-filter"]', "")
    page.press('[data-testid="style-filter"]', "Enter")


def test_an_ngsi_ld_write_recolours_the_building_and_updates_the_panel(
    tools_viewer: ViewerSession, target: dict[str, object]
) -> None:
    page = tools_viewer.page
    other = next(i for i in BUILDING_IDS if i != target["id"])
    write_co2(tools_viewer.base_url, str(target["id"]), 400.0, method="POST")
    write_co2(tools_viewer.base_url, other, 2000.0, method="POST")
    page.wait_for_selector(
        '[data-testid="style-attribute"] option[value="live:co2"]', state="attached"
    )
    page.select_option('[data-testid="style-attribute"]', "live:co2")
    page.mouse.click(float(target["x"]), float(target["y"]))
    page.wait_for_selector('[data-testid="live-values"] dd[data-attribute="co2"]')
    page.keyboard.press("Escape")  # the highlight would hide the style colour
    low = pixel(tools_viewer, target)
    page.mouse.click(float(target["x"]), float(target["y"]))
    page.wait_for_selector('[data-testid="panel"]:not([hidden])')

    written = time.monotonic()
    write_co2(tools_viewer.base_url, str(target["id"]), 2000.0)

    page.wait_for_function(
        """() => document.querySelector('[data-testid="live-values"] dd[data-attribute="co2"]')
          ?.textContent.startsWith("2000")""",
        timeout=5000,
    )
    panel_seconds = time.monotonic() - written
    page.wait_for_function(
        "() => Number(document.querySelector('.chart')?.dataset.points ?? 0) >= 2", timeout=10000
    )
    page.keyboard.press("Escape")
    wait_until(lambda: distance(low, pixel(tools_viewer, target)) > 40, seconds=10)
    assert panel_seconds < 5


def test_search_flies_to_the_building(tools_viewer: ViewerSession) -> None:
    page = tools_viewer.page
    wanted = BUILDING_IDS[-1]
    with urllib.request.urlopen(
        f"{tools_viewer.base_url}/ogc/collections/demo/items/{quote(wanted)}", timeout=10
    ) as response:
        bbox = json.load(response)["bbox"]
    page.evaluate(
        "() => window.twinViewer.viewer.camera.setView({destination: "
        "Cesium.Cartesian3.fromDegrees(6.5, 50.9, 20000)})"
    )

    page.fill('[data-testid="search-input"]', wanted)
    page.press('[data-testid="search-input"]', "Enter")

    def near() -> bool:
        cam = page.evaluate(CAMERA_JS)
        lon = (bbox[0] + bbox[3]) / 2
        lat = (bbox[1] + bbox[4]) / 2
        return (
            abs(cam["lon"] - lon) < 0.003 and abs(cam["lat"] - lat) < 0.002 and cam["height"] < 600
        )

    wait_until(near, seconds=30)
    page.wait_for_function(
        "(id) => document.querySelector('[data-testid=\"object-id\"]').textContent === id",
        arg=wanted,
    )


def test_a_shared_url_restores_the_camera(browser: Browser, demo_server: str) -> None:
    camera = {"lon": 6.5735, "lat": 50.9872, "height": 350.0, "heading": 45.0, "pitch": -40.0}
    hash_ = f"#cam={camera['lon']},{camera['lat']},{camera['height']},45,-40&style=measuredHeight"
    for session in open_viewer(browser, demo_server, f"/viewer/{hash_}"):
        restored = session.page.evaluate(CAMERA_JS)
        assert restored["lon"] == pytest.approx(camera["lon"], abs=1e-5)
        assert restored["lat"] == pytest.approx(camera["lat"], abs=1e-5)
        assert restored["height"] == pytest.approx(camera["height"], abs=1.0)
        assert restored["heading"] == pytest.approx(camera["heading"], abs=0.5)
        assert restored["pitch"] == pytest.approx(camera["pitch"], abs=0.5)
        value = session.page.eval_on_selector('[data-testid="style-attribute"]', "e => e.value")
        assert value == "static:measuredHeight"
        assert session.errors == []
