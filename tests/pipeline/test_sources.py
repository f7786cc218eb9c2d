"""Every file of ../shared/data imports (or fails as documented) with MANIFEST.md's counts.

Counts are MANIFEST.md's top-level objects plus the nested ones twin keeps as objects of their
own (TINRelief, BuildingInstallation, Storey, BuildingRoom, Room, BuildingFurniture, bridge
elements). Deviations, each documented: a tran:Track and the NoiseADE Railway hold only
curves (not drawn, rejected with the reason); BuildingUnits hold only xlinks to rooms.
"""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from gltf_validator import validate_glb_files
from tileset_checks import check_tileset

from twin.errors import InputError
from twin.model import CityObject, Rejection
from twin.pipeline import ImportOptions, TileBudget, import_files
from twin.pipeline.sources import ReadOptions, iter_objects, sniff
from twin.store import SQLiteStore

RELIEF = {"ReliefFeature": 1, "TINRelief": 1}
# file → (--crs or None, imported objects by type, rejected count)
EXPECTED: dict[str, tuple[str | None, dict[str, int], int]] = {
    "citygml/c4j_LOD2_Buildings_v100.gml": ("EPSG:3068+5783", {"Building": 100}, 0),
    "citygml/c4j_lod2_buildings_v3.gml": (None, {"Building": 100}, 0),
    "citygml/c4j_lod3_building_v2/c4j_lod3_building_v2.gml": (
        None,
        {"Building": 1, "BuildingInstallation": 1},
        0,
    ),
    "citygml/ecg_FZK-Haus-LoD3-KIT-IAI-KHH-B36-V1__v3.gml": (None, {"Building": 1}, 0),
    "citygml/hel_2549_6674.gml": (None, {"Building": 61}, 0),
    # EPSG:23632 does not exist; ED50 / UTM 32N is EPSG:23032
    "citygml/lcg_BridgeAndBuilding.gml": (
        "EPSG:23032",
        {"Bridge": 1, "Building": 1, "BuildingPart": 1},
        0,
    ),
    "citygml/lcg_FZK-Haus-LoD0-KIT-IAI-KHH-B36-V1.gml": (None, {"Building": 1}, 0),
    "citygml/lcg_b1_lod2_s.gml": ("EPSG:25832", {"Building": 1}, 0),
    "citygml/lcg_berlin_open_data_sample_data.citygml": (None, {"Building": 61}, 0),
    "citygml/nds_LoD1_24085862_2_2021-01-25.gml": (
        None,
        {"Building": 243, "BuildingPart": 175},
        0,
    ),
    "citygml/ogc_BuildingUnits_Storeys_xlink.gml": (
        None,
        {"Building": 1, "Storey": 2, "BuildingRoom": 3},
        2,  # BuildingUnit x2: only xlinks to rooms
    ),
    "citygml/ogc_Building_CityGML3.0_LOD2_with_several_attributes.gml": (
        None,
        {"Building": 1},
        0,
    ),
    "citygml/ogc_Buildings_CityGML3.0_LOD2_with_PointClouds_external_individual_laz_files.gml.gz": (
        None,
        {"Building": 752},
        0,
    ),
    "citygml/ogc_Opera-Lyon_CityGML3.0_LOD2_with_xAL3_FullyStructured.gml": (
        None,
        {"Building": 1},
        0,
    ),
    "citygml/ogc_Road_over_Bridge_CityGML3.0_LOD2_with_CityObjectRelations.gml": (
        "EPSG:25832",
        {"Bridge": 1, "Road": 1},
        0,
    ),
    "citygml/ogc_citygml3_roads_roundabout.gml": (None, {"Road": 2}, 0),
    "citygml/ogc_v2_Building_LOD0-EPSG25832.gml": (None, {"Building": 1, **RELIEF}, 0),
    "citygml/ogc_v2_Building_LOD1-EPSG25832.gml": (None, {"Building": 1, **RELIEF}, 0),
    # a local engineering CRS, placed by its anchor point in 25832+5783
    "citygml/ogc_v2_Building_LOD1-LocalEngineeringCRS.gml": (None, {"Building": 1, **RELIEF}, 0),
    "citygml/ogc_v2_Building_LOD2-EPSG25832.gml": (None, {"Building": 1, **RELIEF}, 0),
    "citygml/ogc_v2_Building_LOD3-EPSG25832.gml": (None, {"Building": 1, **RELIEF}, 0),
    "citygml/ogc_v2_Building_LOD4-EPSG25832.gml": (
        None,
        {"Building": 1, "Room": 1, "BuildingFurniture": 1, **RELIEF},
        0,
    ),
    "citygml/ogc_v2_Building_and_garage_LOD2-EPSG25832.gml": (
        None,
        {"Building": 1, "BuildingPart": 1, **RELIEF},
        0,
    ),
    "citygml/ogc_v3_Building_and_garage_LOD2-EPSG25832.gml": (
        None,
        {"Building": 1, "BuildingPart": 1, **RELIEF},
        0,
    ),
    "citygml/plateau_52385628_veg_6697_op.gml": (
        None,
        {"PlantCover": 9, "SolitaryVegetationObject": 19},
        0,
    ),
    "citygml/plateau_523965_dem_6697_05_op.gml": (
        None,
        {"ReliefFeature": 2, "TINRelief": 2},
        0,
    ),
    "citygml/plateau_52397519_bldg_6697_op/plateau_52397519_bldg_6697_op.gml": (
        None,
        {"Building": 13, "BuildingPart": 2},
        0,
    ),
    "citygml/plateau_53361601_trk_6697.gml": (None, {"Track": 124}, 1),  # 1 Track: curves only
    "citygml/plateau_hodokyo_51324378_brid_6697.gml": (
        None,
        {"Bridge": 1, "BridgeConstructionElement": 14, "BridgeInstallation": 4},
        0,
    ),
    "citygml/plateauosm_53395404_bldg_6697_op.gml": (None, {"Building": 657}, 0),
    "citygml/qie_Cube-07.gml": ("EPSG:25832", {"Building": 1}, 0),
    "citygml/qie_i101_1.gml": ("EPSG:25832", {"Building": 1}, 0),
    "citygml/qie_i103_1.gml": ("EPSG:25832", {"Building": 1}, 0),
    "citygml/qie_i104_1.gml": ("EPSG:25832", {"Building": 1}, 0),
    "citygml/qie_i206_1.gml": ("EPSG:25832", {"Building": 1}, 0),
    "citygml/qie_i302_1.gml": ("EPSG:25832", {"Building": 1}, 0),
    "citygml/qie_v002.gml": ("EPSG:25832", {"Building": 1}, 0),
    "citygml/rdam_Source.gml": (None, {"Building": 1}, 0),
    "citygml/teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml": (None, {"Building": 1}, 0),
    "citygml/teco_district1_LoD2.gml": (None, {"Building": 104}, 0),
    "cityjson/c4j_lod2_buildings_v2.json": (None, {"Building": 100}, 0),
    "cityjson/cjio_DH_01_subs.city.json": ("EPSG:7415", {"Building": 4, "BuildingPart": 8}, 0),
    "cityjson/cjio_delft.json": (
        None,
        {
            "Bridge": 3,
            "Building": 160,
            "LandUse": 81,
            "PlantCover": 126,
            "WaterBody": 3,
            "Road": 143,
            "GenericCityObject": 54,
        },
        0,
    ),
    "cityjson/cjio_multi_lod.json": ("EPSG:7415", {"Building": 10}, 0),
    "cityjson/cjio_rotterdam_subset/cjio_rotterdam_subset.json": (
        "EPSG:7415",
        {"Building": 16},
        0,
    ),
    "cityjson/cjio_zurich_subset_lod2.json": (None, {"Building": 49, "BuildingPart": 161}, 0),
}
# files invalid by design (for twin): the error they raise
FAILING = {
    "citygml/c4j_LOD0_Railway_NoiseADE_v200.gml": (InputError, "no city object with usable"),
}


