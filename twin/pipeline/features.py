"""One city object to one feature: reproject to ECEF, triangulate, measure, outline."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from tiles.images import MAX_CROPPED_SHARE
from twin.errors import GeometryError, ReprojectionError
from twin.geo import Reprojector, ecef_to_lonlath
from twin.geometry import footprint_geojson, footprints_geojson, lonlat_area_m2
from twin.geometry.batch import triangulate_many
from twin.geometry.lod_geometry import surfaces_wkb, surfaces_wkb_many
from twin.geometry.measures import measure_meshes
from twin.model import (
    Address,
    AttributeValue,
    CityObject,
    Measures,
    Mesh,
    SurfaceClass,
    Surfaces,
    pickled_by_fields,
)
from twin.types import Float64Array, IndexArray, UInt8Array, UInt32Array

__all__ = [
    "CatalogPart",
    "Feature",
    "build_feature",
    "build_features",
    "catalog_part",
    "measures_of",
    "texture_bytes",
]

BBox6 = tuple[float, float, float, float, float, float]
_CLASSES = len(SurfaceClass)
_ROOF_WALL_GROUND = (SurfaceClass.ROOF, SurfaceClass.WALL, SurfaceClass.GROUND)


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Feature:
    """A city object ready for tiling and the catalog.

    ``mesh`` is None for an object without geometry of its own (a Building made of parts);
    ``bbox_wgs84`` is (min_lon, min_lat, min_h, max_lon, max_lat, max_h), ellipsoidal heights.
    ``footprint_area_m2`` is the footprint's area before rounding; ``class_areas_m2``
    ``(len(SurfaceClass),)`` the triangle area per surface class and ``volume_m3`` the volume
    its shell encloses (None unless closed); all three are measured from ``mesh``.
    ``surfaces_wkb`` is the object's polygons as a MultiPolygon Z (lon, lat, ellipsoidal h).
    ``texture_bytes`` estimates the image bytes its textures bring into a tile (so that tile
    budgets bound texture memory too): per image, its file size times the part of the image
    the feature's texture coordinates span.
    """

    obj: CityObject
    mesh: Mesh | None
    bbox_wgs84: BBox6 | None
    footprint: dict[str, object] | None
    degenerate_polygons: int = 0
    footprint_area_m2: float | None = None
    class_areas_m2: Float64Array | None = None
    volume_m3: float | None = None
    surfaces_wkb: bytes | None = None
    texture_bytes: int = 0

    @property
    def estimated_bytes(self) -> int:
        """Bytes this feature adds to a tile: un-welded float32 positions and normals, and
        the share of its texture images its texture coordinates cover."""
        if self.mesh is None:
            return 0
        return int(self.mesh.faces.shape[0]) * 3 * 28 + self.texture_bytes


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class CatalogPart:
    """What the catalog needs of a feature, without its mesh (see :func:`catalog_part`).

    The fields are the :class:`Feature`'s and its object's of the same names; ``measures``
    are the feature's own (:func:`measures_of` without parts). A Building of parts gets its
    parts' footprint and aggregate measures at publish, from their parts.
    """

    id: str
    type: str
    attributes: Mapping[str, AttributeValue]
    parent_id: str | None
    lod: int | None
    address: Address | None
    bbox_wgs84: BBox6 | None
    footprint: dict[str, object] | None
    footprint_area_m2: float | None = None
    class_areas_m2: Float64Array | None = None
    volume_m3: float | None = None
    surfaces_wkb: bytes | None = None
    measures: Measures = field(default_factory=Measures)


def catalog_part(f: Feature) -> CatalogPart:
    """Return what the catalog needs of ``f``, its own measures included."""
    obj = f.obj
    fields = (
        obj.id,
        obj.type,
        dict(obj.attributes),
        obj.parent_id,
        obj.lod,
        obj.address,
        f.bbox_wgs84,
        f.footprint,
        f.footprint_area_m2,
        f.class_areas_m2,
        f.volume_m3,
        f.surfaces_wkb,
    )
    return CatalogPart(*fields, measures=measures_of(CatalogPart(*fields)))


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
    footprint, area = footprint_geojson(
        lonlath[:, :2], surfaces.ring_offsets, surfaces.polygon_offsets
    )
    classes = surfaces.classes[owner]
    areas, volumes = measure_meshes(
        ecef, faces, classes, np.zeros(len(faces), np.int64), np.array([0, len(ecef)]), _CLASSES
    )
    mesh = _mesh(obj, ecef, faces, classes, owner)
    return Feature(
        _without_appearance(obj),
        mesh,
        (bbox[0], bbox[1], bbox[2], bbox[3], bbox[4], bbox[5]),
        footprint,
        degenerate,
        area,
        areas[0],
        _volume(volumes[0]),
        surfaces_wkb(lonlath, surfaces.ring_offsets, surfaces.polygon_offsets),
        texture_bytes(mesh),
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
    areas, volumes = measure_meshes(
        ecef, faces, classes, object_of_polygon[owner], vertex_offsets, _CLASSES
    )
    footprints = footprints_geojson(lonlath[:, :2], rings, polygons, polygon_offsets)
    wkbs = surfaces_wkb_many(lonlath, rings, polygons, polygon_offsets)
    out: list[Feature | GeometryError | ReprojectionError] = []
    for k, obj in enumerate(objs):
        f0, f1 = face_offsets[k], face_offsets[k + 1]
        v0, v1 = int(vertex_offsets[k]), int(vertex_offsets[k + 1])
        surfaces = obj.surfaces
        if f0 == f1:
            out.append(_no_area(obj))
            continue
        local_owner = owner[f0:f1] - polygon_offsets[k]
        mesh = _mesh(obj, ecef[v0:v1], faces[f0:f1] - np.uint32(v0), classes[f0:f1], local_owner)
        footprint, area = footprints[k]
        box = (*lo[k].tolist(), *hi[k].tolist())
        degenerate = surfaces.polygon_count - int(drawn[k])
        out.append(
            Feature(
                _without_appearance(obj),
                mesh,
                (box[0], box[1], box[2], box[3], box[4], box[5]),
                footprint,
                degenerate,
                area,
                areas[k],
                _volume(volumes[k]),
                wkbs[k],
                texture_bytes(mesh),
            )
        )
    return out


def _mesh(
    obj: CityObject,
    ecef: Float64Array,
    faces: UInt32Array,
    classes: UInt8Array,
    owner: IndexArray,
) -> Mesh:
    """Return the mesh, with the material of each face's polygon and the vertices' UVs."""
    appearance = obj.appearance
    if appearance is None:
        return Mesh(ecef, faces, classes)
    face_materials = appearance.polygon_materials[owner]
    return Mesh(ecef, faces, classes, face_materials, appearance.uv, appearance.materials)


def texture_bytes(mesh: Mesh) -> int:
    """Estimate the image bytes ``mesh``'s textures bring into a tile.

    Per textured material: the image file's size times the share of the image a tile embeds
    for it (:func:`tiles.images.tile_image`): the area of the texture coordinates' bounding
    box, or the whole image when the coordinates leave [0, 1] (a repeating texture) or the box
    covers more than ``MAX_CROPPED_SHARE`` of it. An image shared by many objects (an atlas) is
    so counted about once in all.
    """
    if mesh.uv is None or mesh.face_materials is None:
        return 0
    total = 0.0
    for k, material in enumerate(mesh.materials):
        faces = mesh.faces[mesh.face_materials == k]
        if material.image is None or not len(faces):
            continue
        uv = mesh.uv[faces.reshape(-1)]
        lo, hi = uv.min(axis=0), uv.max(axis=0)
        share = float(np.prod(hi - lo)) if lo.min() >= 0.0 and hi.max() <= 1.0 else 1.0
        total += _file_size(material.image) * (share if share <= MAX_CROPPED_SHARE else 1.0)
    return int(total)


@functools.lru_cache(maxsize=4096)
def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _without_appearance(obj: CityObject) -> CityObject:
    """Return ``obj`` without its appearance, which its mesh now carries."""
    return obj if obj.appearance is None else replace(obj, appearance=None)


def _volume(value: np.float64) -> float | None:
    return None if np.isnan(value) else float(value)


def _concatenate(
    objs: Sequence[CityObject],
) -> tuple[Float64Array, IndexArray, IndexArray, IndexArray, IndexArray]:
    """Return all objects' surfaces as one ragged set, plus per-object vertex/polygon offsets."""
    joined = Surfaces.join([o.surfaces for o in objs])
    vertex_counts = np.array([len(o.surfaces.coords) for o in objs], dtype=np.int64)
    polygon_counts = np.array([o.surfaces.polygon_count for o in objs], dtype=np.int64)
    vertex_offsets = np.concatenate([[0], np.cumsum(vertex_counts)])
    polygon_offsets = np.concatenate([[0], np.cumsum(polygon_counts)])
    return (
        joined.coords,
        joined.ring_offsets,
        joined.polygon_offsets,
        vertex_offsets,
        polygon_offsets,
    )


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


