"""Bad input: malformed XML, missing files, documents that are not CityGML."""

from __future__ import annotations

from pathlib import Path

import pytest

import twin.citygml
from twin.citygml import iter_city_objects
from twin.errors import CityGMLError

from .documents import HEADER, WriteCityGML, building, lod2_surface, polygon


def test_mismatched_tag_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mismatched_tag.gml"
    path.write_text(HEADER + '<cityObjectMember><bldg:Building gml:id="b">\n</bldg:Buildin>\n')
    with pytest.raises(CityGMLError, match=r"mismatched_tag\.gml:8:\d+: malformed XML"):
        list(iter_city_objects(path))


def test_truncated_file_names_file_and_line(write_citygml: WriteCityGML) -> None:
    complete = write_citygml("whole.gml", building(lod2_surface(polygon())) * 3)
    text = complete.read_text()
    path = complete.with_name("truncated.gml")
    path.write_text(text[: len(text) // 2])
    with pytest.raises(CityGMLError, match=r"truncated\.gml:\d+:\d+: malformed XML") as caught:
        list(iter_city_objects(path))
    assert "import it again" in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gml"
    with pytest.raises(CityGMLError, match=f"file not found: {missing}"):
        iter_city_objects(missing)


def test_document_without_citygml_namespace(tmp_path: Path) -> None:
    path = tmp_path / "not_citygml.xml"
    path.write_text('<?xml version="1.0"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"/>\n')
    with pytest.raises(CityGMLError, match=r"not_citygml\.xml: not CityGML"):
        list(iter_city_objects(path))


def test_a_gml_prefix_bound_to_no_gml_namespace_is_refused(
    shared_data: Path, tmp_path: Path
) -> None:
    # a typo in xmlns:gml left every gml:id unread: the objects got generated ids silently
    text = (shared_data / "citygml/lcg_b1_lod2_s.gml").read_text()
    typo = text.replace(
        'xmlns:gml="http://www.opengis.net/gml"', 'xmlns:gml="http://www.opengis.net/gmll"', 1
    )
    assert typo != text
    path = tmp_path / "typo.gml"
    path.write_text(typo)
    with pytest.raises(CityGMLError, match=r"typo\.gml:\d+: .*xmlns:gml.*opengis\.net/gmll"):
        list(iter_city_objects(path))


def test_all_is_sorted_and_complete() -> None:
    assert twin.citygml.__all__ == sorted(twin.citygml.__all__)
    assert all(hasattr(twin.citygml, name) for name in twin.citygml.__all__)
    assert twin.citygml.__all__ == ["iter_city_objects"]


def test_pyproj_is_not_imported_by_the_reader() -> None:
    sources = Path(twin.citygml.__file__).parent.glob("*.py")
    assert not any("pyproj" in p.read_text() for p in sources)
