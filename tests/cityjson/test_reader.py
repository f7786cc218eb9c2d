"""CityJSON and CityJSONSeq: quantised vertices, semantics, parents before children, LoD."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from twin.cityjson import CityJSONError, iter_cityjson_stream
from twin.model import CityObject, SurfaceClass

DOC = {
    "type": "CityJSON",
    "version": "2.0",
    "transform": {"scale": [0.5, 0.5, 1.0], "translate": [100.0, 200.0, 10.0]},
    "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/7415"},
    "CityObjects": {
        "b": {"type": "Building", "children": ["p"], "attributes": {"h": 3.5, "tags": [1]}},
        "p": {
            "type": "BuildingPart",
            "parents": ["b"],
            "geometry": [
                {"type": "MultiSurface", "lod": "1.2", "boundaries": [[[0, 1, 2]]]},
                {
                    "type": "MultiSurface",
                    "lod": "2.2",
                    "boundaries": [[[0, 1, 2, 3]], [[0, 1]]],
                    "semantics": {"surfaces": [{"type": "RoofSurface"}], "values": [0, None]},
                },
            ],
        },
    },
    "vertices": [[0, 0, 0], [2, 0, 0], [2, 2, 0], [0, 2, 0]],
}


def read(data: bytes) -> list[CityObject]:
    found = list(iter_cityjson_stream(io.BytesIO(data), "mem.json"))
    assert all(isinstance(o, CityObject) for o in found)
    return [o for o in found if isinstance(o, CityObject)]


def test_document_reads_children_first_with_highest_lod_and_semantics() -> None:
    part, building = read(json.dumps(DOC, indent=1).encode())
    assert (part.id, part.parent_id, building.id, building.parent_id) == ("p", "b", "b", None)
    assert part.lod == 2
    np.testing.assert_allclose(
        part.surfaces.coords, [[100, 200, 10], [101, 200, 10], [101, 201, 10], [100, 201, 10]]
    )
    assert part.surfaces.classes.tolist() == [SurfaceClass.ROOF]
    assert part.issues == ("1 degenerate ring(s) dropped",)
    assert building.srs_name == "https://www.opengis.net/def/crs/EPSG/0/7415"
    assert building.attributes == {"h": 3.5, "tags": "[1]"}


def test_sequence_is_read_line_by_line_with_the_header_transform() -> None:
    header = {k: v for k, v in DOC.items() if k not in ("CityObjects", "vertices")}
    header |= {"CityObjects": {}, "vertices": []}
    feature = {"type": "CityJSONFeature", "id": "b", "CityObjects": DOC["CityObjects"]}
    feature["vertices"] = DOC["vertices"]
    lines = b"\n".join(json.dumps(x).encode() for x in (header, feature))
    assert [o.id for o in read(lines)] == ["p", "b"]


def test_broken_sequence_line_is_located() -> None:
    header = json.dumps({"type": "CityJSON", "CityObjects": {}, "vertices": []})
    with pytest.raises(CityJSONError, match=r"mem\.json:2:\d+: malformed JSON"):
        read(header.encode() + b"\n{broken\n")


def test_a_non_finite_attribute_keeps_its_name_without_a_value() -> None:
    # Python's json reads NaN and Infinity, which JSON (RFC 8259 §6) has not: kept, they broke
    # the tiles' metadata and the building's entity
    text = json.dumps(DOC).replace('"h": 3.5', '"h": NaN, "k": -Infinity, "m": 2')
    *_, building = read(text.encode())
    assert building.attributes == {"h": None, "k": None, "m": 2, "tags": "[1]"}
