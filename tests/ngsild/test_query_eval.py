"""Evaluating ``q`` against normalized entities (CIM 009 clause 4.9): truth tables."""

from __future__ import annotations

from typing import Any

import pytest

from twin.ngsild.query import evaluate_q, parse_q

CAR: dict[str, Any] = {
    "id": "urn:ngsi-ld:Vehicle:A4567",
    "type": "Vehicle",
    "brandName": {"type": "Property", "value": "Mercedes"},
    "speed": {"type": "Property", "value": 80, "observedAt": "2024-03-01T10:00:00Z"},
    "rpm": {"type": "Property", "value": 2000},
    "isParked": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:Downtown1"},
    "temperature": [
        {"type": "Property", "value": 21.5, "datasetId": "urn:ngsi-ld:Dataset:inside"},
        {
            "type": "Property",
            "value": 4,
            "datasetId": "urn:ngsi-ld:Dataset:outside",
            "observedAt": "2023-12-31T23:00:00Z",
        },
    ],
    "address": {
        "type": "Property",
        "value": {"addressLocality": "Berlin", "postalCode": "10115", "geo": {"floor": 3}},
    },
    "colors": {"type": "Property", "value": ["blue", "red", "green"]},
    "name": {"type": "LanguageProperty", "languageMap": {"en": "red car", "fr": "voiture rouge"}},
    "open": {"type": "Property", "value": True},
    "since": {"type": "Property", "value": {"@type": "DateTime", "@value": "2020-05-01T08:00:00Z"}},
    "built": {"type": "Property", "value": "2019-06-30"},
    "opens": {"type": "Property", "value": "08:30:00Z"},
    "sensor": {
        "type": "Property",
        "value": 40,
        "rawdata": {"type": "Property", "value": {"airquality": {"particulate": 40}}},
    },
    "fleet": {
        "type": "ListRelationship",
        "objectList": [{"object": "urn:ngsi-ld:Car:1"}, {"object": "urn:ngsi-ld:Car:2"}],
    },
    "category": {"type": "VocabProperty", "vocab": "commercial"},
    "https://schema.org/name": {"type": "Property", "value": "x"},
    "count": {"type": "Property", "value": "20"},
}

