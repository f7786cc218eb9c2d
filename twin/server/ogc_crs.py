"""OGC API – Features Part 2 at the server: ``crs``, ``bbox-crs`` and ``Content-Crs``.

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
from twin.geo import CRS84_URI, crs_uri, transform_bbox, transform_xy
from twin.model import DatasetInfo
from twin.server.ogc_params import parse_bbox
from twin.server.ogc_tables import Transform

__all__ = ["EPSG3857", "EPSG4326", "bbox_in_crs84", "offered_crs", "output_crs", "reproject"]

EPSG4326: Final = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857: Final = "http://www.opengis.net/def/crs/EPSG/0/3857"


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


def output_crs(query: Mapping[str, str], info: DatasetInfo) -> tuple[str, Transform | None]:
    """Return the ``crs`` asked (checked) and the coordinate transform to it, None for CRS84."""
    uri = _checked(query.get("crs", CRS84_URI), info, "crs")
    if uri == CRS84_URI:
        return uri, None
    return uri, partial(transform_xy, from_uri=CRS84_URI, to_uri=uri)


def bbox_in_crs84(query: Mapping[str, str], info: DatasetInfo) -> Mapping[str, str]:
    """Return the query with ``bbox`` given in CRS84 (transformed from ``bbox-crs``)."""
    bbox_crs = _checked(query.get("bbox-crs", CRS84_URI), info, "bbox-crs")
    text = query.get("bbox")
    if bbox_crs == CRS84_URI:
        return query
    if text is None:
        return {**query, "bbox-crs": CRS84_URI}
    box = transform_bbox(parse_bbox(text), bbox_crs, CRS84_URI)
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
