"""One city object to one feature: reproject to ECEF, triangulate, measure, outline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twin.errors import GeometryError, ReprojectionError
from twin.geo import Reprojector, ecef_to_lonlath
from twin.geometry import footprint_geojson
from twin.geometry.batch import triangulate_many
from twin.model import CityObject, Mesh
from twin.types import Float64Array, IndexArray

__all__ = ["Feature", "build_feature", "build_features"]

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
    faces, owner = triangulate_many(ecef, surfaces.ring_offsets, surfaces.polygon_offsets)
    degenerate = surfaces.polygon_count - len(np.unique(owner))
    if len(faces) == 0:
        raise _no_area(obj)
    lonlath = ecef_to_lonlath(ecef)
    bbox = (*lonlath.min(axis=0).tolist(), *lonlath.max(axis=0).tolist())
    footprint = footprint_geojson(lonlath[:, :2], surfaces.ring_offsets, surfaces.polygon_offsets)
    mesh = Mesh(ecef, faces, surfaces.classes[owner])
    return Feature(
        obj, mesh, (bbox[0], bbox[1], bbox[2], bbox[3], bbox[4], bbox[5]), footprint, degenerate
    )


def build_features(
    objs: Sequence[CityObject], reprojector: Reprojector
) -> list[Feature | GeometryError | ReprojectionError]:
    """Build the features of many objects in one CRS with one PROJ call and one triangulation.

    Returns, per object in order, its feature or the error :func:`build_feature` would raise.
    Every object must have polygons. A batch PROJ cannot transform falls back to one object at
    a time, so the error names the object.
    """
    if not objs:
        return []
    if any(o.surfaces.polygon_count == 0 for o in objs):
        raise ValueError("build_features needs objects with polygons")
    coords, rings, polygons, vertex_offsets, polygon_offsets = _concatenate(objs)
    try:
        ecef = reprojector.to_ecef(coords)
    except ReprojectionError:
        return [_build_one(o, reprojector) for o in objs]
    faces, owner = triangulate_many(ecef, rings, polygons)
    object_of_polygon = np.repeat(np.arange(len(objs)), np.diff(polygon_offsets))
    face_offsets = np.searchsorted(object_of_polygon[owner], np.arange(len(objs) + 1))
    drawn = np.bincount(object_of_polygon[np.unique(owner)], minlength=len(objs))
    lonlath = ecef_to_lonlath(ecef)
    starts = vertex_offsets[:-1]
    lo, hi = np.minimum.reduceat(lonlath, starts), np.maximum.reduceat(lonlath, starts)
    classes = np.concatenate([o.surfaces.classes for o in objs])[owner]
    out: list[Feature | GeometryError | ReprojectionError] = []
    for k, obj in enumerate(objs):
        f0, f1 = face_offsets[k], face_offsets[k + 1]
        v0, v1 = int(vertex_offsets[k]), int(vertex_offsets[k + 1])
        surfaces = obj.surfaces
        if f0 == f1:
            out.append(_no_area(obj))
            continue
        mesh = Mesh(ecef[v0:v1], faces[f0:f1] - np.uint32(v0), classes[f0:f1])
        footprint = footprint_geojson(
            lonlath[v0:v1, :2], surfaces.ring_offsets, surfaces.polygon_offsets
        )
        box = (*lo[k].tolist(), *hi[k].tolist())
        degenerate = surfaces.polygon_count - int(drawn[k])
        out.append(
            Feature(
                obj, mesh, (box[0], box[1], box[2], box[3], box[4], box[5]), footprint, degenerate
            )
        )
    return out


def _concatenate(
    objs: Sequence[CityObject],
) -> tuple[Float64Array, IndexArray, IndexArray, IndexArray, IndexArray]:
    """Return all objects' surfaces as one ragged set, plus per-object vertex/polygon offsets."""
    surfaces = [o.surfaces for o in objs]
    vertex_counts = np.array([len(s.coords) for s in surfaces], dtype=np.int64)
    ring_counts = np.array([s.ring_count for s in surfaces], dtype=np.int64)
    vertex_offsets = np.concatenate([[0], np.cumsum(vertex_counts)])
    ring_base = np.concatenate([[0], np.cumsum(ring_counts)])
    rings = np.concatenate(
        [s.ring_offsets[:-1] + vertex_offsets[k] for k, s in enumerate(surfaces)]
        + [vertex_offsets[-1:]]
    )
    polygons = np.concatenate(
        [s.polygon_offsets[:-1] + ring_base[k] for k, s in enumerate(surfaces)] + [ring_base[-1:]]
    )
    polygon_counts = np.array([s.polygon_count for s in surfaces], dtype=np.int64)
    polygon_offsets = np.concatenate([[0], np.cumsum(polygon_counts)])
    coords = np.concatenate([s.coords for s in surfaces])
    return coords, rings, polygons, vertex_offsets, polygon_offsets


def _build_one(
    obj: CityObject, reprojector: Reprojector
) -> Feature | GeometryError | ReprojectionError:
    try:
        return build_feature(obj, reprojector)
    except (GeometryError, ReprojectionError) as exc:
        return exc


def _no_area(obj: CityObject) -> GeometryError:
    return GeometryError(
        f"{obj.type} {obj.id!r} at {obj.source}: none of its {obj.surfaces.polygon_count} "
        "polygons has an area (all degenerate)"
    )


def merge_bboxes(boxes: list[BBox6]) -> BBox6:
    """Return the box around ``boxes`` (at least one)."""
    a = np.array(boxes, dtype=np.float64)
    lo, hi = a[:, :3].min(axis=0), a[:, 3:].max(axis=0)
    return (float(lo[0]), float(lo[1]), float(lo[2]), float(hi[0]), float(hi[1]), float(hi[2]))
