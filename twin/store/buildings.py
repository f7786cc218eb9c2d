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
the bounding box footprint when the object has none). An attribute whose name NGSI-LD does
not allow (``roof-type``, ``externalReference.informationSystem``), that the core context
defines (``location``, ``type``) or that the entity gives its own attributes (``address``) is
kept under the name :func:`twin.model.ngsild_names` gives it (``roof_type``,
``externalReference_informationSystem``, ``location_2``, ``address_2``). Names are
expanded under the NGSI-LD default context, so ``type=Building`` finds them without a user
@context. On re-import the static attributes are replaced; live attributes written through the
API survive; buildings that left the dataset are deleted.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring  # (C, when built)
from typing import Any, Final
from urllib.parse import quote, unquote

from twin.model import BuildingRecord, ngsild_names
from twin.store.derived import postal_address
from twin.store.entities import IndexRows, _dumps, delete_entities, property_index
from twin.store.generations import new_key
from twin.store.record_json import RecordJson, record_json

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
    names = ngsild_names(tuple(record.attributes))
    for name, value in zip(names, record.attributes.values(), strict=True):
        if value is not None:
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
        self.write_staged(cur, self.stage(records))

    def stage(
        self, records: Iterable[BuildingRecord], texts: Iterable[RecordJson] | None = None
    ) -> list[Staged]:
        """Return the static entities of the ``Building`` records among ``records`` (first of
        an id), for :meth:`write_staged`: made without the store, so a publish makes them
        before its transaction, not while holding the write lock. ``texts`` are the records'
        :func:`~twin.store.record_json.record_json` when the caller has them already."""
        chunk: dict[str, Staged] = {}
        for record, text in zip(
            records, itertools.repeat(None) if texts is None else texts, strict=False
        ):
            if record.type == "Building" and record.id not in chunk:
                static = self._writer.static(record, record_json(record) if text is None else text)
                chunk[record.id] = (record, static)
        return list(chunk.values())

    def write_staged(self, cur: sqlite3.Cursor, staged: Sequence[Staged]) -> None:
        """Write the entities :meth:`stage` made, but those this sync wrote already."""
        written = {
            oid
            for (oid,) in cur.execute(
                "SELECT object_id FROM building_entities WHERE dataset = ? AND generation = ? "
                "AND object_id IN (SELECT value FROM json_each(?))",
                (self._dataset, self._generation, json.dumps([r.id for r, _ in staged])),
            )
        }
        self._writer.write(cur, [s for s in staged if s[0].id not in written])

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


_TYPE_LIST: Final = (BUILDING_TYPE,)
_TYPES: Final = _dumps(list(_TYPE_LIST))
"""The types of a static building entity, and its ``types`` column."""


def _merged_types(stored: str) -> Sequence[str]:
    """Return a static building entity's types kept with the other types it held (its
    ``types`` column ``stored``), as :func:`_keep_existing` keeps them."""
    if stored == _TYPES:
        return _TYPE_LIST
    merged = list(_TYPE_LIST)
    for extra in json.loads(stored):
        if extra not in merged:
            merged.append(extra)
    return merged


@dataclass(frozen=True, slots=True)
class _StaticEntity:
    """A building entity of static attributes only, as JSON text: its ``id``, the
    ``(kind, value)`` of each attribute in ``attr_index`` (in their order), and the text of
    its ``attrs`` members."""

    id: str
    index: dict[str, tuple[str | None, object]]
    attrs: str

    def body(self, types: str, created_at: str, now: str) -> str:
        """Return its stored body (types as the JSON text ``types``): what ``_dumps`` writes
        of the :func:`building_entity` of the same record."""
        return (
            f'{{"id":{encode_basestring(self.id)},"type":{types},"attrs":{{{self.attrs}}},'
            f'"createdAt":{encode_basestring(created_at)},"modifiedAt":"{now}"}}'
        )


