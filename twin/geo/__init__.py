"""Coordinate reference systems and reprojection: the only place twin imports pyproj."""

from twin.geo.crs import CRS_HINT, parse_srs_name
from twin.geo.reproject import Reprojector, ecef_to_lonlath, reprojector_for

__all__ = ["CRS_HINT", "Reprojector", "ecef_to_lonlath", "parse_srs_name", "reprojector_for"]
