"""NGSI-LD entities, their attribute history and tenants, in the catalog's SQLite database.

The store keeps entities in the stored form :mod:`twin.ngsild.entity` defines (a JSON object
with ``id``, ``type`` (list of expanded types), ``attrs`` (expanded name → list of instances),
``createdAt``, ``modifiedAt``); it reads only those members. Beside each entity it indexes the
targets of its Relationships (``entity_refs``) — that is what the building join looks up — and
appends every written attribute instance to ``attr_history`` for the temporal API (deleted
with the entity).

Beside each entity it also keeps ``attr_index``: one row per (entity, attribute, entity type),
with the attribute's value when it is a single simple instance (``kind`` ``n`` number, ``b``
boolean, ``s`` string Property; ``r`` Relationship with one object) and ``kind`` NULL for any
other shape. :mod:`twin.ngsild.query_sql` translates ``q`` into lookups on it; the type in the
key lets a query by type and ``q`` read the index rows of its types only, not those of every
type that has the attribute. ``attr_types`` records which entity types ever carried which
attribute (never shrunk, so it may only over-state): a lookup without types reads the rows of
those.

Writes are operations (functions of a cursor); :meth:`SQLiteEntities.run` runs many of them in
one ``BEGIN IMMEDIATE`` … ``COMMIT`` transaction, so that a failing one is undone alone (a
modification fails before writing anything; when another one fails, the batch runs again with a
savepoint around each operation; group commit: the server batches concurrent requests this way).
Modifications write their rows together, and start from the bodies the last ones wrote while
nothing else wrote since (see :class:`_Bodies`). The answer is
sent after the commit, and the database runs with ``synchronous=FULL`` (see
:class:`twin.store.SQLiteStore`), so an acknowledged write has reached the disk. Tenant ``""``
is the default tenant.
"""

from __future__ import annotations

import json
import math
import operator
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar, cast

import orjson

from twin.errors import ConflictError, NotFoundError
from twin.store.checkpoint import WalCheckpointer
from twin.store.entities_query import run_query
from twin.store.subscriptions import SQLiteSubscriptions

__all__ = [
    "ENTITY_SCHEMA",
    "INSTANCE_PREFIX",
    "Change",
    "EntityFilter",
    "IndexRows",
    "NonexistentTenantError",
    "SQLiteEntities",
    "delete_entities",
    "instance_id",
    "parse_instance_id",
    "property_index",
    "write_entity",
]

Body = dict[str, Any]

_ATTR_INDEX_STATEMENTS: Final = (
    """CREATE TABLE IF NOT EXISTS attr_index (
    seq INTEGER NOT NULL, attr TEXT NOT NULL, type TEXT NOT NULL, tenant TEXT NOT NULL,
    kind TEXT, value,
    PRIMARY KEY (seq, attr, type)
) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS attr_index_value ON attr_index (tenant, attr, type, kind, value)",
)
"""The attribute-value index: one row per entity (``seq``), attribute and entity type."""

_ATTR_INDEX_SCHEMA: Final = "".join(f"\n{statement};" for statement in _ATTR_INDEX_STATEMENTS)

ENTITY_SCHEMA: Final = (
    """
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
"""
    + _ATTR_INDEX_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS attr_types (
    tenant TEXT NOT NULL, attr TEXT NOT NULL, type TEXT NOT NULL, PRIMARY KEY (tenant, attr, type)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS entities_unindex AFTER DELETE ON entities BEGIN
    DELETE FROM attr_index WHERE seq = OLD.seq;
END;
CREATE TABLE IF NOT EXISTS subscriptions (
    tenant TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
"""
)


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
T = TypeVar("T")

SqlCondition = tuple[str, tuple[object, ...]]
"""An SQL boolean expression and its bound parameters."""

Operation = Callable[[sqlite3.Cursor], T]
"""One write, run inside the transaction :meth:`SQLiteEntities.run` opens."""


class IndexCondition(Protocol):
    """A condition on ``attr_index`` (see :func:`twin.ngsild.query_sql.q_condition`).

    ``maybe`` and ``sure`` are SQL over ``c.seq`` (the candidate entity): every wanted entity
    meets ``maybe``; one that meets ``sure`` is wanted for certain (None: SQL is never certain).
    ``drivers``, when not None, are attribute names each with a condition on the ``kind`` and
    ``value`` of its ``attr_index`` rows, whose rows, together, name every wanted entity, and
    ``after_drivers`` what of ``maybe`` those rows do not imply already. ``attrs`` are the
    attribute names the condition reads; when ``complete`` and none of their rows has an unknown
    (NULL) kind, ``sure`` equals ``maybe``.
    """

    @property
    def maybe(self) -> SqlCondition: ...

    @property
    def sure(self) -> SqlCondition | None: ...

    @property
    def drivers(self) -> tuple[tuple[str, SqlCondition], ...] | None: ...

    @property
    def attrs(self) -> tuple[str, ...]: ...

    @property
    def complete(self) -> bool: ...

    @property
    def after_drivers(self) -> SqlCondition: ...


