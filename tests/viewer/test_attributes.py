"""Colour by attributes of every value type the tiles carry, on a small CityJSON of odd values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from .harness import ViewerSession, open_viewer, reopen_viewer, serve_city

pytestmark = pytest.mark.browser

# Four LoD1 boxes in Delft (EPSG:7415, RD New + NAP), 40 m apart. `flag` is a BOOLEAN column of
# the tiles' property table, `maybe` (with nulls) the optional-boolean enum, `year_text` numbers
# stored as text, `year` years as integers (the panel shows them ungrouped: 1948, not 1,948).
ATTRIBUTES = [
    {"flag": True, "maybe": True, "year_text": "1990", "year": 1948},
    {"flag": False, "maybe": None, "year_text": "2005", "year": 1961},
    {"flag": True, "maybe": False, "year_text": "1975", "year": 1975},
    {"flag": False, "maybe": None, "year_text": "12.5", "year": 2005},
]


def box(x0: float, height: float, first: int) -> tuple[list[list[float]], list[list[list[int]]]]:
    """A 20 m box's eight corners and its six outward faces (vertex indices from ``first``)."""
    corners = [(0, 0), (20, 0), (20, 20), (0, 20)]
    vertices = [[x0 + dx, 447000 + dy, z] for z in (0, height) for dx, dy in corners]
    b = list(range(first, first + 8))
    faces = [[b[0], b[3], b[2], b[1]], [b[4], b[5], b[6], b[7]]]
    faces += [[b[i], b[(i + 1) % 4], b[(i + 1) % 4 + 4], b[i + 4]] for i in range(4)]
    return vertices, [[face] for face in faces]


def odd_city(path: Path) -> Path:
    """Write the CityJSON file of :data:`ATTRIBUTES` to ``path``."""
    vertices: list[list[float]] = []
    objects = {}
    for i, attributes in enumerate(ATTRIBUTES):
        corners, faces = box(85000 + 40 * i, 10 + 5 * i, len(vertices))
        vertices += corners
        geometry = {"type": "Solid", "lod": "1", "boundaries": [faces]}
        objects[f"b{i}"] = {"type": "Building", "attributes": attributes, "geometry": [geometry]}
    document = {
        "type": "CityJSON",
        "version": "2.0",
        "transform": {"scale": [1, 1, 1], "translate": [0, 0, 0]},
        "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/7415"},
        "CityObjects": objects,
        "vertices": vertices,
    }
    path.write_text(json.dumps(document), "utf-8")
    return path


@pytest.fixture(scope="module")
def odd(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewerSession]:
    source = odd_city(tmp_path_factory.mktemp("odd") / "odd.city.json")
    with serve_city(tmp_path_factory.mktemp("odd-data"), {"odd": source}) as base_url:
        yield from open_viewer(browser, base_url, "/viewer/?instant")


DRAWN_VS_LEGEND_JS = """
async () => {
  // Each feature's colour under the tileset's style, beside the legend swatch of its value.
  const { tilesets } = await window.twinViewer.ready;
  const swatches = new Map();
  for (const li of document.querySelectorAll('[data-testid="legend"] li')) {
    const swatch = li.querySelector(".legend__swatch").style.background;
    swatches.set(li.textContent, Cesium.Color.fromCssColorString(swatch).toCssHexString());
  }
  const attribute = window.twinViewer.thematic.spec.attribute;
  const rows = [];
  const visit = (tile) => {
    const content = tile.content;
    for (let i = 0; i < (content?.featuresLength ?? 0); i++) {
      const feature = content.getFeature(i);
      const value = feature.getProperty(attribute);
      const drawn = tilesets[0].style.color.evaluateColor(feature, new Cesium.Color());
      rows.push([String(value), drawn.toCssHexString(), swatches.get(String(value)) ?? null]);
    }
    tile.children.forEach(visit);
  };
  visit(tilesets[0].root);
  return rows;
}
"""


@pytest.mark.parametrize("attribute", ["flag", "maybe", "year_text", "year"])
def test_every_building_is_drawn_in_its_legend_colour(odd: ViewerSession, attribute: str) -> None:
    odd.page.select_option('[data-testid="style-attribute"]', f"static:{attribute}")

    rows = odd.page.evaluate(DRAWN_VS_LEGEND_JS)

    assert len(rows) == len(ATTRIBUTES)
    coloured = [(value, drawn) for value, drawn, swatch in rows if swatch is not None]
    assert coloured == [(value, swatch) for value, _, swatch in rows if swatch is not None]
    assert len(coloured) == sum(a[attribute] is not None for a in ATTRIBUTES)
    assert odd.errors == []


def test_a_shared_url_with_garbage_loads_and_says_what_it_ignored(odd: ViewerSession) -> None:
    # Last in the module: the page is left at this URL.
    reopen_viewer(odd, "/viewer/#cam=abc,1&sel=nope&sun=garbage&mode=x&zoom=3&style=flag")

    note = odd.page.locator('[data-testid="url-note"]')
    assert note.is_visible()
    for ignored in ("cam", "sel", "sun", "mode", "zoom"):
        assert f"{ignored}=" in note.inner_text()
    assert "style=" not in note.inner_text()
    assert odd.page.eval_on_selector('[data-testid="style-attribute"]', "e => e.value") == (
        "static:flag"
    )
    assert odd.errors == []
