"""Object-type filters and address search in the real viewer, on a city of many object types
(Delft, CityJSON: buildings, roads, vegetation, water, bridges, land use …) beside a Lower
Saxony LoD1 village whose buildings carry xAL addresses."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from .harness import ROOT, ViewerSession, open_viewer, reopen_viewer, serve_city
from .test_tools import write_co2
from .test_viewer import COUNT_CHANGED_PIXELS_JS

pytestmark = pytest.mark.browser

DATA = ROOT.parent / "shared" / "data"
DELFT = DATA / "cityjson" / "cjio_delft.json"
LORUP = DATA / "citygml" / "nds_LoD1_24085862_2_2021-01-25.gml"

# Over the middle of the Delft subset (bbox 4.3620–4.3696 E, 52.0108–52.0137 N, ground at about
# 43 m ellipsoidal), 340 m south of it, looking north and down.
DELFT_VIEW = "#cam=4.36581,52.00915,450,0,-50"

TYPES_ON_SCREEN_JS = """
async () => {
  // Pick a grid over the part of the canvas no control covers; count the types hit.
  const { viewer } = await window.twinViewer.ready;
  const scene = viewer.scene;
  await new Promise((resolve) => {
    const remove = scene.postRender.addEventListener(() => { remove(); resolve(); });
    scene.requestRender();
  });
  const seen = {};
  for (let x = 330; x < 1260; x += 45) {
    for (let y = 40; y < 780; y += 45) {
      const picked = scene.pick(new Cesium.Cartesian2(x, y));
      if (picked instanceof Cesium.Cesium3DTileFeature) {
        const type = picked.getProperty("type");
        seen[type] = (seen[type] ?? 0) + 1;
      }
    }
  }
  return seen;
}
"""


@pytest.fixture(scope="module")
def planner_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("planner-data")
    with serve_city(data_dir, {"delft": DELFT, "lorup": LORUP}) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def delft(browser: Browser, planner_server: str) -> Iterator[ViewerSession]:
    yield from open_viewer(browser, planner_server, f"/viewer/{DELFT_VIEW}")


def test_the_type_toggles_list_the_families_present(delft: ViewerSession) -> None:
    labels = delft.page.locator('[data-testid="type-list"] label').all_inner_texts()
    # cjio_delft.json: 160 Building, 143 Road, 126 PlantCover, 81 LandUse, 54 GenericCityObject,
    # 3 Bridge, 3 WaterBody; the Lorup file: 243 Building, 175 BuildingPart (MANIFEST.md).
    assert [" ".join(label.split()) for label in labels] == [
        "Buildings 578",
        "Bridges 3",
        "Roads & rails 143",
        "Water 3",
        "Vegetation 126",
        "Land use 81",
        "Generic objects 54",
    ]


def test_hiding_a_type_stops_drawing_and_picking_its_features(delft: ViewerSession) -> None:
    page = delft.page
    before_types = page.evaluate(TYPES_ON_SCREEN_JS)
    before = page.screenshot(type="png")
    assert before_types.get("PlantCover", 0) > 0, before_types

    page.uncheck('[data-testid="type-toggle-vegetation"]')

    after_types = page.evaluate(TYPES_ON_SCREEN_JS)
    after = page.screenshot(type="png")
    assert "PlantCover" not in after_types, after_types
    assert after_types.get("Building", 0) >= before_types.get("Building", 0) > 0
    changed = page.evaluate(
        COUNT_CHANGED_PIXELS_JS,
        [base64.b64encode(before).decode(), base64.b64encode(after).decode()],
    )
    assert changed["changed"] > 0.005 * changed["total"], changed
    assert "hide=vegetation" in page.evaluate("window.location.hash")

    page.check('[data-testid="type-toggle-vegetation"]')

    assert page.evaluate(TYPES_ON_SCREEN_JS).get("PlantCover", 0) > 0
    assert "hide=" not in page.evaluate("window.location.hash")


def building_at(source: str, street: str, number: str) -> str:
    """The gml:id of the city object member whose xAL address is ``street`` ``number``."""
    for member in source.split("cityObjectMember>"):
        if (
            f"<xAL:ThoroughfareName>{street}</xAL:ThoroughfareName>" in member
            and f"<xAL:ThoroughfareNumber>{number}</xAL:ThoroughfareNumber>" in member
        ):
            found = re.search(r'<bldg:Building gml:id="([^"]+)"', member)
            assert found is not None
            return found.group(1)
    raise AssertionError(f"no building at {street} {number}")


def test_search_finds_a_building_by_its_address(delft: ViewerSession) -> None:
    page = delft.page
    wanted = building_at(LORUP.read_text("utf-8"), "Neues Land", "35")

    page.fill('[data-testid="search-input"]', "neues land 35")
    page.press('[data-testid="search-input"]', "Enter")

    page.wait_for_function(
        "(id) => document.querySelector('[data-testid=\"object-id\"]').textContent === id",
        arg=wanted,
    )
    page.wait_for_selector('[data-testid="panel-note"][hidden]', state="attached")
    street = page.inner_text('section[data-group="Address"] dd[data-attribute="streetAddress"]')
    assert street == "Neues Land 35"
    assert page.inner_text(
        'section[data-group="Address"] dd[data-attribute="addressLocality"]'
    ) == ("Lorup")


def test_attributes_of_tiles_loaded_later_join_the_colour_by_list(delft: ViewerSession) -> None:
    # Lorup lies 250 km from the Delft view: none of its tiles were in when the list was made.
    # Its coarse tiles (blocks of its largest buildings) carry no CityGML attributes, so the
    # planner goes to a building: the search flies there and its full-detail tiles load.
    page = delft.page
    page.fill('[data-testid="search-input"]', "neues land 35")
    page.press('[data-testid="search-input"]', "Enter")
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="style-attribute"] option')]
          .some((o) => o.value === "static:Firsthoehe")"""
    )
    page.select_option('[data-testid="style-attribute"]', "static:Firsthoehe")
    assert page.locator('[data-testid="legend"] li').count() > 1


