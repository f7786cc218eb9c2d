"""The temporal representation of entities (CIM 009 v1.8 §4.5.7, §4.5.9, §4.5.19, §5.7.3).

From an entity's stored attribute history (``(attribute, instance)`` in write order), build

- the normalized temporal form: each attribute is the list of its instances in time order;
- the simplified form (``options=temporalValues``): ``{"type", "values": [[value, time], …]}``;
- the aggregated form (``aggrMethods``, ``aggrPeriodDuration``): ``{"type", "avg": [[value,
  start, end], …], …}`` per period, periods starting at ``timeAt`` (else the first instance).

Times compare as instants (offsets honoured), not as strings. ``timeproperty`` is
``observedAt`` (default), ``createdAt`` or ``modifiedAt``; instances without it are left out.
Durations with years or months (calendar-dependent) are refused as OperationNotSupported.
``createdAt`` and ``modifiedAt`` of the entity and of each instance are shown with
``options=sysAttrs`` only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from twin.ngsild.entity import VALUE_MEMBER, Attribute, ExpandedEntity
from twin.ngsild.errors import BadRequestDataError, OperationNotSupportedError
from twin.ngsild.jsonld import Context

__all__ = [
    "AGGREGATIONS",
    "TemporalQuery",
    "parse_duration",
    "parse_temporal_query",
    "temporal_entity",
]

AGGREGATIONS: Final = (
    "totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq"
)  # fmt: skip
"""The aggregation methods (§4.5.19); ``stddev`` is the sample standard deviation."""
_TIME_PROPERTIES: Final = ("observedAt", "createdAt", "modifiedAt")
_SYSTEM: Final = ("createdAt", "modifiedAt")
_DURATION: Final = re.compile(
    r"P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)

Timerel = Literal["before", "after", "between"]


@dataclass(frozen=True, slots=True)
class TemporalQuery:
    """The temporal parameters of a request (attribute names expanded)."""

    timerel: Timerel | None = None
    time_at: dt.datetime | None = None
    end_time_at: dt.datetime | None = None
    timeproperty: str = "observedAt"
    last_n: int | None = None
    attrs: frozenset[str] | None = None
    aggr_methods: tuple[str, ...] = ()
    aggr_period: dt.timedelta | None = None
    temporal_values: bool = False
    sys_attrs: bool = False
    """``options=sysAttrs``: keep ``createdAt`` and ``modifiedAt`` of the entity and instances."""

    def keeps(self, when: dt.datetime) -> bool:
        """Return whether an instance at ``when`` is inside the requested interval."""
        if self.timerel is None or self.time_at is None:
            return True
        if self.timerel == "before":
            return when < self.time_at
        if self.timerel == "after":
            return when >= self.time_at
        assert self.end_time_at is not None
        return self.time_at <= when < self.end_time_at


def parse_duration(text: str) -> dt.timedelta:
    """Return an ISO 8601 duration of weeks, days, hours, minutes and seconds.

    >>> parse_duration("PT1H30M"), parse_duration("P1DT2S")
    (datetime.timedelta(seconds=5400), datetime.timedelta(days=1, seconds=2))
    """
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise BadRequestDataError(f"aggrPeriodDuration must be an ISO 8601 duration, got {text!r}")
    if match["y"] or match["mo"]:
        raise OperationNotSupportedError("aggregation periods in years or months are not supported")
    return dt.timedelta(
        weeks=int(match["w"] or 0), days=int(match["d"] or 0), hours=int(match["h"] or 0),
        minutes=int(match["mi"] or 0), seconds=float(match["s"] or 0),
    )  # fmt: skip


def _instant(text: object, what: str) -> dt.datetime:
    if isinstance(text, str) and "T" in text:
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    raise BadRequestDataError(f"{what} must be an ISO 8601 date-time, got {text!r}")


def parse_temporal_query(params: Mapping[str, str], ctx: Context) -> TemporalQuery:
    """Validate ``timerel``, ``timeAt``, ``endTimeAt``, ``timeproperty``, ``lastN``, ``attrs``,
    ``aggrMethods``, ``aggrPeriodDuration`` and the temporal ``options``."""
    timerel = params.get("timerel")
    if timerel not in (None, "before", "after", "between"):
        raise BadRequestDataError(f"timerel must be before, after or between, got {timerel!r}")
    time_at = _instant(params["timeAt"], "timeAt") if "timeAt" in params else None
    end = _instant(params["endTimeAt"], "endTimeAt") if "endTimeAt" in params else None
    if (timerel is None) != (time_at is None):
        raise BadRequestDataError("timerel and timeAt go together")
    if timerel == "between" and (end is None or time_at is None or end <= time_at):
        raise BadRequestDataError("timerel=between needs an endTimeAt after timeAt")
    timeproperty = params.get("timeproperty", "observedAt")
    if timeproperty not in _TIME_PROPERTIES:
        raise BadRequestDataError(f"timeproperty must be one of {', '.join(_TIME_PROPERTIES)}")
    last_n = None
    if "lastN" in params:
        if not params["lastN"].isdigit() or int(params["lastN"]) < 1:
            raise BadRequestDataError(f"lastN must be a positive integer, got {params['lastN']!r}")
        last_n = int(params["lastN"])
    options = {o.strip() for o in params.get("options", "").split(",") if o.strip()}
    methods = tuple(m.strip() for m in params.get("aggrMethods", "").split(",") if m.strip())
    unknown = [m for m in methods if m not in AGGREGATIONS]
    if unknown:
        raise BadRequestDataError(f"unknown aggrMethods {unknown[0]!r}")
    if "aggregatedValues" in options and not methods:
        raise BadRequestDataError("options=aggregatedValues needs aggrMethods")
    period = parse_duration(params["aggrPeriodDuration"]) if "aggrPeriodDuration" in params \
        else None  # fmt: skip
    attrs = [a.strip() for a in params.get("attrs", "").split(",") if a.strip()]
    return TemporalQuery(
        timerel=cast(Timerel | None, timerel), time_at=time_at, end_time_at=end,
        timeproperty=timeproperty,
        last_n=last_n, attrs=frozenset(ctx.expand(a) for a in attrs) if attrs else None,
        aggr_methods=methods, aggr_period=period, temporal_values="temporalValues" in options,
        sys_attrs="sysAttrs" in options,
    )  # fmt: skip


def _series(
    history: Iterable[tuple[str, Attribute | None]], query: TemporalQuery
) -> dict[str, list[tuple[dt.datetime, Attribute]]]:
    series: dict[str, list[tuple[dt.datetime, Attribute]]] = {}
    for attr, inst in history:
        if inst is None or (query.attrs is not None and attr not in query.attrs):
            continue
        stamp = inst.get(query.timeproperty)
        if not isinstance(stamp, str):
            continue
        when = _instant(stamp, query.timeproperty)
        if query.keeps(when):
            series.setdefault(attr, []).append((when, inst))
    for attr, items in series.items():
        items.sort(key=lambda item: item[0])
        if query.last_n is not None:
            series[attr] = items[-query.last_n :]
    return series


def temporal_entity(
    entity: ExpandedEntity,
    history: Sequence[tuple[str, Attribute | None]],
    query: TemporalQuery,
    ctx: Context,
) -> dict[str, Any]:
    """Return the temporal representation of an entity from its attribute history.

    Parameters
    ----------
    entity : ExpandedEntity
        The entity as it is now (for ``id`` and ``type``).
    history : sequence of (str, dict or None)
        ``(expanded attribute name, instance)`` in write order; None marks a deletion.
    query : TemporalQuery
    ctx : Context
        Compacts attribute and type names.
    """
    types = [ctx.compact(t) for t in entity["type"]]
    out: dict[str, Any] = {"id": entity["id"], "type": types[0] if len(types) == 1 else types}
    if query.sys_attrs:
        out.update((k, entity[k]) for k in _SYSTEM if k in entity)
    for attr, items in _series(history, query).items():
        if not items:
            continue
        out[ctx.compact(attr)] = _attribute(items, query)
    return out


def _attribute(items: list[tuple[dt.datetime, Attribute]], query: TemporalQuery) -> Any:
    attr_type = items[-1][1].get("type", "Property")
    member = VALUE_MEMBER.get(attr_type, "value")
    if query.aggr_methods:
        return {"type": attr_type, **_aggregate(items, query, member)}
    if query.temporal_values:
        key = "objects" if member == "object" else "values"
        pairs = [[inst.get(member), inst[query.timeproperty]] for _, inst in items]
        return {"type": attr_type, key: pairs}
    if query.sys_attrs:
        return [inst for _, inst in items]
    return [_instance(inst) for _, inst in items]


def _instance(inst: Attribute) -> Attribute:
    return {k: v for k, v in inst.items() if k not in _SYSTEM}


def _aggregate(
    items: list[tuple[dt.datetime, Attribute]], query: TemporalQuery, member: str
) -> dict[str, list[list[Any]]]:
    start = items[0][0]
    if query.time_at is not None and query.timerel in ("after", "between"):
        start = query.time_at
    end = query.end_time_at if query.timerel == "between" else None
    period = query.aggr_period or dt.timedelta(0)
    buckets: dict[int, list[Any]] = {}
    for when, inst in items:
        index = int((when - start) / period) if period and when >= start else 0
        buckets.setdefault(index, []).append(inst.get(member))
    out: dict[str, list[list[Any]]] = {m: [] for m in query.aggr_methods}
    last = items[-1][0]
    for index in sorted(buckets):
        lo = start + period * index if period else start
        hi = lo + period if period else (end or last)
        for method in query.aggr_methods:
            value = _apply(method, buckets[index])
            if value is not None:
                out[method].append([value, _iso(lo), _iso(hi)])
    return out


def _apply(method: str, values: list[Any]) -> Any:
    if method == "totalCount":
        return len(values)
    if method == "distinctCount":
        return len({json.dumps(v, sort_keys=True) for v in values})
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not numbers:
        return None
    if method == "sum":
        return sum(numbers)
    if method == "avg":
        return sum(numbers) / len(numbers)
    if method == "sumsq":
        return sum(n * n for n in numbers)
    if method == "stddev":  # none of one value, as PostgreSQL's stddev
        return statistics.stdev(numbers) if len(numbers) > 1 else None
    return min(numbers) if method == "min" else max(numbers)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