def _data_files(root: Path) -> list[str]:
    names = ("*.gml", "*.gml.gz", "*.citygml", "*.json")
    return sorted(str(p.relative_to(root)) for n in names for p in root.rglob(n))


def test_every_shared_file_has_an_expectation(shared_data: Path) -> None:
    assert set(_data_files(shared_data)) == set(EXPECTED) | set(FAILING)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_file_imports_with_manifest_counts_and_valid_tiles(
    shared_data: Path, store: SQLiteStore, name: str
) -> None:
    crs, expected, rejected = EXPECTED[name]
    options = ImportOptions(dataset="d", crs=crs, budget=TileBudget(max_features=200))
    report = import_files([shared_data / name], store, options)
    assert dict(report.imported_by_type) == expected
    assert len(report.rejections) == rejected
    assert report.objects_read == report.imported + rejected
    tileset_dir = store.tileset_dir("d")
    check_tileset(json.loads((tileset_dir / "tileset.json").read_text()), tileset_dir)
    glbs = sorted(tileset_dir.glob("content/*.glb"))
    for path, result in zip(glbs, validate_glb_files(glbs), strict=True):
        assert result["numErrors"] == 0, (path, result["messages"][:5])


@pytest.mark.parametrize("name", sorted(FAILING))
def test_shared_file_invalid_by_design_fails_clearly(
    shared_data: Path, store: SQLiteStore, name: str
) -> None:
    error, message = FAILING[name]
    with pytest.raises(error, match=message):
        import_files([shared_data / name], store, ImportOptions(dataset="d"))


