"""A worker process reprojects with the same PROJ grids as the process that decided the CRS.

A process started fresh (spawned, or a Dask worker) has not added the system grids when it
unpickles its first reprojector; the transformers must still find them (BETA2007 for DHDN).
"""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from twin.geo import reprojector_for
from twin.pipeline.parallel import _worker_reprojector
from twin.types import Float64Array

SRS = "urn:ogc:def:crs,crs:EPSG:6.12:3068,crs:EPSG:6.12:5783"  # Soldner Berlin + DHHN92
POINTS = np.array([[23_500.0, 18_800.0, 40.0], [23_600.0, 18_900.0, 45.0]])  # Potsdam


def _to_ecef_in_worker(key: tuple[str, bool], blob: bytes, coords: Float64Array) -> Float64Array:
    return _worker_reprojector(key, blob).to_ecef(coords)


def test_a_fresh_worker_reprojects_as_the_deciding_process() -> None:
    reprojector = reprojector_for(SRS, POINTS)
    key = (reprojector.srs_name, reprojector.northing_first)
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        there = pool.submit(_to_ecef_in_worker, key, pickle.dumps(reprojector), POINTS).result()
    np.testing.assert_array_equal(there, reprojector.to_ecef(POINTS))
