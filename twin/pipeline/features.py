"""One city object to one feature: reproject to ECEF, triangulate, measure, outline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.errors import GeometryError
from twin.geo import Reprojector, ecef_to_lonlath
from twin.geometry import footprint_geojson, triangulate_polygons
from twin.model import CityObject, Mesh
from twin.types import Float64Array

__all__ = ["Feature", "build_feature"]

BBox6 = tuple[float, float, float, float, float, float]


@dataclass(frozen=True, slots=True)
class Feature:
    """A city object ready for tiling and the catalog.

    ``mesh`` is None for an object without geometry of its own (a Building made of parts);
    ``bbox_wgs84`` is (min_lon, min_lat, min_h, max_lon, max_lat, max_h), ellipsoidal heights.
    """

    obj: CityObject
    mesh: Mesh | None
    bbox_wgs84: BBox6 | None
    footprint: dict[str, object] | None
    degenerate_polygons: int = 0

    @property
    def centre_ecef(self) -> Float64Array:
        assert self.mesh is not None
        pts = self.mesh.positions_ecef
        return np.asarray((pts.min(axis=0) + pts.max(axis=0)) / 2.0)

    @property
    def estimated_bytes(self) -> int:
        """Bytes this feature adds to a tile (un-welded float32 positions and normals)."""
        return 0 if self.mesh is None else int(self.mesh.faces.shape[0]) * 3 * 28


def build_feature(obj: CityObject, reprojector: Reprojector | None) -> Feature:
    """Reproject and triangulate ``obj``; raise GeometryError when nothing has area.

    ``reprojector`` may be None only for an object without surfaces.
    """
    surfaces = obj.surfaces
    if surfaces.polygon_count == 0:
        return Feature(obj, None, None, None)
    assert reprojector is not None
    ecef = reprojector.to_ecef(surfaces.coords)
    faces, owner = triangulate_polygons(ecef, surfaces.ring_offsets, surfaces.polygon_offsets)
    degenerate = surfaces.polygon_count - len(np.unique(owner))
    if len(faces) == 0:
        raise GeometryError(
            f"{obj.type} {obj.id!r} at {obj.source}: none of its {surfaces.polygon_count} "
            "polygons has an area (all degenerate)"
        )
    lonlath = ecef_to_lonlath(ecef)
    bbox = (*lonlath.min(axis=0).tolist(), *lonlath.max(axis=0).tolist())
    footprint = footprint_geojson(lonlath[:, :2], surfaces.ring_offsets, surfaces.polygon_offsets)
    mesh = Mesh(ecef, faces, surfaces.classes[owner])
    return Feature(
        obj, mesh, (bbox[0], bbox[1], bbox[2], bbox[3], bbox[4], bbox[5]), footprint, degenerate
    )


def merge_bboxes(boxes: list[BBox6]) -> BBox6:
    """Return the box around ``boxes`` (at least one)."""
    a = np.array(boxes, dtype=np.float64)
    lo, hi = a[:, :3].min(axis=0), a[:, 3:].max(axis=0)
    return (float(lo[0]), float(lo[1]), float(lo[2]), float(hi[0]), float(hi[1]), float(hi[2]))
