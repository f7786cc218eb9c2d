"""Aggregates of a feature query: count, sum, avg, min, max, grouped by a property or by bins.

One ``SELECT … GROUP BY`` over the same ``WHERE`` as the items (bbox, datetime, CQL2, live
values), with every name and number bound as a parameter::

    SELECT json_extract(attributes, ?) AS k, count(*), avg(json_extract(attributes, ?))
    FROM objects WHERE (dataset = ?) GROUP BY k ORDER BY k LIMIT ?

Bins of width ``w`` group by ``floor(value / w)`` (written with ``CAST``, so no SQLite math
extension is needed); a group's key is its lower bound, ``floor(value / w) * w``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from twin.store.features_filter import SqlFilter, property_sql

__all__ = ["MAX_GROUPS", "Grouping", "Stat", "StatName", "aggregate_sql", "read_groups"]

StatName = Literal["count", "sum", "avg", "min", "max"]
MAX_GROUPS: Final = 10000
"""More groups than this is an error (filter first, or use bins), not a truncated answer."""


@dataclass(frozen=True, slots=True)
class Stat:
    """One statistic: ``count`` (of features; ``name`` None) or a function of a property."""

    func: StatName
    name: str | None = None

    @property
    def label(self) -> str:
        """Return the statistic's key in the answer, as the client wrote it.

        >>> Stat("avg", "measuredHeight").label
        'avg(measuredHeight)'
        """
        return self.func if self.name is None else f"{self.func}({self.name})"


@dataclass(frozen=True, slots=True)
class Grouping:
    """Group by the values of property ``name``, or by bins of ``width`` over them."""

    name: str
    width: float | None = None


def _group_sql(
    group: Grouping, live: Mapping[str, str], attribute_of: Mapping[str, str]
) -> SqlFilter:
    expr, params = property_sql(group.name, live, attribute_of)
    if group.width is None:
        return SqlFilter(expr, params)
    x = f"(CAST({expr} AS REAL) / ?)"
    floor = f"(CAST({x} AS INTEGER) - ({x} < CAST({x} AS INTEGER)))"
    w = (group.width,)
    sql = f"CASE WHEN {expr} IS NULL THEN NULL ELSE {floor} * ? END"
    return SqlFilter(sql, (*params, *params, *w, *params, *w, *params, *w, *w))


def aggregate_sql(
    where: SqlFilter,
    group: Grouping | None,
    stats: Sequence[Stat],
    live: Mapping[str, str],
    attribute_of: Mapping[str, str] | None = None,
) -> SqlFilter:
    """Return the ``SELECT`` computing ``stats`` per group over the rows matching ``where``.

    ``live`` and ``attribute_of`` say where properties are read, as for
    :func:`twin.store.features_filter.property_sql`.

    Its columns are the group key (NULL without grouping), then one per statistic; at most
    ``MAX_GROUPS + 1`` rows, so a caller can tell that there were too many.
    """
    columns: list[str] = []
    params: list[Any] = []
    if group is None:
        columns.append("NULL AS k")
    else:
        key = _group_sql(group, live, attribute_of or {})
        columns.append(f"{key.sql} AS k")
        params.extend(key.params)
    for stat in stats:
        if stat.name is None:
            columns.append("count(*)")
            continue
        expr, p = property_sql(stat.name, live, attribute_of)
        columns.append(f"{stat.func}({expr})")
        params.extend(p)
    sql = f"SELECT {', '.join(columns)} FROM objects WHERE {where.sql}"
    if group is not None:
        sql += " GROUP BY k ORDER BY k"
    sql += " LIMIT ?"
    return SqlFilter(sql, (*params, *where.params, MAX_GROUPS + 1))


def read_groups(
    rows: Sequence[Sequence[Any]], group: Grouping | None, stats: Sequence[Stat]
) -> list[dict[str, Any]]:
    """Return the answer's groups: ``key`` (and ``upper`` for bins), then each statistic.

    >>> read_groups([(1950, 3)], Grouping("year", 10), [Stat("count")])
    [{'key': 1950, 'upper': 1960, 'count': 3}]
    """
    groups = []
    for row in rows:
        found: dict[str, Any] = {"key": row[0]}
        if group is not None and group.width is not None and row[0] is not None:
            found["upper"] = row[0] + group.width
        found.update((s.label, v) for s, v in zip(stats, row[1:], strict=True))
        if group is None:
            del found["key"]
        groups.append(found)
    return groups
