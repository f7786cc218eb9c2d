"""Query parameters of ``/ogc/collections/{ds}/items``, checked and turned into a FeatureQuery.

Every malformed parameter is a :class:`twin.errors.QueryError` (400) naming the parameter and
what it accepts; nothing here can fail with a 500.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping
from typing import Final, Literal

from twin.errors import QueryError
from twin.geo import axis_names
from twin.store.features import FeatureQuery, SortKey
from twin.store.features_cql2 import (
    FilterLang,
    ToCRS84,
    all_equal,
    parse_filter,
    property_names,
    to_sql,
)
from twin.store.features_filter import SqlFilter

__all__ = [
    "CRS84",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PARAMETERS",
    "GeometryChoice",
    "OutputFormat",
    "parse_bbox",
    "parse_datetime",
    "parse_geometry",
    "parse_limit",
    "parse_sortby",
    "queryable_values",
    "sortable_names",
    "wanted_format",
]

CRS84: Final = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326: Final = "http://www.opengis.net/def/crs/EPSG/0/4326"
DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 10000
PARAMETERS: Final = frozenset({
    "f", "limit", "offset", "bbox", "bbox-crs", "datetime", "filter", "filter-lang",
    "filter-crs", "sortby", "crs", "geometry", "groupby", "bins", "stats",
})  # fmt: skip
"""The query parameters of the items, export and aggregate routes (never a queryable's)."""
JsonValue = str | int | float | bool
OutputFormat = Literal["json", "html", "csv", "parquet"]
GeometryChoice = Literal["footprint", "lod"]
_FORMATS: Final = ("json", "html", "csv", "parquet")


def wanted_format(query: Mapping[str, str], accept: str, allowed: Collection[str]) -> OutputFormat:
    """Return the representation asked by ``f`` or, without it, by the Accept header.

    >>> wanted_format({}, "text/html,application/xhtml+xml", ("json", "html"))
    'html'
    >>> wanted_format({"f": "json"}, "text/html", ("json", "html"))
    'json'
    """
    f = query.get("f")
    if f is not None:
        if f not in allowed:
            raise QueryError(f"f={f!r} is not offered here; use one of: {', '.join(allowed)}")
        return f  # type: ignore[return-value]
    if "text/html" in accept and "json" not in accept.split("text/html")[0]:
        return "html"
    return "json"


def parse_geometry(query: Mapping[str, str]) -> GeometryChoice:
    """Return which geometry the answer carries: the 2D ``footprint`` or the ``lod`` surfaces.

    >>> parse_geometry({"geometry": "lod"})
    'lod'
    """
    choice = query.get("geometry", "footprint")
    if choice not in ("footprint", "lod"):
        raise QueryError(f"geometry must be footprint or lod, got {choice!r}")
    return "lod" if choice == "lod" else "footprint"


def parse_limit(query: Mapping[str, str]) -> tuple[int, int]:
    """Return ``(limit, offset)``; a limit above :data:`MAX_LIMIT` is capped, not refused.

    >>> parse_limit({"limit": "50000", "offset": "20"})
    (10000, 20)
    """
    limit = _int(query, "limit", DEFAULT_LIMIT, minimum=1)
    return min(limit, MAX_LIMIT), _int(query, "offset", 0, minimum=0)


def _int(query: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{name} must be an integer, got {text!r}") from None
    if value < minimum:
        raise QueryError(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_bbox(
    text: str, axes: tuple[str, str] = ("longitude", "latitude")
) -> tuple[float, float, float, float]:
    """Return ``(minx, miny, maxx, maxy)`` of a ``bbox`` of 4 or 6 numbers (heights dropped).

    ``axes`` names the CRS's two axes in its order (:func:`twin.geo.axis_names`). The box is
    its lower-left corner, then its upper-right (OGC API - Features Part 1, 7.15.3): a lower
    bound above the upper one is refused, except on a longitude axis, where it is a box
    across the antimeridian; so is a bottom above the top.

    >>> parse_bbox("11,48,0,11.5,48.5,100")
    (11.0, 48.0, 11.5, 48.5)
    >>> parse_bbox("48,170,48.5,-170", ("latitude", "longitude"))
    (48.0, 170.0, 48.5, -170.0)
    """
    try:
        numbers = [float(p) for p in text.split(",")]
    except ValueError:
        raise QueryError(f"bbox must be 4 or 6 comma-separated numbers, got {text!r}") from None
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise QueryError(f"bbox must be 4 or 6 comma-separated numbers, got {text!r}")
    half = len(numbers) // 2
    x0, y0, x1, y1 = numbers[0], numbers[1], numbers[half], numbers[half + 1]
    for axis, low, high in zip(axes, (x0, y0), (x1, y1), strict=True):
        if low > high and axis != "longitude":
            raise QueryError(
                f"bbox {text!r}: the lower {axis} {low:g} is above the upper {axis} {high:g} "
                "(only longitudes may run west > east, across the antimeridian)"
            )
    if half == 3 and numbers[2] > numbers[5]:
        raise QueryError(f"bbox {text!r}: the bottom {numbers[2]} is above the top {numbers[5]}")
    return x0, y0, x1, y1


def parse_datetime(text: str) -> tuple[str | None, str | None]:
    """Return the bounds of an RFC 3339 instant or interval (``..`` or empty: open).

    >>> parse_datetime("2020-01-01/..")
    ('2020-01-01', None)
    >>> parse_datetime("2020-05-17T10:00:00Z")
    ('2020-05-17T10:00:00+00:00', '2020-05-17T10:00:00+00:00')
    >>> parse_datetime("2020-05-17T12:00:00+02:00/..")
    ('2020-05-17T10:00:00+00:00', None)
    """
    parts = text.split("/")
    if len(parts) > 2:
        raise QueryError(f"datetime must be an instant or start/end, got {text!r}")
    bounds = [_instant(p, text) for p in parts]
    if len(bounds) == 1:
        if bounds[0] is None:
            raise QueryError(f"datetime must be an instant or start/end, got {text!r}")
        return bounds[0], bounds[0]
    start, end = bounds
    if start is not None and end is not None and start > end:
        raise QueryError(f"datetime {text!r}: its start is after its end")
    return start, end


def _instant(part: str, text: str) -> str | None:
    if part in ("", ".."):
        return None
    try:
        if len(part) == 10:
            return dt.date.fromisoformat(part).isoformat()
        moment = dt.datetime.fromisoformat(part.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"datetime {text!r}: {part!r} is not an RFC 3339 date or time") from None
    # the stamps are compared as text and kept in UTC: a bound must be in UTC too
    return (moment if moment.tzinfo is None else moment.astimezone(dt.UTC)).isoformat()


def sortable_names(queryables: Mapping[str, str]) -> list[str]:
    """Return the queryables ``sortby`` accepts: all but objects and arrays (no order).

    >>> sortable_names({"id": "string", "address": "object", "height": "number"})
    ['height', 'id']
    """
    return sorted(n for n, kind in queryables.items() if kind not in ("object", "array"))


def parse_sortby(text: str, known: Collection[str]) -> tuple[SortKey, ...]:
    """Return the keys of ``sortby`` (``+name``/``name`` ascending, ``-name`` descending).

    ``known`` are the sortable names (:func:`sortable_names`).

    >>> parse_sortby("-height,id", {"height", "id"})
    (SortKey(name='height', descending=True), SortKey(name='id', descending=False))
    """
    keys = []
    for raw in text.split(","):
        term = raw.strip()
        descending = term.startswith("-")
        name = term.lstrip("+-").strip()
        if not name:
            raise QueryError(f"sortby has an empty key: {text!r}")
        if name not in known:
            raise QueryError(
                f"cannot sort by {name}; the sortables are: {', '.join(sorted(known))}"
            )
        keys.append(SortKey(name, descending))
    return tuple(keys)


def parse_filter_param(
    query: Mapping[str, str],
    known: Mapping[str, str],
    live: Mapping[str, str],
    to_crs84: ToCRS84 | None = None,
    attribute_of: Mapping[str, str] | None = None,
) -> SqlFilter | None:
    """Return the translated ``filter`` (with ``filter-lang``) AND-ed with the queryables
    given as parameters (:func:`queryable_values`), if any.

    ``to_crs84`` transforms the geometry literals from ``filter-crs``
    (:func:`twin.server.ogc_crs.filter_to_crs84`); without it, ``filter-crs`` must be CRS84.
    ``attribute_of`` maps renamed attributes to their own names
    (:func:`twin.store.features_filter.property_sql`).
    """
    text = query.get("filter")
    lang = query.get("filter-lang", "cql2-text")
    if lang not in ("cql2-text", "cql2-json"):
        raise QueryError(f"filter-lang must be cql2-text or cql2-json, got {lang!r}")
    crs = query.get("filter-crs", CRS84)
    if crs != CRS84 and to_crs84 is None:
        raise QueryError(f"filter-crs must be {CRS84}, got {crs!r}")
    filter_lang: FilterLang = "cql2-json" if lang == "cql2-json" else "cql2-text"
    node = None if text is None else parse_filter(text, filter_lang)
    node = all_equal(node, queryable_values(query, known))
    return None if node is None else to_sql(node, known, live, to_crs84, attribute_of)


def queryable_values(query: Mapping[str, str], known: Mapping[str, str]) -> dict[str, JsonValue]:
    """Return the parameters named after a queryable, each value read as its type says.

    OGC API – Features Part 3, conformance class queryables-query-parameters: such a parameter
    selects the features whose property equals its value. The parameters of the API itself
    (:data:`PARAMETERS`) keep their meaning.

    >>> queryable_values({"lod": "2", "name": "x", "limit": "5"}, {"lod": "integer", "limit": "x"})
    {'lod': 2}
    """
    values: dict[str, JsonValue] = {}
    for name, text in query.items():
        if name in PARAMETERS or name not in known:
            continue
        values[name] = _typed(name, text, known[name])
    return values


def _typed(name: str, text: str, kind: str) -> JsonValue:
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise QueryError(f"{name} must be an integer, got {text!r}") from None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise QueryError(f"{name} must be a number, got {text!r}")
        return number
    if kind == "boolean":
        if text not in ("true", "false"):
            raise QueryError(f"{name} must be true or false, got {text!r}")
        return text == "true"
    if kind in ("object", "array"):
        raise QueryError(f"{name} is an {kind}; filter on it with a CQL2 filter")
    return text


def filter_names(query: Mapping[str, str]) -> set[str]:
    """Return the property names of the ``filter`` and ``sortby`` parameters and of the other
    parameters that may name a queryable (unchecked)."""
    names = {name for name in query if name not in PARAMETERS}
    text = query.get("filter")
    if text is not None:
        lang = query.get("filter-lang", "cql2-text")
        names |= property_names(
            parse_filter(text, "cql2-json" if lang == "cql2-json" else "cql2-text")
        )
    for raw in query.get("sortby", "").split(","):
        if raw.strip().lstrip("+-").strip():
            names.add(raw.strip().lstrip("+-").strip())
    return names


def feature_query(
    dataset: str,
    query: Mapping[str, str],
    known: Mapping[str, str],
    live: Mapping[str, str] | None = None,
    to_crs84: ToCRS84 | None = None,
    attribute_of: Mapping[str, str] | None = None,
) -> FeatureQuery:
    """Return the FeatureQuery of an items request's parameters.

    ``known`` are the queryables and their JSON types; ``live`` maps live ones to the JSON of
    their values; ``to_crs84`` transforms the filter's geometry literals from ``filter-crs``;
    ``attribute_of`` maps the new names of attributes named like a catalog property to their
    own (:meth:`twin.store.features.SQLiteFeatures.renamed`, inverted).
    """
    live = live or {}
    attribute_of = attribute_of or {}
    limit, offset = parse_limit(query)
    bbox = query.get("bbox")
    bbox_crs = query.get("bbox-crs", CRS84)
    if bbox_crs not in (CRS84, EPSG4326):
        raise QueryError(f"bbox-crs must be {CRS84} or {EPSG4326}, got {bbox_crs!r}")
    box = None if bbox is None else parse_bbox(bbox, axis_names(bbox_crs))
    if box is not None and bbox_crs == EPSG4326:
        box = (box[1], box[0], box[3], box[2])
    moment = query.get("datetime")
    return FeatureQuery(
        dataset=dataset,
        bbox_crs84=box,
        interval=None if moment is None else parse_datetime(moment),
        where=parse_filter_param(query, known, live, to_crs84, attribute_of),
        sortby=parse_sortby(query["sortby"], sortable_names(known)) if query.get("sortby") else (),
        offset=offset,
        limit=limit,
        live=live,
        attribute_of=attribute_of,
    )