@dataclass(frozen=True, slots=True)
class EntityFilter:
    """What SQL can select before the finer (q, geo) filters run in Python.

    ``types`` is a disjunction of expanded types; ``attrs`` a disjunction of expanded names the
    entity must have one of (``attrs_in_history``: have a history of, the temporal API's
    selection); ``id_pattern`` a Python regular expression matched from the start;
    ``condition`` a ``q`` translated onto ``attr_index``. ``exact``: the Python test adds nothing
    to ``types``, ``attrs`` and ``condition`` but what ``condition`` is unsure of, so entities
    ``condition.sure`` accepts are not decoded and tested.
    """

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()
    condition: IndexCondition | None = None
    exact: bool = False
    attrs_in_history: bool = False


Cursor = Callable[[], AbstractContextManager[sqlite3.Cursor]]

_SAFE_INT: Final = 2**53


_std_dumps: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""The standard library's encoder of :func:`_dumps` (one: ``json.dumps`` with options builds a
new one at every call)."""


def _dumps(value: object) -> str:
    """Return the JSON text stored of ``value``: compact, not ASCII-escaped.

    orjson encodes a body ~8 times faster than the standard library (a Room's 722 bytes: ~9k
    instead of ~74k instructions, which was the largest single cost of a write on the SQL
    thread); what it refuses (integers beyond 64 bits, keys that are not strings, lone
    surrogates) goes to the standard encoder, which writes it or raises as before. The texts
    differ only in the spelling of some floats (``1e16`` for ``1e+16``), the same numbers.
    """
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _std_dumps(value)


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate: SQLite cannot hold it
        return False
    return True


def index_value(instances: Sequence[Mapping[str, Any]]) -> tuple[str | None, object]:
    """Return the ``(kind, value)`` an attribute's instances have in ``attr_index``.

    Only a single instance of a simple shape has a kind; values SQLite would compare differently
    from Python (integers beyond 2**53, non-finite floats, unencodable strings) have none.

    >>> index_value([{"type": "Property", "value": True}])
    ('b', 1)
    >>> index_value([{"type": "Relationship", "object": "urn:x:1"}])
    ('r', 'urn:x:1')
    >>> index_value([{"type": "Property", "value": [1]}])
    (None, None)
    """
    if len(instances) != 1:
        return None, None
    inst = instances[0]
    kind = inst.get("type")
    if kind == "Property":
        return property_index(inst.get("value"))
    if kind == "Relationship":
        target = inst.get("object")
        if isinstance(target, str) and _encodable(target):
            return "r", target
    return None, None


def property_index(value: object) -> tuple[str | None, object]:
    """Return the ``(kind, value)`` a single Property holding ``value`` has in ``attr_index``.

    >>> property_index(2.5), property_index(2**60), property_index({"@type": "Date"})
    (('n', 2.5), (None, None), (None, None))
    """
    if isinstance(value, bool):
        return "b", int(value)
    if isinstance(value, int) and -_SAFE_INT <= value <= _SAFE_INT:
        return "n", value
    if isinstance(value, float) and math.isfinite(value):
        return "n", value
    if isinstance(value, str) and _encodable(value):
        return "s", value
    return None, None


def write_entity(
    cur: sqlite3.Cursor,
    tenant: str,
    body: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
    stored: tuple[int, str] | None = None,
    *,
    new: bool = False,
) -> None:
    """Insert or replace one entity with its index rows (in a transaction).

    ``old`` (the stored body) and ``stored`` (its ``seq`` and ``types`` columns), when the caller
    has read them, spare a lookup and rewriting index rows of attributes that did not change.
    ``new``: insert without looking (an existing id fails the ``UNIQUE (tenant, id)``
    constraint: :class:`sqlite3.IntegrityError`).
    """
    eid = body["id"]
    if new:
        stored = old = None
    elif stored is None or old is None:
        row = cur.execute(
            "SELECT seq, types, body FROM entities WHERE tenant = ? AND id = ?", (tenant, eid)
        ).fetchone()
        stored, old = (None, None) if row is None else ((row[0], row[1]), json.loads(row[2]))
    if stored is not None and old is not None and body["type"] == old["type"]:
        types = stored[1]  # (most writes keep the types: their column is not encoded again)
    else:
        types = _dumps(body["type"])
    values = (types, _dumps(body), body["createdAt"], body["modifiedAt"])
    if stored is None:
        cur.execute(
            "INSERT INTO entities (tenant, id, types, body, created_at, modified_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (tenant, eid, *values),
        )
        seq = cur.lastrowid
        assert seq is not None  # an INSERT sets it
    else:
        seq = stored[0]
        cur.execute(
            "UPDATE entities SET types = ?, body = ?, created_at = ?, modified_at = ? "
            "WHERE seq = ?",
            (*values, seq),
        )
    rows = IndexRows()
    rows.add(tenant, seq, body, types, old, None if stored is None else stored[1])
    rows.write(cur)


class IndexRows:
    """The index rows of entity writes, gathered over one or many entities, written at once.

    :meth:`add` works out which rows of ``entity_types``, ``entity_refs``, ``attr_types`` and
    ``attr_index`` an entity's new body changes; :meth:`write` writes them with one
    ``executemany`` per kind (deletions before insertions) and starts over. ``attr_types``
    pairs written once are not written again by the same object. An entity whose types changed
    has all its ``attr_index`` rows rewritten (the type is part of their key).
    """

    def __init__(self) -> None:
        self._types_gone: list[tuple[str, str, int]] = []
        self._types_new: list[tuple[str, str, int]] = []
        self._refs_gone: list[tuple[str, str]] = []
        self._refs_new: list[tuple[str, str, str, str]] = []
        self._attr_types: set[tuple[str, str, str]] = set()
        self._attr_types_written: set[tuple[str, str, str]] = set()
        self._index_cleared: list[tuple[int]] = []
        self._index_gone: list[tuple[int, str]] = []
        self._index_new: list[tuple[int, str, str, str, str | None, object]] = []

    def add(
        self,
        tenant: str,
        seq: int,
        body: Mapping[str, Any],
        types: str,
        old: Mapping[str, Any] | None,
        old_types: str | None,
    ) -> None:
        """Gather the rows of entity ``seq`` now holding ``body`` (``types``: its ``types``
        column), which held ``old`` (``old_types``; both None for a new entity)."""
        if old is None or old_types != types:
            self._rewrite(tenant, seq, body, types, old_types, {})
            return
        # (the types did not change: no entity_types row does)
        attrs = body["attrs"]
        old_attrs: Mapping[str, Any] = old["attrs"]
        # (attribute, instances, instances before or None) of each attribute written
        changed = [(a, i, old_attrs.get(a)) for a, i in attrs.items()
                   if not _same(i, old_attrs.get(a))]  # fmt: skip
        gone = [a for a in old_attrs if a not in attrs]
        if _has_refs([i for _, i, _ in changed]) or _has_refs(
            [b for _, _, b in changed if b is not None] + [old_attrs[a] for a in gone]
        ):  # fmt: skip
            self._refs_gone.append((tenant, body["id"]))
            self._refs_new.extend((tenant, t, body["id"], a) for a, t in _refs(body))
        added = False
        for attr, instances, before in changed:
            kind_value = index_value(instances)
            # (kind, value), not the instances: 0 == False in Python, not in the index
            if before is None or index_value(before) != kind_value:
                self._index_new.extend([(seq, attr, t, tenant, *kind_value) for t in body["type"]])
            added = added or before is None
        if gone or added:
            self._attr_types.update((tenant, a, t) for a in attrs for t in body["type"])
        if gone:
            self._index_gone.extend((seq, a) for a in gone)

    def replace(
        self,
        tenant: str,
        seq: int,
        body: Mapping[str, Any],
        types: str,
        old_types: str,
        old_index: Mapping[str, tuple[str | None, object]],
    ) -> None:
        """Gather the rows of existing entity ``seq`` now holding ``body``, its old body unread:
        ``old_index`` is its ``attr_index`` rows (attribute → kind, value); its reference rows
        are all rewritten."""
        self._rewrite(tenant, seq, body, types, old_types, old_index)

    def _rewrite(
        self,
        tenant: str,
        seq: int,
        body: Mapping[str, Any],
        types: str,
        old_types: str | None,
        old_index: Mapping[str, tuple[str | None, object]],
    ) -> None:
        """Gather every row of ``body`` (an existing entity's reference rows all rewritten),
        the ``attr_index`` ones that differ from ``old_index`` (all when the types changed)."""
        self._refs_new.extend((tenant, t, body["id"], a) for a, t in _refs(body))
        index = {attr: index_value(instances) for attr, instances in body["attrs"].items()}
        self.rewrite_unrelated(tenant, seq, body["id"], body["type"], types, old_types, index,
                               old_index)  # fmt: skip

    def rewrite_unrelated(
        self,
        tenant: str,
        seq: int,
        entity_id: str,
        type_list: Sequence[str],
        types: str,
        old_types: str | None,
        index: Mapping[str, tuple[str | None, object]],
        old_index: Mapping[str, tuple[str | None, object]],
    ) -> None:
        """Gather the rows of entity ``seq`` but its Relationships' (it holds none, or the caller
        gathers them), given by
        its types (``type_list``, and ``types`` its ``types`` column) and the ``(kind, value)``
        of each attribute (``index``): what :meth:`add` (``old_types`` None: a new entity) or
        :meth:`replace` gather for such a body, without reading it."""
        if old_types is not None:  # (a new entity has none to delete)
            self._refs_gone.append((tenant, entity_id))
        self._types(tenant, seq, type_list, types, old_types)
        self._attr_types.update((tenant, a, t) for a in index for t in type_list)
        if old_types is not None and old_types != types:
            self._index_cleared.append((seq,))
            old_index = {}
        self._index_gone.extend((seq, a) for a in old_index if a not in index)
        for attr, kind_value in index.items():
            if old_index.get(attr) != kind_value:
                self._index_new.extend((seq, attr, t, tenant, *kind_value) for t in type_list)

    def _types(
        self, tenant: str, seq: int, type_list: Sequence[str], types: str, old_types: str | None
    ) -> None:
        if old_types != types:
            if old_types is not None:  # rows by primary key (tenant, type, seq)
                self._types_gone.extend((tenant, t, seq) for t in json.loads(old_types))
            self._types_new.extend((tenant, t, seq) for t in type_list)

    def write(self, cur: sqlite3.Cursor) -> None:
        """Write the gathered rows and forget them."""
        new_attr_types = self._attr_types - self._attr_types_written
        for sql, rows in (
            ("DELETE FROM entity_types WHERE tenant = ? AND type = ? AND seq = ?",
             self._types_gone),
            ("INSERT OR IGNORE INTO entity_types VALUES (?, ?, ?)", self._types_new),
            ("DELETE FROM entity_refs WHERE tenant = ? AND entity_id = ?", self._refs_gone),
            ("INSERT OR IGNORE INTO entity_refs VALUES (?, ?, ?, ?)", self._refs_new),
            ("INSERT OR IGNORE INTO attr_types VALUES (?, ?, ?)", new_attr_types),
            ("DELETE FROM attr_index WHERE seq = ?", self._index_cleared),
            ("DELETE FROM attr_index WHERE seq = ? AND attr = ?", self._index_gone),
            ("INSERT OR REPLACE INTO attr_index VALUES (?, ?, ?, ?, ?, ?)", self._index_new),
        ):  # fmt: skip
            if rows:
                cur.executemany(sql, rows)
        self._attr_types_written |= new_attr_types
        for gathered in (self._types_gone, self._types_new, self._refs_gone, self._refs_new,
                         self._index_cleared, self._index_gone, self._index_new):  # fmt: skip
            gathered.clear()
        self._attr_types.clear()


def _same(instances: Sequence[object], old: Sequence[object] | None) -> bool:
    """Whether an attribute holds the very instance objects it held (operations share them)."""
    return old is not None and len(old) == len(instances) and all(map(operator.is_, instances, old))


def _has_refs(attrs: Iterable[Sequence[Mapping[str, Any]]]) -> bool:
    """Whether any of these attributes' instances is a Relationship."""
    return any(i.get("type") == "Relationship" for instances in attrs for i in instances)


