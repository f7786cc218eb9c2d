"""SQL over the ``objects`` table for filters and sorts: property columns, bound parameters and
the SQL functions translated filters call.

Properties are the catalog columns ``id``, ``type``, ``parent_id``, ``lod`` and the derived
address and measures (:mod:`twin.store.derived`), the static attributes
(``json_extract(attributes, '$."name"')``) and ``geometry`` (the footprint, the bounding box
when there is none). Spatial predicates check the bounding box columns first and then the exact
predicate with shapely, in the SQL function ``twin_spatial`` that :func:`register_functions`
installs on the connection.

CQL2 itself is parsed and translated in :mod:`twin.store.features_cql2`: pygeofilter takes a
second to import (its grammar is built then), so only what parses filters pays for it, not
every ``twin`` command that opens the store.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import shapely

from twin.errors import QueryError
from twin.store.derived import DERIVED

__all__ = [
    "COLUMNS",
    "GEOMETRY_NAMES",
    "SqlFilter",
    "fold_case",
    "property_sql",
    "query_wkb",
    "register_functions",
]

COLUMNS: Final = {
    "id": "id", "type": "type", "parent_id": "parent_id", "lod": "lod",
    **{d.name: d.column for d in DERIVED},
}  # fmt: skip
"""Properties stored as columns of ``objects`` (the rest live in the attributes JSON)."""

GEOMETRY_NAMES: Final = frozenset({"geometry", "footprint"})


@dataclass(frozen=True, slots=True)
class SqlFilter:
    """A ``WHERE`` fragment and its bound parameters, in order."""

    sql: str
    params: tuple[Any, ...]


def property_sql(
    name: str,
    live: Mapping[str, str] | None = None,
    attribute_of: Mapping[str, str] | None = None,
) -> tuple[str, tuple[Any, ...]]:
    """Return the SQL expression reading property ``name`` of an object, and its parameters.

    ``live`` maps live property names to the JSON text of ``{object id: value}``; such a
    property is read from that bound JSON by the object's id. ``attribute_of`` maps the
    new name of an attribute named like a catalog property to its own
    (:func:`twin.store.derived.catalog_names`: ``type_2`` to ``type``).

    >>> property_sql("lod")
    ('lod', ())
    >>> property_sql("yearOfConstruction")
    ('json_extract(attributes, ?)', ('$."yearOfConstruction"',))
    >>> print(property_sql("energyUse", {"energyUse": '{"b1": 120}'})[0])
    json_extract(?, '$."' || id || '"')
    >>> property_sql("type_2", attribute_of={"type_2": "type"})
    ('json_extract(attributes, ?)', ('$."type"',))
    """
    if attribute_of is not None and name in attribute_of:
        name = attribute_of[name]
    elif name in COLUMNS:
        return COLUMNS[name], ()
    elif live is not None and name in live:
        return "json_extract(?, '$.\"' || id || '\"')", (live[name],)
    if '"' in name or "\\" in name:
        raise QueryError(f"invalid property name {name!r}")
    return "json_extract(attributes, ?)", (f'$."{name}"',)


def query_wkb(geometry: shapely.Geometry) -> str:
    """Return the query geometry as ``twin_spatial`` takes it: hex WKB, which keeps every bit of
    each coordinate (GEOS writes WKT with 16 significant digits: a vertex on the boundary of a
    box could move off it)."""
    return str(shapely.to_wkb(geometry, hex=True))


@lru_cache(maxsize=64)
def _prepared(wkb: str) -> tuple[shapely.Geometry, tuple[float, ...], bool]:
    """Return the query geometry (prepared), its bounds, and whether it is its own bounds."""
    geometry = shapely.from_wkb(wkb)
    shapely.prepare(geometry)
    bounds = tuple(float(b) for b in shapely.bounds(geometry))
    return geometry, bounds, bool(shapely.equals(geometry, shapely.box(*bounds)))


def _decided_by_boxes(
    op: str, own: tuple[float, float, float, float], query: tuple[float, ...], is_box: bool
) -> bool:
    """Whether the bounding boxes alone prove ``footprint op query`` (no parsing needed)."""
    x0, y0, x1, y1 = own
    inside = query[0] <= x0 and x1 <= query[2] and query[1] <= y0 and y1 <= query[3]
    if op in ("intersects", "within") and is_box and inside:
        return True  # a footprint lies inside its own box, hence inside the query box
    apart = x1 < query[0] or x0 > query[2] or y1 < query[1] or y0 > query[3]
    return op == "disjoint" and apart


def _spatial(
    op: str, footprint: str | None, x0: float, y0: float, x1: float, y1: float, wkb: str
) -> int:
    """SQL function ``twin_spatial``: 1 when ``footprint op query`` holds (DE-9IM via shapely);
    the query is :func:`query_wkb`'s text.

    The boxes decide the common cases (a footprint well inside a bbox query) without parsing.
    """
    query, bounds, is_box = _prepared(wkb)
    if _decided_by_boxes(op, (x0, y0, x1, y1), bounds, is_box):
        return 1
    if footprint:
        own = shapely.geometry.shape(json.loads(footprint))
    else:
        own = shapely.box(x0, y0, x1, y1)
    predicate: Callable[[Any, Any], bool] = getattr(shapely, op)
    return int(bool(predicate(own, query)))


def fold_case(value: str | float | None) -> str | float | None:
    """SQL function ``twin_casei``: CQL2 ``CASEI``, Unicode case folding (SQLite's ``lower``
    folds ASCII only; ``Straße`` and ``STRASSE`` fold alike)."""
    return value.casefold() if isinstance(value, str) else value


def register_functions(connection: sqlite3.Connection) -> None:
    """Install the SQL functions the translated filters call (``twin_spatial``, ``twin_casei``)."""
    connection.create_function("twin_spatial", 7, _spatial, deterministic=True)
    connection.create_function("twin_casei", 1, fold_case, deterministic=True)
