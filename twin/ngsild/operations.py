"""Attribute operations on stored entities: append, update, partial update, merge, delete.

Each function takes the stored entity and the parsed change, and returns an :class:`Outcome`:
the new entity, the attribute names (expanded) it touched — for the history and ``/live`` — and
the names it refused with why (for 207 answers). They never mutate their inputs. Instances are
matched by ``datasetId`` (None is the default instance); ``createdAt`` survives every change.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from twin.errors import NotFoundError
from twin.ngsild.entity import (
    ATTRIBUTE_KEYWORDS,
    NULL_URI,
    VALUE_MEMBER,
    Attribute,
    ExpandedEntity,
    parse_attributes,
)
from twin.ngsild.jsonld import Context

__all__ = [
    "Outcome",
    "append_attrs",
    "delete_attr",
    "merge_entity",
    "parse_merge_fragment",
    "partial_update_attr",
    "replace_attr",
    "replace_entity",
    "update_attrs",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of an operation: the new entity, what changed, what was refused."""

    entity: ExpandedEntity
    updated: tuple[str, ...] = ()
    not_updated: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    before: ExpandedEntity | None = None
    """The entity the operation was applied to (set by the store write, for ``/live``)."""


def _copy(entity: ExpandedEntity, now: str) -> ExpandedEntity:
    """Copy the entity's containers; instances are shared, as operations replace them whole."""
    new = cast(ExpandedEntity, {**entity, "modifiedAt": now})
    new["type"] = list(entity["type"])
    new["attrs"] = {iri: list(instances) for iri, instances in entity["attrs"].items()}
    return new


def _find(instances: list[Attribute], dataset_id: object) -> int | None:
    for i, inst in enumerate(instances):
        if inst.get("datasetId") == dataset_id:
            return i
    return None


def _put(instances: list[Attribute], new: Attribute) -> None:
    """Insert or replace the instance with ``new``'s datasetId, keeping its createdAt."""
    i = _find(instances, new.get("datasetId"))
    if i is None:
        instances.append(new)
    else:
        new["createdAt"] = instances[i].get("createdAt", new["createdAt"])
        instances[i] = new


def append_attrs(
    entity: ExpandedEntity,
    attrs: Mapping[str, list[Attribute]],
    now: str,
    *,
    no_overwrite: bool = False,
) -> Outcome:
    """Add attributes, replacing existing instances unless ``no_overwrite`` (§5.6.3)."""
    new = _copy(entity, now)
    updated: list[str] = []
    refused: list[tuple[str, str]] = []
    for iri, instances in attrs.items():
        target = new["attrs"].setdefault(iri, [])
        for inst in instances:
            if no_overwrite and _find(target, inst.get("datasetId")) is not None:
                refused.append((iri, "attribute exists and noOverwrite was asked"))
                continue
            _put(target, copy.deepcopy(inst))
            updated.append(iri)
        if not target:
            del new["attrs"][iri]
    return Outcome(new, tuple(dict.fromkeys(updated)), tuple(refused))


def update_attrs(entity: ExpandedEntity, attrs: Mapping[str, list[Attribute]], now: str) -> Outcome:
    """Replace instances that exist; report the others as not updated (§5.6.2)."""
    new = _copy(entity, now)
    updated: list[str] = []
    refused: list[tuple[str, str]] = []
    for iri, instances in attrs.items():
        target = new["attrs"].get(iri)
        for inst in instances:
            if target is None or _find(target, inst.get("datasetId")) is None:
                refused.append((iri, "attribute does not exist"))
                continue
            _put(target, copy.deepcopy(inst))
            updated.append(iri)
    return Outcome(new, tuple(dict.fromkeys(updated)), tuple(refused))


def partial_update_attr(
    entity: ExpandedEntity, iri: str, fragment: Mapping[str, object], now: str
) -> Outcome:
    """Merge ``fragment`` into one existing instance of attribute ``iri`` (§5.6.4).

    A member set to ``urn:ngsi-ld:null`` is removed; the value set so deletes the instance.

    Raises
    ------
    NotFoundError
        The entity has no such attribute (instance).
    """
    new = _copy(entity, now)
    instances = new["attrs"].get(iri)
    dataset_id = fragment.get("datasetId")
    i = None if instances is None else _find(instances, dataset_id)
    if instances is None or i is None:
        raise NotFoundError(f"entity {entity['id']} has no attribute {iri}")
    merged = _merge_instance(instances[i], fragment, now)
    if VALUE_MEMBER[merged["type"]] in merged:
        instances[i] = merged
    else:  # its value was set to urn:ngsi-ld:null: the instance goes, as in merge_entity
        del instances[i]
        if not instances:
            del new["attrs"][iri]
    return Outcome(new, (iri,))