def _index(
    cur: sqlite3.Cursor, tenant: str, seq: object, types: Sequence[str], attrs: Mapping[str, Any]
) -> None:
    cur.executemany(
        "INSERT OR REPLACE INTO attr_index VALUES (?, ?, ?, ?, ?, ?)",
        [(seq, attr, t, tenant, *index_value(instances))
         for attr, instances in attrs.items() for t in types],
    )  # fmt: skip


def _refs(body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for attr, instances in body["attrs"].items():
        for inst in instances:
            if inst.get("type") == "Relationship":
                obj = inst.get("object")
                for target in obj if isinstance(obj, list) else [obj]:
                    if isinstance(target, str):
                        yield attr, target


_INSERT_HISTORY: Final = "INSERT INTO attr_history VALUES (?, ?, ?, ?, ?, ?, ?)"


def _history(
    cur: sqlite3.Cursor, tenant: str, body: Mapping[str, Any], attrs: Sequence[str]
) -> None:
    cur.executemany(_INSERT_HISTORY, _history_rows(tenant, body, attrs))


def _history_rows(
    tenant: str, body: Mapping[str, Any], attrs: Sequence[str]
) -> list[tuple[object, ...]]:
    """Return the ``attr_history`` rows of ``attrs`` as ``body`` holds them (one without an
    instance for an attribute it no longer has)."""
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
    return rows


INSTANCE_PREFIX: Final = "urn:ngsi-ld:AttributeInstance:"


def instance_id(rowid: int) -> str:
    """Return the ``instanceId`` of the history row ``rowid`` (stable: twin never VACUUMs).

    >>> instance_id(42)
    'urn:ngsi-ld:AttributeInstance:42'
    """
    return f"{INSTANCE_PREFIX}{rowid}"


def parse_instance_id(text: str) -> int | None:
    """Return the history row an ``instanceId`` names, None when it names none of ours (also
    a number past SQLite's 64-bit rowids, which no row can have).

    >>> parse_instance_id("urn:ngsi-ld:AttributeInstance:42"), parse_instance_id("urn:x:42")
    (42, None)
    """
    number = text.removeprefix(INSTANCE_PREFIX)
    if number == text or not (number.isascii() and number.isdigit()) or len(number) > 19:
        return None  # (int() also refuses more than 4300 digits)
    rowid = int(number)
    return rowid if rowid < 2**63 else None


def _identified(text: str, rowid: int) -> Body:
    instance: Body = json.loads(text)
    instance["instanceId"] = instance_id(rowid)
    return instance


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
        self._bodies = _Bodies()
        self._index_existing()

    def _index_existing(self) -> None:
        """Fill ``attr_index`` and ``attr_types`` for entities stored before they existed (or
        before ``attr_index`` had the entity type in its key)."""
        with self._cursor() as cur:
            if not _has_typed_index(cur):
                # another process may be migrating it too, and none may read it half built:
                # look again under the write lock, rebuild and refill in one transaction
                with _Transaction(cur):
                    if not _has_typed_index(cur):
                        cur.execute("DROP TABLE attr_index")
                        for statement in _ATTR_INDEX_STATEMENTS:  # (not executescript,
                            cur.execute(statement)  # which would commit first)
                        _index_missing(cur)
            if cur.execute("SELECT 1 FROM attr_types LIMIT 1").fetchone() is None:
                cur.execute(
                    "INSERT OR IGNORE INTO attr_types SELECT e.tenant, a.key, t.value "
                    "FROM entities e, json_each(e.body, '$.attrs') a, json_each(e.types) t"
                )
            # rows are written with their entity from then on, so an index is either filled
            # or (a catalog from before attr_index) empty: no scan of it at every open
            if (
                cur.execute("SELECT 1 FROM attr_index LIMIT 1").fetchone() is None
                and cur.execute("SELECT 1 FROM entities LIMIT 1").fetchone() is not None
            ):
                with _Transaction(cur):
                    _index_missing(cur)

    # -- reads -------------------------------------------------------------------------------

    def get(self, tenant: str, entity_id: str) -> Body:
        """Return one entity; raise NotFoundError (or NonexistentTenantError)."""
        with self._cursor() as cur:
            _check_tenant(cur, tenant)
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
        with self._cursor() as cur, _Transaction(cur, read=True):  # (its statements read one
            _check_tenant(cur, tenant)  # state: another process may write between them)
            return run_query(cur, tenant, where, keep, offset, limit)

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
            _check_tenant(cur, tenant)
            rows = cur.execute(
                "SELECT types, (SELECT json_group_array(key) FROM json_each(body, '$.attrs')) "
                "FROM entities WHERE tenant = ?",
                (tenant,),
            ).fetchall()
        return [(json.loads(t), json.loads(a)) for t, a in rows]

    def history(
        self, tenant: str, entity_id: str, attrs: Sequence[str] = ()
    ) -> list[tuple[str, Body | None]]:
        """Return ``(attribute, instance or None when deleted)`` in write order.

        Each instance carries its ``instanceId`` (see :func:`instance_id`).
        """
        sql = "SELECT attr, instance, rowid FROM attr_history WHERE tenant = ? AND entity_id = ?"
        params: list[object] = [tenant, entity_id]
        if attrs:
            sql += f" AND attr IN ({','.join('?' * len(attrs))})"
            params.extend(attrs)
        with self._cursor() as cur:
            rows = cur.execute(sql + " ORDER BY rowid", params).fetchall()
        return [(a, None if i is None else _identified(i, n)) for a, i, n in rows]

    # -- writes ------------------------------------------------------------------------------

    def wal_checkpointer(self, interval_s: float = 0.5) -> WalCheckpointer:
        """Return a checkpointer that, once started, takes WAL checkpoints off the write path."""
        return WalCheckpointer(self._cursor, interval_s)

    def run(self, operations: Sequence[Operation[object]]) -> list[object]:
        """Run write operations in one transaction; return each one's result or exception.

        One that raises is undone alone and its exception is its result; one commit (one
        ``fsync``) covers them all. The operations first run one after the other, without a
        savepoint each (SAVEPOINT and RELEASE cost ~8 % of a batch's SQL time), the
        modifications of entities writing their rows together (see :func:`_run_gathering`; a
        failing modification wrote nothing, so it needs no undoing); when another one raises,
        that transaction is rolled back and the batch runs again with a savepoint around each
        operation. Operations are functions of the database state, so the second run gives what
        a first one with savepoints would have.
        """
        with self._cursor() as cur:
            cur.execute("BEGIN IMMEDIATE")
            bodies = self._bodies
            batch = _ModifyBatch(bodies.valid(cur))
            try:
                results = _run_gathering(cur, operations, batch)
                mark = _Bodies.mark(cur)  # (before COMMIT: nobody else can write until then)
            except BaseException as exc:
                cur.execute("ROLLBACK")  # (what it kept stays right: the mark moved, though)
                if not isinstance(exc, Exception):
                    raise
            else:
                cur.execute("COMMIT")
                bodies.keep(batch.bodies, mark)
                return results
            return _run_each(cur, operations)

    def _run_one(self, operation: Operation[T]) -> T:
        (result,) = self.run([operation])
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[return-value]  # what operation returned

    def create(self, tenant: str, body: Mapping[str, Any]) -> None:
        """Store a new entity; raise ConflictError when the id exists in the tenant."""
        self._run_one(create_op(tenant, body))

    def modify(self, tenant: str, entity_id: str, change: Callable[[Body], C]) -> C:
        """Apply ``change`` to the stored entity and store its result, atomically."""
        return self._run_one(modify_op(tenant, entity_id, change))

    def delete(self, tenant: str, entity_id: str) -> Body:
        """Delete an entity and return what it was; raise NotFoundError when unknown."""
        return self._run_one(delete_op(tenant, entity_id))


_MISSING: Final = (
    "SELECT seq, tenant, types, body FROM entities WHERE seq NOT IN "
    "(SELECT DISTINCT seq FROM attr_index) AND body NOT LIKE '%\"attrs\":{}%'"
)
"""The entities with attributes but no ``attr_index`` row."""


def _index_missing(cur: sqlite3.Cursor) -> None:
    """Write the ``attr_index`` rows of the entities that have none (in a transaction)."""
    for seq, tenant, types, text in cur.execute(_MISSING).fetchall():
        _index(cur, tenant, seq, json.loads(types), json.loads(text)["attrs"])


def _has_typed_index(cur: sqlite3.Cursor) -> bool:
    """Whether ``attr_index`` has the entity type in its key (the layout before had not)."""
    return any(row[1] == "type" for row in cur.execute("PRAGMA table_info(attr_index)"))


Stored = tuple[int, str, Body]
"""An entity as stored: its ``seq`` and ``types`` columns and its body."""


class _Bodies:
    """The entities the last transactions of :meth:`SQLiteEntities.run` modified, as they wrote
    them (at most :attr:`LIMIT`): a modification of one of them takes its body from here
    instead of reading and decoding its row again.

    They are right only while nothing else wrote to the database: :meth:`mark` (the rows this
    connection changed, and ``PRAGMA data_version``, which moves when another connection
    commits) is taken at the end of each transaction that kept bodies and compared at the start
    of the next, which forgets them all when it differs. The bodies are the very objects the
    operations returned: operations never change a body in place (see
    :mod:`twin.ngsild.operations`), and neither may their callers.
    """

    LIMIT: Final = 8192

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], Stored] = {}
        self._mark: tuple[int, int] | None = None

    @staticmethod
    def mark(cur: sqlite3.Cursor) -> tuple[int, int]:
        """Return what moves when the database changes, in the open transaction."""
        (version,) = cur.execute("PRAGMA data_version").fetchone()
        return cur.connection.total_changes, version

    def valid(self, cur: sqlite3.Cursor) -> Mapping[tuple[str, str], Stored]:
        """Return the bodies kept, after forgetting them if the database changed since."""
        if self._held and self.mark(cur) != self._mark:
            self._held.clear()
        return self._held

    def keep(self, bodies: Mapping[tuple[str, str], Stored] | None, mark: tuple[int, int]) -> None:
        """Keep what a committed transaction wrote (None: it wrote more than modifications)."""
        if bodies is None:
            self._held.clear()
            return
        if len(self._held) + len(bodies) > self.LIMIT:
            self._held.clear()
        self._held.update(bodies)
        self._mark = mark


