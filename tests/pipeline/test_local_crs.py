"""Importing a city in a local engineering CRS: placed by its anchor and reported, or refused."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
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


def test_anchor_written_northing_first_is_refused_not_mirrored(
    shared_data: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    # DHDN / Gauss-Krüger zone 3 is northing, easting by authority; the anchor below is the
    # file's anchor converted to it (pyproj, EPSG:25832 → EPSG:31467) and written in that order.
    # Local X (east) added to the first (northing) axis would mirror the city across its diagonal.
    text = (shared_data / LOCAL).read_text()
    path = tmp_path / "gk.gml"
    anchor = '<gml:anchorPoint codeSpace="EPSG:31467">5440079.39 3458926.90 112.0<'
    path.write_text(re.sub(r"<gml:anchorPoint codeSpace=[^<]*<", anchor, text))
    with pytest.raises(
        CRSError,
        match=r"gk\.gml: local engineering CRS '#local-CRS-1' placed by .*, but its anchor is "
        r"written northing first .*write the anchor point easting first",
    ):
        import_files([path], store, ImportOptions(dataset="d"))


def test_anchor_written_easting_first_lands_where_the_original_does(
    shared_data: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    # The same Gauss-Krüger anchor in the order the file's coordinates use (easting first, as
    # much German data writes it): placed, it must cover the original's box to about a metre.
    import_files([shared_data / LOCAL], store, ImportOptions(dataset="utm"))
    text = (shared_data / LOCAL).read_text()
    path = tmp_path / "gk.gml"
    anchor = '<gml:anchorPoint codeSpace="EPSG:31467">3458926.90 5440079.39 112.0<'
    path.write_text(re.sub(r"<gml:anchorPoint codeSpace=[^<]*<", anchor, text))
    import_files([path], store, ImportOptions(dataset="gk"))
    utm, gk = store.get_dataset("utm").bbox_wgs84, store.get_dataset("gk").bbox_wgs84
    assert utm is not None
    assert gk is not None
    assert np.allclose(np.take(gk, [0, 1, 3, 4]), np.take(utm, [0, 1, 3, 4]), rtol=0, atol=2e-5)
