"""Import real CityGML files end to end: counts, valid tiles, catalog, placement, precision."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import glb_reader
import numpy as np
import pytest
from gltf_validator import unexpected_messages, validate_glb_files
from pyproj import Proj, Transformer
from tileset_checks import check_tileset
from tileset_walk import content_tiles

from twin.errors import CityGMLError, InputError, NotFoundError
from twin.geo.reproject import EGM96_GRID
from twin.model import BuildingRecord
from twin.pipeline import REPORT_NAME, ImportOptions, TileBudget, import_files
from twin.store import SQLiteStore
from twin.store.features import FeatureQuery

# (file under ../shared/data, --crs, expected objects by type per MANIFEST.md)
CASES = [
    pytest.param("citygml/teco_district1_LoD2.gml", None, {"Building": 104}, id="lod2-city-v2"),
    pytest.param(
        "citygml/c4j_LOD2_Buildings_v100.gml", "EPSG:3068+5783", {"Building": 100}, id="v1.0"
    ),
    pytest.param(
        "citygml/nds_LoD1_24085862_2_2021-01-25.gml",
        None,
        {"Building": 243, "BuildingPart": 175},
        id="building-parts",
    ),
    pytest.param(
        "citygml/ogc_v2_Building_LOD3-EPSG25832.gml",
        None,
        {"Building": 1, "ReliefFeature": 1, "TINRelief": 1},
        id="interior-rings",
    ),
    pytest.param(
        "citygml/lcg_berlin_open_data_sample_data.citygml", None, {"Building": 61}, id="berlin"
    ),
    pytest.param("citygml/hel_2549_6674.gml", None, {"Building": 61}, id="swapped-axes"),
]


@pytest.mark.parametrize(("name", "crs", "expected"), CASES)
def test_real_city_imports_with_manifest_counts_and_valid_tiles(
    shared_data: Path, store: SQLiteStore, name: str, crs: str | None, expected: dict[str, int]
) -> None:
    options = ImportOptions(dataset="city", crs=crs, budget=TileBudget(max_features=50))
    report = import_files([shared_data / name], store, options)

    assert dict(report.imported_by_type) == expected
    assert report.objects_read == report.imported + len(report.rejections)
    assert report.rejections == []
    tileset_dir = store.tileset_dir("city")
    saved = json.loads((tileset_dir / REPORT_NAME).read_text())
    assert saved["objects"]["imported"] == sum(expected.values())

    check_tileset(json.loads((tileset_dir / "tileset.json").read_text()), tileset_dir)
    glbs = sorted(tileset_dir.glob("content/*.glb"))
    assert len(glbs) == report.tiles >= sum(expected.values()) // 50
    for path, result in zip(glbs, validate_glb_files(glbs), strict=True):
        assert result["numErrors"] == 0, (path, result["messages"][:5])
        metadata_views = _metadata_buffer_views(path.read_bytes())
        assert unexpected_messages(result, metadata_views) == [], path


def _metadata_buffer_views(data: bytes) -> list[int]:
    _, _, ext = glb_reader.property_table(data)
    views: list[int] = []
    for storage in ext["propertyTables"][0]["properties"].values():
        views += [v for k, v in storage.items() if k in ("values", "stringOffsets", "arrayOffsets")]
    return views


def test_every_object_is_in_the_tile_and_row_the_catalog_names(
    shared_data: Path, store: SQLiteStore
) -> None:
    name = "citygml/nds_LoD1_24085862_2_2021-01-25.gml"
    options = ImportOptions(dataset="nds", budget=TileBudget(max_features=40))
    import_files([shared_data / name], store, options)
    tileset_dir = store.tileset_dir("nds")
    ids_by_tile = {
        tile["content"]["uri"]: glb_reader.property_table(
            (tileset_dir / tile["content"]["uri"]).read_bytes()
        )[1]["id"]
        for tile, _ in content_tiles(tileset_dir)
        if not tile.get("children")  # inner tiles hold coarse blocks of their subtree
    }
    placed = [i for ids in ids_by_tile.values() for i in ids]
    assert len(placed) == len(set(placed))
    source_ids = set(
        re.findall(r'<bldg:Building(?:Part)? gml:id="([^"]+)"', (shared_data / name).read_text())
    )
    for object_id in source_ids:
        record = store.get_object("nds", object_id)
        if record.tile is None:  # a Building whose geometry is all in its parts
            assert record.type == "Building"
            continue
        assert ids_by_tile[record.tile][record.feature_id] == object_id
    assert set(placed) <= source_ids


def _utm32_lonlath(first: list[str]) -> tuple[float, float, float]:
    e, n, h = (float(v) for v in first)
    lon, lat = Transformer.from_crs(25832, 4326, always_xy=True).transform(e, n)
    return lon, lat, h


def _local_crs_lonlath(first: list[str]) -> tuple[float, float, float]:
    # local X, Y, Z metres from the anchor point written in the file's gml:EngineeringDatum
    anchor = (458868.0, 5438343.0, 112.0)  # ETRS89 / UTM 32 + DHHN92
    return _utm32_lonlath([str(a + float(v)) for a, v in zip(anchor, first, strict=True)])


def _jgd2011_lonlath(first: list[str]) -> tuple[float, float, float]:
    lat, lon, h = (float(v) for v in first)  # EPSG:6697 writes latitude first
    return lon, lat, h


@pytest.mark.parametrize(
    ("name", "lonlath"),
    [
        # ETRS89 / UTM 32 + DHHN2016 (an AdV URN), Karlsruhe
        ("citygml/teco_district1_LoD2.gml", _utm32_lonlath),
        # JGD2011 + JGD2011 (vertical) height, EPSG:6697, Tokyo (PLATEAU)
        ("citygml/plateauosm_53395404_bldg_6697_op.gml", _jgd2011_lonlath),
        # a local engineering CRS (#local-CRS-1) anchored in ETRS89 / UTM 32 + DHHN92
        ("citygml/ogc_v2_Building_LOD1-LocalEngineeringCRS.gml", _local_crs_lonlath),
    ],
)
def test_decoded_vertex_lands_within_a_centimetre_of_its_source(
    shared_data: Path,
    store: SQLiteStore,
    name: str,
    lonlath: Callable[[list[str]], tuple[float, float, float]],
) -> None:
    """The issue asks for 2 m against the same geoid model computed independently; we hold 1 cm."""
    path = shared_data / name
    options = ImportOptions(dataset="d", budget=TileBudget(max_features=50))
    report = import_files([path], store, options)
    # The report names the geoid model; these files have no PROJ grid here, so EGM96.
    assert all("EGM96" in str(c["geoid"]) for c in report.crs.values()), report.crs
    # First vertex of the first posList in the file, read here with a regex, not the reader.
    first = re.search(r"<gml:posList[^>]*>\s*([^<]+)", path.read_text()).group(1).split()[:3]
    lon, lat, h = lonlath(first)
    geoid = Transformer.from_pipeline(f"+proj=vgridshift +grids={EGM96_GRID} +multiplier=1")
    expected = np.array(
        Transformer.from_crs(4979, 4978, always_xy=True).transform(
            lon, lat, geoid.transform(lon, lat, h)[2]
        )
    )
    tileset_dir = store.tileset_dir("d")
    nearest = np.inf
    for tile, world in content_tiles(tileset_dir):
        for prim in glb_reader.primitives((tileset_dir / tile["content"]["uri"]).read_bytes()):
            yup = prim.positions_yup.astype(np.float64)
            zup = np.column_stack([yup[:, 0], -yup[:, 2], yup[:, 1]])  # glTF y-up → z-up
            ecef = zup @ world[:3, :3].T + world[:3, 3]
            nearest = min(nearest, float(np.linalg.norm(ecef - expected, axis=1).min()))
    assert nearest < 0.01


def test_reimport_replaces_the_served_tileset_and_catalog(
    shared_data: Path, store: SQLiteStore
) -> None:
    first = shared_data / "citygml/teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml"
    second = shared_data / "citygml/ogc_v2_Building_LOD2-EPSG25832.gml"
    import_files([first], store, ImportOptions(dataset="d"))
    old_dir = store.tileset_dir("d")
    import_files([second], store, ImportOptions(dataset="d", types=("Building",)))
    new_dir = store.tileset_dir("d")
    assert new_dir != old_dir
    assert not old_dir.exists()
    assert store.get_dataset("d").object_count == 1
    with pytest.raises(NotFoundError):
        store.get_object("d", "UUID_d281adfc-4901-0f52-540b-4cc1a9325f82")  # FZK-Haus, gone


def test_a_non_finite_attribute_value_is_left_out_so_the_dataset_reimports(
    shared_data: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    # xs:double reads "NaN" and "INF", but JSON (RFC 8259 §6) has neither: stored, they made
    # the building's entity malformed JSON, and re-importing the dataset failed on it
    source = shared_data / "citygml/teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml"
    opening = '<bldg:Building gml:id="UUID_d281adfc-4901-0f52-540b-4cc1a9325f82">'
    generics = (
        '<gen:doubleAttribute name="u"><gen:value>NaN</gen:value></gen:doubleAttribute>'
        '<gen:doubleAttribute name="v"><gen:value>-INF</gen:value></gen:doubleAttribute>'
        '<gen:doubleAttribute name="w"><gen:value>2.5</gen:value></gen:doubleAttribute>'
    )
    path = tmp_path / "haus.gml"
    path.write_text(source.read_text(encoding="utf-8").replace(opening, opening + generics))
    for _ in range(2):
        import_files([path], store, ImportOptions(dataset="d"))
    record = store.get_object("d", "UUID_d281adfc-4901-0f52-540b-4cc1a9325f82")
    # a generic attribute whose value is unusable stays, without a value
    assert (record.attributes["u"], record.attributes["v"], record.attributes["w"]) == (
        None,
        None,
        2.5,
    )


def test_failed_import_leaves_the_served_tileset_untouched(
    shared_data: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    good = shared_data / "citygml/teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml"
    import_files([good], store, ImportOptions(dataset="d"))
    served = store.tileset_dir("d")
    bad = tmp_path / "bad.gml"
    bad.write_text(good.read_text()[:5000])
    with pytest.raises(CityGMLError, match=r"bad\.gml:\d+:\d+: malformed XML"):
        import_files([bad], store, ImportOptions(dataset="d"))
    assert store.tileset_dir("d") == served
    assert (served / "tileset.json").is_file()
    versions = list((tmp_path / "data" / "tilesets" / ".versions").iterdir())
    assert versions == [served]


def test_fzk_haus_measures_match_a_hand_computation(shared_data: Path, store: SQLiteStore) -> None:
    """The KIT FZK-Haus: a 12 × 10 m house, eaves 3.63 m, ridge 6.52 m (EPSG:25832 + DHHN92).

    Lengths in UTM are scaled by k (the projection's scale factor, from PROJ): the catalog
    measures true metres (ECEF), so horizontal lengths are the UTM ones divided by k.
    """
    import_files(
        [shared_data / "citygml/teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml"],
        store,
        ImportOptions("fzk", workers=1),
    )
    lon, lat = Transformer.from_crs(25832, 4326, always_xy=True).transform(457848.0, 5439088.0)
    k = Proj("EPSG:25832").get_factors(lon, lat).meridional_scale
    x, y, eaves, ridge = 12.0 / k, 10.0 / k, 115.430940107676 - 111.8, 118.317691453624 - 111.8
    roof = 2 * x * float(np.hypot(y / 2, ridge - eaves))
    wall = 2 * x * eaves + 2 * (y * eaves + y * (ridge - eaves) / 2)
    (record,) = store.features.page(FeatureQuery("fzk"))
    m = record.measures
    assert m.height_m == pytest.approx(ridge, abs=1e-3)
    assert m.footprint_area_m2 == pytest.approx(x * y, rel=1e-4)
    assert m.ground_area_m2 == pytest.approx(x * y, rel=1e-4)
    assert m.roof_area_m2 == pytest.approx(roof, rel=1e-4)
    assert m.wall_area_m2 == pytest.approx(wall, rel=1e-4)
    assert m.volume_m3 == pytest.approx(x * y * (eaves + (ridge - eaves) / 2), rel=1e-4)
    assert store.get_dataset("fzk").surface_areas_m2 == {
        "roof": m.roof_area_m2,
        "wall": m.wall_area_m2,
        "ground": m.ground_area_m2,
    }


def test_buildings_of_parts_aggregate_their_parts(shared_data: Path, store: SQLiteStore) -> None:
    """Lorup LoD1: parts are prisms (volume = footprint × height); Buildings add their parts."""
    import_files(
        [shared_data / "citygml/nds_LoD1_24085862_2_2021-01-25.gml"],
        store,
        ImportOptions("lorup", workers=1),
    )
    records = store.features.page(FeatureQuery("lorup", limit=None))
    parts: dict[str, list[BuildingRecord]] = {}
    for r in records:
        if r.parent_id is not None:
            parts.setdefault(r.parent_id, []).append(r)
    closed = [r for r in records if r.type == "BuildingPart" and r.measures.volume_m3]
    assert len(closed) > 50
    for r in closed:
        prism = r.measures.footprint_area_m2 * (r.bbox_wgs84[5] - r.bbox_wgs84[2])
        assert r.measures.volume_m3 == pytest.approx(prism, rel=1e-3), r.id
    wholes = [r for r in records if r.id in parts]  # each has a body of its own too
    assert any(r.measures.volume_m3 is not None for r in wholes)
    for r in wholes:
        volumes = [p.measures.volume_m3 for p in parts[r.id]]
        if None in volumes:
            assert r.measures.volume_m3 is None, r.id
        elif r.measures.volume_m3 is not None:  # its own body plus its parts
            assert r.measures.volume_m3 > sum(volumes), r.id
        assert r.measures.roof_area_m2 is None  # LoD1 without semantic surfaces


def test_served_report_times_every_stage_and_the_whole_import(
    shared_data: Path, store: SQLiteStore
) -> None:
    source = shared_data / "citygml/teco_district1_LoD2.gml"
    report = import_files([source], store, ImportOptions(dataset="d", workers=1))
    served = json.loads((store.tileset_dir("d") / REPORT_NAME).read_text())
    stages = served["stage_seconds"]
    assert list(stages) == ["read", "tile", "publish"]
    assert all(seconds > 0 for seconds in stages.values())
    assert served["seconds"] == round(report.seconds, 3) >= round(sum(stages.values()), 3) - 0.002
    assert served == report.as_json()  # what the caller got is what is served
    assert [p.name for p in store.tileset_dir("d").iterdir() if p.name.startswith(".")] == []


_LOST_PART_CITY = """<?xml version="1.0" encoding="UTF-8"?>
<CityModel xmlns="http://www.opengis.net/citygml/2.0"
    xmlns:bldg="http://www.opengis.net/citygml/building/2.0"
    xmlns:gml="http://www.opengis.net/gml">
<cityObjectMember><bldg:Building gml:id="whole">
  <bldg:lod1MultiSurface><gml:MultiSurface srsName="EPSG:25832"><gml:surfaceMember>
    <gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>458000 5438000 100
      458010 5438000 100 458010 5438010 100 458000 5438010 100 458000 5438000 100
    </gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>
  </gml:surfaceMember></gml:MultiSurface></bldg:lod1MultiSurface>
</bldg:Building></cityObjectMember>
<cityObjectMember><bldg:Building gml:id="of-parts">
  <bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="lost-part">
    <bldg:lod1MultiSurface><gml:MultiSurface srsName="EPSG:25832"><gml:surfaceMember>
      <gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>1e30 5438000 100
        1e30 5438010 100 2e30 5438000 100 1e30 5438000 100
      </gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>
    </gml:surfaceMember></gml:MultiSurface></bldg:lod1MultiSurface>
  </bldg:BuildingPart></bldg:consistsOfBuildingPart>
</bldg:Building></cityObjectMember>
</CityModel>
"""


def test_a_building_whose_only_part_fails_to_build_is_rejected(
    tmp_path: Path, store: SQLiteStore
) -> None:
    """The part is refused by a worker (outside the CRS), so the spill holds no part of it."""
    source = tmp_path / "lost-part.gml"
    source.write_text(_LOST_PART_CITY)
    report = import_files([source], store, ImportOptions(dataset="d", workers=1))
    assert [(r.object_id, r.reason.split(" (")[0]) for r in report.rejections] == [
        ("lost-part", "coordinates outside the valid area of 'EPSG:25832'"),
        ("of-parts", "no geometry at LoD1/LoD2 and no BuildingPart with geometry"),
    ]
    assert report.imported_by_type == {"Building": 1}


def test_an_id_met_again_in_another_file_is_rejected_naming_the_first(
    shared_data: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    # Tiled exports repeat a building that crosses a tile edge in both files: the copy used
    # to fail the whole import at publish with "UNIQUE constraint failed: objects.dataset,
    # objects.id" and no file, line or id.
    source = shared_data / "citygml/ogc_v2_Building_and_garage_LOD2-EPSG25832.gml"
    folder = tmp_path / "tiles"
    folder.mkdir()
    for name in ("a.gml", "b.gml"):
        (folder / name).write_bytes(source.read_bytes())
    report = import_files([folder], store, ImportOptions(dataset="d"))

    once = {"Building": 1, "BuildingPart": 1, "ReliefFeature": 1, "TINRelief": 1}
    assert dict(report.imported_by_type) == once
    assert report.objects_read == report.imported + len(report.rejections) == 8
    assert {r.source.path for r in report.rejections} == {str(folder / "b.gml")}
    for rejection in report.rejections:
        first = next(
            line
            for line, text in enumerate(source.read_text().splitlines(), 1)
            if f'gml:id="{rejection.object_id}"' in text
        )
        assert rejection.source.line == first
        assert rejection.reason == (
            f"the object at {folder / 'a.gml'}:{first} has the same id; ids must be unique "
            "within a dataset, so only that first one is imported (rename one, or import the "
            "files as separate datasets)"
        )
    assert store.get_dataset("d").object_count == 4


def test_types_that_select_nothing_are_named_in_the_error(
    shared_data: Path, store: SQLiteStore
) -> None:
    # A typo in --types used to end in "no city object with usable geometry … (0 rejected;
    # first reason: no city objects found)", which does not point at the option.
    source = shared_data / "citygml/ogc_v2_Building_LOD2-EPSG25832.gml"
    with pytest.raises(InputError) as caught:
        import_files([source], store, ImportOptions(dataset="d", types=("Bulding",)))
    assert str(caught.value) == (
        f"no city object with usable geometry in {source} (0 rejected; first reason: no "
        "object of the types given with --types (Bulding) in the input; --types takes "
        "top-level type names as the input writes them, e.g. Building,Road)"
    )
