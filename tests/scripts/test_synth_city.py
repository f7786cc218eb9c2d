"""scripts/synth_city.py: deterministic, streamed, and imported by the real pipeline unharmed."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest
from gltf_validator import validate_glb_files
from lxml import etree
from synth import synth_city
from tileset_checks import check_tileset

from twin.pipeline import ImportOptions, TileBudget, import_files
from twin.store import SQLiteStore

GML = "{http://www.opengis.net/gml}"
BLDG = "{http://www.opengis.net/citygml/building/2.0}"


synth = synth_city()


def test_doctests_pass() -> None:
    result = doctest.testmod(synth)
    assert result.failed == 0
    assert result.attempted >= 4


def test_same_seed_same_bytes_other_seed_other_city(tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("a.gml", "b.gml", "c.gml")]
    for path, seed in zip(paths, (7, 7, 8), strict=True):
        synth.write_city(path, 40, seed=seed)
    a, b, c = (p.read_bytes() for p in paths)
    assert a == b != c


def test_document_has_courtyards_parts_xlinks_and_the_crs(tmp_path: Path) -> None:
    path = tmp_path / "city.gml"
    synth.write_city(path, 300, seed=3, crs="EPSG:25833+7837", origin=(390_000.0, 5_820_000.0, 40))
    tree = etree.parse(str(path))
    assert len(tree.findall(f".//{BLDG}Building")) == 300
    assert tree.findall(f".//{GML}interior")  # courtyard blocks
    assert tree.findall(f".//{BLDG}BuildingPart")
    xlink = "{http://www.w3.org/1999/xlink}href"
    members = tree.iter(f"{GML}surfaceMember")
    hrefs = {str(e.get(xlink))[1:] for e in members if e.get(xlink)}
    polygon_ids = {e.get(f"{GML}id") for e in tree.iter(f"{GML}Polygon")}
    assert hrefs == polygon_ids
    envelope = tree.find(f"{GML}boundedBy/{GML}Envelope")
    assert envelope is not None
    assert envelope.get("srsName") == "urn:ogc:def:crs,crs:EPSG::25833,crs:EPSG::7837"


def test_gzip_output_is_the_same_document(tmp_path: Path) -> None:
    import gzip

    synth.write_city(tmp_path / "a.gml", 20, seed=1)
    synth.write_city(tmp_path / "a.gml.gz", 20, seed=1)
    assert (
        gzip.decompress((tmp_path / "a.gml.gz").read_bytes()) == (tmp_path / "a.gml").read_bytes()
    )


@pytest.mark.parametrize("crs", ["EPSG:25832+7837", "EPSG:25832"])
def test_imports_every_building_with_valid_tiles(tmp_path: Path, crs: str) -> None:
    path = tmp_path / "city.gml"
    synth.write_city(path, 120, seed=5, crs=crs)
    store = SQLiteStore(tmp_path / "data")
    try:
        options = ImportOptions(dataset="synth", budget=TileBudget(max_features=40))
        report = import_files([path], store, options)
        tileset_dir = store.tileset_dir("synth")
    finally:
        store.close()
    parts = report.imported_by_type.get("BuildingPart", 0)
    assert report.imported_by_type["Building"] == 120
    assert parts > 0
    assert parts % 2 == 0
    assert report.rejections == []
    assert report.warnings == []
    check_tileset(json.loads((tileset_dir / "tileset.json").read_text()), tileset_dir)
    for result in validate_glb_files(sorted(tileset_dir.glob("content/*.glb"))):
        assert result["numErrors"] == 0, result["messages"][:5]


def test_cli_refuses_a_crs_it_cannot_write(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="EPSG:<code>"):
        synth.main(["3", "/dev/null", "--crs", "WGS84"])
