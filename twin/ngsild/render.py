"""Stored entities back to the wire: normalized, keyValues (simplified), concise, GeoJSON.

Names are compacted against the request's context; ``createdAt``/``modifiedAt`` appear only
with ``options=sysAttrs`` (CIM 009 §4.5, §4.8). ``attrs`` keeps only the listed attributes;
``pick``/``omit`` (v1.8) select entity members, ``id`` and ``type`` included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from twin.ngsild.entity import (
    ATTRIBUTE_KEYWORDS,
    VALUE_MEMBER,
    Attribute,
    ExpandedEntity,
)
from twin.ngsild.jsonld import Context
from twin.ngsild.language import LanguagePreference, in_language

__all__ = ["Form", "Projection", "render_entity", "render_feature", "simple_value"]

Form: TypeAlias = Literal["normalized", "keyValues", "concise"]

_SYS: Final = ("createdAt", "modifiedAt")


@dataclass(frozen=True, slots=True)
class Projection:
    """What to keep of an entity: attribute names (expanded) and entity members (short).

    ``attrs`` None keeps every attribute; ``pick`` None keeps every member; ``omit`` removes.
    """

    attrs: frozenset[str] | None = None
    pick: frozenset[str] | None = None
    omit: frozenset[str] = frozenset()
    lang: LanguagePreference | None = None
    """The ``lang`` parameter: LanguageProperties become a Property in the best language."""

    def keeps(self, iri: str, short: str) -> bool:
        """Return whether attribute ``iri`` (compacted to ``short``) is kept."""
        if self.attrs is not None and iri not in self.attrs:
            return False
        if self.pick is not None and short not in self.pick and iri not in self.pick:
            return False
        return short not in self.omit and iri not in self.omit

    def keeps_member(self, name: str) -> bool:
        """Return whether entity member ``id``/``type`` is kept."""
        return (self.pick is None or name in self.pick) and name not in self.omit


ALL: Final = Projection()


def render_entity(
    entity: ExpandedEntity,
    ctx: Context,
    form: Form = "normalized",
    *,
    sys_attrs: bool = False,
    projection: Projection = ALL,
) -> dict[str, Any]:
    """Return the JSON of an entity in the requested representation.

    Parameters
    ----------
    entity : ExpandedEntity
    ctx : Context
        The request's context, to compact names.
    form : {"normalized", "keyValues", "concise"}
    sys_attrs : bool
        Include ``createdAt``/``modifiedAt`` on the entity and its attributes.
    projection : Projection
        Which attributes and members to keep.
    """
    out: dict[str, Any] = {}
    if projection.keeps_member("id"):
        out["id"] = entity["id"]
    if projection.keeps_member("type"):
        types = [ctx.compact(t) for t in entity["type"]]
        out["type"] = types[0] if len(types) == 1 else types
    if "scope" in entity and projection.keeps_member("scope"):
        out["scope"] = entity["scope"]
    if sys_attrs and form != "keyValues":
        out.update({k: entity[k] for k in _SYS})
    for iri, instances in entity["attrs"].items():
        short = ctx.compact(iri)
        if projection.keeps(iri, short):
            if projection.lang is not None:
                instances = [
                    in_language(a, projection.lang) if a.get("type") == "LanguageProperty" else a
                    for a in instances
                ]
            rendered = [_render_attr(a, ctx, form, sys_attrs) for a in instances]
            out[short] = rendered[0] if len(rendered) == 1 else rendered
    return out


def _render_attr(attr: Attribute, ctx: Context, form: Form, sys_attrs: bool) -> Any:
    if form == "keyValues":
        return simple_value(attr)
    out: dict[str, Any] = {}
    for key, value in attr.items():
        if key in _SYS and not sys_attrs:
            continue
        if key in ATTRIBUTE_KEYWORDS:
            out[key] = value
        else:
            out[ctx.compact(key)] = _render_attr(value, ctx, form, sys_attrs)
    if form == "concise":
        del out["type"]
        member = VALUE_MEMBER[attr["type"]]
        if attr["type"] in ("Property", "GeoProperty") and list(out) == [member]:
            return out[member]
    return out


def simple_value(attr: Attribute) -> Any:
    """Return the value of an attribute instance as keyValues shows it."""
    member = VALUE_MEMBER.get(attr.get("type", "Property"), "value")
    if member == "languageMap":
        return {"languageMap": attr[member]}
    return attr.get(member)


def render_feature(
    entity: ExpandedEntity,
    ctx: Context,
    form: Form = "normalized",
    *,
    geoproperty: str,
    sys_attrs: bool = False,
    projection: Projection = ALL,
) -> dict[str, Any]:
    """Return an entity as a GeoJSON Feature (CIM 009 §4.5.16), geometry from ``geoproperty``.

    Parameters
    ----------
    geoproperty : str
        Expanded name of the GeoProperty that becomes the Feature's geometry.
    """
    properties = render_entity(entity, ctx, form, sys_attrs=sys_attrs, projection=projection)
    properties.pop("id", None)
    geo = entity["attrs"].get(geoproperty)
    geometry = geo[0].get("value") if geo else None
    return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": properties}
