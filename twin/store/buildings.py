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
import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote, unquote

from twin.model import BuildingRecord
from twin.store.derived import postal_address
from twin.store.entities import write_entity

__all__ = [
    "BUILDING_PREFIX",
    "BUILDING_TYPE",
    "DEFAULT_CONTEXT",
    "building_entity",
    "building_entity_id",
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


def sync_building_entities(
    cur: sqlite3.Cursor, dataset: str, records: Iterable[BuildingRecord]
) -> None:
    """Create or update the dataset's building entities, inside the caller's transaction.

    Static attributes of the previous import are replaced, other attributes kept; entities of
    buildings no longer in the dataset are deleted (default tenant).
    """
    now = _now()
    previous = dict(
        cur.execute(
            "SELECT object_id, static_attrs FROM building_entities WHERE dataset = ?", (dataset,)
        ).fetchall()
    )
    seen: set[str] = set()
    for record in records:
        if record.type != "Building":
            continue
        fresh = building_entity(record, now)
        static = sorted(fresh["attrs"])
        old_static = set(json.loads(previous.get(record.id, "[]")))
        _merge_existing(cur, fresh, old_static)
        write_entity(cur, "", fresh)
        cur.execute(
            "INSERT OR REPLACE INTO building_entities VALUES (?, ?, ?)",
            (dataset, record.id, json.dumps(static)),
        )
        seen.add(record.id)
    for gone in set(previous) - seen:
        _delete_entity(cur, building_entity_id(dataset, gone))
        cur.execute(
            "DELETE FROM building_entities WHERE dataset = ? AND object_id = ?", (dataset, gone)
        )


def _merge_existing(cur: sqlite3.Cursor, fresh: dict[str, Any], old_static: set[str]) -> None:
    row = cur.execute(
        "SELECT body FROM entities WHERE tenant = '' AND id = ?", (fresh["id"],)
    ).fetchone()
    if row is None:
        return
    old: Mapping[str, Any] = json.loads(row[0])
    fresh["createdAt"] = old["createdAt"]
    for name, instances in old["attrs"].items():
        if name not in old_static and name not in fresh["attrs"]:
            fresh["attrs"][name] = instances
    for extra in old["type"]:
        if extra not in fresh["type"]:
            fresh["type"].append(extra)


def _delete_entity(cur: sqlite3.Cursor, entity_id: str) -> None:
    row = cur.execute(
        "SELECT seq FROM entities WHERE tenant = '' AND id = ?", (entity_id,)
    ).fetchone()
    if row is not None:
        cur.execute("DELETE FROM entities WHERE seq = ?", (row[0],))
        cur.execute("DELETE FROM entity_types WHERE tenant = '' AND seq = ?", (row[0],))
        cur.execute("DELETE FROM entity_refs WHERE tenant = '' AND entity_id = ?", (entity_id,))
