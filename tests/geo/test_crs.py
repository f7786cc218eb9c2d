"""srsName spellings found in real CityGML → CRSs, and clear errors for the rest."""

from __future__ import annotations

import pytest

from twin.errors import CRSError
from twin.geo import check_anchor_crs, parse_srs_name


@pytest.mark.parametrize(
    ("srs_name", "horizontal", "vertical"),
    [
        ("EPSG:25832", 25832, None),
        ("epsg:3946", 3946, None),
        ("urn:ogc:def:crs:EPSG::3879", 3879, None),
        ("urn:ogc:def:crs:EPSG:6.12:25833", 25833, None),
        ("urn:x-ogc:def:crs:EPSG:28992", 28992, None),
        ("urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783", 25832, 5783),
        ("urn:ogc:def:crs,crs:EPSG:6.12:3068,crs:EPSG:6.12:5783", 3068, 5783),
        ("http://www.opengis.net/def/crs/EPSG/0/6697", 6697, None),
        ("https://www.opengis.net/def/crs/EPSG/0/7415", 7415, None),
        ("urn:adv:crs:ETRS89_UTM32*DE_DHHN2016_NH*GCG2016", 25832, 7837),
        ("urn:adv:crs:ETRS89_UTM32*DE_DHHN92_NH", 25832, 5783),
        ("urn:adv:crs:DE_DHDN_3GK4*DE_DHN92_NH", 31468, 5783),
        ("urn:adv:crs:ETRS89_UTM33", 25833, None),
    ],
)
def test_spellings(srs_name: str, horizontal: int, vertical: int | None) -> None:
    crs = parse_srs_name(srs_name)
    if vertical is None:
        assert crs.to_epsg() == horizontal
    else:
        h, v = crs.sub_crs_list
        assert (h.to_epsg(), v.to_epsg()) == (horizontal, vertical)


@pytest.mark.parametrize(
    ("srs_name", "message"),
    [
        ("EPSG:999999", "unknown CRS 'EPSG:999999'; pass the CRS with --crs"),
        ("urn:adv:crs:MARS_UTM99", "unknown AdV CRS 'urn:adv:crs:MARS_UTM99'; pass the CRS"),
        ("#local-CRS-1", "defined inside the file (a local engineering CRS) that twin could not"),
        ("not a crs at all", "unknown CRS 'not a crs at all'; pass the CRS with --crs"),
    ],
)
def test_unknown_crs_names_it_and_hints_at_the_flag(srs_name: str, message: str) -> None:
    with pytest.raises(CRSError, match="--crs") as info:
        parse_srs_name(srs_name)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "srs_name",
    ["EPSG:25832", "urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783", "EPSG:31468", "EPSG:3879"],
)
def test_projected_crs_in_metres_can_anchor_a_local_crs(srs_name: str) -> None:
    check_anchor_crs(srs_name)  # does not raise


@pytest.mark.parametrize(
    ("srs_name", "message"),
    [
        ("EPSG:4326", "the anchor's CRS 'EPSG:4326' (WGS 84) has no easting and northing axes"),
        ("EPSG:2249", "(NAD83 / Massachusetts Mainland (ftUS)) has no easting and northing axes"),
        ("XYZ", "unknown CRS 'XYZ'; pass the CRS with --crs"),
    ],
)
def test_crs_without_metre_easting_northing_cannot_anchor(srs_name: str, message: str) -> None:
    with pytest.raises(CRSError, match="--crs") as info:
        check_anchor_crs(srs_name)
    assert message in str(info.value)
