"""Source coordinates to ECEF (EPSG:4978), heights made ellipsoidal through a geoid.

3D Tiles needs ellipsoidal heights; CityGML heights are usually orthometric (DHHN, NAP, JGD…).
A :class:`Reprojector` picks, once per CRS, the best way PROJ offers:

1. PROJ's own transformation when it applies a geoid grid that is installed (e.g. GCG2016 for
   DHHN2016 when ``de_bkg_gcg2016.tif`` is in PROJ's data or user directory);
2. otherwise the horizontal transformation plus EGM96 undulations from the grid twin ships;
3. no geoid when the CRS's heights are already ellipsoidal (a 3D geographic CRS, EPSG:4979).

A 2D CRS says nothing of its heights; city models in one have national (orthometric) heights
in practice, so they get the geoid too, and the report says so.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj import CRS, Transformer, datadir
from pyproj.exceptions import ProjError

from twin.errors import ReprojectionError
from twin.geo.crs import parse_srs_name
from twin.types import Float64Array

__all__ = [
    "Reprojector",
    "add_system_grids",
    "authority_northing_first",
    "ecef_to_lonlath",
    "reprojector_for",
]

log = logging.getLogger(__name__)

EGM96_GRID = Path(__file__).parent / "grids" / "egm96_15.gtx"
_SYSTEM_PROJ_DATA = Path("/usr/share/proj")
_GRID = re.compile(r"(?:grids|geoidgrids)=(\S+)")


@dataclass(frozen=True, slots=True)
class Reprojector:
    """Coordinates as written in one srsName to ECEF.

    Attributes
    ----------
    srs_name : str
    northing_first : bool
        Whether the file writes northing (or latitude) first. Follows the CRS authority unless
        the data only make sense the other way round (Helsinki's EPSG:3879 files are written
        easting first although EPSG says northing first).
    geoid : str
        How heights were made ellipsoidal, for the import report.
    swapped : bool
        Whether ``northing_first`` contradicts the CRS authority's axis order.
    """

    srs_name: str
    northing_first: bool
    geoid: str
    swapped: bool
    _horizontal: Transformer
    _undulation: Transformer | None
    _to_ecef: Transformer

    def to_ecef(self, coords: Float64Array) -> Float64Array:
        """Return ``coords`` (N, 3) as written in the file, as ECEF (N, 3) float64 metres."""
        x, y = (coords[:, 1], coords[:, 0]) if self.northing_first else (coords[:, 0], coords[:, 1])
        try:
            if self._undulation is None:  # one PROJ pipeline straight to ECEF
                out = self._horizontal.transform(x, y, coords[:, 2])
            else:
                lon, lat = self._horizontal.transform(x, y)
                _, _, h = self._undulation.transform(lon, lat, coords[:, 2])
                out = self._to_ecef.transform(lon, lat, h)
        except ProjError as exc:
            raise ReprojectionError(f"PROJ failed for {self.srs_name!r}: {exc}") from exc
        ecef = np.column_stack(out).astype(np.float64, copy=False)
        if not np.isfinite(ecef).all():
            raise ReprojectionError(
                f"coordinates outside the valid area of {self.srs_name!r} "
                f"(first vertex {coords[0].tolist()})"
            )
        return ecef


def reprojector_for(srs_name: str, sample: Float64Array) -> Reprojector:
    """Return the reprojector for ``srs_name``, deciding axis order from ``sample`` (N, 3).

    Build it once per CRS and reuse it: transformers are cached per CRS pair.
    """
    crs = parse_srs_name(srs_name)
    return _build(srs_name, _northing_first(crs, sample))


@functools.lru_cache(maxsize=32)
def _build(srs_name: str, northing_first: bool) -> Reprojector:
    crs = parse_srs_name(srs_name)
    swapped = northing_first != authority_northing_first(crs)
    to_ecef = _transformer(CRS.from_epsg(4979), CRS.from_epsg(4978))
    if _heights_are_ellipsoidal(crs):
        direct = _transformer(crs, CRS.from_epsg(4978))
        return Reprojector(
            srs_name,
            northing_first,
            "none: heights are ellipsoidal",
            swapped,
            direct,
            None,
            to_ecef,
        )
    direct = _transformer(crs, CRS.from_epsg(4978))
    if crs.is_compound and (grid := _geoid_grid(direct)):
        return Reprojector(
            srs_name, northing_first, f"PROJ grid {grid}", swapped, direct, None, to_ecef
        )
    horizontal = crs.sub_crs_list[0] if crs.is_compound else crs
    egm96 = Transformer.from_pipeline(f"+proj=vgridshift +grids={EGM96_GRID} +multiplier=1")
    geoid = "EGM96 (twin's grid)"
    if not crs.is_compound:
        geoid += "; the CRS has no vertical part, heights taken as orthometric"
    elif crs.sub_crs_list[1].name:
        geoid += f"; PROJ has no grid for {crs.sub_crs_list[1].name}"
    to_lonlat = _transformer(horizontal, CRS.from_epsg(4326))
    return Reprojector(srs_name, northing_first, geoid, swapped, to_lonlat, egm96, to_ecef)


@functools.lru_cache(maxsize=64)
def _transformer(source: CRS, target: CRS) -> Transformer:
    # Before any transformer: one made earlier would not use the grids (the axis-order check
    # builds the first), and the transformers are cached for the process.
    add_system_grids()
    with warnings.catch_warnings():
        # "Best transformation is not available due to missing grid": the reprojector then
        # falls back to EGM96 and the import report says so.
        warnings.simplefilter("ignore", UserWarning)
        return Transformer.from_crs(source, target, always_xy=True)


def ecef_to_lonlath(points_ecef: Float64Array) -> Float64Array:
    """Return ECEF points (N, 3) as (lon°, lat°, ellipsoidal height m) on WGS84.

    >>> ecef_to_lonlath(np.array([[6378137.0, 0.0, 0.0]])).round(6).tolist()
    [[0.0, 0.0, 0.0]]
    """
    t = _transformer(CRS.from_epsg(4978), CRS.from_epsg(4979))
    lon, lat, h = t.transform(points_ecef[:, 0], points_ecef[:, 1], points_ecef[:, 2])
    return np.column_stack([lon, lat, h])


def _heights_are_ellipsoidal(crs: CRS) -> bool:
    if crs.is_compound:
        return False
    return len(crs.axis_info) == 3 and crs.axis_info[2].direction == "up" and crs.is_geographic


def _geoid_grid(transformer: Transformer) -> str | None:
    found = _GRID.findall(transformer.definition or "")
    return found[0] if found else None


def authority_northing_first(crs: CRS) -> bool:
    """Whether the first horizontal axis of ``crs`` is its northing or latitude, as its
    authority defines it (EPSG:4326, Gauss-Krüger's X …)."""
    horizontal = crs.sub_crs_list[0] if crs.is_compound else crs
    return horizontal.axis_info[0].direction in ("north", "south")


def _northing_first(crs: CRS, sample: Float64Array) -> bool:
    """Decide the axis order of ``sample`` (N, 3): authority order unless only the swap fits."""
    horizontal = crs.sub_crs_list[0] if crs.is_compound else crs
    authority = authority_northing_first(crs)
    area = horizontal.area_of_use
    if area is None or len(sample) == 0:
        return authority
    for northing_first in (authority, not authority):
        xy = sample[:, [1, 0]] if northing_first else sample[:, :2]
        lon, lat = _transformer(horizontal, CRS.from_epsg(4326)).transform(xy[:, 0], xy[:, 1])
        margin = 1.0 + 0.5 * max(area.east - area.west, area.north - area.south)
        inside = (
            np.isfinite(lon).all()
            and area.west - margin <= np.min(lon) <= np.max(lon) <= area.east + margin
            and area.south - margin <= np.min(lat) <= np.max(lat) <= area.north + margin
        )
        if inside:
            if northing_first != authority:
                log.warning("%s: coordinates are written in swapped axis order", crs.name)
            return northing_first
    return authority


@functools.cache
def add_system_grids() -> None:
    """Let PROJ find grids that Debian's proj-data installed, besides its own and the user's."""
    if _SYSTEM_PROJ_DATA.is_dir():
        datadir.append_data_dir(str(_SYSTEM_PROJ_DATA))
