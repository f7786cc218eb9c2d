"""Temporal payloads: entities and attributes given as lists of instances (CIM 009 §5.6.11).

In a temporal entity each attribute is one instance or an array of instances of its values over
time (each usually with ``observedAt``); unlike an ordinary entity, several instances may share
the default ``datasetId``. :func:`current_state` picks what a new entity holds now: per attribute
and ``datasetId``, the instance with the latest ``observedAt`` (the last one given when none has
it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from twin.ngsild.entity import ENTITY_KEYWORDS, Attribute, ExpandedEntity, parse_attribute
from twin.ngsild.errors import BadRequestDataError
from twin.ngsild.jsonld import Context

__all__ = ["current_state", "parse_temporal_attributes"]


def parse_temporal_attributes(
    members: Mapping[str, Any], ctx: Context, now: str
) -> dict[str, list[Attribute]]:
    """Return the instances of each attribute (by expanded name) of a temporal fragment."""
    attrs: dict[str, list[Attribute]] = {}
    for name, raw in members.items():
        if name in ENTITY_KEYWORDS:
            continue
        raws = raw if isinstance(raw, list) else [raw]
        if not raws or not all(isinstance(r, Mapping) for r in raws):
            raise BadRequestDataError(
                f"temporal attribute {name!r} must be an instance or an array of instances"
            )
        iri = ctx.expand(name)
        attrs[iri] = [parse_attribute(name, iri, r, ctx, now) for r in raws]
    if not attrs:
        raise BadRequestDataError("a temporal payload needs at least one attribute")
    return attrs


def current_state(
    entity_id: str, types: list[str], attrs: Mapping[str, list[Attribute]], now: str
) -> ExpandedEntity:
    """Return the entity a temporal payload creates: the latest instance per datasetId."""
    latest: dict[str, list[Attribute]] = {}
    for iri, instances in attrs.items():
        by_dataset: dict[object, tuple[dt.datetime, int, Attribute]] = {}
        for i, inst in enumerate(instances):
            key = (_observed(inst), i, inst)
            old = by_dataset.get(inst.get("datasetId"))
            if old is None or key[:2] >= old[:2]:
                by_dataset[inst.get("datasetId")] = key
        latest[iri] = [inst for _, _, inst in by_dataset.values()]
    return {"id": entity_id, "type": types, "attrs": latest, "createdAt": now, "modifiedAt": now}


def _observed(inst: Attribute) -> dt.datetime:
    stamp = inst.get("observedAt")
    if isinstance(stamp, str):
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return dt.datetime.min.replace(tzinfo=dt.UTC)
