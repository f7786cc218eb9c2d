"""A local engineering CRS (srsName ``#<id>``) placed by its datum's anchor point, or refused."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from twin.model import CityObject

from .documents import SQUARE, WriteCityGML, building, read_all

METRE = "urn:ogc:def:uom:EPSG::9001"
ANCHOR = '<gml:anchorPoint codeSpace="EPSG:25832">458868.0 5438343.0 112.0</gml:anchorPoint>'


def engineering_crs(
    anchor: str = ANCHOR,
    axes: tuple[tuple[str, str], ...] = (("X", METRE), ("Y", METRE), ("Z", METRE)),
    cs: str = "CartesianCS",
) -> str:
    """Return a CityModel metaDataProperty defining ``local-1`` (GML 3.1.1 spelling)."""
    axis_xml = "".join(
        f'<gml:usesAxis><gml:CoordinateSystemAxis gml:id="axis-{i}" gml:uom="{uom}">'
        f"<gml:axisAbbrev>{d.lower()}</gml:axisAbbrev>"
        f'<gml:axisDirection codeSpace="XYZ">{d}</gml:axisDirection>'
        "</gml:CoordinateSystemAxis></gml:usesAxis>"
        for i, (d, uom) in enumerate(axes, 1)
    )
    return (
        '<gml:metaDataProperty><gml:EngineeringCRS gml:id="local-1">'
        f'<gml:srsName>local</gml:srsName><gml:usesCS><gml:{cs} gml:id="cs-1">{axis_xml}'
        f"</gml:{cs}></gml:usesCS><gml:usesEngineeringDatum>"
        f'<gml:EngineeringDatum gml:id="datum-1"><gml:datumName>d</gml:datumName>{anchor}'
        "</gml:EngineeringDatum></gml:usesEngineeringDatum></gml:EngineeringCRS>"
        "</gml:metaDataProperty>\n"
    )


def local_building(srs_name: str = "#local-1") -> str:
    """Return a Building whose LoD2 MultiSurface is a unit square in ``srs_name``."""
    surface = (
        f'<gml:MultiSurface srsName="{srs_name}"><gml:surfaceMember><gml:Polygon><gml:exterior>'
        f"<gml:LinearRing><gml:posList>{SQUARE}</gml:posList></gml:LinearRing></gml:exterior>"
        "</gml:Polygon></gml:surfaceMember></gml:MultiSurface>"
    )
    return building(f"<bldg:lod2MultiSurface>{surface}</bldg:lod2MultiSurface>")


def only_object(write_citygml: WriteCityGML, body: str) -> CityObject:
    (obj,) = read_all(write_citygml("local.gml", body))
    assert isinstance(obj, CityObject)
    return obj


@pytest.mark.parametrize(
    ("anchor", "world", "origin"),
    [
        pytest.param(ANCHOR, "EPSG:25832", (458868.0, 5438343.0, 112.0), id="gml-3.1-anchorPoint"),
        pytest.param(
            '<gml:anchorDefinition codeSpace="urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783">'
            " 10.5 20.25 3 </gml:anchorDefinition>",
            "urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783",
            (10.5, 20.25, 3.0),
            id="gml-3.2-anchorDefinition",
        ),
        pytest.param(
            '<gml:anchorPoint codeSpace="EPSG:25832">100 200</gml:anchorPoint>',
            "EPSG:25832",
            (100.0, 200.0, 0.0),
            id="two-values",
        ),
    ],
)
def test_local_crs_is_shifted_by_its_anchor_into_the_world_crs(
    write_citygml: WriteCityGML, anchor: str, world: str, origin: tuple[float, float, float]
) -> None:
    obj = only_object(write_citygml, engineering_crs(anchor) + local_building())
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float64)
    np.testing.assert_array_equal(obj.surfaces.coords, square + np.array(origin))
    assert obj.srs_name == world
    anchor_text = " ".join(str(v) for v in origin)
    assert obj.srs_placement == (
        f"local engineering CRS '#local-1' placed by its anchor point ({anchor_text}) in "
        f"{world}: coordinates shifted by the anchor; the datum defines no rotation, so none "
        "is applied"
    )


def test_east_north_up_axes_are_placed_too(write_citygml: WriteCityGML) -> None:
    axes = (("east", METRE), ("north", METRE), ("up", METRE))
    obj = only_object(write_citygml, engineering_crs(axes=axes) + local_building())
    assert obj.srs_name == "EPSG:25832"


def test_srs_name_of_another_kind_is_left_alone(write_citygml: WriteCityGML) -> None:
    obj = only_object(write_citygml, engineering_crs() + local_building("EPSG:25832"))
    assert obj.srs_name == "EPSG:25832"
    assert obj.srs_placement is None
    assert obj.surfaces.coords.max() == 1.0


@pytest.mark.parametrize(
    ("definition", "srs_name", "reason"),
    [
        pytest.param(
            engineering_crs(anchor=""),
            "#local-1",
            "its datum has no anchor point (gml:anchorPoint / anchorDefinition)",
            id="no-anchor",
        ),
        pytest.param(
            engineering_crs(anchor="<gml:anchorPoint>1 2 3</gml:anchorPoint>"),
            "#local-1",
            "its anchor point names no world CRS (no codeSpace)",
            id="anchor-without-crs",
        ),
        pytest.param(
            engineering_crs(anchor='<gml:anchorPoint codeSpace="EPSG:25832">a b</gml:anchorPoint>'),
            "#local-1",
            "its anchor point 'a b' is not 2 or 3 coordinates",
            id="anchor-not-numbers",
        ),
        pytest.param(
            engineering_crs(axes=(("X", METRE), ("Y", "urn:ogc:def:uom:EPSG::9102"))),
            "#local-1",
            "its axis axis-2 is in 'urn:ogc:def:uom:EPSG::9102', not metres",
            id="angular-unit",
        ),
        pytest.param(
            engineering_crs(axes=(("Y", METRE), ("X", METRE), ("Z", METRE))),
            "#local-1",
            "its axis direction 'Y' is not 'X' or 'east'",
            id="swapped-axes",
        ),
        pytest.param(
            engineering_crs(cs="PolarCS"),
            "#local-1",
            "its coordinate system is not a gml:CartesianCS",
            id="not-cartesian",
        ),
        pytest.param(
            engineering_crs(),
            "#elsewhere",
            "no gml:EngineeringCRS with that gml:id precedes it in the file",
            id="undefined-id",
        ),
    ],
)
def test_unplaceable_local_crs_is_left_as_written_and_logged(
    write_citygml: WriteCityGML,
    caplog: pytest.LogCaptureFixture,
    definition: str,
    srs_name: str,
    reason: str,
) -> None:
    with caplog.at_level(logging.WARNING, logger="twin.citygml.local_crs"):
        obj = only_object(write_citygml, definition + local_building(srs_name))
    assert obj.srs_name == srs_name  # the import refuses it, unless --crs is given
    assert obj.srs_placement is None
    assert obj.surfaces.coords.max() == 1.0
    (message,) = [r.getMessage() for r in caplog.records]
    expected = f"local engineering CRS '{srs_name}' cannot be placed on the globe: {reason}"
    assert re.fullmatch(r".*/local\.gml(:\d+)?: " + re.escape(expected), message), message