Staged = tuple[BuildingRecord, _StaticEntity]
"""A building record and its static entity (:meth:`BuildingSync.stage`)."""


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
        self._heads: dict[tuple[str, str], str] = {}
        self._tail = f',"createdAt":"{now}","modifiedAt":"{now}"}}]'

    def write(self, cur: sqlite3.Cursor, records: Sequence[Staged]) -> None:
        """Create or update the entities of ``records`` (distinct ids)."""
        if not records:
            return
        dataset, now = self._dataset, self._now
        fresh = [static for _, static in records]
        old_static, stored, old_bodies, old_index = self._read_previous(cur, records, fresh)
        (last,) = cur.execute(  # read per chunk: other writes may come between two chunks
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'entities'), 0), "
            "coalesce((SELECT max(seq) FROM entities), 0))"
        ).fetchone()
        next_seq: int = last + 1
        inserts: list[tuple[object, ...]] = []
        updates: list[tuple[object, ...]] = []
        static_rows: list[tuple[str, str, str, str]] = []
        for (record, _), static in zip(records, fresh, strict=True):
            eid = static.id
            static_rows.append((dataset, record.id, self._static_text(static), self._generation))
            row = stored.get(eid)
            old = old_bodies.get(eid)
            if row is None:  # a new entity: the static one
                seq = next_seq
                next_seq += 1
                inserts.append((seq, eid, _TYPES, static.body(_TYPES, now, now), now, now))
                self._index.rewrite_unrelated(
                    "", seq, eid, _TYPE_LIST, _TYPES, None, static.index, {}
                )
            elif old is None:  # its attributes all static: the static one, in its types
                seq, old_types, created_at = row[:3]
                type_list = _merged_types(old_types)
                types = _TYPES if type_list is _TYPE_LIST else _dumps(type_list)
                updates.append((types, static.body(types, created_at, now), created_at, now, seq))
                self._index.rewrite_unrelated(
                    "", seq, eid, type_list, types, old_types, static.index,
                    old_index.get(seq, {}),
                )  # fmt: skip
            else:  # live attributes too: merged with the stored body
                body = building_entity(record, now)
                _keep_existing(body, row[2], json.loads(row[1]), old, old_static[eid])
                types = _dumps(body["type"])
                updates.append((types, _dumps(body), body["createdAt"], now, row[0]))
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

    def static(self, record: BuildingRecord, texts: RecordJson) -> _StaticEntity:
        """Return the static entity of ``record`` (what :func:`building_entity` makes),
        assembled from the record's JSON texts."""
        members: dict[str, str] = {}
        index: dict[str, tuple[str | None, object]] = {}
        names = ngsild_names(tuple(record.attributes))
        values = record.attributes.values()
        for name, value, text in zip(names, values, texts.values, strict=True):
            if value is not None:
                key = DEFAULT_CONTEXT + name
                if isinstance(value, dt.date):
                    members[key] = self._member(key, f'{{"@type":"Date","@value":{text}}}')
                    index[key] = (None, None)
                else:
                    members[key] = self._member(key, text)
                    index[key] = property_index(value)
        if record.address is not None:
            key = DEFAULT_CONTEXT + "address"
            members[key] = self._member(key, _dumps(postal_address(record.address)))
            index[key] = (None, None)
        if record.footprint and texts.footprint:  # the catalog's text of the same mapping
            footprint = texts.footprint
        else:
            footprint = _dumps(_bbox_polygon(record))
        members[LOCATION] = self._member(LOCATION, footprint, "GeoProperty")
        index[LOCATION] = (None, None)
        return _StaticEntity(
            building_entity_id(record.dataset, record.id), index, ",".join(members.values())
        )

    def _member(self, key: str, value: str, attr_type: str = "Property") -> str:
        """Return the ``attrs`` member ``key`` holding one instance of ``value`` (JSON)."""
        head = self._heads.get((key, attr_type))
        if head is None:
            head = self._heads[key, attr_type] = (
                f'{encode_basestring(key)}:[{{"type":"{attr_type}","value":'
            )
        return f"{head}{value}{self._tail}"

    def _read_previous(
        self,
        cur: sqlite3.Cursor,
        records: Sequence[Staged],
        fresh: Sequence[_StaticEntity],
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
                (self._dataset, json.dumps([r.id for r, _ in records])),
            )
        }
        old_static = {
            f.id: statics.get(r.id, frozenset()) for (r, _), f in zip(records, fresh, strict=True)
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

    def _static_text(self, static: _StaticEntity) -> str:
        """Return the ``static_attrs`` column of a static building entity."""
        key = tuple(static.index)
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
