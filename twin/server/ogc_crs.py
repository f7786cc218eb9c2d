"""OGC API – Features Part 2 at the server: ``crs``, ``bbox-crs`` and ``Content-Crs``; and
Part 3's ``filter-crs``.

Each collection offers CRS84 (the default), EPSG:4326 (latitude first), EPSG:3857 and the
horizontal CRS of its source data. Geometries are stored in CRS84; answers in another CRS are
transformed by :mod:`twin.geo` one array of coordinates per page or chunk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Final

import numpy as np
import shapely

from twin.errors import QueryError
from twin.geo import CRS84_URI, axis_names, crs_uri, transform_bbox, transform_xy
from twin.model import DatasetInfo
from twin.server.ogc_params import GeometryChoice, parse_bbox
from twin.server.ogc_tables import Transform

__all__ = [
    "CRS84H",
    "EPSG3857",
    "EPSG4326",
    "answer_crs",
    "bbox_in_crs84",
    "filter_to_crs84",
    "offered_crs",
    "output_crs",
    "reproject",
    "set_lod_geometries",
]

EPSG4326: Final = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857: Final = "http://www.opengis.net/def/crs/EPSG/0/3857"
CRS84H: Final = "http://www.opengis.net/def/crs/OGC/0/CRS84h"


def offered_crs(info: DatasetInfo) -> list[str]:
    """Return the CRS URIs a collection answers in: CRS84 first, then 4326, 3857, the source's."""
    found = [CRS84_URI, EPSG4326, EPSG3857]
    source = None if info.srs_name is None else crs_uri(info.srs_name)
    if source is not None and source not in found:
        found.append(source)
    return found


def _checked(uri: str, info: DatasetInfo, name: str) -> str:
    offered = offered_crs(info)
    if uri not in offered:
        raise QueryError(
            f"{name} {uri!r} is not offered by collection {info.name}; use one of: "
            f"{', '.join(offered)}"
        )
    return uri


def output_crs(
    query: Mapping[str, str], info: DatasetInfo, easting_first: bool = False
) -> tuple[str, Transform | None]:
    """Return the ``crs`` asked (checked) and the coordinate transform to it, None for CRS84.

    ``easting_first``: the transform gives x = easting or longitude whatever the CRS's axis
    order (:func:`twin.geo.transform_xy`).
    """
    uri = _checked(query.get("crs", CRS84_URI), info, "crs")
    if uri == CRS84_URI:
        return uri, None
    return uri, partial(transform_xy, from_uri=CRS84_URI, to_uri=uri, easting_first=easting_first)


def answer_crs(
    query: Mapping[str, str],
    info: DatasetInfo,
    geometry: GeometryChoice,
    easting_first: bool = False,
) -> tuple[str, Transform | None]:
    """Return the CRS of an answer and the transform to it, for the geometry asked.

    The LoD surfaces carry ellipsoidal heights, so they are given in CRS84h (OGC API –
    Features Part 1, /req/core/crs84: CRS84h for geometries with height; with WGS84
    longitude and latitude, only ellipsoidal heights are allowed) and nothing else.
    ``easting_first`` as :func:`output_crs` says.
    """
    if geometry == "footprint":
        return output_crs(query, info, easting_first)
    if query.get("crs", CRS84H) not in (CRS84H, CRS84_URI):
        raise QueryError(
            f"geometry=lod is given in {CRS84H} (longitude, latitude, ellipsoidal height) "
            "only; leave crs out or ask for that CRS"
        )
    return CRS84H, None


def filter_to_crs84(query: Mapping[str, str], info: DatasetInfo) -> Transform | None:
    """Return the transform of the ``filter``'s geometry literals from ``filter-crs`` (checked)
    to CRS84, None when they are in CRS84.

    OGC API – Features Part 3, parameter ``filter-crs``: the CRSs the collection offers for
    ``crs`` and ``bbox-crs`` (EPSG:4326 latitude first, as its authority orders the axes).
    """
    uri = _checked(query.get("filter-crs", CRS84_URI), info, "filter-crs")
    if uri == CRS84_URI:
        return None
    return partial(transform_xy, from_uri=uri, to_uri=CRS84_URI)


def bbox_in_crs84(query: Mapping[str, str], info: DatasetInfo) -> Mapping[str, str]:
    """Return the query with ``bbox`` given in CRS84 (transformed from ``bbox-crs``)."""
    bbox_crs = _checked(query.get("bbox-crs", CRS84_URI), info, "bbox-crs")
    text = query.get("bbox")
    if bbox_crs == CRS84_URI:
        return query
    if text is None:
        return {**query, "bbox-crs": CRS84_URI}
    box = transform_bbox(parse_bbox(text, axis_names(bbox_crs)), bbox_crs, CRS84_URI)
    return {**query, "bbox": ",".join(repr(v) for v in box), "bbox-crs": CRS84_URI}


def reproject(features: Sequence[Any], transform: Transform) -> None:
    """Transform the geometry and bbox of GeoJSON features in place, one array per page."""
    if not features:
        return
    texts = [None if f["geometry"] is None else json.dumps(f["geometry"]) for f in features]
    shapes = shapely.transform(shapely.from_geojson(texts), transform, include_z=True)
    for feature, shape in zip(features, shapes, strict=True):
        if shape is not None:
            feature["geometry"] = json.loads(shapely.to_geojson(shape))
    boxes = np.array([f["bbox"] for f in features], dtype=np.float64)
    xs, ys = boxes[:, [0, 3, 3, 0]], boxes[:, [1, 1, 4, 4]]
    corners = transform(np.column_stack([xs.ravel(), ys.ravel()]))[:, :2].reshape(-1, 4, 2)
    low, high = corners.min(axis=1), corners.max(axis=1)
    for feature, box, lo, hi in zip(features, boxes, low, high, strict=True):
        feature["bbox"] = [float(lo[0]), float(lo[1]), box[2], float(hi[0]), float(hi[1]), box[5]]


def set_lod_geometries(features: Sequence[Any], wkb_by_id: Mapping[str, bytes]) -> None:
    """Replace the features' footprints by their LoD surfaces (null for those without)."""
    wkbs = [wkb_by_id.get(f["id"]) for f in features]
    texts = shapely.to_geojson(shapely.from_wkb(wkbs))
    for feature, text in zip(features, texts, strict=True):
        feature["geometry"] = None if text is None else json.loads(text)
