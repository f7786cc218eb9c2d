"""Coordinate reference systems and reprojection: the only place twin imports pyproj."""

from twin.geo.crs import CRS_HINT, check_anchor_crs, parse_srs_name
from twin.geo.ogc_crs import (
    CRS84_URI,
    axis_names,
    crs_uri,
    projjson,
    transform_bbox,
    transform_geojson,
    transform_xy,
)
from twin.geo.reproject import Reprojector, ecef_to_lonlath, reprojector_for

__all__ = [
    "CRS84_URI",
    "CRS_HINT",
    "Reprojector",
    "axis_names",
    "check_anchor_crs",
    "crs_uri",
    "ecef_to_lonlath",
    "parse_srs_name",
    "projjson",
    "reprojector_for",
    "transform_bbox",
    "transform_geojson",
    "transform_xy",
]