TRUTH: list[tuple[str, bool]] = [
    # existence (example 0, 5); a term on a missing attribute is false, even !=
    ("brandName", True),
    ("isMonitoredBy", False),
    ("!isMonitoredBy", True),
    ("!brandName", False),
    ("isMonitoredBy!=1", False),
    ("isMonitoredBy==1", False),
    ("isMonitoredBy<1", False),
    # strings and numbers
    ('brandName=="Mercedes"', True),
    ('brandName!="Mercedes"', False),
    ('brandName!="Audi"', True),
    ("speed>50", True),
    ("speed>80", False),
    ("speed>=80", True),
    ("speed<80.5", True),
    ("speed<=79", False),
    ("speed==80.0", True),
    ('speed=="80"', False),  # different data types never match ...
    ('speed!="80"', True),  # ... and are unequal
    ('count=="20"', True),
    ("count==20", False),
    ('brandName>"Audi"', True),
    ('brandName<"Audi"', False),
    # logic (examples 4, 6, 7)
    ('speed>50;brandName!="Mercedes"', False),
    ('((speed>50|rpm>3000);brandName=="Mercedes")', True),
    ('(speed>90|rpm>3000);brandName=="Mercedes"', False),
    ("speed>90|rpm>1000;rpm<3000", True),
    ("(speed>90|rpm>1000);rpm>3000", False),
    # ranges and lists
    ("speed==70..90", True),
    ("speed==80..80", True),
    ("speed==81..90", False),
    ("speed!=81..90", True),
    ("speed!=70..90", False),
    ('brandName=="Audi","Mercedes"', True),
    ('brandName!="Audi","Mercedes"', False),
    ('brandName!="Audi","BMW"', True),
    ('brandName=="A".."N"', True),
    # relationships: == and != only
    ("isParked==urn:ngsi-ld:OffStreetParking:Downtown1", True),
    ('isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"', True),
    ("isParked!=urn:ngsi-ld:OffStreetParking:Downtown1", False),
    ("isParked==urn:ngsi-ld:OffStreetParking:Other,urn:ngsi-ld:OffStreetParking:Downtown1", True),
    ('isParked>"urn"', False),
    ("isParked~=Downtown", False),
    ("fleet==urn:ngsi-ld:Car:2", True),
    ("fleet!=urn:ngsi-ld:Car:2", False),
    ("fleet!=urn:ngsi-ld:Car:3", True),
    # multi-attributes: any instance
    ("temperature>20", True),
    ("temperature<5", True),
    ("temperature>30", False),
    ("temperature==4", True),
    ("temperature!=4", False),
    # arrays: any element for ==, none for !=
    ('colors=="red"', True),
    ('colors=="black","red"', True),
    ('colors!="red"', False),
    ('colors!="black"', True),
    # sub-attributes (example 8)
    ("speed.observedAt>=2024-01-01T12:00:00Z", True),
    ("speed.observedAt<2024-01-01T12:00:00Z", False),
    ("speed.observedAt==2024-03-01T11:00:00+01:00", True),
    ("temperature.observedAt<2024-01-01T00:00:00Z", True),
    ("speed.observedAt", True),
    ("rpm.observedAt", False),
    ("rpm.observedAt<2024-01-01T00:00:00Z", False),
    ("sensor.rawdata", True),
    # compound values (examples 9, 10)
    ('address[addressLocality]=="Berlin"', True),
    ('address[addressLocality]!="Berlin"', False),
    ('address[addressLocality]=="Paris"', False),
    ("address[geo.floor]>=3", True),
    ("address[country]", False),
    ('address[country]!="DE"', False),
    ("address[addressLocality.x]", False),
    ("sensor.rawdata[airquality.particulate]==40", True),
    ('address=="Berlin"', False),
    # language maps
    ('name=="red car"', True),
    ('name[*]=="voiture rouge"', True),
    ('name[en]=="red car"', True),
    ('name[fr]=="red car"', False),
    ('name[en]!="red car"', False),
    ('name[de]=="red car"', False),
    # other attribute kinds
    ('category=="commercial"', True),
    ('https://schema.org/name=="x"', True),
    # booleans never equal numbers
    ("open==true", True),
    ("open==false", False),
    ("open==1", False),
    ("rpm==true", False),
    # dateTimes, dates, times as temporal values
    ("since>2020-01-01T00:00:00Z", True),
    ("since<2020-05-01T08:00:00.001Z", True),
    ("since==2020-05-01T08:00:00Z", True),
    ("since>2020-01-01", False),  # a date is not a dateTime
    ("built<2020-01-01", True),
    ("built==2019-06-30", True),
    ("built>2019-06-30", False),
    ("built==2019-06-01..2019-07-01", True),
    ("opens<09:00:00", True),
    ("opens>=08:30:00Z", True),
    ("brandName>2020-01-01T00:00:00Z", False),
    # patterns: search anywhere, anchors when wanted
    ('brandName~="ced"', True),
    ('brandName~="^ced"', False),
    ('brandName~="(?i)^mer"', True),
    ("brandName~=^Merc(edes|ury)$", True),
    ('brandName!~="ced"', False),
    ('brandName!~="^ced"', True),
    ('colors~="^gr"', True),
    ('speed~="8"', False),  # not a string: never matches
    ('speed!~="8"', False),
    ('name~="rouge"', True),
]


@pytest.mark.parametrize(("q", "expected"), TRUTH, ids=[q for q, _ in TRUTH])
def test_truth_table(q: str, expected: bool) -> None:
    assert evaluate_q(parse_q(q), CAR) is expected


CONCISE: dict[str, Any] = {
    "id": "urn:ngsi-ld:Vehicle:B",
    "speed": {"value": 30},
    "isParked": {"object": "urn:ngsi-ld:OffStreetParking:Downtown1"},
}


@pytest.mark.parametrize(
    ("q", "expected"),
    [("speed<40", True), ("isParked==urn:ngsi-ld:OffStreetParking:Downtown1", True)],
)
def test_type_inferred_when_omitted(q: str, expected: bool) -> None:
    assert evaluate_q(parse_q(q), CONCISE) is expected