def merge_bboxes(boxes: Sequence[BBox6] | Float64Array) -> BBox6:
    """Return the box around ``boxes`` (at least one; an array is (K, 6))."""
    a = np.array(boxes, dtype=np.float64)
    lo, hi = a[:, :3].min(axis=0), a[:, 3:].max(axis=0)
    return (float(lo[0]), float(lo[1]), float(lo[2]), float(hi[0]), float(hi[1]), float(hi[2]))


def measures_of(f: CatalogPart, parts: Sequence[CatalogPart] = ()) -> Measures:
    """Return the 3D facts of a feature and its ``parts`` (a Building's BuildingParts).

    ``height_m``: the ``measuredHeight`` attribute when it is a number, else the top of the
    bounding box minus its bottom (for a Building of parts: over all parts). The footprint
    area is that of the feature's footprint (as measured with its mesh; without a mesh, from
    the GeoJSON). Areas per class sum the feature's own triangles and its parts'; they are
    None when no surface carries a class (all unclassified), 0.0 for a class that is missing.
    The volume is the sum of the pieces' only when every piece is closed.
    """
    measured = f.attributes.get("measuredHeight")
    if isinstance(measured, int | float) and not isinstance(measured, bool):
        height: float | None = float(measured)
    else:
        height = None if f.bbox_wgs84 is None else f.bbox_wgs84[5] - f.bbox_wgs84[2]
    if f.class_areas_m2 is not None:
        footprint = f.footprint_area_m2
    else:
        footprint = None if f.footprint is None else lonlat_area_m2(f.footprint)
    own = [p for p in (f, *parts) if p.class_areas_m2 is not None]
    if not own:
        return Measures(height, footprint)
    pieces = [p.class_areas_m2 for p in own if p.class_areas_m2 is not None]
    areas = pieces[0] if len(pieces) == 1 else np.sum(pieces, axis=0)
    volumes = [p.volume_m3 for p in own]
    volume = None if None in volumes else float(sum(v for v in volumes if v is not None))
    if not areas[SurfaceClass.UNCLASSIFIED + 1 :].any():
        return Measures(height, footprint, volume_m3=volume)
    roof, wall, ground = (float(areas[c]) for c in _ROOF_WALL_GROUND)
    return Measures(height, footprint, roof, wall, ground, volume)
