"""Which subscriptions a write triggers, and the notification it sends (CIM 009 §5.8, §5.11).

A write becomes an :class:`EntityChange` (the entity after the write — before it, for a
deletion — the attributes it created, updated and deleted, and the entity before an update, for
``showChanges``). A subscription fires when

1. its status is ``active`` (not paused, not past ``expiresAt``);
2. one of its ``notificationTrigger`` values names what happened (``entityUpdated`` stands for
   the three ``attribute…`` triggers), counting only ``watchedAttributes`` when there are some;
3. one of its ``entities`` selectors matches (``id``, ``idPattern`` from the start, type
   expression), when it has selectors;
4. ``scopeQ``, ``q`` and ``geoQ`` hold for the entity (after the change; before it, for a deletion);
5. the last notification is older than ``throttling`` seconds (checked by the caller, which
   owns the clock).

Pure functions: the server supplies the time and keeps the counters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from twin.ngsild.entity import PREVIOUS_MEMBER, VALUE_MEMBER, Attribute, ExpandedEntity
from twin.ngsild.jsonld import CORE, Context
from twin.ngsild.language import LanguagePreference, parse_lang
from twin.ngsild.query import GeoQuery, QueryExpr, evaluate_geo, evaluate_q, parse_geoquery, parse_q
from twin.ngsild.render import Form, Projection, render_entity, render_feature
from twin.ngsild.scope import ScopeTest, parse_scope_q
from twin.ngsild.selection import TypeExpr, evaluation_view, parse_type_expr
from twin.ngsild.subscriptions import StoredSubscription
from twin.ngsild.subscriptions_render import subscription_status

__all__ = [
    "CompiledSubscription",
    "EntityChange",
    "compile_subscription",
    "entities_data",
    "notification_data",
    "selector_terms",
]

ChangeKind = Literal["created", "updated", "deleted"]
_ATTRIBUTE_TRIGGERS: Final = frozenset({"attributeCreated", "attributeUpdated", "attributeDeleted"})


@dataclass(frozen=True, slots=True)
class EntityChange:
    """What one write did to one entity (attribute names expanded)."""

    kind: ChangeKind
    entity: ExpandedEntity
    created: frozenset[str] = frozenset()
    updated: frozenset[str] = frozenset()
    deleted: frozenset[str] = frozenset()
    before: ExpandedEntity | None = None
    """The entity an update was applied to (shared with the write, never modified)."""

    def reasons(self, watched: frozenset[str] | None) -> frozenset[str]:
        """Return the triggers this change raises, seen through ``watched`` attributes."""

        def seen(names: frozenset[str]) -> bool:
            return bool(names) and (watched is None or bool(names & watched))

        if self.kind == "created":
            names = frozenset(self.entity["attrs"])
            if watched is not None and not names & watched:
                return frozenset()
            return frozenset({"entityCreated", "attributeCreated"})
        if self.kind == "deleted":
            names = frozenset(self.entity["attrs"])
            return frozenset({"entityDeleted"}) if watched is None or names & watched \
                else frozenset()  # fmt: skip
        out = {
            trigger
            for trigger, names in (
                ("attributeCreated", self.created),
                ("attributeUpdated", self.updated),
                ("attributeDeleted", self.deleted),
            )
            if seen(names)
        }
        return frozenset(out | ({"entityUpdated"} if out else set()))


@dataclass(frozen=True, slots=True)
class _Selector:
    type_expr: TypeExpr = field(compare=False)
    id: str | None
    id_pattern: re.Pattern[str] | None

    def matches(self, entity: Mapping[str, Any]) -> bool:
        if self.id is not None and entity["id"] != self.id:
            return False
        if self.id_pattern is not None and not self.id_pattern.match(entity["id"]):
            return False
        return self.type_expr(frozenset(entity["type"]))


@dataclass(frozen=True, slots=True)
class CompiledSubscription:
    """A stored subscription ready to test changes against."""

    stored: StoredSubscription = field(compare=False)
    triggers: frozenset[str]
    watched: frozenset[str] | None
    selectors: tuple[_Selector, ...]
    q: QueryExpr | None
    geo: GeoQuery | None
    interval: float | None = None
    """``timeInterval``: notified periodically, never on changes."""
    scope: ScopeTest | None = field(default=None, compare=False)
    """``scopeQ``, tested on the entity's ``scope``."""
    lang: LanguagePreference | None = None
    """``lang``: the languages LanguageProperties are notified in (§5.2.12)."""

    def fires(self, change: EntityChange, now: str) -> str | None:
        """Return the trigger reason when ``change`` notifies this subscription, else None."""
        if self.interval is not None or subscription_status(self.stored, now) != "active":
            return None
        reasons = change.reasons(self.watched) & self.triggers
        if not reasons or not self.selects(change.entity):
            return None
        return min(reasons)

    def selects(self, entity: Mapping[str, Any]) -> bool:
        """Return whether the entity passes ``entities``, ``scopeQ``, ``q`` and ``geoQ``."""
        if self.selectors and not any(s.matches(entity) for s in self.selectors):
            return False
        if self.scope is not None and not self.scope(entity.get("scope", ())):
            return False
        if self.q is not None or self.geo is not None:
            view = evaluation_view(entity)
            if self.q is not None and not evaluate_q(self.q, view):
                return False
            if self.geo is not None and not evaluate_geo(self.geo, view):
                return False
        return True


