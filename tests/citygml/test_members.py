"""Members read in another process give what the reader gives in the parsing process.

Each batch of members the reader hands on is read by ``read_members`` (as a worker does,
from the serialised bytes); the result, merged in order with what was read in place, must
equal the plain reader's: same objects, coordinates, rejections and ``file:line``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from synth import synth_city

from twin.citygml import iter_city_objects
from twin.citygml.members import MemberBatch, shipped_member
from twin.citygml.reader import read_members
from twin.model import CityObject, Rejection

from .documents import WriteCityGML, building, lod2_surface, polygon
from .test_feature_members import as_feature_members
from .test_implicit import furniture


def _shipped(path: Path, **options: Any) -> tuple[list[CityObject | Rejection], int]:
    """Return what the reader yields with members read as a worker reads them, and how many
    members were handed on."""
    read: list[CityObject | Rejection] = []
    members = 0
    for item in iter_city_objects(path, ship=True, **options):
        if isinstance(item, MemberBatch):
            members += len(item.members)
            read += read_members(pickle.loads(pickle.dumps(item)))
        else:
            read.append(item)
    return read, members


def _same(path: Path, **options: Any) -> int:
    """Assert both ways of reading ``path`` give the same; return the members handed on."""
    here = list(iter_city_objects(path, **options))
    there, members = _shipped(path, **options)
    assert [pickle.dumps(o) for o in there] == [pickle.dumps(o) for o in here]
    return members


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("teco_district1_LoD2.gml", {}),
        ("nds_LoD1_24085862_2_2021-01-25.gml", {}),  # parts; some members multi-line tags
        ("nds_LoD1_24085862_2_2021-01-25.gml", {"types": ("Building",)}),
        ("plateau_53361601_trk_6697.gml", {"lod": "all"}),
        ("plateau_hodokyo_51324378_brid_6697.gml", {"lod": "all"}),
        ("ogc_v2_Building_LOD1-LocalEngineeringCRS.gml", {}),  # a local CRS, placed
        ("ogc_v2_Building_LOD4-EPSG25832.gml", {"lod": "all"}),
        ("c4j_lod2_buildings_v3.gml", {}),  # CityGML 3.0
        ("c4j_LOD2_Buildings_v100.gml", {"keep_going": True}),  # CityGML 1.0, no srsName
        ("plateauosm_53395404_bldg_6697_op.gml", {}),
        (
            "ogc_Buildings_CityGML3.0_LOD2_with_PointClouds_external_individual_laz_files.gml.gz",
            {},
        ),
    ],
)
def test_real_files_read_the_same_in_a_worker(
    shared_data: Path, name: str, options: dict[str, Any]
) -> None:
    assert _same(shared_data / "citygml" / name, **options) > 0


def test_a_document_with_appearances_is_read_in_place(shared_data: Path) -> None:
    name = "plateau_52397519_bldg_6697_op"
    assert _same(shared_data / "citygml" / name / f"{name}.gml") == 0


def _line_of(path: Path, text: str, last: bool = False) -> int:
    """Return the 1-based line of ``path`` where ``text`` (its first or last occurrence) starts:
    an oracle independent of the parser."""
    content = path.read_text()
    return content.count("\n", 0, content.rindex(text) if last else content.index(text)) + 1


def test_lines_are_the_files_in_a_member_read_elsewhere(write_citygml: WriteCityGML) -> None:
    members = "\n\n".join(building(lod2_surface(polygon()), f"b-{k}") for k in range(5))
    bad_ring = lod2_surface(polygon("0 0 0 1 0 x", "poly-bad"))
    path = write_citygml("lines.gml", "\n\n" + members + building(bad_ring, "b-bad"))
    there, shipped = _shipped(path)
    assert shipped == 6
    assert [o.source.line for o in there] == [
        _line_of(path, f'<bldg:Building gml:id="b-{k}">') for k in [*range(5), "bad"]
    ]
    assert isinstance(there[-1], Rejection)
    assert f"line {_line_of(path, '<gml:LinearRing>', last=True)}" in there[-1].reason


def test_a_member_with_a_start_tag_over_two_lines_is_read_in_place(
    write_citygml: WriteCityGML,
) -> None:
    split = polygon().replace('<gml:Polygon gml:id="poly-1">', '<gml:Polygon\n gml:id="poly-1">')
    body = building(lod2_surface(polygon()), "b-1") + building(lod2_surface(split), "b-2")
    path = write_citygml("split.gml", body + building(lod2_surface(polygon()), "b-3"))
    assert _same(path) == 2
    root = etree.parse(str(path)).getroot()
    assert [shipped_member(member, True, None) is not None for member in root] == [
        True,
        False,
        True,
    ]
    assert [o.source.line for o in _shipped(path)[0]] == [
        _line_of(path, f'<bldg:Building gml:id="b-{k}">') for k in (1, 2, 3)
    ]


def test_a_member_with_a_newline_inside_an_attribute_is_read_in_place(
    write_citygml: WriteCityGML,
) -> None:
    # written over two lines; the parser makes the newline a space (XML 1.0 §3.3.3)
    inner = '<gen:stringAttribute name="a\nb"><gen:value>1</gen:value></gen:stringAttribute>\n'
    path = write_citygml("attribute.gml", building(inner + lod2_surface(polygon()), "b-1"))
    assert _same(path) == 0


def test_an_srsname_on_the_model_keeps_its_members_in_place(write_citygml: WriteCityGML) -> None:
    path = write_citygml("model-srs.gml", building(lod2_surface(polygon())))
    path.write_text(path.read_text().replace("<CityModel ", '<CityModel srsName="EPSG:25832" '))
    assert _same(path) == 0
    (obj,) = iter_city_objects(path)
    assert isinstance(obj, CityObject)
    assert obj.srs_name == "EPSG:25832"


def test_the_model_envelope_srsname_reaches_members_read_elsewhere(
    write_citygml: WriteCityGML,
) -> None:
    envelope = (
        '<gml:boundedBy><gml:Envelope srsName="EPSG:25832"><gml:lowerCorner>0 0 0'
        "</gml:lowerCorner><gml:upperCorner>1 1 1</gml:upperCorner></gml:Envelope>"
        "</gml:boundedBy>\n"
    )
    path = write_citygml("envelope.gml", envelope + building(lod2_surface(polygon())))
    (obj,), shipped = _shipped(path)
    assert shipped == 1
    assert isinstance(obj, CityObject)
    assert obj.srs_name == "EPSG:25832"


def test_implicit_prototypes_shared_across_members_resolve_in_place(
    write_citygml: WriteCityGML,
) -> None:
    prototype = f'<gml:MultiSurface gml:id="bench"><gml:surfaceMember>{polygon()}'
    prototype += "</gml:surfaceMember></gml:MultiSurface>"
    body = furniture("f1", f"<relativeGMGeometry>{prototype}</relativeGMGeometry>", "1 2 0")
    body += building(lod2_surface(polygon()), "b-1")
    body += furniture("f2", '<relativeGMGeometry xlink:href="#bench"/>', "0 0 0")
    path = write_citygml("implicit.gml", body)
    header_ns = 'xmlns:frn="http://www.opengis.net/citygml/cityfurniture/2.0"'
    path.write_text(path.read_text().replace("<CityModel ", f"<CityModel {header_ns} ", 1))
    assert _same(path) == 1  # the building
    *_, used = _shipped(path)[0]
    assert isinstance(used, CityObject)
    assert (used.id, used.surfaces.polygon_count) == ("f2", 1)


def test_malformed_xml_keeps_the_objects_before_the_error(write_citygml: WriteCityGML) -> None:
    members = "".join(building(lod2_surface(polygon()), f"b-{k}") for k in range(3))
    path = write_citygml("broken.gml", members + "<cityObjectMember><bldg:Building></oops>")
    assert _same(path, keep_going=True) == 3
    *objects, error = _shipped(path, keep_going=True)[0]
    assert [o.id for o in objects] == ["b-0", "b-1", "b-2"]
    assert isinstance(error, Rejection)
    assert error.object_type == "document"


def test_a_line_past_65535_libxml2_cannot_place_is_unknown(write_citygml: WriteCityGML) -> None:
    # no text within 5 nodes of the start tags: libxml2 gives no line, so none is named, and
    # the members are read in place
    anonymous = f"<cityObjectMember><bldg:Building>{lod2_surface(polygon())}"
    anonymous += "</bldg:Building></cityObjectMember>\n"
    bad_ring = lod2_surface(polygon("0 0 0 1 0 x", "poly-bad"))
    body = "\n" * 70_000 + building(lod2_surface(polygon()), "b-1") + anonymous
    path = write_citygml("long.gml", body + building(bad_ring, "b-bad"))
    assert _same(path) == 0
    read = list(iter_city_objects(path))
    assert [o.source.line for o in read] == [0, 0, 0]
    assert read[1].id == "long-0"


def _pretty(xml: str) -> str:
    """Return ``xml`` with every element on a line of its own, as exporters write it."""
    return xml.replace("><", ">\n  <")


@pytest.mark.parametrize("ship", [False, True])
def test_lines_past_65535_are_exact(write_citygml: WriteCityGML, ship: bool) -> None:
    # libxml2 keeps no element line past 65535 and estimates one from the text after the
    # start tag, a line late in a pretty-printed file; messages must name the file's line.
    bad_ring = lod2_surface(polygon("0 0 0 1 0 x", "poly-bad"))
    anonymous = f"<cityObjectMember><bldg:Building>{lod2_surface(polygon())}"
    anonymous += "</bldg:Building></cityObjectMember>\n"
    members = building(lod2_surface(polygon()), "b-1") + anonymous + building(bad_ring, "b-bad")
    path = write_citygml("long.gml", "\n" * 70_000 + _pretty(members))
    if ship:
        read, shipped = _shipped(path)
        assert shipped == 3
    else:
        read = list(iter_city_objects(path))
    starts = ['<bldg:Building gml:id="b-1">', "<bldg:Building>", '<bldg:Building gml:id="b-bad">']
    assert [o.source.line for o in read] == [_line_of(path, text) for text in starts]
    assert read[1].id == f"long-{_line_of(path, '<bldg:Building>')}"
    assert isinstance(read[2], Rejection)
    assert f"line {_line_of(path, '<gml:LinearRing>', last=True)}:" in read[2].reason


def test_children_of_feature_members_are_read_elsewhere_as_here(tmp_path: Path) -> None:
    members = tmp_path / "members.gml"
    synth_city().write_city(members, 300, seed=5)
    plural = tmp_path / "plural.gml"
    plural.write_text(as_feature_members(members.read_text()))
    assert _same(plural) == 300
