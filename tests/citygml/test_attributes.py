"""Typed attributes and addresses; expected values read from the files with grep."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from twin.model import Address

from .documents import WriteCityGML, building, city_objects, lod2_surface, polygon

GML = "citygml"


def test_building_attributes_are_typed(shared_data: Path) -> None:
    # ogc_v2_Building_LOD2-EPSG25832.gml lines 21-28
    (obj,) = city_objects(shared_data / GML / "ogc_v2_Building_LOD2-EPSG25832.gml")
    assert obj.attributes == {
        "name": "Example Building LOD2",
        "function": "1000",
        "yearOfConstruction": 1985,
        "roofType": "1030",
        "measuredHeight": 5.0,
        "storeysAboveGround": 1,
        "storeyHeightsAboveGround": 3.0,
    }


def test_address_from_xal(shared_data: Path) -> None:
    # ogc_v2_Building_LOD2-EPSG25832.gml lines 186-197
    (obj,) = city_objects(shared_data / GML / "ogc_v2_Building_LOD2-EPSG25832.gml")
    assert obj.address == Address(
        street="Hermann-von-Helmholtz-Platz",
        house_number="1",
        postal_code="76344",
        locality="Eggenstein-Leopoldshafen",
        country="Germany",
    )


def test_address_from_xal3(shared_data: Path) -> None:
    # CityGML 3.0 with xAL 3: ogc_v3_Building_and_garage_LOD2-EPSG25832.gml lines 179-195
    objs = city_objects(shared_data / GML / "ogc_v3_Building_and_garage_LOD2-EPSG25832.gml")
    addressed = [o.address for o in objs if o.address is not None]
    assert addressed[0] == Address(
        street="Hermann-von-Helmholtz-Platz",
        house_number="1",
        postal_code="76344",
        locality="Eggenstein-Leopoldshafen",
        country="Germany",
    )


def test_xal3_street_is_not_the_reference_location(shared_data: Path) -> None:
    # ogc_Opera-Lyon_CityGML3.0_LOD2_with_xAL3_FullyStructured.gml lines 20565-20586: the
    # thoroughfare names a landmark (NameType="ReferenceLocation") and then the street
    name = "ogc_Opera-Lyon_CityGML3.0_LOD2_with_xAL3_FullyStructured.gml"
    addressed = [o.address for o in city_objects(shared_data / GML / name) if o.address]
    assert addressed == [
        Address(
            street="Place de la Comédie",
            house_number="1",
            postal_code="69001",
            locality="Lyon",
            country="France",
        )
    ]


def test_generic_attributes_and_partial_address(shared_data: Path) -> None:
    # hel_2549_6674.gml, first building (lines 6-378)
    first = city_objects(shared_data / GML / "hel_2549_6674.gml")[0]
    assert first.id == "BID_04b55dd6-c136-49a6-b142-723c0eb5ee89"
    attributes = first.attributes
    assert attributes["creationDate"] == dt.date(2019, 7, 29)
    assert attributes["CODE"] == "2018-110"
    assert attributes["C_KAYTTARK"] == ""  # <gen:value/>
    assert attributes["TILA_KOODI"] == 0
    assert attributes["RATU"] == 64497
    assert attributes["BuildingHeightNN"] == 27.0
    assert attributes["Integrate_LoD[2].integration_date"] == dt.date(2019, 8, 22)
    assert attributes["roofType"] == "2100"
    assert attributes["measuredHeight"] == 23.4
    # thematic surfaces carry their own generic attributes; they must not leak in
    assert "PolyAreaAbs" not in attributes
    assert first.address == Address(locality="Helsinki", country="Finland")


def test_part_has_its_own_attributes(shared_data: Path) -> None:
    # nds_LoD1...gml: building DENILD750000vLke (measuredHeight 5.18, Firsthoehe 43.905)
    # and its part DENILD4938297778652230968_687 (3.16, 41.885)
    objects = city_objects(shared_data / GML / "nds_LoD1_24085862_2_2021-01-25.gml")
    part, parent = objects[0], objects[1]
    assert (part.id, parent.id) == ("DENILD4938297778652230968_687", "DENILD750000vLke")
    assert (part.attributes["measuredHeight"], part.attributes["Firsthoehe"]) == (3.16, "41.885")
    assert (parent.attributes["measuredHeight"], parent.attributes["Firsthoehe"]) == (
        5.18,
        "43.905",
    )
    assert parent.attributes["function"] == "31001_2000"
    assert parent.address == Address(locality="Lorup", country="Germany")


def test_measured_height_in_feet_becomes_metres(write_citygml: WriteCityGML) -> None:
    inner = '<bldg:measuredHeight uom="ft">10</bldg:measuredHeight>' + lod2_surface(polygon())
    (obj,) = city_objects(write_citygml("height_in_feet.gml", building(inner)))
    assert obj.attributes["measuredHeight"] == 3.048


def test_generic_attribute_types(write_citygml: WriteCityGML) -> None:
    generics = (
        '<gen:intAttribute name="floors"><gen:value>3</gen:value></gen:intAttribute>'
        '<gen:doubleAttribute name="area"><gen:value>12.5</gen:value></gen:doubleAttribute>'
        '<gen:dateAttribute name="survey"><gen:value>2020-02-29</gen:value></gen:dateAttribute>'
        '<gen:uriAttribute name="link"><gen:value>https://example.org/b</gen:value></gen:uriAttribute>'
        '<gen:measureAttribute name="depth"><gen:value uom="m">1.5</gen:value>'
        "</gen:measureAttribute>"
        '<gen:stringAttribute name="note"><gen:value>42</gen:value></gen:stringAttribute>'
    )
    path = write_citygml("generic_types.gml", building(generics + lod2_surface(polygon())))
    (obj,) = city_objects(path)
    assert obj.attributes == {
        "floors": 3,
        "area": 12.5,
        "survey": dt.date(2020, 2, 29),
        "link": "https://example.org/b",
        "depth": 1.5,
        "note": "42",
    }


def test_external_reference_and_termination_date(write_citygml: WriteCityGML) -> None:
    # CityGML 2.0 core:externalReference: informationSystem + externalObject/name
    inner = (
        "<terminationDate>2031-12-31</terminationDate>"
        "<externalReference>"
        "<informationSystem>https://alkis.example/</informationSystem>"
        "<externalObject><name>DEBW_0001</name></externalObject>"
        "</externalReference>" + lod2_surface(polygon())
    )
    (obj,) = city_objects(write_citygml("external.gml", building(inner)))
    assert obj.attributes["terminationDate"] == dt.date(2031, 12, 31)
    assert obj.attributes["externalReference"] == "DEBW_0001"
    assert obj.attributes["externalReference.informationSystem"] == "https://alkis.example/"


CITYGML3_HEIGHTS = """<?xml version="1.0" encoding="UTF-8"?>
<CityModel xmlns="http://www.opengis.net/citygml/3.0"
    xmlns:bldg="http://www.opengis.net/citygml/building/3.0"
    xmlns:con="http://www.opengis.net/citygml/construction/3.0"
    xmlns:gml="http://www.opengis.net/gml/3.2">
