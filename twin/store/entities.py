"""NGSI-LD entities, their attribute history and tenants, in the catalog's SQLite database.

The store keeps entities in the stored form :mod:`twin.ngsild.entity` defines (a JSON object
with ``id``, ``type`` (list of expanded types), ``attrs`` (expanded name → list of instances),
``createdAt``, ``modifiedAt``); it reads only those members. Beside each entity it indexes the
targets of its Relationships (``entity_refs``) — that is what the building join looks up — and
appends every written attribute instance to ``attr_history`` for the temporal API.

Every write is one ``BEGIN IMMEDIATE`` … ``COMMIT`` transaction; the answer is sent after the
commit, so an acknowledged write is in the WAL. Tenant ``""`` is the default tenant.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from twin.errors import ConflictError, NotFoundError
from twin.store.subscriptions import SQLiteSubscriptions

__all__ = [
    "ENTITY_SCHEMA",
    "Change",
    "EntityFilter",
    "NonexistentTenantError",
    "SQLiteEntities",
    "write_entity",
]

Body = dict[str, Any]

ENTITY_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS tenants (name TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT OR IGNORE INTO tenants VALUES ('');
CREATE TABLE IF NOT EXISTS entities (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    types TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    UNIQUE (tenant, id)
);
CREATE TABLE IF NOT EXISTS entity_types (
    tenant TEXT NOT NULL, type TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (tenant, type, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entity_refs (
    tenant TEXT NOT NULL, target TEXT NOT NULL, entity_id TEXT NOT NULL, attr TEXT NOT NULL,
    PRIMARY KEY (tenant, target, entity_id, attr)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entity_refs_source ON entity_refs (tenant, entity_id);
CREATE TABLE IF NOT EXISTS attr_history (
    tenant TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    attr TEXT NOT NULL,
    dataset_id TEXT,
    observed_at TEXT,
    modified_at TEXT NOT NULL,
    instance TEXT
);
CREATE INDEX IF NOT EXISTS attr_history_key ON attr_history (tenant, entity_id, attr, modified_at);
CREATE TABLE IF NOT EXISTS building_entities (
    dataset TEXT NOT NULL, object_id TEXT NOT NULL, static_attrs TEXT NOT NULL,
    PRIMARY KEY (dataset, object_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscriptions (
    tenant TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
"""


class NonexistentTenantError(NotFoundError):
    """A read addressed a tenant nothing was ever written to."""

    problem_type = "https://uri.etsi.org/ngsi-ld/errors/NonexistentTenant"
    title = "Nonexistent tenant"


class Change(Protocol):
    """What an entity modification returns: the new body and the attributes it touched."""

    @property
    def entity(self) -> Mapping[str, Any]: ...

    @property
    def updated(self) -> Sequence[str]: ...


C = TypeVar("C", bound=Change)


@dataclass(frozen=True, slots=True)
class EntityFilter:
    """What SQL can select before the finer (q, geo) filters run in Python.

    ``types`` is a disjunction of expanded types; ``attrs`` a disjunction of expanded names the
    entity must have one of; ``id_pattern`` a Python regular expression matched from the start;
    ``condition`` an SQL boolean expression over the stored JSON ``e.body`` with its bound
    parameters (e.g. a ``q`` prefilter), which every wanted entity must meet.
    """

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()
    condition: tuple[str, tuple[object, ...]] | None = None


Cursor = Callable[[], AbstractContextManager[sqlite3.Cursor]]


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_entity(cur: sqlite3.Cursor, tenant: str, body: Mapping[str, Any]) -> None:
    """Insert or replace one entity with its type and reference index rows (in a transaction)."""
    eid = body["id"]
    row = cur.execute(
        "SELECT seq FROM entities WHERE tenant = ? AND id = ?", (tenant, eid)
    ).fetchone()
    values = (_dumps(body["type"]), _dumps(body), body["createdAt"], body["modifiedAt"])
    if row is None:
        cur.execute(
            "INSERT INTO entities (tenant, id, types, body, created_at, modified_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (tenant, eid, *values),
        )
        seq = cur.lastrowid
    else:
        seq = row[0]
        cur.execute(
            "UPDATE entities SET types = ?, body = ?, created_at = ?, modified_at = ? "
            "WHERE seq = ?",
            (*values, seq),
        )
        cur.execute("DELETE FROM entity_types WHERE tenant = ? AND seq = ?", (tenant, seq))
        cur.execute("DELETE FROM entity_refs WHERE tenant = ? AND entity_id = ?", (tenant, eid))
    cur.executemany(
        "INSERT OR IGNORE INTO entity_types VALUES (?, ?, ?)",
        [(tenant, t, seq) for t in body["type"]],
    )
    cur.executemany(
        "INSERT OR IGNORE INTO entity_refs VALUES (?, ?, ?, ?)",
        [(tenant, target, eid, attr) for attr, target in _refs(body)],
    )


