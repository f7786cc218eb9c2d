"""The index rows follow every kind of modification (references, attribute values, types)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from twin.ngsild.entity import parse_attribute_fragment, parse_attributes, parse_entity
from twin.ngsild.jsonld import CORE
from twin.ngsild.operations import append_attrs, delete_attr, partial_update_attr
from twin.ngsild.selection import parse_selection
from twin.store import SQLiteStore
from twin.store.entities import EntityFilter, SQLiteEntities

NOW = "2026-01-01T00:00:00.000Z"
DEV = "urn:ngsi-ld:Device:1"
B1, B2 = "urn:ngsi-ld:Building:x:1", "urn:ngsi-ld:Building:x:2"
REF, TEMP = CORE.expand("refBuilding"), CORE.expand("temperature")


def referring(store: SQLiteStore, target: str) -> list[tuple[str, str]]:
    return [(a, e["id"]) for _, a, e in store.entities.referring("", [target])]


def indexed(store: SQLiteStore) -> list[tuple[str, str | None, object]]:
    rows = store._db.execute("SELECT attr, kind, value FROM attr_index ORDER BY attr").fetchall()
    return [tuple(r) for r in rows]


def test_references_and_values_follow_modifications(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    doc = {"id": DEV, "type": "Device", "refBuilding": {"type": "Relationship", "object": B1},
           "temperature": 20}  # fmt: skip
    store.entities.create("", parse_entity(doc, CORE, NOW))
    assert referring(store, B1) == [(REF, DEV)]
    fragment = parse_attribute_fragment("temperature", {"value": True}, CORE, NOW)
    store.entities.modify("", DEV, lambda old: partial_update_attr(old, TEMP, fragment, NOW))
    assert referring(store, B1) == [(REF, DEV)]  # untouched relationship, row kept
    assert indexed(store) == [(REF, "r", B1), (TEMP, "b", 1)]
    moved = parse_attributes({"refBuilding": {"type": "Relationship", "object": B2}}, CORE, NOW)
    store.entities.modify("", DEV, lambda old: append_attrs(old, moved, NOW))
    assert (referring(store, B1), referring(store, B2)) == ([], [(REF, DEV)])
    store.entities.modify("", DEV, lambda old: delete_attr(old, REF, NOW))
    assert referring(store, B2) == []
    assert indexed(store) == [(TEMP, "b", 1)]
    q = EntityFilter(attrs=(REF,), exact=True)
    assert store.entities.query("", q, lambda e: True) == ([], 0)
    store.close()


def test_an_index_without_entity_types_is_rebuilt_with_them(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    for i, kind in enumerate(["Room", "Device", "Room"]):
        doc = {"id": f"urn:ngsi-ld:{kind}:{i}", "type": kind, "temperature": 20 + i}
        store.entities.create("", parse_entity(doc, CORE, NOW))
    store.close()
    _make_old_layout(tmp_path / "data" / "twin.db")
    store = SQLiteStore(tmp_path / "data")
    selection = parse_selection(CORE, ids=[], id_pattern=None, type_text="Room", attrs=[],
                                q="temperature>20", geo=(None, None, None, None))  # fmt: skip
    where = EntityFilter(types=selection.types, condition=selection.q_sql, exact=True)
    page, total = store.entities.query("", where, selection.matches)
    assert ([e["id"] for e in page], total) == (["urn:ngsi-ld:Room:2"], 1)
    assert sorted(indexed(store)) == [(TEMP, "n", 20), (TEMP, "n", 21), (TEMP, "n", 22)]
    store.close()


def _make_old_layout(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(  # the layout before the entity type was part of the key
        "DROP TABLE attr_index; CREATE TABLE attr_index (seq INTEGER NOT NULL, attr TEXT NOT NULL,"
        " tenant TEXT NOT NULL, kind TEXT, value, PRIMARY KEY (seq, attr)) WITHOUT ROWID;"
        "CREATE INDEX attr_index_value ON attr_index (tenant, attr, kind, value);"
    )
    db.close()


class _HookedCursor:
    """A cursor that calls ``hook(sql, "before" | "after")`` around each ``execute``."""

    def __init__(self, cur: sqlite3.Cursor, hook: Callable[[str, str], None]) -> None:
        self._cur, self._hook = cur, hook

    def execute(self, sql: str, *params: Any) -> sqlite3.Cursor:
        self._hook(sql, "before")
        result = self._cur.execute(sql, *params)
        self._hook(sql, "after")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


def _open(path: Path, hook: Callable[[str, str], None]) -> SQLiteEntities:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)

    @contextmanager
    def cursor() -> Iterator[sqlite3.Cursor]:
        yield _HookedCursor(db.cursor(), hook)  # type: ignore[misc]

    return SQLiteEntities(cursor)


def test_two_processes_opening_an_old_index_at_once_both_open(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    doc = {"id": "urn:ngsi-ld:Room:1", "type": "Room", "temperature": 20}
    store.entities.create("", parse_entity(doc, CORE, NOW))
    store.close()
    path = tmp_path / "data" / "twin.db"
    _make_old_layout(path)
    b_read_layout, a_dropped = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hook_a(sql: str, when: str) -> None:  # A drops between B's look and B's drop
        if sql.startswith("DROP TABLE attr_index") and when == "before":
            b_read_layout.wait(2)
        if sql.startswith("DROP TABLE attr_index") and when == "after":
            a_dropped.set()

    def hook_b(sql: str, when: str) -> None:
        if sql.startswith("PRAGMA table_info(attr_index)") and when == "after":
            b_read_layout.set()
        if sql.startswith("DROP TABLE attr_index") and when == "before":
            a_dropped.wait(2)

    def open_b() -> None:
        try:
            _open(path, hook_b)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    b = threading.Thread(target=open_b)
    b.start()
    _open(path, hook_a)
    b.join()
    assert errors == []
    store = SQLiteStore(tmp_path / "data")
    assert indexed(store) == [(TEMP, "n", 20)]
    store.close()


def test_a_query_reads_one_state_of_the_index(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    doc = {"id": "urn:ngsi-ld:Room:1", "type": "Room", "temperature": 25}
    store.entities.create("", parse_entity(doc, CORE, NOW))
    huge = parse_attributes({"temperature": 2**60}, CORE, NOW)  # no kind in the index

    def hook(sql: str, when: str) -> None:  # another process writes between two statements
        if "i.kind IS NULL" in sql and when == "after":
            store.entities.modify("", doc["id"], lambda old: append_attrs(old, huge, NOW))

    reader = _open(tmp_path / "data" / "twin.db", hook)
    selection = parse_selection(CORE, ids=[], id_pattern=None, type_text="Room", attrs=[],
                                q="temperature>20", geo=(None, None, None, None))  # fmt: skip
    where = EntityFilter(types=selection.types, condition=selection.q_sql, exact=True)
    page, total = reader.query("", where, selection.matches)
    assert ([e["id"] for e in page], total) == ([doc["id"]], 1)  # 25 > 20 before, 2**60 after
    store.close()


def test_entities_stored_before_the_index_existed_are_indexed_on_open(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data")
    doc = {"id": DEV, "type": "Device", "temperature": 20}
    store.entities.create("", parse_entity(doc, CORE, NOW))
    rows = indexed(store)
    store._db.execute("DELETE FROM attr_index")  # as a catalog from before attr_index
    store.close()
    assert rows != []
    assert indexed(SQLiteStore(tmp_path / "data")) == rows


def test_opening_a_store_reads_no_table_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `twin serve` and every `twin import` open the store: at a million buildings a scan of
    # the entities or their index rows costs seconds and fills the page cache.
    store = SQLiteStore(tmp_path / "data")
    for i in range(20):
        doc = {"id": f"{DEV}{i}", "type": "Device", "temperature": i}
        store.entities.create("", parse_entity(doc, CORE, NOW))
    store.close()
    statements: list[str] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = connect(*args, **kwargs)
        db.set_trace_callback(statements.append)
        return db

    monkeypatch.setattr(sqlite3, "connect", traced)
    reopened = SQLiteStore(tmp_path / "data")
    monkeypatch.undo()
    whole = []
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            continue
        plan = " ".join(row[3] for row in reopened._db.execute("EXPLAIN QUERY PLAN " + sql))
        scans = re.findall(r"\bSCAN (?:entities|attr_index|objects)\b", plan)
        first_row_only = "LIMIT 1" in sql and "SUBQUERY" not in plan and len(scans) == 1
        if scans and not first_row_only:
            whole.append((sql, plan))
    assert whole == []
