"""Polygons, rings, semantic classes and xlink resolution of the CityGML reader."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from twin.model import Rejection, SurfaceClass, Surfaces

from .documents import SQUARE, WriteCityGML, building, city_objects, lod2_surface, polygon, read_all

GML = "citygml"


def class_counts(surfaces: Surfaces) -> Counter[SurfaceClass]:
    return Counter(SurfaceClass(c) for c in surfaces.classes)


def rings(surfaces: Surfaces) -> list[np.ndarray]:
    offsets = surfaces.ring_offsets
    return [surfaces.coords[offsets[r] : offsets[r + 1]] for r in range(surfaces.ring_count)]


@pytest.mark.parametrize(
    "name", ["ogc_v2_Building_LOD2-EPSG25832.gml", "teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml"]
)
def test_solid_xlinks_do_not_draw_polygons_twice(shared_data: Path, name: str) -> None:
    (obj,) = city_objects(shared_data / GML / name)
    assert obj.surfaces.polygon_count == 7
    assert class_counts(obj.surfaces) == {
        SurfaceClass.WALL: 4,
        SurfaceClass.ROOF: 2,
        SurfaceClass.GROUND: 1,
    }


def test_lod3_walls_keep_window_holes(shared_data: Path) -> None:
    # MANIFEST: 24 polygons, 3 interior rings, 2 windows and a door
    (obj,) = city_objects(shared_data / GML / "ogc_v2_Building_LOD3-EPSG25832.gml")
    assert obj.surfaces.polygon_count == 24
    assert obj.surfaces.ring_count - obj.surfaces.polygon_count == 3
    counts = class_counts(obj.surfaces)
    assert (counts[SurfaceClass.WINDOW], counts[SurfaceClass.DOOR]) == (2, 1)


@pytest.mark.parametrize(
    "name",
    ["lcg_berlin_open_data_sample_data.citygml", "hel_2549_6674.gml", "qie_Cube-07.gml"],
)
def test_rings_are_open_float64_with_three_vertices(shared_data: Path, name: str) -> None:
    for obj in city_objects(shared_data / GML / name):
        coords = obj.surfaces.coords
        assert coords.dtype == np.float64
        assert coords.shape[1] == 3
        for ring in rings(obj.surfaces):
            assert len(ring) >= 3
            assert not np.array_equal(ring[0], ring[-1])


def test_scientific_notation_is_read(shared_data: Path) -> None:
    # hel_2549_6674.gml writes eastings as 2.54990659855E7
    objects = city_objects(shared_data / GML / "hel_2549_6674.gml")
    eastings = np.concatenate([o.surfaces.coords[:, 0] for o in objects])
    assert (eastings > 2.5e7).all()
    assert (eastings < 2.6e7).all()


def test_degenerate_ring_is_dropped(shared_data: Path) -> None:
    # qie_i101_1.gml: 6 polygons, one ring with too few points (GE_R_TOO_FEW_POINTS)
    (obj,) = city_objects(shared_data / GML / "qie_i101_1.gml")
    assert obj.surfaces.polygon_count == 5


def test_part_reverses_wall_shared_with_its_building(shared_data: Path) -> None:
    # the garage reuses the building's wall GML_9f0465e6... through OrientableSurface "-"
    path = shared_data / GML / "ogc_v2_Building_and_garage_LOD2-EPSG25832.gml"
    part, parent = city_objects(path)
    written = np.array(
        [
            [458885.0, 5438355.0, 112.0],
            [458885.0, 5438355.0, 114.3],
            [458885.0, 5438351.0, 114.5],
            [458885.0, 5438351.0, 112.0],
        ]
    )
    assert any(np.array_equal(ring, written) for ring in rings(parent.surfaces))
    assert any(np.array_equal(ring, written[::-1]) for ring in rings(part.surfaces))
    assert class_counts(part.surfaces)[SurfaceClass.UNCLASSIFIED] == 0


@pytest.mark.parametrize(("orientation", "reversed_"), [("+", False), ("-", True)])
def test_orientable_surface_orientation(
    write_citygml: WriteCityGML, orientation: str, reversed_: bool
) -> None:
    surface = (
        f'<gml:OrientableSurface orientation="{orientation}"><gml:baseSurface>'
        f"{polygon()}</gml:baseSurface></gml:OrientableSurface>"
    )
    path = write_citygml("orientable_surface.gml", building(lod2_surface(surface)))
    (obj,) = city_objects(path)
    square = np.array(SQUARE.split(), dtype=float).reshape(-1, 3)[:-1]
    assert np.array_equal(obj.surfaces.coords, square[::-1] if reversed_ else square)


@pytest.mark.parametrize(
    ("ring_xml", "expected"),
    [
        (f"<gml:posList>{SQUARE}</gml:posList>", "0 0 0 1 0 0 1 1 0 0 1 0"),
        (
            '<gml:posList srsDimension="2">0 0 1 0 1 1 0 1 0 0</gml:posList>',
            "0 0 0 1 0 0 1 1 0 0 1 0",
        ),
        (
            "<gml:pos>0 0 5</gml:pos><gml:pos>1 0 5</gml:pos><gml:pos>1 1 5</gml:pos>"
            "<gml:pos>0 0 5</gml:pos>",
            "0 0 5 1 0 5 1 1 5",
        ),
        ("<gml:coordinates>0,0,2 1,0,2 1,1,2 0,0,2</gml:coordinates>", "0 0 2 1 0 2 1 1 2"),
    ],
    ids=["posList", "posList-2d", "pos", "coordinates"],
)
def test_ring_encodings(write_citygml: WriteCityGML, ring_xml: str, expected: str) -> None:
    poly = (
        "<gml:Polygon><gml:exterior><gml:LinearRing>"
        f"{ring_xml}</gml:LinearRing></gml:exterior></gml:Polygon>"
    )
    (obj,) = city_objects(write_citygml("ring_encoding.gml", building(lod2_surface(poly))))
    assert np.array_equal(
        obj.surfaces.coords, np.array(expected.split(), dtype=float).reshape(-1, 3)
    )


FLAT_SQUARE = "0 0 1 0 1 1 0 1 0 0"
"""The unit square as 2D points, for an srsDimension of 2 written around its posList."""


def flat_surface(where: str) -> str:
    """Return a 2D square whose ``srsDimension="2"`` sits on the element named ``where``."""
    dim = {name: ' srsDimension="2"' if name == where else "" for name in ("ms", "ring")}
    return (
        f"<bldg:lod2MultiSurface><gml:MultiSurface{dim['ms']}><gml:surfaceMember>"
        f"<gml:Polygon><gml:exterior><gml:LinearRing{dim['ring']}>"
        f"<gml:posList>{FLAT_SQUARE}</gml:posList></gml:LinearRing></gml:exterior>"
        "</gml:Polygon></gml:surfaceMember></gml:MultiSurface></bldg:lod2MultiSurface>"
    )


@pytest.mark.parametrize("where", ["ms", "ring"], ids=["on-MultiSurface", "on-LinearRing"])
def test_srs_dimension_of_an_enclosing_geometry_applies(
    write_citygml: WriteCityGML, where: str
) -> None:
    (obj,) = city_objects(write_citygml("ancestor_dim.gml", building(flat_surface(where))))
    assert obj.surfaces.coords.tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]


def test_srs_dimension_of_another_building_does_not_apply(write_citygml: WriteCityGML) -> None:
    # Buildings are scanned for srsDimension one at a time: a 2D neighbour (before and after)
    # leaves a building without one in 3D, and the model envelope's srsDimension is no ancestor.
    envelope = (
        '<gml:boundedBy><gml:Envelope srsName="EPSG:25832" srsDimension="2">'
        "<gml:lowerCorner>0 0</gml:lowerCorner><gml:upperCorner>9 9</gml:upperCorner>"
        "</gml:Envelope></gml:boundedBy>\n"
    )
    flat = building(flat_surface("ms"), gml_id="b-flat")
    body = envelope + flat + building(lod2_surface(polygon()), gml_id="b-3d") + flat
    objs = city_objects(write_citygml("neighbour_dim.gml", body))
    assert [o.id for o in objs] == ["b-flat", "b-3d", "b-flat"]
    assert [len(o.surfaces.coords) for o in objs] == [4, 4, 4]
    assert objs[1].surfaces.coords.tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]


def test_unparsable_poslist_rejects_the_object(write_citygml: WriteCityGML) -> None:
    bad = polygon("0 0 0 1 0 0 1 x 0 0 0 0", gml_id="bad-polygon")
    good = building(lod2_surface(polygon()), gml_id="b-good")
    path = write_citygml("bad_poslist.gml", building(lod2_surface(bad), gml_id="b-bad") + good)
    rejection, kept = read_all(path)
    assert isinstance(rejection, Rejection)
    assert (rejection.object_id, rejection.source.line) == ("b-bad", 7)
    assert "polygon bad-polygon at line 7" in rejection.reason
    assert not isinstance(kept, Rejection)
    assert kept.id == "b-good"


PACKED_TOGETHER = {
    "plain": lod2_surface(polygon()),
    "degenerate": lod2_surface(polygon("0 0 0 1 0 0 0 0 0", gml_id="poly-0"))
    + lod2_surface(polygon()),
    "unclosed": lod2_surface(polygon("0 0 0 2 0 0 2 2 0 0 2 0")),
    "reversed": lod2_surface(
        '<gml:OrientableSurface orientation="-"><gml:baseSurface>'
        f"{polygon('5 5 0 6 5 0 6 6 0 5 5 0')}</gml:baseSurface></gml:OrientableSurface>"
    ),
    "flat-2d": lod2_surface(
        '<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList srsDimension="2">'
        "0 0 3 0 3 3 0 0</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
    ),
}


def test_buildings_read_together_are_read_as_alone(write_citygml: WriteCityGML) -> None:
    # The coordinates of consecutive buildings are converted in one pass: each must still
    # get its own rings, dropped-ring count and unclosed-ring count.
    together = "".join(building(inner, gml_id=name) for name, inner in PACKED_TOGETHER.items())
    batch = city_objects(write_citygml("together.gml", together))
    alone = [
        city_objects(write_citygml(f"alone-{name}.gml", building(inner, gml_id=name)))[0]
        for name, inner in PACKED_TOGETHER.items()
    ]
    assert [o.id for o in batch] == list(PACKED_TOGETHER)
    for got, expected in zip(batch, alone, strict=True):
        np.testing.assert_array_equal(got.surfaces.coords, expected.surfaces.coords)
        np.testing.assert_array_equal(got.surfaces.ring_offsets, expected.surfaces.ring_offsets)
        assert got.surfaces.polygon_offsets.tolist() == expected.surfaces.polygon_offsets.tolist()
        assert got.issues == expected.issues
    issues = {o.id: o.issues for o in batch}
    assert issues["degenerate"] == (
        "GE_R_TOO_FEW_POINTS: 1 ring(s) with fewer than 3 distinct points dropped",
    )
    assert issues["unclosed"][0].startswith("GE_R_NOT_CLOSED: 1 ring(s)")
    assert batch[3].surfaces.coords.tolist() == [[6, 6, 0], [6, 5, 0], [5, 5, 0]]  # reversed


def test_an_ade_property_named_like_a_citygml_one_is_walked(write_citygml: WriteCityGML) -> None:
    # the walk skips CityGML's own address, appearance … properties (they hold no geometry by
    # the schemas), not an ADE's property that merely has the same local name
    part = (
        '<bldg:BuildingPart gml:id="p-1">'
        f"{lod2_surface(polygon(gml_id='poly-p'))}</bldg:BuildingPart>"
    )
    ade = f'<ade:address xmlns:ade="https://example.org/ade">{part}</ade:address>'
    path = write_citygml("ade.gml", building(ade + lod2_surface(polygon())))
    objects = city_objects(path)
    assert [(o.id, o.parent_id) for o in objects] == [("p-1", "b-1"), ("b-1", None)]
