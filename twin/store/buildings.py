"""Catalog buildings as NGSI-LD ``Building`` entities (Smart Data Models), kept in sync on import.

The id rule — one function, :func:`building_entity_id` — is::

    urn:ngsi-ld:Building:<dataset>:<gml:id>

always qualified by the dataset. Two cities (or two versions of one) often reuse gml:ids
(``BLDG_0001``, ``UUID_…`` copied between exports); an unqualified id would make the entity
depend on which dataset was imported first and silently join one city's sensors onto another's
building. Qualified ids are stateless (computable from what a tile's property table and the
OGC API already give: dataset + gml:id), stable across re-imports and import order, and
reversible (:func:`parse_building_entity_id`) because dataset names cannot contain ``:``.
Characters of the gml:id outside those URNs allow are percent-encoded.

Each ``Building`` catalog object (not its BuildingParts) becomes an entity with its static
attributes as Properties, ``address`` (SDM PostalAddress) and ``location`` (footprint, WGS84;
the bounding box footprint when the object has none). Names are expanded under the NGSI-LD
default context, so ``type=Building`` finds them without a user @context. On re-import the
static attributes are replaced; live attributes written through the API survive; buildings that
left the dataset are deleted.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote, unquote

from twin.model import BuildingRecord
from twin.store.derived import postal_address
from twin.store.entities import IndexRows, _dumps, delete_entities
from twin.store.generations import new_key

__all__ = [
    "BUILDING_PREFIX",
    "BUILDING_TYPE",
    "CHUNK",
    "DEFAULT_CONTEXT",
    "BuildingSync",
    "building_entity",
    "building_entity_id",
    "delete_buildings",
    "parse_building_entity_id",
    "sync_building_entities",
]

DEFAULT_CONTEXT: Final = "https://uri.etsi.org/ngsi-ld/default-context/"
BUILDING_PREFIX: Final = "urn:ngsi-ld:Building:"
BUILDING_TYPE: Final = DEFAULT_CONTEXT + "Building"
LOCATION: Final = "https://uri.etsi.org/ngsi-ld/location"
_URN_SAFE: Final = "!$&'()*+,;=:@-._~"


def building_entity_id(dataset: str, object_id: str) -> str:
    """Return the NGSI-LD entity id of catalog object ``object_id`` of ``dataset``.

    >>> building_entity_id("berlin", "DEBE_123")
    'urn:ngsi-ld:Building:berlin:DEBE_123'
    >>> building_entity_id("demo", "a b/c")
    'urn:ngsi-ld:Building:demo:a%20b%2Fc'
    """
    return f"{BUILDING_PREFIX}{dataset}:{quote(object_id, safe=_URN_SAFE)}"


def parse_building_entity_id(entity_id: str) -> tuple[str, str] | None:
    """Return ``(dataset, object_id)`` of a building entity id, None for any other id.

    >>> parse_building_entity_id("urn:ngsi-ld:Building:demo:a%20b%2Fc")
    ('demo', 'a b/c')
    >>> parse_building_entity_id("urn:ngsi-ld:Device:1") is None
    True
    """
    if not entity_id.startswith(BUILDING_PREFIX):
        return None
    dataset, sep, object_id = entity_id[len(BUILDING_PREFIX) :].partition(":")
    if not sep or not dataset or not object_id:
        return None
    return dataset, unquote(object_id)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _prop(value: Any, now: str, attr_type: str = "Property") -> dict[str, Any]:
    if isinstance(value, dt.date):
        value = {"@type": "Date", "@value": value.isoformat()}
    return {"type": attr_type, "value": value, "createdAt": now, "modifiedAt": now}


def _bbox_polygon(r: BuildingRecord) -> dict[str, Any]:
    x0, y0, _, x1, y1, _ = r.bbox_wgs84
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def building_entity(record: BuildingRecord, now: str) -> dict[str, Any]:
    """Return the stored-form ``Building`` entity of a catalog record (static attributes)."""
    attrs: dict[str, list[dict[str, Any]]] = {}
    for name, value in record.attributes.items():
        if value is not None and name.isidentifier():
            attrs[DEFAULT_CONTEXT + name] = [_prop(value, now)]
    if record.address is not None:
        attrs[DEFAULT_CONTEXT + "address"] = [_prop(postal_address(record.address), now)]
    footprint = dict(record.footprint) if record.footprint else _bbox_polygon(record)
    attrs[LOCATION] = [_prop(footprint, now, "GeoProperty")]
    return {
        "id": building_entity_id(record.dataset, record.id),
        "type": [BUILDING_TYPE],
        "attrs": attrs,
        "createdAt": now,
        "modifiedAt": now,
    }


class BuildingSync:
    """Create or update a dataset's building entities chunk by chunk, each chunk inside a
    transaction of the caller's (a short one while publishing).

    Static attributes of the previous import are replaced, other attributes kept. A chunk
    reads what the store holds of its entities and writes them in the same transaction, so a
    live write to one of them lands before or after the chunk, never lost under stale data.
    Each building written is stamped with this sync's ``generation`` in ``building_entities``,
    so nothing is kept in memory between chunks: the buildings of a previous import this one
    did not write are those without the stamp (:meth:`gone`, default tenant).
    """

    def __init__(self, dataset: str, generation: str | None = None) -> None:
        self._dataset = dataset
        self._generation = generation or new_key(dataset)
        self._writer = _ChunkWriter(dataset, self._generation, _now())

    def write(self, cur: sqlite3.Cursor, records: Iterable[BuildingRecord]) -> None:
        """Write the entities of the ``Building`` records among ``records`` (first of an id)."""
        chunk: dict[str, BuildingRecord] = {}
        for record in records:
            if record.type == "Building":
                chunk.setdefault(record.id, record)
        written = {
            oid
            for (oid,) in cur.execute(
                "SELECT object_id FROM building_entities WHERE dataset = ? AND generation = ? "
                "AND object_id IN (SELECT value FROM json_each(?))",
                (self._dataset, self._generation, json.dumps(list(chunk))),
            )
        }
        self._writer.write(cur, [r for oid, r in chunk.items() if oid not in written])

    def gone(self, cur: sqlite3.Cursor, limit: int = 1000) -> list[str]:
        """Return up to ``limit`` ids of buildings this sync did not write (none once
        :func:`delete_buildings` deleted them all)."""
        return [
            oid
            for (oid,) in cur.execute(
                "SELECT object_id FROM building_entities WHERE dataset = ? "
                "AND generation IS NOT ? LIMIT ?",
                (self._dataset, self._generation, limit),
            )
        ]


def sync_building_entities(
    cur: sqlite3.Cursor, dataset: str, records: Iterable[BuildingRecord]
) -> None:
    """Create or update the dataset's building entities, inside the caller's transaction.

    :class:`BuildingSync` in one transaction: ``records`` is read once, in chunks of
    :data:`CHUNK` written as they come, then the entities of buildings that left are deleted.
    """
    sync = BuildingSync(dataset)
    rest = iter(records)
    while chunk := list(itertools.islice(rest, CHUNK)):
        sync.write(cur, chunk)
    while gone := sync.gone(cur, CHUNK):
        delete_buildings(cur, dataset, gone)


CHUNK: Final = 1000
"""Buildings written per batch of statements by :func:`sync_building_entities`."""


class _ChunkWriter:
    """Writes chunks of building entities: a few batched reads and ``executemany`` writes each.

    New entities get their ``seq`` here, counting on from the table's AUTOINCREMENT sequence
    (SQLite raises that sequence when an explicit larger ``seq`` is inserted), so that the
    insertions and their index rows can be batched.
    """

    def __init__(self, dataset: str, generation: str, now: str) -> None:
        self._dataset = dataset
        self._generation = generation
        self._now = now
        self._index = IndexRows()
        self._decoded: dict[str, frozenset[str]] = {}
        self._encoded: dict[tuple[str, ...], str] = {}

    def write(self, cur: sqlite3.Cursor, records: Sequence[BuildingRecord]) -> None:
        """Create or update the entities of ``records`` (distinct ids)."""
        if not records:
            return
        dataset = self._dataset
        fresh = [building_entity(r, self._now) for r in records]
        old_static, stored, old_bodies, old_index = self._read_previous(cur, records, fresh)
        (last,) = cur.execute(  # read per chunk: other writes may come between two chunks
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'entities'), 0), "
            "coalesce((SELECT max(seq) FROM entities), 0))"
        ).fetchone()
        next_seq: int = last + 1
        inserts: list[tuple[object, ...]] = []
        updates: list[tuple[object, ...]] = []
        static_rows: list[tuple[str, str, str, str]] = []
        for record, body in zip(records, fresh, strict=True):
            static_rows.append((dataset, record.id, self._static_text(body), self._generation))
            row = stored.get(body["id"])
            old = old_bodies.get(body["id"])
            if row is not None:
                _keep_existing(body, row[2], json.loads(row[1]), old, old_static[body["id"]])
            types = _dumps(body["type"])
            values = (types, _dumps(body), body["createdAt"], body["modifiedAt"])
            if row is None:
                seq = next_seq
                next_seq += 1
                inserts.append((seq, body["id"], *values))
                self._index.add("", seq, body, types, None, None)
            elif old is None:
                updates.append((*values, row[0]))
                self._index.replace("", row[0], body, types, row[1], old_index.get(row[0], {}))
            else:
                updates.append((*values, row[0]))
                self._index.add("", row[0], body, types, old, row[1])
        cur.executemany(
            "INSERT INTO entities (seq, tenant, id, types, body, created_at, modified_at) "
            "VALUES (?, '', ?, ?, ?, ?, ?)",
            inserts,
        )
        cur.executemany(
            "UPDATE entities SET types = ?, body = ?, created_at = ?, modified_at = ? "
            "WHERE seq = ?",
            updates,
        )
        self._index.write(cur)
        cur.executemany(
            "INSERT OR REPLACE INTO building_entities (dataset, object_id, static_attrs, "
            "generation) VALUES (?, ?, ?, ?)",
            static_rows,
        )

    def _read_previous(
        self,
        cur: sqlite3.Cursor,
        records: Sequence[BuildingRecord],
        fresh: Sequence[Mapping[str, Any]],
    ) -> tuple[
        dict[str, frozenset[str]],
        dict[str, tuple[int, str, str, frozenset[str]]],
        dict[str, dict[str, Any]],
        dict[int, dict[str, tuple[str | None, object]]],
    ]:
        """Read what the store holds for a chunk, by entity id: the previous static attribute
        names, ``(seq, types, created_at, attribute names)`` of existing entities, the bodies
        of those holding more than their previous statics (live attributes), and the
        ``attr_index`` rows (by seq) of the others."""
        statics = {
            oid: self._names(text)
            for oid, text in cur.execute(
                "SELECT object_id, static_attrs FROM building_entities WHERE dataset = ? "
                "AND object_id IN (SELECT value FROM json_each(?))",
                (self._dataset, json.dumps([r.id for r in records])),
            )
        }
        old_static = {
            f["id"]: statics.get(r.id, frozenset()) for r, f in zip(records, fresh, strict=True)
        }
        stored = {
            eid: (seq, types, created_at, self._names(names))
            for seq, eid, types, created_at, names in cur.execute(
                "SELECT seq, id, types, created_at, "
                "(SELECT json_group_array(key) FROM json_each(body, '$.attrs')) "
                "FROM entities WHERE tenant = '' AND id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(old_static)),),
            )
        }
        live = [eid for eid, row in stored.items() if not row[3] <= old_static[eid]]
        old_bodies = {
            eid: json.loads(text)
            for eid, text in cur.execute(
                "SELECT id, body FROM entities WHERE tenant = '' "
                "AND id IN (SELECT value FROM json_each(?))",
                (json.dumps(live),),
            )
        }
        old_index: dict[int, dict[str, tuple[str | None, object]]] = {}
        for seq, attr, kind, value in cur.execute(
            "SELECT seq, attr, kind, value FROM attr_index "
            "WHERE seq IN (SELECT value FROM json_each(?))",
            (json.dumps([row[0] for eid, row in stored.items() if eid not in old_bodies]),),
        ):
            old_index.setdefault(seq, {})[attr] = (kind, value)
        return old_static, stored, old_bodies, old_index

    def _names(self, text: str) -> frozenset[str]:
        """Decode a JSON list of attribute names (most buildings share theirs: decoded once)."""
        names = self._decoded.get(text)
        if names is None:
            names = self._decoded[text] = frozenset(json.loads(text))
        return names

    def _static_text(self, body: Mapping[str, Any]) -> str:
        """Return the ``static_attrs`` column of a fresh building entity."""
        key = tuple(body["attrs"])
        text = self._encoded.get(key)
        if text is None:
            text = self._encoded[key] = json.dumps(sorted(key))
        return text


def _keep_existing(
    fresh: dict[str, Any],
    created_at: str,
    old_types: Sequence[str],
    old: Mapping[str, Any] | None,
    old_static: frozenset[str],
) -> None:
    """Keep in ``fresh`` what the stored entity has beyond its previous static attributes:
    its creation time, other types and (from ``old``, its body when read) other attributes."""
    fresh["createdAt"] = created_at
    for name, instances in () if old is None else old["attrs"].items():
        if name not in old_static and name not in fresh["attrs"]:
            fresh["attrs"][name] = instances
    for extra in old_types:
        if extra not in fresh["type"]:
            fresh["type"].append(extra)


def delete_buildings(cur: sqlite3.Cursor, dataset: str, object_ids: Sequence[str]) -> None:
    """Delete the entities and static-attribute rows of buildings that left ``dataset``."""
    rows = cur.execute(
        "SELECT seq, id, types FROM entities WHERE tenant = '' "
        "AND id IN (SELECT value FROM json_each(?))",
        (json.dumps([building_entity_id(dataset, oid) for oid in object_ids]),),
    ).fetchall()
    delete_entities(cur, "", rows)
    cur.executemany(
        "DELETE FROM building_entities WHERE dataset = ? AND object_id = ?",
        [(dataset, oid) for oid in object_ids],
    )