def selector_terms(sub: CompiledSubscription) -> list[tuple[str | None, str | None, list[str]]]:
    """Return ``(id, idPattern, expanded type names)`` of each ``entities`` item, for SQL."""
    return [
        (e.get("id"), e.get("idPattern"), sorted(parse_type_expr(e["type"], CORE)[1]))
        for e in sub.stored.get("entities", ())
    ]


def compile_subscription(stored: StoredSubscription) -> CompiledSubscription:
    """Parse the stored members once (they were validated when written)."""
    triggers = set(stored["notificationTrigger"])
    if "entityUpdated" in triggers:
        triggers |= _ATTRIBUTE_TRIGGERS
    selectors = tuple(
        _Selector(
            parse_type_expr(e["type"], CORE)[0],
            e.get("id"),
            re.compile(e["idPattern"]) if "idPattern" in e else None,
        )
        for e in stored.get("entities", ())
    )
    geo = None
    if "geoQ" in stored:
        g = stored["geoQ"]
        coords = g["coordinates"]
        text = coords if isinstance(coords, str) else json.dumps(coords)
        geo = parse_geoquery(g["georel"], g["geometry"], text, g["geoproperty"])
    watched = stored.get("watchedAttributes")
    return CompiledSubscription(
        stored=stored,
        triggers=frozenset(triggers),
        watched=frozenset(watched) if watched else None,
        selectors=selectors,
        q=parse_q(stored["q"]) if "q" in stored else None,
        geo=geo,
        interval=stored.get("timeInterval"),
        scope=parse_scope_q(stored["scopeQ"]) if "scopeQ" in stored else None,
        lang=parse_lang(stored["lang"]) if "lang" in stored else None,
    )


def notification_data(
    sub: CompiledSubscription, change: EntityChange, ctx: Context, now: str
) -> list[dict[str, Any]] | dict[str, Any]:
    """Return the ``data`` of a notification: the entity as ``notification`` asks.

    A deleted entity is sent as ``id``, ``type`` and ``deletedAt``. With ``accept``
    ``application/geo+json`` the data is a FeatureCollection.
    """
    entity = change.entity
    if change.kind == "deleted":
        types = [ctx.compact(t) for t in entity["type"]]
        return [{"id": entity["id"], "type": types[0] if len(types) == 1 else types,
                 "deletedAt": now}]  # fmt: skip
    if change.before is not None and sub.stored["notification"].get("showChanges"):
        entity = with_previous(entity, change.before, change.updated)
    return entities_data(sub, [entity], ctx)


def with_previous(
    entity: ExpandedEntity, before: ExpandedEntity, names: frozenset[str]
) -> ExpandedEntity:
    """Return ``entity`` whose attributes ``names`` carry their value before the write.

    CIM 009 v1.8 §5.2.14 ``showChanges``: ``previousValue`` of a Property, ``previousObject``
    of a Relationship, ``previousLanguageMap`` of a LanguageProperty (the member named after
    the instance's type before the write); an instance is matched by ``datasetId``. Only the
    changed attributes are copied.

    >>> old = {"attrs": {"t": [{"type": "Property", "value": 20}]}}
    >>> new = {"id": "x", "attrs": {"t": [{"type": "Property", "value": 30}]}}
    >>> with_previous(new, old, frozenset({"t"}))["attrs"]
    {'t': [{'type': 'Property', 'value': 30, 'previousValue': 20}]}
    """
    attrs = dict(entity["attrs"])
    for iri in names & attrs.keys():
        old = {i.get("datasetId"): i for i in before["attrs"].get(iri, ())}
        attrs[iri] = [_previous(inst, old.get(inst.get("datasetId"))) for inst in attrs[iri]]
    return cast(ExpandedEntity, {**entity, "attrs": attrs})


def _previous(inst: Attribute, old: Attribute | None) -> Attribute:
    if old is None:  # (a new instance: there is no previous value)
        return inst
    old_type = old.get("type", "Property")
    return {**inst, PREVIOUS_MEMBER[old_type]: old.get(VALUE_MEMBER[old_type])}


def entities_data(
    sub: CompiledSubscription, entities: Sequence[Mapping[str, Any]], ctx: Context
) -> list[dict[str, Any]] | dict[str, Any]:
    """Return the ``data`` of a notification of ``entities`` (a periodic one has many)."""
    params = sub.stored["notification"]
    attrs = params.get("attributes")
    projection = Projection(attrs=frozenset(attrs) if attrs else None, lang=sub.lang)
    form: Form = params.get("format", "normalized")
    sys_attrs = bool(params.get("sysAttrs", False))
    bodies = [cast(ExpandedEntity, e) for e in entities]
    if params["endpoint"]["accept"] == "application/geo+json":
        geoproperty = sub.stored.get("geoQ", {}).get("geoproperty", CORE.expand("location"))
        features = [
            render_feature(
                e, ctx, form, geoproperty=geoproperty, sys_attrs=sys_attrs, projection=projection
            )
            for e in bodies
        ]
        return {"type": "FeatureCollection", "features": features}
    return [render_entity(e, ctx, form, sys_attrs=sys_attrs, projection=projection) for e in bodies]
