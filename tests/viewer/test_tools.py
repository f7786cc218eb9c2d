"""Thematic styling, live colours, search and the shareable URL in the real viewer."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import numpy as np
import pytest
from playwright.sync_api import Browser, Page
from pyproj import Transformer

from .harness import (
    BUILDING_IDS,
    FIND_BUILDING_JS,
    TOKEN,
    ViewerSession,
    open_viewer,
    reopen_viewer,
)

pytestmark = pytest.mark.browser

ECEF_TO_GEODETIC = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)

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


def item(base_url: str, building_id: str) -> dict[str, object]:
    """The OGC API item of a demo building."""
    url = f"{base_url}/ogc/collections/demo/items/{quote(building_id)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        result: dict[str, object] = json.load(response)
        return result


def distance(a: list[int], b: list[int]) -> int:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


def write_co2(
    base_url: str, building_id: str, value: float, method: str = "PATCH", dataset: str = "demo"
) -> None:
    """Write a building entity's co2 through NGSI-LD with the server's token.

    POST appends the attribute (creating it); PATCH updates one that exists.
    """
    entity = f"urn:ngsi-ld:Building:{dataset}:{quote(building_id, safe='')}"
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


def test_measure_shows_distance_and_height_between_two_picked_points(
    tools_viewer: ViewerSession, target: dict[str, object]
) -> None:
    page = tools_viewer.page
    others = [i for i in BUILDING_IDS if i != target["id"]]
    second = page.evaluate(FIND_BUILDING_JS, others)
    assert second is not None
    page.click('[data-testid="measure"]')

    page.mouse.click(float(target["x"]), float(target["y"]))
    page.mouse.click(float(second["x"]), float(second["y"]))

    page.wait_for_selector('[data-testid="measure-readout"] dd[data-measure="straight"]')
    shown = {
        key: float(page.inner_text(f'[data-measure="{key}"]').replace(" m", "").replace(",", ""))
        for key in ("straight", "horizontal", "height")
    }
    points = page.evaluate(
        "() => window.twinViewer.tools.measure.points.map((p) => [p.x, p.y, p.z])"
    )
    ecef = np.array(points)
    lon, lat, h = ECEF_TO_GEODETIC.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
    # Each point lies on the building clicked: inside its footprint box, between its base and top.
    for (lo, la, hh), building in zip(zip(lon, lat, h, strict=True), (target, second), strict=True):
        bbox = item(tools_viewer.base_url, str(building["id"]))["bbox"]
        assert bbox[0] - 1e-5 <= lo <= bbox[3] + 1e-5
        assert bbox[1] - 1e-5 <= la <= bbox[4] + 1e-5
        assert bbox[2] - 0.5 <= hh <= bbox[5] + 0.5, (hh, bbox)
    d = ecef[1] - ecef[0]
    phi, lam = np.radians(lat[0]), np.radians(lon[0])
    east = -np.sin(lam) * d[0] + np.cos(lam) * d[1]
    north = (
        -np.sin(phi) * np.cos(lam) * d[0] - np.sin(phi) * np.sin(lam) * d[1] + np.cos(phi) * d[2]
    )
    assert shown["straight"] == pytest.approx(float(np.linalg.norm(d)), abs=0.006)
    assert shown["horizontal"] == pytest.approx(float(np.hypot(east, north)), abs=0.006)
    assert shown["height"] == pytest.approx(float(h[1] - h[0]), abs=0.006)
    assert shown["straight"] > 5

    page.keyboard.press("Escape")

    page.wait_for_selector('[data-testid="measure-readout"]', state="hidden")
    assert page.get_attribute('[data-testid="measure"]', "aria-pressed") == "false"
    assert page.evaluate("window.twinViewer.tools.measure.points.length") == 0
    page.mouse.click(float(target["x"]), float(target["y"]))  # clicks pick objects again
    page.wait_for_selector('[data-testid="panel"]:not([hidden])')
    page.keyboard.press("Escape")


SHADOWED_JS = """
async () => {
  // Pixels the shadow map darkens: the same sun-lit frame with and without it.
  const { viewer } = window.twinViewer;
  const frame = async () => {
    for (let i = 0; i < 2; i++) {
      await new Promise((resolve) => {
        const remove = viewer.scene.postRender.addEventListener(() => { remove(); resolve(); });
        viewer.scene.requestRender();
      });
    }
    return createImageBitmap(viewer.scene.canvas);
  };
  const pixels = (bitmap) => {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    return context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  };
  viewer.shadows = true;
  const lit = pixels(await frame());
  viewer.shadows = false;
  const plain = pixels(await frame());
  viewer.shadows = true;
  await frame();
  const shadowed = new Uint8Array(lit.length / 4);
  for (let i = 0; i < lit.length; i += 4) {
    const dark = plain[i] + plain[i + 1] + plain[i + 2] - (lit[i] + lit[i + 1] + lit[i + 2]);
    shadowed[i / 4] = dark > 30 ? 1 : 0;
  }
  return Array.from(shadowed);
}
"""


SUN_IN_URL_JS = "() => new URLSearchParams(window.location.hash.slice(1)).get('sun')"


def set_sun_time(page: Page, minutes: int) -> None:
    """Move the time-of-day slider the way a keyboard would leave it: value, then input."""
    page.eval_on_selector(
        '[data-testid="sun-time"]',
        "(e, m) => { e.value = String(m); e.dispatchEvent(new Event('input')); }",
        minutes,
    )


def test_changing_the_time_of_day_moves_the_shadows(tools_viewer: ViewerSession) -> None:
    page = tools_viewer.page
    page.click('[data-testid="sun-group"] summary')
    page.check('[data-testid="shadows"]')
    page.select_option('[data-testid="sun-zone"]', "2")  # Central European Summer Time
    page.fill('[data-testid="sun-date"]', "2026-06-21")
    page.dispatch_event('[data-testid="sun-date"]', "change")

    set_sun_time(page, 9 * 60)
    morning = np.array(page.evaluate(SHADOWED_JS), dtype=bool)
    assert page.evaluate(SUN_IN_URL_JS) == "2026-06-21T07:00Z"
    set_sun_time(page, 17 * 60)
    evening = np.array(page.evaluate(SHADOWED_JS), dtype=bool)

    assert morning.sum() > 0.002 * morning.size, morning.sum()
    assert evening.sum() > 0.002 * evening.size, evening.sum()
    moved = np.logical_xor(morning, evening).sum()
    assert moved > 0.5 * min(morning.sum(), evening.sum()), (moved, morning.sum(), evening.sum())
    assert page.inner_text('[data-testid="sun-time-text"]') == "17:00"
    assert page.evaluate(SUN_IN_URL_JS) == "2026-06-21T15:00Z"

    page.uncheck('[data-testid="shadows"]')
    assert page.evaluate(SUN_IN_URL_JS) is None


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


def test_a_shared_url_restores_the_camera(tools_viewer: ViewerSession) -> None:
    camera = {"lon": 6.5735, "lat": 50.9872, "height": 350.0, "heading": 45.0, "pitch": -40.0}
    hash_ = f"#cam={camera['lon']},{camera['lat']},{camera['height']},45,-40&style=measuredHeight"
    reopen_viewer(tools_viewer, f"/viewer/{hash_}")
    restored = tools_viewer.page.evaluate(CAMERA_JS)
    assert restored["lon"] == pytest.approx(camera["lon"], abs=1e-5)
    assert restored["lat"] == pytest.approx(camera["lat"], abs=1e-5)
    assert restored["height"] == pytest.approx(camera["height"], abs=1.0)
    assert restored["heading"] == pytest.approx(camera["heading"], abs=0.5)
    assert restored["pitch"] == pytest.approx(camera["pitch"], abs=0.5)
    value = tools_viewer.page.eval_on_selector('[data-testid="style-attribute"]', "e => e.value")
    assert value == "static:measuredHeight"
    assert tools_viewer.errors == []