def building_ids(base_url: str, dataset: str, limit: int) -> list[str]:
    """The gml:ids of the first ``limit`` buildings of a dataset, from the OGC API."""
    url = f"{base_url}/ogc/collections/{dataset}/items?limit={limit}&type=Building"
    with urllib.request.urlopen(url, timeout=10) as response:
        return [str(f["id"]) for f in json.load(response)["features"]]


LIVE_COLOURS_JS = """
(dataset) => {
  // Lorup's loaded buildings that hold a live co2: [id, colour drawn, legend colour of its value].
  const { thematic, live, tilesets } = window.twinViewer;
  const tileset = tilesets.find((t) => t.twinDataset.id === dataset);
  const legend = new Map(thematic.legend?.rows.map((r) => [r.label.split(" ")[0], r.color]) ?? []);
  const out = [];
  for (const id of new Set(thematic.staticValues("id", [tileset]).map(String))) {
    const value = live.valuesOf(dataset, id).get("co2")?.value;
    if (value === undefined) continue;
    let feature = null;
    const visit = (tile) => {
      const c = tile.content;
      for (let i = 0; c && i < c.featuresLength && !feature; i++) {
        if (String(c.getFeature(i).getProperty("id")) === id) feature = c.getFeature(i);
      }
      tile.children.forEach(visit);
    };
    visit(tileset.root);
    out.push([id, thematic.featureColor(feature), legend.get(String(value)) ?? null]);
  }
  return out;
}
"""


def test_live_values_of_tiles_loaded_later_colour_their_buildings(delft: ViewerSession) -> None:
    # Values written before the page opens; Lorup's tiles load only once the camera flies there.
    base = delft.base_url
    delft_id = building_ids(base, "delft", 1)[0]
    lorup_ids = building_ids(base, "lorup", 40)
    write_co2(base, delft_id, 400.0, method="POST", dataset="delft")
    for n, building_id in enumerate(lorup_ids):
        write_co2(base, building_id, (500.0, 700.0)[n % 2], method="POST", dataset="lorup")
    reopen_viewer(delft, f"/viewer/{DELFT_VIEW}")
    page = delft.page
    page.select_option('[data-testid="style-attribute"]', "live:co2")
    page.click('details:has([data-testid="dataset-list"]) summary')
    page.click('li:has([data-testid="dataset-visible-lorup"]) button')
    # Each building is drawn in the legend colour of its own value (not the no-value grey).
    page.wait_for_function(
        f"""(dataset) => {{
          const coloured = ({LIVE_COLOURS_JS})(dataset);
          return coloured.length > 0 && coloured.every(([, drawn, legend]) => drawn === legend);
        }}""",
        arg="lorup",
    )


def test_a_shared_url_keeps_the_hidden_types(delft: ViewerSession) -> None:
    # Last in the module: the page is left at the shared URL.
    reopen_viewer(delft, f"/viewer/{DELFT_VIEW}&hide=buildings")
    page = delft.page
    assert not page.is_checked('[data-testid="type-toggle-buildings"]')
    assert "Building" not in page.evaluate(TYPES_ON_SCREEN_JS)
    assert delft.errors == []
