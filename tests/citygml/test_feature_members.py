"""``gml:featureMembers`` (one element holding many objects) streams like ``cityObjectMember``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from synth import synth_city

from twin.citygml import reader
from twin.errors import CityGMLError
from twin.model import CityObject, Rejection

from .documents import read_all

BUILDINGS = 2000


def as_feature_members(text: str) -> str:
    """Rewrite a synthetic city: every object into one ``gml:featureMembers``, lines kept."""
    inner = text.replace("<core:cityObjectMember>", "").replace("</core:cityObjectMember>", "")
    opened = inner.replace("</gml:boundedBy>\n", "</gml:boundedBy>\n<gml:featureMembers>", 1)
    return opened.replace("</core:CityModel>", "</gml:featureMembers></core:CityModel>")


@pytest.fixture(scope="module")
def cities(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return the same synthetic city spelled with cityObjectMember and with featureMembers."""
    synth = synth_city()
    folder = tmp_path_factory.mktemp("cities")
    members = folder / "members.gml"
    synth.write_city(members, BUILDINGS, seed=5)
    plural = folder / "plural.gml"
    plural.write_text(as_feature_members(members.read_text()))
    return members, plural


def summary(results: list[CityObject | Rejection]) -> list[tuple[Any, ...]]:
    return [
        (r.id, r.type, r.parent_id, r.source.line, r.surfaces.polygon_count)
        if isinstance(r, CityObject)
        else (r.object_id, r.object_type, r.source.line, r.reason)
        for r in results
    ]


def test_feature_members_read_like_city_object_members(cities: tuple[Path, Path]) -> None:
    members, plural = cities
    assert "cityObjectMember" not in plural.read_text()
    expected = summary(read_all(members))
    assert sum(1 for s in expected if s[1] == "Building") == BUILDINGS
    assert summary(read_all(plural)) == expected


def test_feature_members_are_freed_as_they_are_read(
    cities: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container never holds more than a batch and a chunk of its objects (of 2,000)."""
    held: list[int] = []
    read_top_level = reader._read_top_level

    def counting(document: Any, obj: etree._Element, out: list[Any]) -> None:
        container = obj.getparent()
        assert container is not None
        held.append(len(container))
        read_top_level(document, obj, out)

    monkeypatch.setattr(reader, "_read_top_level", counting)
    assert len(read_all(cities[1])) > BUILDINGS
    assert len(held) == BUILDINGS
    assert max(held) <= 100  # 64 a batch, about 11 buildings a 64 KiB chunk


@pytest.mark.parametrize("spelling", ["members", "plural"])
def test_keep_going_keeps_the_objects_before_a_syntax_error(
    cities: tuple[Path, Path], tmp_path: Path, spelling: str
) -> None:
    source = cities[0 if spelling == "members" else 1]
    text = source.read_text()
    at = text.index('<bldg:Building gml:id="SYN_0000300"')  # break the 301st building
    broken = tmp_path / "broken.gml"
    broken.write_text(text[:at] + text[at:].replace("</bldg:Building>", "</bldg:Buildin>", 1))
    line = text[:at].count("\n") + 1
    with pytest.raises(CityGMLError, match=r"broken\.gml:\d+:\d+: malformed XML"):
        read_all(broken)
    results = read_all(broken, keep_going=True)
    *objects, error = results
    assert isinstance(error, Rejection)
    assert error.object_type == "document"
    assert error.source.line > line
    assert {o.id for o in objects if isinstance(o, CityObject) and o.type == "Building"} == {
        f"SYN_{i:07d}" for i in range(300)
    }
