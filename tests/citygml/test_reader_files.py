"""Object counts, ids, LoDs and srsName read from the real files in ../shared/data (MANIFEST.md)."""

from __future__ import annotations

import gzip
import shutil
from collections import Counter
from pathlib import Path

import pytest

from twin.model import CityObject, Rejection

from .documents import city_objects, read_all

GML = "citygml"


@pytest.mark.parametrize(
    ("name", "buildings", "parts"),
    [
        ("teco_district1_LoD2.gml", 104, 0),
        ("c4j_LOD2_Buildings_v100.gml", 100, 0),  # CityGML 1.0, no srsName
        ("nds_LoD1_24085862_2_2021-01-25.gml", 243, 175),
        ("lcg_berlin_open_data_sample_data.citygml", 61, 0),
        ("hel_2549_6674.gml", 61, 0),
        ("ogc_v2_Building_and_garage_LOD2-EPSG25832.gml", 1, 1),
        ("ogc_v3_Building_and_garage_LOD2-EPSG25832.gml", 1, 1),  # CityGML 3.0
        ("c4j_lod2_buildings_v3.gml", 100, 0),  # CityGML 3.0
        ("plateauosm_53395404_bldg_6697_op.gml", 657, 0),
        (
            "ogc_Buildings_CityGML3.0_LOD2_with_PointClouds_external_individual_laz_files.gml.gz",
            752,
            0,
        ),
    ],
)
def test_counts_match_manifest(shared_data: Path, name: str, buildings: int, parts: int) -> None:
    objects = city_objects(shared_data / GML / name)
    assert (
        Counter(o.type for o in objects)
        == Counter(Building=buildings, BuildingPart=parts) - Counter()
    )


@pytest.mark.parametrize(
    "name", ["nds_LoD1_24085862_2_2021-01-25.gml", "ogc_v2_Building_and_garage_LOD2-EPSG25832.gml"]
)
def test_parts_come_before_their_building(shared_data: Path, name: str) -> None:
    seen_buildings: set[str] = set()
    pending_parents: set[str] = set()
    for obj in city_objects(shared_data / GML / name):
        if obj.type == "BuildingPart":
            assert obj.parent_id is not None
            assert obj.parent_id not in seen_buildings
            pending_parents.add(obj.parent_id)
        else:
            assert obj.parent_id is None
            seen_buildings.add(obj.id)
            pending_parents.discard(obj.id)
    assert pending_parents == set()


def test_part_keeps_gml_id_and_parent(shared_data: Path) -> None:
    # ids read with grep from the file: Building at line 20, BuildingPart at line 197
    path = shared_data / GML / "ogc_v2_Building_and_garage_LOD2-EPSG25832.gml"
    part, parent = city_objects(path)
    assert (part.id, part.type, part.parent_id) == (
        "GMLID_BUI379228_1244_301",
        "BuildingPart",
        "GML_7b1a5a6f-ddad-4c3d-a507-3eb9ee0a8e68",
    )
    assert (parent.id, parent.source.line) == ("GML_7b1a5a6f-ddad-4c3d-a507-3eb9ee0a8e68", 20)
    assert part.source.line == 197
    assert parent.source.path == str(path)


@pytest.mark.parametrize(
    ("name", "srs_name"),
    [
        # only on the CityModel envelope: inherited
        ("ogc_v2_Building_LOD2-EPSG25832.gml", "urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783"),
        # on every MultiSurface
        ("lcg_berlin_open_data_sample_data.citygml", "EPSG:25833"),
        # only on each Building's own envelope
        ("hel_2549_6674.gml", "urn:ogc:def:crs:EPSG::3879"),
        (
            "nds_LoD1_24085862_2_2021-01-25.gml",
            "urn:ogc:def:crs,crs:EPSG:6.12:25832,crs:EPSG:6.12:5783",
        ),
        ("teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml", "urn:adv:crs:ETRS89_UTM32*DE_DHHN92_NH"),
        # a local engineering CRS: placed in its anchor's world CRS
        (
            "ogc_v2_Building_LOD1-LocalEngineeringCRS.gml",
            "urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783",
        ),
        ("c4j_lod2_buildings_v3.gml", "urn:ogc:def:crs,crs:EPSG:6.12:3068,crs:EPSG:6.12:5783"),
        ("c4j_LOD2_Buildings_v100.gml", None),
        ("qie_i101_1.gml", None),
        ("qie_i103_1.gml", None),
        ("qie_i104_1.gml", None),
        ("qie_i206_1.gml", None),
        ("qie_i302_1.gml", None),
        ("qie_v002.gml", None),
    ],
)
def test_srs_name_as_written(shared_data: Path, name: str, srs_name: str | None) -> None:
    objects = city_objects(shared_data / GML / name)
    assert {o.srs_name for o in objects} == {srs_name}


@pytest.mark.parametrize(
    ("name", "lod"),
    [
        ("ogc_v2_Building_LOD1-EPSG25832.gml", 1),
        ("ogc_v2_Building_LOD2-EPSG25832.gml", 2),
        ("ogc_v2_Building_LOD3-EPSG25832.gml", 3),
        ("rdam_Source.gml", 2),  # LoD0, LoD1 and LoD2 of one building: the highest wins
        ("plateauosm_53395404_bldg_6697_op.gml", 1),  # LoD0 footprint + LoD1 solid
    ],
)
def test_highest_lod_is_chosen(shared_data: Path, name: str, lod: int) -> None:
    assert {o.lod for o in city_objects(shared_data / GML / name)} == {lod}


@pytest.mark.parametrize(
    "name", ["ogc_v2_Building_LOD0-EPSG25832.gml", "lcg_FZK-Haus-LoD0-KIT-IAI-KHH-B36-V1.gml"]
)
def test_building_with_only_lod0_is_read_at_lod0(shared_data: Path, name: str) -> None:
    (obj,) = city_objects(shared_data / GML / name)
    assert obj.lod == 0
    assert obj.surfaces.polygon_count == 2  # MANIFEST: footprint and roof edge


def test_building_without_lod_asked_for_is_rejected(shared_data: Path) -> None:
    path = shared_data / GML / "ogc_v2_Building_LOD0-EPSG25832.gml"
    (result,) = read_all(path, lod=2, types=("Building",))
    assert isinstance(result, Rejection)
    assert result.object_type == "Building"
    assert result.reason.startswith("no surface geometry at LoD2")
    assert result.source.path == str(path)


def test_building_with_geometry_only_in_its_part_is_kept(shared_data: Path) -> None:
    part, parent = city_objects(shared_data / GML / "lcg_BridgeAndBuilding.gml")
    assert part.type == "BuildingPart"
    assert part.surfaces.polygon_count == 1
    assert parent.type == "Building"
    assert parent.surfaces.polygon_count == 0
    assert parent.lod is None


def test_building_without_gml_id_gets_file_and_line(shared_data: Path) -> None:
    # qie_i101_1.gml: <bldg:Building> without gml:id on line 4
    (obj,) = city_objects(shared_data / GML / "qie_i101_1.gml")
    assert obj.id == "qie_i101_1-4"


def test_gzip_detected_by_magic_bytes(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / GML / "ogc_v2_Building_LOD2-EPSG25832.gml"
    target = tmp_path / "compressed-without-gz-suffix.gml"
    with source.open("rb") as raw, gzip.open(target, "wb") as packed:
        shutil.copyfileobj(raw, packed)
    (plain,) = city_objects(source)
    (unpacked,) = city_objects(target)
    assert isinstance(unpacked, CityObject)
    assert unpacked.id == plain.id
    assert (unpacked.surfaces.coords == plain.surfaces.coords).all()
