"""``gml:featureMembers`` (one element holding many objects) streams like ``cityObjectMember``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from synth import synth_city

from twin.citygml import appearance, iter_city_objects, reader
from twin.errors import CityGMLError
from twin.model import AppearanceLog, CityObject, Rejection

from .documents import read_all

BUILDINGS = 2000


def as_feature_members(text: str) -> str:
    """Rewrite a synthetic city: every object into one ``gml:featureMembers``, lines kept."""
    inner = text.replace("<core:cityObjectMember>", "").replace("</core:cityObjectMember>", "")
    opened = inner.replace("</gml:boundedBy>\n", "</gml:boundedBy>\n<gml:featureMembers>", 1)
    return opened.replace("</core:CityModel>", "</gml:featureMembers></core:CityModel>")


def with_top_level_materials(text: str) -> str:
    """Add one ``app:appearanceMember`` per building after the objects: an X3DMaterial on its
    first polygon (``SYN_<n>_p0``)."""
    members = "".join(
        "<app:appearanceMember><app:Appearance><app:theme>t</app:theme><app:surfaceDataMember>"
        "<app:X3DMaterial><app:diffuseColor>0.1 0.2 0.3</app:diffuseColor>"
        f"<app:target>#SYN_{i:07d}_p0</app:target></app:X3DMaterial></app:surfaceDataMember>"
        "</app:Appearance></app:appearanceMember>\n"
        for i in range(BUILDINGS)
    )
    declared = text.replace(
        'xmlns:core="http://www.opengis.net/citygml/2.0"',
        'xmlns:core="http://www.opengis.net/citygml/2.0" '
        'xmlns:app="http://www.opengis.net/citygml/appearance/2.0"',
        1,
    )
    return declared.replace("</core:CityModel>", f"{members}</core:CityModel>")


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


def test_the_appearance_pre_pass_frees_feature_members_as_it_reads(
    cities: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Top-level appearances after one ``gml:featureMembers`` of 2,000 objects: the pass that
    reads them first never holds more than a chunk of the objects, and every material whose
    polygon exists lands on it."""
    path = tmp_path / "plural-appearances.gml"
    path.write_text(with_top_level_materials(cities[1].read_text()))
    held: list[int] = []
    is_appearance = appearance.is_appearance

    def counting(element: etree._Element) -> bool:
        parent = element.getparent()
        if parent is not None and str(parent.tag).endswith("}featureMembers"):
            held.append(len(parent))
        return is_appearance(element)

    monkeypatch.setattr(appearance, "is_appearance", counting)
    log = AppearanceLog()
    read = list(iter_city_objects(path, appearance_log=log))
    assert sum(1 for r in read if isinstance(r, CityObject) and r.type == "Building") == BUILDINGS
    assert len(held) >= BUILDINGS  # the pre-pass looked at every object of the container
    assert max(held) <= 20  # about 11 buildings a 64 KiB chunk
    # The targets: a building made of parts has no polygon of its own (its parts' are _a_p0 …).
    polygons = len(re.findall(r'gml:id="SYN_\d{7}_p0"', path.read_text()))
    assert polygons > BUILDINGS * 0.8
    assert log.material_surfaces == polygons
    assert log.unknown_targets == BUILDINGS - polygons
