"""The viewer's filter box (``toCesiumExpression`` in viewer/src/thematic.js), run by node and
evaluated by CesiumJS's own ``Expression`` on features with known properties."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

VIEWER = Path(__file__).parents[2] / "viewer"

# What a tile's property table holds for a building with a CityGML attribute named "type"
# (kept as "attribute.type" beside the object's type) and a flattened external reference.
PROPERTIES = {
    "type": "Building",
    "attribute.type": "Wohnhaus",
    "externalReference.informationSystem": "https://example.org/alkis",
    "measuredHeight": 12.0,
}


def _evaluate(text: str) -> object:
    """Return what the viewer's filter ``text`` evaluates to on a feature of PROPERTIES."""
    script = f"""
        globalThis.Cesium = await import("cesium");
        const {{ toCesiumExpression }} = await import("./src/thematic.js");
        const props = {json.dumps(PROPERTIES)};
        const feature = {{ getPropertyInherited: (n) => props[n], getProperty: (n) => props[n] }};
        const expression = toCesiumExpression({json.dumps(text)}, new Set(Object.keys(props)));
        process.stdout.write(JSON.stringify(new Cesium.Expression(expression).evaluate(feature)));
    """
    run = subprocess.run(
        ["node", "--no-warnings", "--input-type=module", "-e", script],
        cwd=VIEWER, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("type = 'Building'", True),
        ("attribute.type = 'Wohnhaus'", True),  # was attribute.${type}: "attribute" undefined
        ("attribute.type = 'Building'", False),
        ("externalReference.informationSystem = 'https://example.org/alkis'", True),
        ("measuredHeight > 10 and attribute.type <> 'Garage'", True),
    ],
)
def test_a_filter_reaches_dotted_property_names(text: str, expected: bool) -> None:
    assert _evaluate(text) is expected
