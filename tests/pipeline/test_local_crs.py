"""Importing a city in a local engineering CRS: placed by its anchor and reported, or refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from twin.errors import CRSError
from twin.pipeline import ImportOptions, import_files
from twin.store import SQLiteStore

LOCAL = "citygml/ogc_v2_Building_LOD1-LocalEngineeringCRS.gml"
WORLD = "urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783"


def test_report_says_the_local_crs_was_placed_by_its_anchor(
    shared_data: Path, store: SQLiteStore
) -> None:
    report = import_files([shared_data / LOCAL], store, ImportOptions(dataset="d"))
    assert list(report.crs) == [WORLD]
    assert report.crs[WORLD]["placed"] == [
        f"local engineering CRS '#local-CRS-1' placed by its anchor point (458868.0 5438343.0 "
        f"112.0) in {WORLD}: coordinates shifted by the anchor; the datum defines no rotation, "
        "so none is applied"
    ]
    assert report.as_json()["crs"] == report.crs


@pytest.mark.parametrize(
    ("code_space", "message"),
    [
        pytest.param(
            "XYZ",
            r"local\.gml: local engineering CRS '#local-CRS-1' placed by its anchor point "
            r".* in XYZ: .*, but unknown CRS 'XYZ'; pass the CRS with --crs",
            id="code-space-not-a-crs",
        ),
        pytest.param(
            "EPSG:4326",
            r"local\.gml: local engineering CRS '#local-CRS-1' placed by .*, but the anchor's "
            r"CRS 'EPSG:4326' \(WGS 84\) has no easting and northing axes in metres .*--crs",
            id="angular-world-crs",
        ),
    ],
)
def test_anchor_in_no_usable_world_crs_is_refused_naming_file_and_crs(
    shared_data: Path, store: SQLiteStore, tmp_path: Path, code_space: str, message: str
) -> None:
    text = (shared_data / LOCAL).read_text()
    path = tmp_path / "local.gml"
    path.write_text(re.sub(r'(<gml:anchorPoint codeSpace=")[^"]*', rf"\g<1>{code_space}", text))
    with pytest.raises(CRSError, match=message):
        import_files([path], store, ImportOptions(dataset="d"))


def test_unplaceable_local_crs_imports_with_the_crs_flag(
    shared_data: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    text = (shared_data / LOCAL).read_text()
    path = tmp_path / "unanchored.gml"
    path.write_text(re.sub(r"<gml:anchorPoint.*?</gml:anchorPoint>", "", text))
    with pytest.raises(CRSError, match=r"unanchored\.gml: srsName '#local-CRS-1' refers to"):
        import_files([path], store, ImportOptions(dataset="d"))
    report = import_files([path], store, ImportOptions(dataset="d", crs="EPSG:25832"))
    assert report.imported == 3
    assert "placed" not in report.crs["EPSG:25832"]
