"""Reprojection to ECEF: axis order, geoid heights, agreement with an independent computation."""

from __future__ import annotations

import numpy as np
import pytest
from fresh_python import fresh_output
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from twin.errors import ReprojectionError
from twin.geo import ecef_to_lonlath, reprojector_for
from twin.geo.reproject import EGM96_GRID

WGS84_A = 6378137.0
WGS84_E2 = 6.69437999014e-3


def geodetic_to_ecef(lon: float, lat: float, h: float) -> np.ndarray:
    """Textbook formula, independent of PROJ's 4979→4978 step."""
    lam, phi = np.radians(lon), np.radians(lat)
    n = WGS84_A / np.sqrt(1 - WGS84_E2 * np.sin(phi) ** 2)
    return np.array(
        [
            (n + h) * np.cos(phi) * np.cos(lam),
            (n + h) * np.cos(phi) * np.sin(lam),
            (n * (1 - WGS84_E2) + h) * np.sin(phi),
        ]
    )


def test_compound_crs_gets_geoid_heights() -> None:
    point = np.array([[458877.0, 5438353.0, 112.0]])  # Karlsruhe, DHHN92 height
    r = reprojector_for("urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783", point)
    lon, lat, h = ecef_to_lonlath(r.to_ecef(point))[0]
    lon_ref, lat_ref = Transformer.from_crs(25832, 4326, always_xy=True).transform(
        458877.0, 5438353.0
    )
    assert (lon, lat) == pytest.approx((lon_ref, lat_ref), abs=1e-7)
    # The geoid lies 47-49 m above the ellipsoid in south-west Germany.
    assert 47.0 < h - 112.0 < 50.0
    assert "EGM96" in r.geoid or "PROJ grid" in r.geoid


def test_egm96_undulation_matches_the_grid_through_proj() -> None:
    point = np.array([[392000.0, 5820000.0, 40.0]])  # Berlin, EPSG:25833, heights orthometric
    r = reprojector_for("EPSG:25833", point)
    ecef = r.to_ecef(point)[0]
    lon, lat = Transformer.from_crs(25833, 4326, always_xy=True).transform(392000.0, 5820000.0)
    geoid = Transformer.from_pipeline(f"+proj=vgridshift +grids={EGM96_GRID} +multiplier=1")
    _, _, h = geoid.transform(lon, lat, 40.0)
    assert np.abs(ecef - geodetic_to_ecef(lon, lat, h)).max() < 1e-3
    assert "heights taken as orthometric" in r.geoid


def test_swapped_axis_order_is_detected() -> None:
    # Helsinki writes EPSG:3879 easting first although EPSG defines northing first.
    written = np.array([[25499065.9855, 6674607.2558, 3.1805]])
    r = reprojector_for("urn:ogc:def:crs:EPSG::3879", written)
    assert r.swapped
    assert not r.northing_first
    lon, lat, _ = ecef_to_lonlath(r.to_ecef(written))[0]
    assert (round(lon, 2), round(lat, 2)) == (24.98, 60.18)


def test_authority_order_kept_for_latitude_first_crs() -> None:
    written = np.array([[35.68, 139.76, 10.0]])  # JGD2011: latitude first, as EPSG says
    r = reprojector_for("http://www.opengis.net/def/crs/EPSG/0/6697", written)
    assert r.northing_first
    assert not r.swapped
    lon, lat, _ = ecef_to_lonlath(r.to_ecef(written))[0]
    assert (lon, lat) == pytest.approx((139.76, 35.68), abs=1e-6)


def test_coordinates_outside_the_crs_raise() -> None:
    r = reprojector_for("EPSG:6697", np.array([[35.68, 139.76, 10.0]]))
    with pytest.raises(ReprojectionError, match="outside the valid area"):
        r.to_ecef(np.array([[95.0, 139.76, 10.0]]))


@settings(max_examples=50, deadline=None)
@given(st.floats(300_000, 700_000), st.floats(5_300_000, 6_000_000), st.floats(-50.0, 500.0))
def test_ecef_round_trips_within_a_millimetre(e: float, n: float, h: float) -> None:
    point = np.array([[e, n, h]])
    r = reprojector_for("EPSG:25832", point)
    lonlath = ecef_to_lonlath(r.to_ecef(point))
    back = Transformer.from_crs(4979, 4978, always_xy=True).transform(*lonlath[0])
    assert np.abs(np.array(back) - r.to_ecef(point)[0]).max() < 1e-3


_BERLIN_SOLDNER = "urn:ogc:def:crs,crs:EPSG:6.12:3068,crs:EPSG:6.12:5783"  # c4j's CRS
_REPROJECT_IN_A_FRESH_PROCESS = """
import sys
import numpy as np
from twin.geo import reproject
if sys.argv[2] == "grids-first":
    reproject.add_system_grids()
sample = np.array([[21000.0, 21000.0, 40.0]])
ecef = reproject.reprojector_for(sys.argv[1], sample).to_ecef(sample)
print(repr(ecef.tolist()))
"""


def test_the_first_reprojection_of_a_process_uses_the_system_grids() -> None:
    """A process's first reprojector must see Debian's PROJ grids (DHDN's BETA2007 shift is
    ~0.4 m off the grid-less fallback): else a one-worker import and the pool's workers, which
    find them already added, put the same building in different places."""
    runs = [
        fresh_output(_REPROJECT_IN_A_FRESH_PROCESS, _BERLIN_SOLDNER, order)
        for order in ("as-imported", "grids-first")
    ]
    assert runs[0] == runs[1]
