"""``/ogc/collections/{ds}/aggregate``: statistics of the features a query selects, by group.

::

    GET /ogc/collections/city/aggregate?groupby=function&stats=count,avg(measuredHeight)
    GET /ogc/collections/city/aggregate?bins=yearOfConstruction:10&filter=energyUse>100

``stats`` lists ``count`` and ``sum|avg|min|max(property)`` (``count`` when absent);
``groupby`` names a queryable, ``bins`` a numeric queryable and a bin width; neither gives one
group over everything. ``filter``, ``filter-lang``, ``bbox``, ``bbox-crs`` and ``datetime``
select the features as for ``/items``, live values included. The answer::

    {"groupby": "function", "groups": [{"key": "1000", "count": 3, "avg(measuredHeight)": 9.5}]}

A bin's ``key`` is its lower bound and ``upper`` its (exclusive) upper bound.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from twin.errors import QueryError
from twin.server.ogc import JSON, Link, json_response, path_of
from twin.server.ogc_items import prepare_query
from twin.server.state import STORE, call_store
from twin.store import Store
from twin.store.features_aggregate import Grouping, Stat

__all__ = ["get_aggregate", "parse_grouping", "parse_stats"]

_STAT: Final = re.compile(r"^(sum|avg|min|max)\(\s*([^()\s]+)\s*\)$")
_NUMERIC: Final = frozenset({"integer", "number"})


def parse_stats(text: str | None) -> tuple[Stat, ...]:
    """Return the statistics of a ``stats`` parameter (names unchecked).

    >>> parse_stats("count,avg(height)")
    (Stat(func='count', name=None), Stat(func='avg', name='height'))
    """
    stats = []
    for raw in (text or "count").split(","):
        term = raw.strip()
        if term == "count":
            stats.append(Stat("count"))
        elif match := _STAT.match(term):
            stats.append(Stat(match[1], match[2]))  # type: ignore[arg-type]
        else:
            raise QueryError(
                f"stats: {term!r} is not count, sum(name), avg(name), min(name) or max(name)"
            )
    return tuple(stats)


def parse_grouping(query: Mapping[str, str]) -> Grouping | None:
    """Return the grouping of ``groupby`` or ``bins`` (``name:width``), if any.

    >>> parse_grouping({"bins": "yearOfConstruction:10"})
    Grouping(name='yearOfConstruction', width=10)
    """
    groupby, bins = query.get("groupby"), query.get("bins")
    if groupby is not None and bins is not None:
        raise QueryError("use groupby or bins, not both")
    if groupby is not None:
        return Grouping(groupby.strip())
    if bins is None:
        return None
    name, _, width_text = bins.rpartition(":")
    try:
        width: float = int(width_text) if width_text.strip().isdigit() else float(width_text)
    except ValueError:
        width = math.nan
    if not name or not math.isfinite(width) or width <= 0:
        raise QueryError(f"bins must be name:width with a positive width, got {bins!r}")
    return Grouping(name.strip(), width)


def _check(known: Mapping[str, str], group: Grouping | None, stats: tuple[Stat, ...]) -> None:
    names = [s.name for s in stats if s.name] + ([group.name] if group else [])
    unknown = sorted({n for n in names if n not in known})
    if unknown:
        raise QueryError(
            f"unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"the queryables are: {', '.join(sorted(known))}"
        )
    numeric = [s for s in stats if s.func in ("sum", "avg")]
    if group is not None and group.width is not None:
        numeric.append(Stat("sum", group.name))
    for stat in numeric:
        if stat.name is not None and known[stat.name] not in _NUMERIC:
            raise QueryError(f"{stat.name} is a {known[stat.name]}, not a number")


def _aggregate(
    store: Store, dataset: str, query: Mapping[str, str]
) -> tuple[Grouping | None, list[dict[str, Any]]]:
    """Check the request and compute its groups (blocking; in a worker thread)."""
    group, stats = parse_grouping(query), parse_stats(query.get("stats"))
    names = {s.name for s in stats if s.name} | ({group.name} if group else set())
    for name in ("limit", "offset", "sortby"):
        if name in query:
            raise QueryError(f"{name} does not apply to aggregates")
    fq, known, _ = prepare_query(store, dataset, query, also=names)
    _check(known, group, stats)
    return group, store.features.aggregate(fq, group, stats)


async def get_aggregate(request: web.Request) -> web.StreamResponse:
    """GET aggregate: statistics per group of the features the filters select."""
    dataset = request.match_info["dataset"]
    group, groups = await call_store(_aggregate, request.app[STORE], dataset, request.query)
    base = str(request.url.origin())
    links: list[Link] = [
        {"href": str(request.url), "rel": "self", "type": JSON},
        {"href": base + path_of("ogc", "collections", dataset), "rel": "collection",
         "type": JSON},
    ]  # fmt: skip
    body: dict[str, Any] = {"groupby": None if group is None else group.name}
    if group is not None and group.width is not None:
        body["binWidth"] = group.width
    body.update(groups=groups, links=links)
    return json_response(body)