def _refs(body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for attr, instances in body["attrs"].items():
        for inst in instances:
            if inst.get("type") == "Relationship":
                obj = inst.get("object")
                for target in obj if isinstance(obj, list) else [obj]:
                    if isinstance(target, str):
                        yield attr, target


def _history(
    cur: sqlite3.Cursor, tenant: str, body: Mapping[str, Any], attrs: Sequence[str]
) -> None:
    rows: list[tuple[object, ...]] = []
    for attr in attrs:
        instances = body["attrs"].get(attr)
        if not instances:
            rows.append((tenant, body["id"], attr, None, None, body["modifiedAt"], None))
        for inst in instances or ():
            rows.append((
                tenant, body["id"], attr, inst.get("datasetId"), inst.get("observedAt"),
                inst.get("modifiedAt", body["modifiedAt"]), _dumps(inst),
            ))  # fmt: skip
    cur.executemany("INSERT INTO attr_history VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


class SQLiteEntities:
    """The entity side of :class:`twin.store.SQLiteStore` (same database, same lock).

    Parameters
    ----------
    cursor : callable
        The store's context manager giving a locked cursor, translating sqlite3 errors.
    """

    def __init__(self, cursor: Cursor) -> None:
        self._cursor = cursor
        self.subscriptions = SQLiteSubscriptions(cursor)
        """Subscriptions, in the same database."""

    # -- reads -------------------------------------------------------------------------------

    def _check_tenant(self, cur: sqlite3.Cursor, tenant: str) -> None:
        if tenant and cur.execute("SELECT 1 FROM tenants WHERE name = ?", (tenant,)).fetchone() \
                is None:  # fmt: skip
            raise NonexistentTenantError(f"no tenant named {tenant!r}")

    def get(self, tenant: str, entity_id: str) -> Body:
        """Return one entity; raise NotFoundError (or NonexistentTenantError)."""
        with self._cursor() as cur:
            self._check_tenant(cur, tenant)
            row = cur.execute(
                "SELECT body FROM entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no entity {entity_id}")
        body: Body = json.loads(row[0])
        return body

    def get_many(self, tenant: str, entity_ids: Sequence[str]) -> dict[str, Body]:
        """Return the entities of ``entity_ids`` that exist, by id."""
        found: dict[str, Body] = {}
        with self._cursor() as cur:
            for start in range(0, len(entity_ids), 500):
                chunk = list(entity_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                for (text,) in cur.execute(
                    f"SELECT body FROM entities WHERE tenant = ? AND id IN ({marks})",
                    (tenant, *chunk),
                ):
                    body = json.loads(text)
                    found[body["id"]] = body
        return found

    def query(
        self,
        tenant: str,
        where: EntityFilter,
        keep: Callable[[Body], bool] | None = None,
        *,
        offset: int = 0,
        limit: int | None = 20,
    ) -> tuple[list[Body], int]:
        """Return one page of matching entities (in creation order) and the total count."""
        sql, params = _select(tenant, where)
        pattern = re.compile(where.id_pattern) if where.id_pattern else None
        page: list[Body] = []
        total = 0
        with self._cursor() as cur:
            self._check_tenant(cur, tenant)
            for (text,) in cur.execute(sql, params):
                body = json.loads(text)
                if pattern is not None and not pattern.match(body["id"]):
                    continue
                if keep is not None and not keep(body):
                    continue
                if total >= offset and (limit is None or len(page) < limit):
                    page.append(body)
                total += 1
        return page, total

    def referring(self, tenant: str, targets: Sequence[str]) -> list[tuple[str, str, Body]]:
        """Return ``(target, attribute, entity)`` per entity with a Relationship to a target."""
        out: list[tuple[str, str, Body]] = []
        with self._cursor() as cur:
            for start in range(0, len(targets), 500):
                chunk = list(targets[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = cur.execute(
                    "SELECT r.target, r.attr, e.body FROM entity_refs r JOIN entities e "
                    "ON e.tenant = r.tenant AND e.id = r.entity_id "
                    f"WHERE r.tenant = ? AND r.target IN ({marks})",
                    (tenant, *chunk),
                ).fetchall()
                out.extend((t, a, json.loads(b)) for t, a, b in rows)
        return out

    def summaries(self, tenant: str) -> list[tuple[list[str], list[str]]]:
        """Return ``(types, attribute names)`` of every entity, for /types and /attributes."""
        with self._cursor() as cur:
            self._check_tenant(cur, tenant)
            rows = cur.execute(
                "SELECT types, (SELECT json_group_array(key) FROM json_each(body, '$.attrs')) "
                "FROM entities WHERE tenant = ?",
                (tenant,),
            ).fetchall()
        return [(json.loads(t), json.loads(a)) for t, a in rows]

    def history(
        self, tenant: str, entity_id: str, attrs: Sequence[str] = ()
    ) -> list[tuple[str, Body | None]]:
        """Return ``(attribute, instance or None when deleted)`` in write order."""
        sql = "SELECT attr, instance FROM attr_history WHERE tenant = ? AND entity_id = ?"
        params: list[object] = [tenant, entity_id]
        if attrs:
            sql += f" AND attr IN ({','.join('?' * len(attrs))})"
            params.extend(attrs)
        with self._cursor() as cur:
            rows = cur.execute(sql + " ORDER BY rowid", params).fetchall()
        return [(a, None if i is None else json.loads(i)) for a, i in rows]

    # -- writes ------------------------------------------------------------------------------

    def create(self, tenant: str, body: Mapping[str, Any]) -> None:
        """Store a new entity; raise ConflictError when the id exists in the tenant."""
        with self._cursor() as cur, _Transaction(cur):
            if cur.execute(
                "SELECT 1 FROM entities WHERE tenant = ? AND id = ?", (tenant, body["id"])
            ).fetchone():
                raise ConflictError(f"entity {body['id']} already exists")
            cur.execute("INSERT OR IGNORE INTO tenants VALUES (?)", (tenant,))
            write_entity(cur, tenant, body)
            _history(cur, tenant, body, list(body["attrs"]))

    def modify(self, tenant: str, entity_id: str, change: Callable[[Body], C]) -> C:
        """Apply ``change`` to the stored entity and store its result, atomically."""
        with self._cursor() as cur, _Transaction(cur):
            self._check_tenant(cur, tenant)
            row = cur.execute(
                "SELECT body FROM entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no entity {entity_id}")
            result = change(json.loads(row[0]))
            write_entity(cur, tenant, result.entity)
            _history(cur, tenant, result.entity, result.updated)
        return result

    def delete(self, tenant: str, entity_id: str) -> Body:
        """Delete an entity and return what it was; raise NotFoundError when unknown."""
        with self._cursor() as cur, _Transaction(cur):
            self._check_tenant(cur, tenant)
            row = cur.execute(
                "SELECT seq, body FROM entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no entity {entity_id}")
            cur.execute("DELETE FROM entities WHERE seq = ?", (row[0],))
            cur.execute("DELETE FROM entity_types WHERE tenant = ? AND seq = ?", (tenant, row[0]))
            cur.execute(
                "DELETE FROM entity_refs WHERE tenant = ? AND entity_id = ?", (tenant, entity_id)
            )
        body: Body = json.loads(row[1])
        return body


def _select(tenant: str, where: EntityFilter) -> tuple[str, list[object]]:
    sql = "SELECT e.body FROM entities e WHERE e.tenant = ?"
    params: list[object] = [tenant]
    if where.ids:
        sql += f" AND e.id IN ({','.join('?' * len(where.ids))})"
        params.extend(where.ids)
    if where.types:
        sql += (
            " AND e.seq IN (SELECT seq FROM entity_types WHERE tenant = ? AND type IN "
            f"({','.join('?' * len(where.types))}))"
        )
        params.extend([tenant, *where.types])
    if where.attrs:
        sql += (
            " AND EXISTS (SELECT 1 FROM json_each(e.body, '$.attrs') WHERE key IN "
            f"({','.join('?' * len(where.attrs))}))"
        )
        params.extend(where.attrs)
    if where.condition is not None:
        sql += f" AND {where.condition[0]}"
        params.extend(where.condition[1])
    return sql + " ORDER BY e.seq", params


class _Transaction(AbstractContextManager[None]):
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    def __enter__(self) -> None:
        self._cur.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._cur.execute("ROLLBACK" if exc_type is not None else "COMMIT")
