"""Pure geometry on numpy arrays: triangulation and measures."""

from twin.geometry.footprint import (
    footprint_geojson,
    footprints_geojson,
    lonlat_area_m2,
    union_geojson,
)
from twin.geometry.triangulate import (
    newell_normal,
    polygon_area,
    triangle_areas,
    triangulate_polygons,
)

__all__ = [
    "footprint_geojson",
    "footprints_geojson",
    "lonlat_area_m2",
    "newell_normal",
    "polygon_area",
    "triangle_areas",
    "triangulate_polygons",
    "union_geojson",
]
