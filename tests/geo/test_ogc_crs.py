"""twin.geo.ogc_crs: OGC CRS URIs, transforms that round-trip, GeoJSON kept as GeoJSON."""

from __future__ import annotations

import numpy as np
import pytest
from fresh_python import fresh_output
from hypothesis import given
from hypothesis import strategies as st

from twin.errors import CRSError
from twin.geo import CRS84_URI, crs_uri, transform_geojson, transform_xy

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@given(st.floats(min_value=-179.0, max_value=179.0), st.floats(min_value=-84.0, max_value=84.0))
def test_3857_round_trips_within_a_millimetre(lon: float, lat: float) -> None:
    xy = np.array([[lon, lat]])
    back = transform_xy(transform_xy(xy, CRS84_URI, EPSG + "3857"), EPSG + "3857", CRS84_URI)
    assert np.allclose(back, xy, atol=1e-8)  # 1e-8 degree is about a millimetre


def test_geojson_keeps_heights_and_nesting() -> None:
    polygon = {"type": "Polygon", "coordinates": [[[8, 49, 1], [9, 49, 2], [9, 50, 3], [8, 49, 1]]]}
    moved = transform_geojson(polygon, CRS84_URI, EPSG + "4326")
    assert moved["type"] == "Polygon"
    assert moved["coordinates"][0][1] == [49.0, 9.0, 2.0]


@pytest.mark.parametrize(
    ("srs_name", "uri"),
    [
        ("EPSG:25832", EPSG + "25832"),
        ("urn:adv:crs:ETRS89_UTM32*DE_DHHN2016_NH", EPSG + "25832"),
        ("#local", None),
    ],
)
def test_crs_uri_of_source_srs_names(srs_name: str, uri: str | None) -> None:
    assert crs_uri(srs_name) == uri


def test_unknown_uri_is_a_crs_error() -> None:
    with pytest.raises(CRSError, match=r"^unknown CRS 'http://example\.com/crs'"):
        transform_xy(np.zeros((1, 2)), CRS84_URI, "http://example.com/crs")


_SERVE_IN_A_FRESH_PROCESS = """
import sys
import numpy as np
from twin.geo import CRS84_URI, reprojector_for, transform_xy
xy = np.array([[21000.0, 21000.0]])
soldner = "http://www.opengis.net/def/crs/EPSG/0/3068"
if sys.argv[1] == "after-an-import":
    reprojector_for("EPSG:3068", np.array([[21000.0, 21000.0, 40.0]]))
print(repr(transform_xy(xy, soldner, CRS84_URI).tolist()))
"""


def test_the_server_transforms_with_the_grids_the_import_used() -> None:
    """The server builds no reprojector: its CRS transforms must find Debian's PROJ grids
    themselves, or a Berlin Soldner (DHDN, BETA2007 grid) building is served ~0.4 m away
    from where it was imported (and from where its source put it)."""
    runs = [
        fresh_output(_SERVE_IN_A_FRESH_PROCESS, when)
        for when in ("serving-only", "after-an-import")
    ]
    assert runs[0] == runs[1]
