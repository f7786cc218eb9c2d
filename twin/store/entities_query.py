"""Entity queries on the index tables: which entities match, in creation order, and one page.

A query reads candidates (``seq``) from the most selective source it has — the ids, the
``attr_index`` rows a ``q`` names (its *drivers*, of the wanted entity types only), the entity
types, the attribute names, or every entity of the tenant — and probes the other conditions per
candidate through primary keys (``entity_types (tenant, type, seq)``, ``attr_index (seq, attr,
type)``). Only the entities SQL cannot decide (see :class:`twin.store.entities.IndexCondition`)
and those of the page are decoded.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from twin.store.entities import EntityFilter

__all__ = ["run_query"]

Body = dict[str, Any]
Certainty = Literal["all", "rows", "none"]
SqlCondition = tuple[str, tuple[object, ...]]

_UNKNOWN_KIND: Final[SqlCondition] = ("kind IS NULL", ())
"""The driver condition :mod:`twin.ngsild.query_sql` gives for rows of unknown kind."""


def run_query(
    cur: sqlite3.Cursor,
    tenant: str,
    where: EntityFilter,
    keep: Callable[[Body], bool] | None,
    offset: int,
    limit: int | None,
) -> tuple[list[Body], int]:
    """Return one page of matching entities (in creation order) and the total count."""
    cond = where.condition
    unknown = cond is not None and _unknown_kinds(cur, tenant, cond.attrs)
    certainty = _certainty(where, keep, unknown)
    sql, params = _candidates(tenant, where, certainty, unknown)
    rows = cur.execute(sql, params).fetchall()
    if where.id_pattern:
        pattern = re.compile(where.id_pattern)
        rows = [r for r in rows if pattern.match(r[2])]
    bodies = _bodies(cur, [seq for seq, sure, _ in rows if not sure])
    matched = [seq for seq, sure, _ in rows if sure or keep is None or keep(bodies[seq])]
    page = matched[offset:] if limit is None else matched[offset : offset + limit]
    bodies.update(_bodies(cur, [seq for seq in page if seq not in bodies]))
    return [bodies[seq] for seq in page], len(matched)


def _unknown_kinds(cur: sqlite3.Cursor, tenant: str, attrs: Sequence[str]) -> bool:
    """Whether an ``attr_index`` row of one of ``attrs`` has an unknown (NULL) kind."""
    if not attrs:
        return False
    found = cur.execute(
        "SELECT 1 FROM attr_types a CROSS JOIN attr_index i ON i.tenant = a.tenant "
        "AND i.attr = a.attr AND i.type = a.type AND i.kind IS NULL "
        f"WHERE a.tenant = ? AND a.attr IN ({_marks(attrs)}) LIMIT 1",
        (tenant, *attrs),
    ).fetchone()
    return found is not None


def _certainty(
    where: EntityFilter, keep: Callable[[Body], bool] | None, unknown: bool
) -> Certainty:
    """Tell whether SQL decides every candidate, each one by ``sure``, or none of them
    (``unknown``: the condition's attributes have rows of unknown kind)."""
    if keep is None:
        return "all"
    if not where.exact:
        return "none"
    cond = where.condition
    if cond is None:
        return "all"
    if cond.sure is None:
        return "none"
    if not cond.complete:
        return "rows"
    return "rows" if unknown else "all"


def _marks(items: Iterable[object]) -> str:
    return ",".join("?" * len(list(items)))


def _index_rows(
    tenant: str, attr: str, types: tuple[str, ...], test: SqlCondition, select: str
) -> tuple[str, list[object]]:
    """Return ``select`` (``SELECT seq`` or ``SELECT DISTINCT seq``) over the ``attr_index``
    rows of ``attr`` meeting ``test``, of the entity types ``types`` (none: of every type
    ``attr_types`` names for it, so that the lookup uses the whole index key)."""
    if types:
        of_types, params = f"type IN ({_marks(types)})", [tenant, attr, *types]
    else:
        of_types = "type IN (SELECT type FROM attr_types WHERE tenant = ? AND attr = ?)"
        params = [tenant, attr, tenant, attr]
    extra = "" if test[0] == "1" else f" AND ({test[0]})"
    sql = f"{select} FROM attr_index WHERE tenant = ? AND attr = ? AND {of_types}{extra}"
    return sql, params + list(test[1])


def _driver(tenant: str, where: EntityFilter, unknown: bool) -> tuple[str, list[object], bool]:
    """Return ``SELECT seq`` over the candidates, its parameters and whether it is driven by
    the index rows of a ``q`` (every driver but the ids keeps to the wanted types; drivers of
    unknown-kind rows are left out when ``unknown`` says there are none)."""
    cond = where.condition
    if where.ids:
        driver = f"SELECT seq FROM entities WHERE tenant = ? AND id IN ({_marks(where.ids)})"
        return driver, [tenant, *where.ids], False
    if cond is not None and cond.drivers is not None:
        drivers = [d for d in cond.drivers if unknown or d[1] != _UNKNOWN_KIND] or cond.drivers[:1]
        # an entity has a row per type (without types, of each type): when more than one type
        # can be read, several rows may name it — UNION or DISTINCT
        several = len(drivers) > 1 or len(where.types) != 1
        select = "SELECT DISTINCT seq" if several and len(drivers) == 1 else "SELECT seq"
        parts = [_index_rows(tenant, a, where.types, t, select) for a, t in drivers]
        sql = " UNION ".join(part for part, _ in parts)
        return sql, [p for _, ps in parts for p in ps], True
    if where.types:
        driver = (
            "SELECT DISTINCT seq FROM entity_types WHERE tenant = ? AND type IN "
            f"({_marks(where.types)})"
        )
        return driver, [tenant, *where.types], False
    if where.attrs and where.attrs_in_history:
        driver = (
            "SELECT e.seq FROM entities e WHERE e.tenant = ? AND e.id IN (SELECT entity_id "
            f"FROM attr_history WHERE tenant = ? AND attr IN ({_marks(where.attrs)}))"
        )
        return driver, [tenant, tenant, *where.attrs], False
    if where.attrs:
        driver = (
            "SELECT DISTINCT seq FROM attr_index WHERE tenant = ? AND attr IN "
            f"({_marks(where.attrs)})"
        )
        return driver, [tenant, *where.attrs], False
    return "SELECT seq FROM entities WHERE tenant = ?", [tenant], False


def _candidates(
    tenant: str, where: EntityFilter, certainty: Certainty, unknown: bool
) -> tuple[str, list[object]]:
    """Return ``SELECT seq, sure, id`` over the candidates, in creation order."""
    cond = where.condition
    tests: list[str] = []
    driver, params, driven = _driver(tenant, where, unknown)
    select_params: list[object] = []
    if certainty == "rows" and cond is not None and cond.sure is not None:
        sure = cond.sure[0]
        select_params = list(cond.sure[1])
    else:
        sure = "1" if certainty == "all" else "0"
    if where.types and where.ids:
        tests.append(
            "EXISTS (SELECT 1 FROM entity_types t WHERE t.tenant = ? AND t.type IN "
            f"({_marks(where.types)}) AND t.seq = c.seq)"
        )
        params += [tenant, *where.types]
    # (the attrs driver is the one left when there are no ids, q drivers or types)
    if where.attrs and (where.ids or driven or where.types):
        tests.append(_has_attrs(where))
        params += [tenant, *where.attrs] if where.attrs_in_history else list(where.attrs)
    if cond is not None:
        left = cond.after_drivers if driven else cond.maybe
        if left != ("1", ()):
            tests.append(left[0])
            params += left[1]
    ident = "e.id" if where.id_pattern else "NULL"
    join = " CROSS JOIN entities e ON e.seq = c.seq" if where.id_pattern else ""
    sql = (
        f"SELECT c.seq, {sure}, {ident} FROM ({driver}) AS c{join}"
        + (" WHERE " + " AND ".join(tests) if tests else "")
        + " ORDER BY c.seq"
    )
    return sql, select_params + params


def _has_attrs(where: EntityFilter) -> str:
    """Return the test that candidate ``c`` has one of ``where.attrs`` (in its history, with
    ``attrs_in_history``: by the key ``attr_history (tenant, entity_id, attr)``)."""
    if where.attrs_in_history:
        return (
            "EXISTS (SELECT 1 FROM entities e2 CROSS JOIN attr_history h ON h.tenant = ? "
            f"AND h.entity_id = e2.id AND h.attr IN ({_marks(where.attrs)}) "
            "WHERE e2.seq = c.seq)"
        )
    return (
        "EXISTS (SELECT 1 FROM attr_index i WHERE i.seq = c.seq AND i.attr IN "
        f"({_marks(where.attrs)}))"
    )


def _bodies(cur: sqlite3.Cursor, seqs: list[int]) -> dict[int, Body]:
    found: dict[int, Body] = {}
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        for seq, text in cur.execute(
            f"SELECT seq, body FROM entities WHERE seq IN ({_marks(chunk)})", chunk
        ):
            found[seq] = json.loads(text)
    return found