def _merge_instance(old: Attribute, fragment: Mapping[str, object], now: str) -> Attribute:
    merged = cast(Attribute, dict(old))  # members are replaced below, never changed in place
    for key, value in fragment.items():
        if key in ("createdAt", "modifiedAt", "instanceId"):
            continue
        if value == NULL_URI:
            merged.pop(key, None)
        elif key in ATTRIBUTE_KEYWORDS or not isinstance(value, Mapping):
            merged[key] = copy.deepcopy(value)
        elif key in merged and isinstance(merged[key], Mapping):
            merged[key] = _merge_instance(merged[key], value, now)
        else:
            merged[key] = copy.deepcopy(value)
    if merged.get("type") not in VALUE_MEMBER:
        merged["type"] = old["type"]
    merged["modifiedAt"] = now
    return merged


def replace_attr(entity: ExpandedEntity, iri: str, attr: Attribute, now: str) -> Outcome:
    """Replace one existing attribute instance wholesale (§5.6.19, PUT).

    Raises
    ------
    NotFoundError
        The entity has no such attribute (instance).
    """
    new = _copy(entity, now)
    instances = new["attrs"].get(iri)
    if instances is None or _find(instances, attr.get("datasetId")) is None:
        raise NotFoundError(f"entity {entity['id']} has no attribute {iri}")
    _put(instances, copy.deepcopy(attr))
    return Outcome(new, (iri,))


def delete_attr(
    entity: ExpandedEntity,
    iri: str,
    now: str,
    *,
    dataset_id: str | None = None,
    delete_all: bool = False,
) -> Outcome:
    """Delete the default instance of ``iri``, the one of ``dataset_id``, or all (§5.6.5).

    Raises
    ------
    NotFoundError
        Nothing to delete.
    """
    new = _copy(entity, now)
    instances = new["attrs"].get(iri)
    if instances is None:
        raise NotFoundError(f"entity {entity['id']} has no attribute {iri}")
    if delete_all:
        del new["attrs"][iri]
        return Outcome(new, (iri,))
    i = _find(instances, dataset_id)
    if i is None:
        raise NotFoundError(f"entity {entity['id']} has no instance {dataset_id} of {iri}")
    del instances[i]
    if not instances:
        del new["attrs"][iri]
    return Outcome(new, (iri,))


def parse_merge_fragment(
    members: Mapping[str, Any], ctx: Context, now: str
) -> tuple[dict[str, list[Attribute]], frozenset[str]]:
    """Return the attributes of a merge fragment and the (expanded) names it deletes.

    An attribute deletes when it is ``urn:ngsi-ld:null`` or its ``value``/``object`` is
    (§5.6.17), whether the fragment comes to PATCH /entities/{id} or a merge batch.
    """

    def is_null(v: Any) -> bool:
        return v == NULL_URI or (
            isinstance(v, Mapping) and NULL_URI in (v.get("value"), v.get("object"))
        )

    nulls = {k for k, v in members.items() if is_null(v)}
    attrs = parse_attributes({k: v for k, v in members.items() if k not in nulls}, ctx, now)
    return attrs, frozenset(ctx.expand(n) for n in nulls)


def merge_entity(
    entity: ExpandedEntity,
    attrs: Mapping[str, list[Attribute]],
    raw_nulls: frozenset[str],
    now: str,
) -> Outcome:
    """Merge a fragment into an entity (§5.6.17, PATCH): add, merge, or drop on null.

    ``raw_nulls`` are the expanded names whose value in the fragment was ``urn:ngsi-ld:null``.
    """
    new = _copy(entity, now)
    updated: list[str] = []
    for iri in raw_nulls:
        if new["attrs"].pop(iri, None) is not None:
            updated.append(iri)
    for iri, instances in attrs.items():
        target = new["attrs"].setdefault(iri, [])
        for inst in instances:
            i = _find(target, inst.get("datasetId"))
            if i is None:
                target.append(copy.deepcopy(inst))
            else:
                target[i] = _merge_instance(target[i], inst, now)
        updated.append(iri)
    return Outcome(new, tuple(dict.fromkeys(updated)))


def replace_entity(entity: ExpandedEntity, replacement: ExpandedEntity, now: str) -> Outcome:
    """Replace every attribute and the type, keeping id and createdAt (§5.6.18, PUT).

    An attribute instance the entity had already (same name and datasetId) keeps its
    ``createdAt``, as with the other replacements: it is updated, not created.
    """
    new = copy.deepcopy(replacement)
    for iri, instances in new["attrs"].items():
        old = entity["attrs"].get(iri, [])
        for inst in instances:
            i = _find(old, inst.get("datasetId"))
            if i is not None:
                inst["createdAt"] = old[i].get("createdAt", inst["createdAt"])
    new["id"] = entity["id"]
    new["createdAt"] = entity["createdAt"]
    new["modifiedAt"] = now
    touched = set(entity["attrs"]) | set(replacement["attrs"])
    return Outcome(new, tuple(sorted(touched)))
