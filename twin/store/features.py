"""Feature queries over the building catalog: bbox, datetime, CQL2 filter, sort, pages, chunks.

A :class:`FeatureQuery` becomes one ``SELECT`` over ``objects`` with bound parameters. The
``bbox`` test uses the catalog's bounding box columns (indexed) and then the footprint itself
(shapely, through ``twin_spatial``), so a building whose bounding box touches the query box but
whose footprint does not is left out. ``datetime`` matches each object's CityGML
``creationDate`` attribute, or, for objects without one, the time its dataset was imported.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import shapely

from twin.errors import ConflictError, QueryError
from twin.model import BuildingRecord
from twin.store.buildings import LOCATION, building_entity_id, parse_building_entity_id
from twin.store.derived import DERIVED, catalog_names
from twin.store.features_aggregate import (
    MAX_GROUPS,
    Grouping,
    Stat,
    aggregate_sql,
    read_groups,
)
from twin.store.features_filter import SqlFilter, property_sql, query_wkb, register_functions
from twin.store.features_index import RTREE_CANDIDATES
from twin.store.generations import CURRENT

__all__ = [
    "FeatureQuery",
    "JsonType",
    "SQLiteFeatures",
    "SortKey",
    "ValueHints",
    "json_type",
    "several_types",
]

CursorFactory = Callable[[], AbstractContextManager[sqlite3.Cursor]]
RowReader = Callable[[tuple[Any, ...]], BuildingRecord]


JsonType = Literal["integer", "number", "string", "boolean", "object", "array", "null"]
_SQLITE_JSON_TYPES: Final[dict[str, JsonType]] = {
    "integer": "integer", "real": "number", "text": "string", "true": "boolean",
    "false": "boolean", "object": "object", "array": "array", "null": "null",
}  # fmt: skip


def json_type(kinds: Mapping[JsonType, int]) -> JsonType:
    """Return the JSON type of a property seen with ``kinds`` (JSON type -> count of values).

    Integers and reals together make a number; otherwise the most frequent non-null type
    wins; a property seen null only is a string.

    >>> json_type({"integer": 5, "number": 1, "null": 9}), json_type({"null": 2})
    ('number', 'string')
    """
    seen: dict[JsonType, int] = {k: n for k, n in kinds.items() if k != "null" and n}
    if {"integer", "number"} >= set(seen) and "number" in seen:
        return "number"
    return max(seen, key=lambda k: seen[k]) if seen else "string"


_ISO_DATE: Final = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]"
"""GLOB of the ISO text the catalog keeps a date as (``1990-05-01``)."""


@dataclass(frozen=True, slots=True)
class ValueHints:
    """What the JSON types of a dataset's attributes leave unsaid.

    ``dates``: attributes whose text values are all dates (kept as ISO text); JSON Schema
    says so with ``"format": "date"``, which clients such as GDAL read as a date field.
    ``wide_integers``: integer attributes with a value past 32 bits, which a client's
    ``integer`` field (GDAL's) would cut. ``mixed``: attributes with values of several JSON
    types, integers and reals counting as one (``3``, ``"3a"``, ``true``), whose type in
    :meth:`SQLiteFeatures.queryables` is the most frequent one, which a typed column of
    that type cannot hold every value of.
    """

    dates: frozenset[str]
    wide_integers: frozenset[str]
    mixed: frozenset[str]


def several_types(kinds: Iterable[JsonType]) -> bool:
    """Whether values of these JSON types need a text column to keep them all: several types,
    integers and reals counting as one, nulls aside.

    >>> several_types(["integer", "number", "null"]), several_types(["integer", "string"])
    (False, True)
    """
    return len({"number" if k == "integer" else k for k in kinds} - {"null"}) > 1


def _value_hints(rows: Sequence[tuple[str, str, int, int, int]]) -> ValueHints:
    """Return the hints of ``(key, SQLite JSON type, count, all dates, some wide)`` rows."""
    kinds: dict[str, set[JsonType]] = {}
    for key, sql_type, _, _, _ in rows:
        kinds.setdefault(key, set()).add(_SQLITE_JSON_TYPES.get(sql_type, "string"))
    return ValueHints(
        dates=frozenset(k for k, t, _, dates, _ in rows if t == "text" and dates),
        wide_integers=frozenset(k for k, t, _, _, wide in rows if t == "integer" and wide),
        mixed=frozenset(k for k, found in kinds.items() if several_types(found)),
    )


@dataclass(frozen=True, slots=True)
class _Described:
    """What one pass over a dataset's attributes finds (cached per import)."""

    queryables: dict[str, JsonType]
    hints: ValueHints
    renamed: dict[str, str]


_CHUNK: Final = 1000


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``sortby`` key: a property and its direction."""

    name: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class FeatureQuery:
    """Which objects of one dataset to return, in which order.

    ``bbox_crs84`` is ``(min_lon, min_lat, max_lon, max_lat)``, ``min_lon > max_lon`` for a box
    across the antimeridian; ``interval`` two ISO 8601 bounds, None for an open end; ``where``
    a translated CQL2 filter; ``live`` maps live property names to the JSON of their values
    and ``attribute_of`` the new names of attributes named like a catalog property to their
    own (:meth:`SQLiteFeatures.renamed`), as :func:`property_sql` reads them.
    """

    dataset: str
    bbox_crs84: tuple[float, float, float, float] | None = None
    interval: tuple[str | None, str | None] | None = None
    where: SqlFilter | None = None
    sortby: tuple[SortKey, ...] = ()
    offset: int = 0
    limit: int | None = 10
    extra: tuple[SqlFilter, ...] = ()
    live: Mapping[str, str] = field(default_factory=dict)
    attribute_of: Mapping[str, str] = field(default_factory=dict)

    def sql_where(self) -> SqlFilter:
        """Return the whole ``WHERE`` clause (without the keyword) and its parameters."""
        parts = [f"dataset = {CURRENT}"]  # one statement: the name and rows of one snapshot
        params: list[Any] = [self.dataset]
        if self.bbox_crs84 is not None:
            x0, y0, x1, y1 = self.bbox_crs84
            if x0 <= x1:
                parts.append(_bbox_sql((x0, y0, x1, y1), self.dataset, params))
            else:  # west > east: across the antimeridian (OGC API - Features Part 1, 7.15.3)
                east = _bbox_sql((x0, y0, 180.0, y1), self.dataset, params)
                west = _bbox_sql((-180.0, y0, x1, y1), self.dataset, params)
                parts.append(f"({east}) OR ({west})")
        if self.interval is not None:
            parts.append(_interval_sql(self.interval, params))
        for clause in (self.where, *self.extra):
            if clause is not None:
                parts.append(clause.sql)
                params.extend(clause.params)
        return SqlFilter(" AND ".join(f"({p})" for p in parts), tuple(params))

    def sql_order(self) -> SqlFilter:
        """Return the ``ORDER BY`` clause (id last, so pages are stable) and its parameters.

        The id runs in the direction of the last key: ``(dataset, key, id)`` is how a derived
        column's index is ordered, so SQLite walks it (either way) and sorts nothing.
        """
        terms: list[str] = []
        params: list[Any] = []
        for key in self.sortby:
            expr, p = property_sql(key.name, self.live, self.attribute_of)
            terms.append(f"{expr} {'DESC' if key.descending else 'ASC'}")
            params.extend(p)
        terms.append("id DESC" if self.sortby and self.sortby[-1].descending else "id")
        return SqlFilter(", ".join(terms), tuple(params))


_STAMP: Final = (
    "COALESCE(json_extract(attributes, '$.creationDate'), "
    "(SELECT imported_at FROM datasets WHERE generation = objects.dataset))"
)


def _bbox_sql(box: tuple[float, float, float, float], dataset: str, params: list[Any]) -> str:
    """Return SQL selecting the objects meeting ``box`` (CRS84, west <= east); add its params."""
    x0, y0, x1, y1 = box
    polygon = query_wkb(shapely.box(x0, y0, x1, y1))
    params.extend([x1, x0, y1, y0, dataset, x1, x0, y1, y0, polygon])
    return (
        f"{RTREE_CANDIDATES} AND "
        "+min_lon <= ? AND +max_lon >= ? AND +min_lat <= ? AND +max_lat >= ? AND "
        "twin_spatial('intersects', footprint, min_lon, min_lat, max_lon, max_lat, ?)"
    )  # the unary + keep the planner on the R*Tree instead of objects_bbox


def _interval_sql(interval: tuple[str | None, str | None], params: list[Any]) -> str:
    """Compare the object's stamp with each bound, on dates when the stamp is a date."""
    parts = []
    for bound, op in zip(interval, (">=", "<="), strict=True):
        if bound is None:
            continue
        parts.append(
            f"(CASE WHEN length({_STAMP}) = 10 THEN {_STAMP} {op} substr(?, 1, 10) "
            f"ELSE {_STAMP} {op} ? END)"
        )
        params.extend([bound, bound])
    return " AND ".join(parts) or "1"


class SQLiteFeatures:
    """Feature queries on the catalog of a :class:`twin.store.SQLiteStore`.

    Parameters
    ----------
    cursor : callable
        The store's cursor context manager (holds its lock, translates sqlite3 errors).
    read_row : callable
        Turns a ``SELECT * FROM objects`` row into a record.
    """

    def __init__(self, cursor: CursorFactory, read_row: RowReader) -> None:
        self._cursor = cursor
        self._read_row = read_row
        self._registered: set[int] = set()
        self._queryables: dict[str, tuple[str, _Described]] = {}

    def _open(self) -> AbstractContextManager[sqlite3.Cursor]:
        return self._cursor()

    def _ready(self, cur: sqlite3.Cursor) -> sqlite3.Cursor:
        if id(cur.connection) not in self._registered:
            register_functions(cur.connection)
            self._registered.add(id(cur.connection))
        return cur

    def queryables(self, dataset: str) -> dict[str, JsonType]:
        """Return each attribute name present in ``dataset`` with its JSON type.

        An attribute seen with integers and reals is a ``number``; with several other types,
        the most frequent non-null one wins. The columns ``id``, ``type``, ``parent_id`` and
        ``lod`` are always there, the derived properties (:mod:`twin.store.derived`) when
        some object has a value (the four address fields when any is set). An attribute named
        like one of the catalog's properties is listed under its new name (:meth:`renamed`).
        Cached per dataset until it is imported again.
        """
        return dict(self._described(dataset).queryables)

    def value_hints(self, dataset: str) -> ValueHints:
        """Return what the JSON types of ``dataset``'s attributes leave unsaid (cached with
        :meth:`queryables`)."""
        return self._described(dataset).hints

    def renamed(self, dataset: str) -> dict[str, str]:
        """Return the new names of ``dataset``'s attributes named like a catalog property
        (:func:`twin.store.derived.catalog_names`; cached with :meth:`queryables`)."""
        return dict(self._described(dataset).renamed)

    def _described(self, dataset: str) -> _Described:
        """Return the queryables, value hints and new names of ``dataset``, from one pass
        (cached)."""
        with self._open() as cur:
            stamp = cur.execute(
                "SELECT imported_at FROM datasets WHERE name = ?", (dataset,)
            ).fetchone()
            cached = self._queryables.get(dataset)
            if cached is not None and stamp is not None and cached[0] == stamp[0]:
                return cached[1]
            # per key and JSON type: how many, all text ISO dates, some integer past 32 bits
            rows = cur.execute(
                "SELECT j.key, j.type, count(*), min(j.atom GLOB ?), "
                "max(j.atom NOT BETWEEN ? AND ?) FROM objects, json_each(objects.attributes) j "
                f"WHERE objects.dataset = {CURRENT} GROUP BY j.key, j.type",
                (_ISO_DATE, -(2**31), 2**31 - 1, dataset),
            ).fetchall()
            counts = cur.execute(
                f"SELECT {', '.join(f'count({d.column})' for d in DERIVED)} FROM objects "
                f"WHERE dataset = {CURRENT}",
                (dataset,),
            ).fetchone()
        renamed = catalog_names(key for key, *_ in rows)
        rows = [(renamed.get(key, key), *rest) for key, *rest in rows]
        found = self._typed([(key, sql_type, n) for key, sql_type, n, _, _ in rows])
        has_address = any(counts[:4])  # all four address fields, so one filter fits any city
        found.update(
            {d.name: d.kind for k, d in enumerate(DERIVED) if counts[k] or (k < 4 and has_address)}
        )
        found = {k: found[k] for k in sorted(found)}
        described = _Described(found, _value_hints(rows), renamed)
        if stamp is not None:
            self._queryables[dataset] = (stamp[0], described)
        return described

    @staticmethod
    def _typed(rows: list[tuple[str, str, int]]) -> dict[str, JsonType]:
        seen: dict[str, dict[JsonType, int]] = {}
        for key, sql_type, count in rows:
            kinds = seen.setdefault(key, {})
            kind = _SQLITE_JSON_TYPES.get(sql_type, "string")
            kinds[kind] = kinds.get(kind, 0) + count
        found: dict[str, JsonType] = {"id": "string", "type": "string", "parent_id": "string"}
        found["lod"] = "integer"
        for key, kinds in seen.items():
            found[key] = json_type(kinds)
        return {k: found[k] for k in sorted(found)}

    def live_building_ids(self, dataset: str) -> list[str]:
        """Return the object ids of ``dataset``'s buildings that may carry live values.

        Those whose entity has attributes beyond its static ones, and those some entity points
        at through a Relationship (default tenant).
        """
        prefix = building_entity_id(dataset, "")
        with self._open() as cur:
            owned = cur.execute(
                "SELECT e.id, (SELECT json_group_array(key) FROM json_each(e.body, '$.attrs')) "
                "FROM entities e WHERE e.tenant = '' AND substr(e.id, 1, ?) = ?",
                (len(prefix), prefix),
            ).fetchall()
            statics = dict(cur.execute(
                "SELECT object_id, static_attrs FROM building_entities WHERE dataset = ?",
                (dataset,),
            ).fetchall())  # fmt: skip
            targets = cur.execute(
                "SELECT DISTINCT target FROM entity_refs WHERE tenant = '' "
                "AND substr(target, 1, ?) = ?",
                (len(prefix), prefix),
            ).fetchall()
        found: set[str] = set()
        for entity_id, names in owned:
            parsed = parse_building_entity_id(entity_id)
            if parsed is None:
                continue
            static = set(json.loads(statics.get(parsed[1], "[]"))) | {LOCATION}
            if set(json.loads(names)) - static:
                found.add(parsed[1])
        for (target,) in targets:
            parsed = parse_building_entity_id(target)
            if parsed is not None:
                found.add(parsed[1])
        return sorted(found)

    def lod_geometries(self, dataset: str, ids: Sequence[str]) -> dict[str, bytes]:
        """Return the LoD surfaces (WKB MultiPolygon Z, CRS84h) of the objects that have them."""
        with self._open() as cur:
            rows = cur.execute(
                f"SELECT id, geometry FROM object_lod WHERE dataset = {CURRENT} "
                "AND id IN (SELECT value FROM json_each(?))",
                (dataset, json.dumps(list(ids))),
            ).fetchall()
        return {oid: bytes(wkb) for oid, wkb in rows}

    def count(self, query: FeatureQuery) -> int:
        """Return how many objects match ``query`` (ignoring offset and limit)."""
        where = query.sql_where()
        with self._open() as cur:
            row = (
                self._ready(cur)
                .execute(f"SELECT count(*) FROM objects WHERE {where.sql}", where.params)
                .fetchone()
            )
        return int(row[0])

    def page(self, query: FeatureQuery) -> list[BuildingRecord]:
        """Return the objects of one page of ``query``: sorted, from ``offset``, ``limit`` many."""
        where, order = query.sql_where(), query.sql_order()
        limit = -1 if query.limit is None else query.limit
        sql = f"SELECT * FROM objects WHERE {where.sql} ORDER BY {order.sql} LIMIT ? OFFSET ?"
        with self._open() as cur:
            rows = (
                self._ready(cur)
                .execute(sql, (*where.params, *order.params, limit, query.offset))
                .fetchall()
            )
        return [self._read_row(r) for r in rows]

    def aggregate(
        self, query: FeatureQuery, group: Grouping | None, stats: Sequence[Stat]
    ) -> list[dict[str, Any]]:
        """Return ``stats`` of the objects matching ``query``, one dict per group (by key).

        Raises QueryError when the grouping makes more than :data:`MAX_GROUPS` groups.
        """
        select = aggregate_sql(query.sql_where(), group, stats, query.live, query.attribute_of)
        with self._open() as cur:
            rows = self._ready(cur).execute(select.sql, select.params).fetchall()
        if len(rows) > MAX_GROUPS:  # only with a grouping: without, there is one row
            name = "" if group is None else group.name
            raise QueryError(
                f"grouping by {name} makes more than {MAX_GROUPS} groups; "
                "filter first, or group by bins"
            )
        return read_groups(rows, group, stats)

    def iter_chunks(
        self, query: FeatureQuery, chunk: int = _CHUNK
    ) -> Iterator[list[BuildingRecord]]:
        """Yield every matching object (offset and limit ignored) in lists of ``chunk``.

        Unsorted queries page by id (keyset), so each chunk costs the same however deep; the
        store's lock is released between chunks. Raises ConflictError when the dataset is
        re-imported midway (its chunks would mix two imports).
        """
        after: str | None = None  # keyset: the last id read
        offset = 0  # sorted: pages by offset
        generation: str | None = None
        while True:
            where, order = query.sql_where(), query.sql_order()
            sql, params = f"SELECT * FROM objects WHERE {where.sql}", where.params
            if query.sortby:
                sql += f" ORDER BY {order.sql} LIMIT ? OFFSET ?"
                params = (*params, *order.params, chunk, offset)
            elif after is None:
                sql, params = sql + " ORDER BY id LIMIT ?", (*params, chunk)
            else:
                sql, params = sql + " AND id > ? ORDER BY id LIMIT ?", (*params, after, chunk)
            with self._open() as cur:
                rows = self._ready(cur).execute(sql, params).fetchall()
            if not rows:
                return
            if generation is not None and rows[0][0] != generation:
                raise ConflictError(
                    f"dataset {query.dataset!r} was re-imported during this export; "
                    "run it again for the new import"
                )
            generation = rows[0][0]
            yield [self._read_row(r) for r in rows]
            after, offset = rows[-1][1], offset + len(rows)