@pytest.mark.parametrize(
    ("name", "issue"),
    [
        ("qie_i101_1.gml", "GE_R_TOO_FEW_POINTS"),
        ("qie_i103_1.gml", "GE_R_NOT_CLOSED"),
        ("qie_i104_1.gml", "GE_R_SELF_INTERSECTION"),
        ("qie_i206_1.gml", "GE_P_HOLE_OUTSIDE"),
        ("qie_i302_1.gml", "solid 0: GE_S_NOT_CLOSED"),
    ],
)
def test_qie_defect_is_reported_per_object(
    shared_data: Path, store: SQLiteStore, name: str, issue: str
) -> None:
    (obj,) = list(iter_objects([shared_data / "citygml" / name]))
    assert isinstance(obj, CityObject)
    options = ImportOptions(dataset="d", crs="EPSG:25832")
    report = import_files([shared_data / "citygml" / name], store, options)
    about_obj = [w for w in report.warnings if f"{obj.id!r}" in w]
    assert any(f": {issue}" in w for w in about_obj), report.warnings


@pytest.mark.parametrize("workers", [1, 2])
def test_valid_qie_control_has_no_issue(
    shared_data: Path, store: SQLiteStore, workers: int
) -> None:
    options = ImportOptions(dataset="d", crs="EPSG:25832", workers=workers)
    report = import_files([shared_data / "citygml/qie_v002.gml"], store, options)
    assert report.imported == 1
    assert report.warnings == []


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x1f\x8b\x08", "gzip"),
        (b"PK\x03\x04", "zip"),
        (b"\xef\xbb\xbf<?xml", "citygml"),
        (b'\n {"type":"CityJSON"}', "cityjson"),
        (b"ply\n", "unknown"),
    ],
)
def test_sniff_tells_formats_by_content(head: bytes, kind: str) -> None:
    assert sniff(head) == kind


def _teco(shared_data: Path) -> Path:
    return shared_data / "citygml/teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml"


def test_misnamed_gzip_zip_and_directory_read_the_same(shared_data: Path, tmp_path: Path) -> None:
    source = _teco(shared_data)
    gz = tmp_path / "city.dat.gz"
    gz.write_bytes(gzip.compress(source.read_bytes()))
    with zipfile.ZipFile(tmp_path / "city.zip", "w") as archive:
        archive.write(source, "inner/house.gml")
        archive.writestr("readme.txt", "not a model")
    folder = tmp_path / "folder" / "deep"
    folder.mkdir(parents=True)
    shutil.copy(source, folder / "house.xml")
    ids = [
        [o.id for o in iter_objects([p]) if isinstance(o, CityObject)]
        for p in (source, gz, tmp_path / "city.zip", tmp_path / "folder")
    ]
    assert ids[0] == ids[1] == ids[2] == ids[3]
    assert len(ids[0]) == 1


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.gml"
    path.write_text("ply\nformat ascii 1.0\n")
    with pytest.raises(InputError, match=r"model\.gml: neither CityGML \(XML\) nor CityJSON"):
        list(iter_objects([path]))


def test_types_select_top_level_objects(shared_data: Path) -> None:
    path = shared_data / "citygml/ogc_v2_Building_and_garage_LOD2-EPSG25832.gml"
    found = list(iter_objects([path], ReadOptions(types=("ReliefFeature",))))
    assert [(o.type, o.parent_id is None) for o in found if isinstance(o, CityObject)] == [
        ("TINRelief", False),
        ("ReliefFeature", True),
    ]


def test_keep_going_keeps_objects_before_a_syntax_error(shared_data: Path, tmp_path: Path) -> None:
    text = (shared_data / "citygml/teco_district1_LoD2.gml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.gml"
    broken.write_text(text[: len(text) // 2], encoding="utf-8")
    found = list(iter_objects([broken], ReadOptions(keep_going=True)))
    *objects, last = found
    assert all(isinstance(o, CityObject) for o in objects)
    assert len(objects) > 10
    assert isinstance(last, Rejection)
    assert last.object_type == "document"
    assert last.reason.startswith(f"{broken}:")
    assert "objects after this point were not read" in last.reason