def _run_gathering(
    cur: sqlite3.Cursor, operations: Sequence[Operation[object]], batch: _ModifyBatch
) -> list[object]:
    """Run operations one after the other in the open transaction; return their results.

    Modifications of existing entities (:func:`modify_op`) gather their rows into one
    :class:`_ModifyBatch`, written with one ``executemany`` per statement before any other
    operation runs, before a modification of an entity already gathered, and at the end: every
    operation sees what those before it wrote. A modification that raises has gathered nothing,
    so its exception is its result and the others go on; any other exception (of another
    operation, or of writing the batch) is raised.
    """
    results: list[object] = []
    for operation in operations:
        if isinstance(operation, _Modify):
            if batch.holds(operation.tenant, operation.entity_id):
                batch.write(cur)
            try:
                results.append(operation.gather(cur, batch))
            except Exception as exc:  # handed back to its caller
                results.append(exc)
        else:
            batch.write(cur)
            batch.forget_bodies()  # (it may write entities too)
            results.append(operation(cur))
    batch.write(cur)
    return results


def _run_each(cur: sqlite3.Cursor, operations: Sequence[Operation[object]]) -> list[object]:
    """Run operations in one transaction, each in a savepoint: one that raises is rolled back
    alone and its exception is its result."""
    results: list[object] = []
    with _Transaction(cur):
        for operation in operations:
            cur.execute("SAVEPOINT op")
            try:
                results.append(operation(cur))
            except Exception as exc:  # handed back to its caller
                cur.execute("ROLLBACK TO op")
                results.append(exc)
            cur.execute("RELEASE op")
    return results


