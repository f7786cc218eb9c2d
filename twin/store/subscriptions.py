"""NGSI-LD subscriptions in the catalog's SQLite database (table ``subscriptions``).

The store keeps each subscription as one JSON body per ``(tenant, id)``; it does not interpret
it (validation and matching are :mod:`twin.ngsild.subscriptions`). Creating, replacing and
deleting are single transactions answered after the commit; :meth:`save_counters` is the
best-effort write of notification counters (a vanished subscription is ignored).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from twin.errors import ConflictError, NotFoundError

__all__ = ["SQLiteSubscriptions"]

Body = dict[str, Any]
Cursor = Callable[[], AbstractContextManager[sqlite3.Cursor]]


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class SQLiteSubscriptions:
    """Subscriptions beside the entities (same database, same lock).

    Parameters
    ----------
    cursor : callable
        The store's context manager giving a locked cursor, translating sqlite3 errors.
    """

    def __init__(self, cursor: Cursor) -> None:
        self._cursor = cursor

    def all(self) -> list[tuple[str, Body]]:
        """Return ``(tenant, body)`` of every subscription, in creation order."""
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT tenant, body FROM subscriptions ORDER BY json_extract(body, '$.createdAt')"
            ).fetchall()
        return [(tenant, json.loads(body)) for tenant, body in rows]

    def get(self, tenant: str, sub_id: str) -> Body:
        """Return one subscription; raise NotFoundError when unknown."""
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT body FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no subscription {sub_id}")
        body: Body = json.loads(row[0])
        return body

    def create(self, tenant: str, body: Mapping[str, Any]) -> None:
        """Store a new subscription; raise ConflictError when the id exists in the tenant."""
        with self._cursor() as cur:
            try:
                cur.execute(
                    "INSERT INTO subscriptions (tenant, id, body) VALUES (?, ?, ?)",
                    (tenant, body["id"], _dumps(body)),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"subscription {body['id']} already exists") from exc
            cur.execute("INSERT OR IGNORE INTO tenants VALUES (?)", (tenant,))

    def replace(self, tenant: str, body: Mapping[str, Any]) -> None:
        """Replace a stored subscription; raise NotFoundError when unknown."""
        with self._cursor() as cur:
            cur.execute(
                "UPDATE subscriptions SET body = ? WHERE tenant = ? AND id = ?",
                (_dumps(body), tenant, body["id"]),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"no subscription {body['id']}")

    def delete(self, tenant: str, sub_id: str) -> None:
        """Delete a subscription; raise NotFoundError when unknown."""
        with self._cursor() as cur:
            cur.execute("DELETE FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"no subscription {sub_id}")

    def save_counters(self, rows: Sequence[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Write the ``notification`` member of ``(tenant, id, notification)`` rows."""
        with self._cursor() as cur:
            cur.executemany(
                "UPDATE subscriptions SET body = json_set(body, '$.notification', json(?)) "
                "WHERE tenant = ? AND id = ?",
                [(_dumps(n), tenant, sub_id) for tenant, sub_id, n in rows],
            )
