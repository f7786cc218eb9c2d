"""The parser never expands entities nor reads external ones; the declared encoding is honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.citygml import iter_city_objects
from twin.errors import CityGMLError

from .documents import FOOTER, HEADER, building, city_objects, lod2_surface, polygon

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE CityModel [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<CityModel xmlns="http://www.opengis.net/citygml/2.0">&lol9;</CityModel>
"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE CityModel [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<CityModel xmlns="http://www.opengis.net/citygml/2.0">&secret;</CityModel>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_documents_declaring_entities_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "evil.gml"
    path.write_text(text)
    with pytest.raises(CityGMLError, match=r"evil\.gml:\d+: the document declares XML entities"):
        list(iter_city_objects(path))


def test_iso_8859_1_declared_encoding_is_honoured(tmp_path: Path) -> None:
    body = building(
        "<gml:name>Stra\u00dfe M\u00fcller</gml:name>" + lod2_surface(polygon()), "b-\u00e9"
    )
    text = (HEADER + body + FOOTER).replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    path = tmp_path / "latin1.gml"
    path.write_bytes(text.encode("iso-8859-1"))
    (obj,) = city_objects(path)
    assert obj.id == "b-\u00e9"
    assert obj.attributes["name"] == "Stra\u00dfe M\u00fcller"
