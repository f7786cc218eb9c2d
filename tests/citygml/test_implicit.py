"""ImplicitGeometry: prototype × matrix + reference point; library geometry reused by xlink."""

from __future__ import annotations

import numpy as np

from .documents import SQUARE, WriteCityGML, city_objects, polygon

MATRIX = "2 0 0 10  0 2 0 20  0 0 2 30  0 0 0 1"


def furniture(gml_id: str, relative: str, reference: str) -> str:
    return (
        f'<cityObjectMember><frn:CityFurniture gml:id="{gml_id}">'
        "<frn:lod2ImplicitRepresentation><ImplicitGeometry>"  # core namespace (default)
        f"<transformationMatrix>{MATRIX}</transformationMatrix>"
        f"{relative}"
        f"<referencePoint><gml:Point><gml:pos>{reference}</gml:pos></gml:Point></referencePoint>"
        "</ImplicitGeometry></frn:lod2ImplicitRepresentation>"
        "</frn:CityFurniture></cityObjectMember>\n"
    )


def test_implicit_geometry_is_placed_and_library_reused(write_citygml: WriteCityGML) -> None:
    prototype = f'<gml:MultiSurface gml:id="bench"><gml:surfaceMember>{polygon(SQUARE)}'
    prototype += "</gml:surfaceMember></gml:MultiSurface>"
    inline = f"<relativeGMGeometry>{prototype}</relativeGMGeometry>"
    body = furniture("f1", inline, "100 200 0")
    body += furniture("f2", '<relativeGMGeometry xlink:href="#bench"/>', "0 0 0")
    header_ns = 'xmlns:frn="http://www.opengis.net/citygml/cityfurniture/2.0"'
    path = write_citygml("implicit.gml", body)
    path.write_text(path.read_text().replace("<CityModel ", f"<CityModel {header_ns} ", 1))
    first, second = city_objects(path, types=None)
    assert (first.type, first.lod) == ("CityFurniture", 2)
    expected = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]) * 2 + [10, 20, 30]
    np.testing.assert_allclose(first.surfaces.coords, expected + np.array([100.0, 200, 0]))
    np.testing.assert_allclose(second.surfaces.coords, expected)


def test_defects_of_a_prototype_are_reported_where_it_is_placed(
    write_citygml: WriteCityGML,
) -> None:
    unclosed = "0 0 0 1 0 0 1 1 0 0 1 0"  # the square without its closing vertex
    prototype = f'<gml:MultiSurface gml:id="open"><gml:surfaceMember>{polygon(unclosed)}'
    prototype += "</gml:surfaceMember></gml:MultiSurface>"
    body = furniture("f1", f"<relativeGMGeometry>{prototype}</relativeGMGeometry>", "0 0 0")
    body += furniture("f2", '<relativeGMGeometry xlink:href="#open"/>', "5 0 0")
    header_ns = 'xmlns:frn="http://www.opengis.net/citygml/cityfurniture/2.0"'
    path = write_citygml("implicit_open.gml", body)
    path.write_text(path.read_text().replace("<CityModel ", f"<CityModel {header_ns} ", 1))
    first, second = city_objects(path, types=None)
    for obj in (first, second):
        assert obj.surfaces.polygon_count == 1
        assert any(i.startswith("GE_R_NOT_CLOSED: 1 ring(s)") for i in obj.issues), obj.issues