<cityObjectMember><bldg:Building gml:id="b3">
  <con:height><con:Height><con:highReference>highestRoofEdge</con:highReference>
    <con:lowReference>lowestGroundPoint</con:lowReference><con:status>measured</con:status>
    <con:value uom="ft">20</con:value></con:Height></con:height>
  <con:height><con:Height><con:highReference>highestPoint</con:highReference>
    <con:lowReference>lowestGroundPoint</con:lowReference><con:status>estimated</con:status>
    <con:value uom="#m">9.5</con:value></con:Height></con:height>
  <bldg:lod2MultiSurface><gml:MultiSurface><gml:surfaceMember><gml:Polygon><gml:exterior>
    <gml:LinearRing><gml:posList>0 0 0 1 0 0 1 1 0 0 0 0</gml:posList></gml:LinearRing>
  </gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface></bldg:lod2MultiSurface>
</bldg:Building></cityObjectMember>
</CityModel>
"""


def test_citygml3_heights(tmp_path: Path) -> None:
    # the measured roof-edge-to-ground height is CityGML 2.0's measuredHeight (here in feet);
    # any other keeps its references in its name
    path = tmp_path / "heights3.gml"
    path.write_text(CITYGML3_HEIGHTS, encoding="utf-8")
    (obj,) = city_objects(path)
    assert obj.attributes["measuredHeight"] == 20 * 0.3048
    assert obj.attributes["height.highestPoint.lowestGroundPoint"] == 9.5
