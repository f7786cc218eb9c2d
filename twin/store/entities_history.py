"""Writes to the temporal representation of entities (CIM 009 v1.8 §5.6.11 – §5.6.16).

The temporal API reads ``attr_history`` (one row per attribute instance written; its rowid is
the instance's ``instanceId``, see :func:`twin.store.entities.instance_id`). These operations
write it directly: instances with their own ``observedAt`` appended (backfilled history), an
attribute's instances or all of an entity's deleted, or one instance modified or deleted. The
current state of an
entity that exists is not changed by them; an entity that does not exist yet is created from the
latest instance of each attribute so that it can be found and read (see
:func:`twin.ngsild.temporal_write`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from twin.errors import InputError, NotFoundError
from twin.store.entities import (
    Operation,
    _check_tenant,
    _dumps,
    parse_instance_id,
    write_entity,
)

__all__ = [
    "append_history_op",
    "delete_entity_history_op",
    "delete_history_op",
    "delete_instance_op",
    "modify_instance_op",
]

Instances = Mapping[str, Sequence[Mapping[str, Any]]]


def append_history_op(
    tenant: str, entity_id: str, attrs: Instances, new_entity: Mapping[str, Any] | None
) -> Operation[bool]:
    """Return the operation appending instances to an entity's history; it returns whether it
    created the entity (from ``new_entity``; NotFoundError when the entity is missing and
    ``new_entity`` is None)."""

    def append(cur: sqlite3.Cursor) -> bool:
        exists = _exists(cur, tenant, entity_id)
        if not exists and new_entity is None:
            _check_tenant(cur, tenant)
            raise NotFoundError(f"no entity {entity_id}")
        if not exists and new_entity is not None:
            cur.execute("INSERT OR IGNORE INTO tenants VALUES (?)", (tenant,))
            write_entity(cur, tenant, new_entity)
        cur.executemany(
            "INSERT INTO attr_history VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(tenant, entity_id, attr, inst.get("datasetId"), inst.get("observedAt"),
              inst["modifiedAt"], _dumps(inst))
             for attr, instances in attrs.items() for inst in instances],
        )  # fmt: skip
        return not exists

    return append


def _exists(cur: sqlite3.Cursor, tenant: str, entity_id: str) -> bool:
    """Return whether the tenant has an entity ``entity_id`` (its history may be empty)."""
    row = cur.execute(
        "SELECT 1 FROM entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
    ).fetchone()
    return row is not None


def delete_history_op(
    tenant: str, entity_id: str, attr: str, dataset_id: str | None, delete_all: bool
) -> Operation[None]:
    """Return the operation deleting the history of one attribute: the instances of the default
    one (``dataset_id`` None), of ``dataset_id``, or all (``delete_all``); NotFoundError when
    there were none."""

    def delete(cur: sqlite3.Cursor) -> None:
        _check_tenant(cur, tenant)
        sql = "DELETE FROM attr_history WHERE tenant = ? AND entity_id = ? AND attr = ?"
        params: list[object] = [tenant, entity_id, attr]
        if not delete_all:
            sql += " AND dataset_id IS ?"
            params.append(dataset_id)
        if cur.execute(sql, params).rowcount == 0:
            raise NotFoundError(f"entity {entity_id} has no history of {attr}")

    return delete


def delete_entity_history_op(tenant: str, entity_id: str) -> Operation[None]:
    """Return the operation deleting every instance of an entity's history (§5.6.16), leaving
    its current state; NotFoundError when there is no such entity."""

    def delete(cur: sqlite3.Cursor) -> None:
        _check_tenant(cur, tenant)
        if not _exists(cur, tenant, entity_id):
            raise NotFoundError(f"no entity {entity_id}")
        cur.execute(
            "DELETE FROM attr_history WHERE tenant = ? AND entity_id = ?", (tenant, entity_id)
        )

    return delete


_INSTANCE_ROW = "rowid = ? AND tenant = ? AND entity_id = ? AND attr = ? AND instance IS NOT NULL"


def _instance_row(
    cur: sqlite3.Cursor, tenant: str, entity_id: str, attr: str, instance: str
) -> tuple[int, dict[str, Any]]:
    """Return the rowid and instance that ``instance`` (an instanceId) names, or NotFoundError."""
    _check_tenant(cur, tenant)
    rowid = parse_instance_id(instance)
    row = None if rowid is None else cur.execute(
        f"SELECT instance FROM attr_history WHERE {_INSTANCE_ROW}",
        (rowid, tenant, entity_id, attr),
    ).fetchone()  # fmt: skip
    if rowid is None or row is None:
        raise NotFoundError(f"entity {entity_id} has no instance {instance} of {attr}")
    old: dict[str, Any] = json.loads(row[0])
    return rowid, old


def modify_instance_op(
    tenant: str, entity_id: str, attr: str, instance: str, fragment: Mapping[str, Any], now: str
) -> Operation[None]:
    """Return the operation merging ``fragment``'s members onto one stored instance (§5.6.14);
    NotFoundError when the entity, attribute or instance is unknown."""

    def modify(cur: sqlite3.Cursor) -> None:
        rowid, old = _instance_row(cur, tenant, entity_id, attr, instance)
        kind = fragment.get("type", old.get("type"))
        if kind != old.get("type"):  # §5.6.14 merges values; what an attribute is stays put
            raise InputError(
                f"instance {instance} of {attr} is a {old.get('type')}; a modification cannot "
                f"make it a {kind} (delete it and append a new instance instead)"
            )
        new = {**old, **{k: v for k, v in fragment.items() if k != "createdAt"}, "modifiedAt": now}
        cur.execute(
            "UPDATE attr_history SET instance = ?, dataset_id = ?, observed_at = ?, "
            f"modified_at = ? WHERE {_INSTANCE_ROW}",
            (_dumps(new), new.get("datasetId"), new.get("observedAt"), now,
             rowid, tenant, entity_id, attr),
        )  # fmt: skip

    return modify


def delete_instance_op(tenant: str, entity_id: str, attr: str, instance: str) -> Operation[None]:
    """Return the operation deleting one stored instance (§5.6.15); NotFoundError when the
    entity, attribute or instance is unknown."""

    def delete(cur: sqlite3.Cursor) -> None:
        rowid, _ = _instance_row(cur, tenant, entity_id, attr, instance)
        cur.execute(
            f"DELETE FROM attr_history WHERE {_INSTANCE_ROW}", (rowid, tenant, entity_id, attr)
        )

    return delete
