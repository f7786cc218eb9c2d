"""One city in three formats reads the same: citygml4j's 100 LoD2 test buildings written as
CityGML 1.0, CityGML 3.0 and CityJSON 2.0 give the same objects, LoDs, surfaces and attributes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.model import CityObject, LodChoice, Surfaces
from twin.pipeline.sources import ReadOptions, iter_objects

FILES = (
    "citygml/c4j_LOD2_Buildings_v100.gml",  # CityGML 1.0
    "citygml/c4j_lod2_buildings_v3.gml",  # CityGML 3.0
    "cityjson/c4j_lod2_buildings_v2.json",  # CityJSON 2.0
)


def _area_by_class(surfaces: Surfaces) -> dict[int, float]:
    """Polygon areas (exterior minus holes) summed per class, by the shoelace/Newell formula."""
    found: dict[int, float] = {}
    for p in range(surfaces.polygon_count):
        first, last = surfaces.polygon_offsets[p], surfaces.polygon_offsets[p + 1]
        area = 0.0
        for r in range(first, last):
            ring = surfaces.coords[surfaces.ring_offsets[r] : surfaces.ring_offsets[r + 1]]
            ring = ring - ring.mean(axis=0)
            twice = np.linalg.norm(np.cross(ring, np.roll(ring, -1, axis=0)).sum(axis=0))
            area += twice / 2 if r == first else -twice / 2
        key = int(surfaces.classes[p])
        found[key] = found.get(key, 0.0) + area
    return found


def _read(shared_data: Path, name: str, lod: LodChoice) -> dict[str, CityObject]:
    objs = iter_objects([shared_data / name], ReadOptions(lod=lod))
    return {o.id: o for o in objs if isinstance(o, CityObject)}


@pytest.mark.parametrize("lod", ["highest", "all", 2])
def test_same_objects_lods_and_surfaces_in_every_format(shared_data: Path, lod: LodChoice) -> None:
    read = [_read(shared_data, name, lod) for name in FILES]
    gml1, gml3, cityjson = read
    assert len(gml1) == 100
    assert gml1.keys() == gml3.keys() == cityjson.keys()
    for object_id, obj in gml1.items():
        others = (gml3[object_id], cityjson[object_id])
        assert all(o.type == obj.type and o.lod == obj.lod == 2 for o in others)
        assert all(o.surfaces.polygon_count == obj.surfaces.polygon_count for o in others)
        areas = _area_by_class(obj.surfaces)
        assert sum(areas.values()) > 50.0  # a house, not a point
        for other in others:
            assert _area_by_class(other.surfaces) == pytest.approx(areas, rel=1e-9)


def test_same_attributes_in_every_format(shared_data: Path) -> None:
    gml1, gml3, cityjson = (_read(shared_data, name, "highest") for name in FILES)
    shared = ("name", "class", "roofType", "storeysAboveGround", "storeysBelowGround")
    for object_id, obj in gml1.items():
        a1, a3, aj = obj.attributes, gml3[object_id].attributes, cityjson[object_id].attributes
        assert (
            {k: a1[k] for k in shared} == {k: a3[k] for k in shared} == {k: aj[k] for k in shared}
        )
        # CityGML 3.0 writes the measured height as a con:Height from the highest roof edge
        # to the lowest ground point; 1.0 and CityJSON call it measuredHeight
        assert a1["measuredHeight"] == a3["measuredHeight"] == aj["measuredHeight"]
        # 3.0's dateOfConstruction is 1.0's yearOfConstruction; CityJSON keeps the text
        assert str(a3["dateOfConstruction"]) == aj["dateOfConstruction"]
        assert a3["dateOfConstruction"].year == a1["yearOfConstruction"]  # type: ignore[union-attr]