def _check_tenant(cur: sqlite3.Cursor, tenant: str) -> None:
    if tenant and cur.execute("SELECT 1 FROM tenants WHERE name = ?", (tenant,)).fetchone() \
            is None:  # fmt: skip
        raise NonexistentTenantError(f"no tenant named {tenant!r}")


def create_op(tenant: str, body: Mapping[str, Any]) -> Operation[None]:
    """Return the operation that stores a new entity (ConflictError when the id exists)."""

    def create(cur: sqlite3.Cursor) -> None:
        if tenant:  # the default tenant is in the table from the start
            cur.execute("INSERT OR IGNORE INTO tenants VALUES (?)", (tenant,))
        try:
            write_entity(cur, tenant, body, new=True)
        except sqlite3.IntegrityError as exc:  # the only UNIQUE one: entities (tenant, id)
            if exc.sqlite_errorcode != sqlite3.SQLITE_CONSTRAINT_UNIQUE:
                raise
            raise ConflictError(f"entity {body['id']} already exists") from exc
        _history(cur, tenant, body, list(body["attrs"]))

    return create


def modify_op(tenant: str, entity_id: str, change: Callable[[Body], C]) -> Operation[C]:
    """Return the operation that applies ``change`` to a stored entity and stores the result."""
    return _Modify(tenant, entity_id, change)


