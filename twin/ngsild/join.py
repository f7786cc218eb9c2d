"""The joined view of a building, and the live events a write causes.

The joined view of a building = its static catalog attributes + the live properties on its own
entity + the latest values of the entities that point to it through a Relationship
(``controlledAsset``, ``refBuilding`` or any other). When two sources carry an attribute of the
same name, the most recent (``observedAt``, else ``modifiedAt``) wins, and ``source`` says
which entity it came from. Names are compacted with the core context, so default-context names
are short (``temperature``) and others stay full IRIs.

Pure functions: the server fetches the entities and says which ids are buildings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from twin.model import ngsild_names
from twin.ngsild.entity import GEO_ATTRIBUTES, ExpandedEntity
from twin.ngsild.jsonld import CORE
from twin.ngsild.render import simple_value

__all__ = ["JoinedBuilding", "LiveEvent", "LiveValue", "joined_view", "live_events"]

BuildingOf = Callable[[str], tuple[str, str] | None]
"""Return ``(dataset, object id)`` of a building entity id, None for other ids."""


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One joined value of one building changed (what ``/live`` pushes).

    ``attribute`` is the short name (compacted with the core context); ``source`` the entity
    that carried the value (the building's own entity or one related to it); ``value`` None
    when the attribute was deleted.
    """

    dataset: str
    id: str
    attribute: str
    value: Any
    observed_at: str | None
    source: str

    def as_json(self) -> dict[str, Any]:
        """Return the event's wire form."""
        return {
            "dataset": self.dataset,
            "id": self.id,
            "attribute": self.attribute,
            "value": self.value,
            "observedAt": self.observed_at,
            "source": self.source,
        }


class LiveValue(TypedDict):
    """One live value in a joined view."""

    value: Any
    observedAt: str | None
    source: str
    unitCode: NotRequired[str]
    via: NotRequired[str]


class JoinedBuilding(TypedDict):
    """What ``/api/joined`` answers per building."""

    dataset: str
    id: str
    entityId: str
    attributes: dict[str, Any]
    live: dict[str, LiveValue]


def _stamp(value: LiveValue, attr: Mapping[str, Any]) -> str:
    return str(attr.get("observedAt") or attr.get("modifiedAt") or "")


def _live_values(
    entity: Mapping[str, Any], skip: frozenset[str], via: str | None
) -> Iterable[tuple[str, LiveValue, str]]:
    for iri, instances in entity["attrs"].items():
        if iri in GEO_ATTRIBUTES or not instances:
            continue
        attr = instances[0]
        if attr.get("type") in ("Relationship", "ListRelationship"):
            continue
        name = CORE.compact(iri)
        if name in skip:
            continue
        value: LiveValue = {
            "value": simple_value(attr),
            "observedAt": attr.get("observedAt"),
            "source": entity["id"],
        }
        if "unitCode" in attr:
            value["unitCode"] = attr["unitCode"]
        if via is not None:
            value["via"] = via
        yield name, value, _stamp(value, attr)


def joined_view(
    dataset: str,
    object_id: str,
    entity_id: str,
    attributes: Mapping[str, Any],
    building: Mapping[str, Any] | None,
    related: Iterable[tuple[str, Mapping[str, Any]]],
) -> JoinedBuilding:
    """Return the joined view of one building.

    Parameters
    ----------
    attributes : Mapping
        The static catalog attributes (these names are never overridden by live ones).
    building : Mapping or None
        The building's own entity (stored form), if any.
    related : iterable of (relationship name, entity)
        Entities pointing at the building, with the (expanded) name of the Relationship.
    """
    # the entity holds the static attributes under their NGSI-LD names (roof-type: roof_type)
    static = frozenset(attributes) | set(ngsild_names(tuple(attributes))) | {"address"}
    best: dict[str, tuple[str, LiveValue]] = {}
    sources: list[tuple[Mapping[str, Any], str | None]] = []
    if building is not None:
        sources.append((building, None))
    sources.extend((entity, CORE.compact(rel)) for rel, entity in related)
    for entity, via in sources:
        for name, value, stamp in _live_values(entity, static, via):
            if name not in best or stamp >= best[name][0]:
                best[name] = (stamp, value)
    return {
        "dataset": dataset,
        "id": object_id,
        "entityId": entity_id,
        "attributes": dict(attributes),
        "live": {name: value for name, (_, value) in sorted(best.items())},
    }


def live_events(
    entity: ExpandedEntity | Mapping[str, Any],
    touched: Iterable[str],
    building_of: BuildingOf,
    before: ExpandedEntity | Mapping[str, Any] | None = None,
) -> list[LiveEvent]:
    """Return the joined-value changes caused by writing ``touched`` attributes of ``entity``.

    The entity is a building (its own properties changed) or points at buildings through
    Relationships (their joined values changed; a new Relationship brings all its values).
    The buildings a touched Relationship of ``before`` (the entity before the write) pointed
    at and no longer does lose its values: each is pushed as None, as for a deleted entity.
    """
    touched = list(touched)
    own = building_of(entity["id"])
    linked = _linked(entity, building_of, own)
    targets = ([own] if own is not None else []) + list(linked)
    new_link = any(names & set(touched) for names in linked.values())
    events = _events(entity, set(touched) | (set(entity["attrs"]) if new_link else set()),
                     targets)  # fmt: skip
    if before is not None:
        was = _linked(before, building_of, own)
        gone = [b for b, names in was.items() if b not in linked and names & set(touched)]
        values = {iri for iri, instances in before["attrs"].items()
                  if instances and instances[0].get("type") != "Relationship"}  # fmt: skip
        events += _events({**before, "attrs": {}}, values, gone)  # each as deleted
    return events


def _linked(
    entity: Mapping[str, Any], building_of: BuildingOf, own: tuple[str, str] | None
) -> dict[tuple[str, str], set[str]]:
    """Return the buildings (not ``own``) the entity's Relationships point at, with their names."""
    linked: dict[tuple[str, str], set[str]] = {}
    for iri, instances in entity["attrs"].items():
        for inst in instances:
            if inst.get("type") != "Relationship":
                continue
            objects = inst["object"] if isinstance(inst["object"], list) else [inst["object"]]
            for target in objects:
                building = building_of(target) if isinstance(target, str) else None
                if building is not None and building != own:
                    linked.setdefault(building, set()).add(iri)
    return linked


def _events(
    entity: Mapping[str, Any], names: set[str], targets: list[tuple[str, str]]
) -> list[LiveEvent]:
    """Return the events of attributes ``names`` of ``entity`` (None: not there) to ``targets``."""
    events = []
    for iri in sorted(names) if targets else ():
        instances = entity["attrs"].get(iri)
        if iri in GEO_ATTRIBUTES or (instances and instances[0].get("type") == "Relationship"):
            continue
        attr = instances[0] if instances else {}
        for dataset, object_id in targets:
            events.append(LiveEvent(
                dataset, object_id, CORE.compact(iri), simple_value(attr) if attr else None,
                attr.get("observedAt"), entity["id"],
            ))  # fmt: skip
    return events
