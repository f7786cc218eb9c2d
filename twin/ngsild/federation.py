"""Mirror entities of an external NGSI-LD broker: what twin asks it for and what it keeps.

:func:`federation_subscription` is the subscription twin creates on the external broker
(entities by type, every trigger, normalized entities POSTed to twin's notify endpoint);
:func:`notified_entities` splits a notification's ``data`` into entities to upsert and ids to
delete; :func:`changed_attributes` tells which attributes a mirrored copy really changed, so
``/live`` pushes only those. The HTTP side is :mod:`twin.server.ngsild.federation`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from twin.ngsild.errors import BadRequestDataError

__all__ = [
    "FEDERATION_TRIGGERS",
    "changed_attributes",
    "federation_subscription",
    "notified_entities",
]

FEDERATION_TRIGGERS: Final = (
    "entityCreated", "entityUpdated", "entityDeleted",
    "attributeCreated", "attributeUpdated", "attributeDeleted",
)  # fmt: skip
"""Every change of a mirrored entity notifies (CIM 009 v1.8 §5.2.12)."""

_SYSTEM: Final = frozenset({"createdAt", "modifiedAt"})


def federation_subscription(
    subscription_id: str, types: Sequence[str], endpoint: str
) -> dict[str, Any]:
    """Return the NGSI-LD Subscription (``application/json``, core context) to create.

    >>> sub = federation_subscription("urn:ngsi-ld:Subscription:x", ["Device"], "http://h/n")
    >>> sub["entities"], sub["notification"]["endpoint"]["uri"]
    ([{'type': 'Device'}], 'http://h/n')
    """
    return {
        "id": subscription_id,
        "type": "Subscription",
        "description": "twin federation: mirror these entities",
        "entities": [{"type": t} for t in types],
        "notificationTrigger": list(FEDERATION_TRIGGERS),
        "notification": {
            "format": "normalized",
            "endpoint": {"uri": endpoint, "accept": "application/json"},
        },
    }


def notified_entities(body: object) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the entities to upsert and the ids deleted of a Notification body.

    A deleted entity arrives as ``id``, ``type`` and ``deletedAt`` only (§5.2.12).

    >>> notified_entities({"type": "Notification", "data": [
    ...     {"id": "urn:a:1", "type": "T", "t": {"type": "Property", "value": 1}},
    ...     {"id": "urn:a:2", "type": "T", "deletedAt": "2026-01-01T00:00:00Z"}]})[1]
    ['urn:a:2']
    """
    if not isinstance(body, Mapping) or body.get("type") != "Notification":
        raise BadRequestDataError('the body must be a Notification ({"type": "Notification"})')
    data = body.get("data")
    if isinstance(data, Mapping) and data.get("type") == "FeatureCollection":
        data = [f.get("properties", {}) | {"id": f.get("id")} for f in data.get("features", [])]
    if not isinstance(data, list) or not all(isinstance(d, Mapping) for d in data):
        raise BadRequestDataError("a Notification's data must be a list of entities")
    upserts: list[dict[str, Any]] = []
    deleted: list[str] = []
    for item in data:
        if "deletedAt" in item and set(item) <= {"id", "type", "deletedAt", "@context"}:
            deleted.append(str(item["id"]))
        else:
            upserts.append({k: v for k, v in item.items() if k != "@context"})
    return upserts, deleted


def changed_attributes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Return the (expanded) attributes whose instances differ, system timestamps aside.

    >>> p = lambda v: [{"type": "Property", "value": v, "modifiedAt": "x"}]
    >>> changed_attributes({"attrs": {"a": p(1), "b": p(2)}}, {"attrs": {"a": p(1), "b": p(3)}})
    ['b']
    """
    if old is None:
        return sorted(new["attrs"])
    before, after = old["attrs"], new["attrs"]
    return sorted(
        name
        for name in set(before) | set(after)
        if _plain(before.get(name)) != _plain(after.get(name))
    )


def _plain(instances: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if instances is None:
        return None
    return [{k: v for k, v in inst.items() if k not in _SYSTEM} for inst in instances]