class _Modify(Generic[C]):
    """:func:`modify_op`'s operation: a function of a cursor like any other, which
    :meth:`SQLiteEntities.run` can also have gather its rows into a :class:`_ModifyBatch`."""

    __slots__ = ("_change", "entity_id", "tenant")

    def __init__(self, tenant: str, entity_id: str, change: Callable[[Body], C]) -> None:
        self.tenant = tenant
        self.entity_id = entity_id
        self._change = change

    def __call__(self, cur: sqlite3.Cursor) -> C:
        batch = _ModifyBatch()
        result = self.gather(cur, batch)
        batch.write(cur)
        return result

    def gather(self, cur: sqlite3.Cursor, batch: _ModifyBatch) -> C:
        """Read the entity, apply the change and add the rows to write to ``batch``; what
        raises has added nothing (NotFoundError when the entity is missing)."""
        _check_tenant(cur, self.tenant)
        stored = batch.stored(self.tenant, self.entity_id)
        if stored is None:
            row = cur.execute(
                "SELECT seq, types, body FROM entities WHERE tenant = ? AND id = ?",
                (self.tenant, self.entity_id),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no entity {self.entity_id}")
            stored = (row[0], row[1], json.loads(row[2]))
        seq, old_types, old = stored
        result = self._change(old)
        body = result.entity
        # (most writes keep the types: their column is not encoded again)
        types = old_types if body["type"] == old["type"] else _dumps(body["type"])
        batch.add(self.tenant, self.entity_id, seq, (types, old_types), body, old, result.updated)
        return result


_UPDATE_ENTITY: Final = (
    "UPDATE entities SET types = ?, body = ?, created_at = ?, modified_at = ? WHERE seq = ?"
)


class _ModifyBatch:
    """The rows that modifications of existing entities write — the ``entities`` rows, their
    index rows (:class:`IndexRows`) and their ``attr_history`` rows — gathered over many
    entities and written with one ``executemany`` per statement.

    An entity is gathered once at most between two :meth:`write` calls (:meth:`holds` tells):
    the index rows of all gathered entities are written deletions first, which is right only
    for rows of different entities.

    ``committed`` (see :class:`_Bodies`) are stored entities as an earlier transaction wrote
    them; :meth:`stored` answers from them and from the bodies gathered since, until
    :meth:`forget_bodies` (another kind of write ran: they may be stale).
    """

    def __init__(self, committed: Mapping[tuple[str, str], Stored] | None = None) -> None:
        self._keys: set[tuple[str, str]] = set()
        self._entities: list[tuple[str, str, object, object, int]] = []
        self._index = IndexRows()
        self._history: list[tuple[object, ...]] = []
        self._committed = committed or {}
        self.bodies: dict[tuple[str, str], Stored] | None = {}
        """What each gathered entity holds now, None once forgotten."""

    def holds(self, tenant: str, entity_id: str) -> bool:
        """Whether rows of that entity wait to be written."""
        return (tenant, entity_id) in self._keys

    def stored(self, tenant: str, entity_id: str) -> Stored | None:
        """Return the stored ``(seq, types column, body)`` of an entity when known, else None."""
        if self.bodies is None:
            return None
        key = (tenant, entity_id)
        return self.bodies.get(key) or self._committed.get(key)

    def forget_bodies(self) -> None:
        """Answer None from :meth:`stored` from now on (the database changed otherwise)."""
        self.bodies = None

    def add(
        self,
        tenant: str,
        entity_id: str,
        seq: int,
        types: tuple[str, str],
        body: Mapping[str, Any],
        old: Mapping[str, Any],
        updated: Sequence[str],
    ) -> None:
        """Gather the rows of entity ``seq`` now holding ``body`` (``types``: its new and old
        ``types`` columns), which held ``old``, with the history of ``updated``; raises (an
        unencodable body) before gathering anything."""
        text = _dumps(body)
        history = _history_rows(tenant, body, updated)
        self._keys.add((tenant, entity_id))
        self._entities.append((types[0], text, body["createdAt"], body["modifiedAt"], seq))
        self._index.add(tenant, seq, body, types[0], old, types[1])
        self._history.extend(history)
        if self.bodies is not None:
            self.bodies[(tenant, entity_id)] = (seq, types[0], cast(Body, body))

    def write(self, cur: sqlite3.Cursor) -> None:
        """Write the gathered rows and forget them."""
        if not self._keys:
            return
        cur.executemany(_UPDATE_ENTITY, self._entities)
        self._index.write(cur)
        if self._history:
            cur.executemany(_INSERT_HISTORY, self._history)
        self._keys.clear()
        self._entities.clear()
        self._history.clear()


def delete_op(tenant: str, entity_id: str) -> Operation[Body]:
    """Return the operation that deletes an entity and returns what it was (or NotFoundError)."""

    def delete(cur: sqlite3.Cursor) -> Body:
        _check_tenant(cur, tenant)
        row = cur.execute(
            "SELECT seq, body, types FROM entities WHERE tenant = ? AND id = ?",
            (tenant, entity_id),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no entity {entity_id}")
        delete_entities(cur, tenant, [(row[0], entity_id, row[2])])
        body: Body = json.loads(row[1])
        return body

    return delete


def delete_entities(cur: sqlite3.Cursor, tenant: str, rows: Sequence[tuple[int, str, str]]) -> None:
    """Delete entities given as ``(seq, id, types column)`` with their index rows and history
    (an entity created again with the same id starts a history of its own)."""
    cur.executemany(
        "DELETE FROM entities WHERE seq = ?", [(r[0],) for r in rows]
    )  # attr_index: by trigger
    cur.executemany(
        "DELETE FROM entity_types WHERE tenant = ? AND type = ? AND seq = ?",
        [(tenant, t, seq) for seq, _, types in rows for t in json.loads(types)],
    )
    cur.executemany(
        "DELETE FROM entity_refs WHERE tenant = ? AND entity_id = ?",
        [(tenant, eid) for _, eid, _ in rows],
    )
    cur.executemany(
        "DELETE FROM attr_history WHERE tenant = ? AND entity_id = ?",
        [(tenant, eid) for _, eid, _ in rows],
    )


class _Transaction(AbstractContextManager[None]):
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception (``read``: a
    deferred ``BEGIN``, so that several reads see one state of the database)."""

    def __init__(self, cur: sqlite3.Cursor, *, read: bool = False) -> None:
        self._cur = cur
        self._begin = "BEGIN" if read else "BEGIN IMMEDIATE"

    def __enter__(self) -> None:
        self._cur.execute(self._begin)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._cur.execute("ROLLBACK" if exc_type is not None else "COMMIT")
