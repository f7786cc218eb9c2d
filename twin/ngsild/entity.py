"""Entities in their stored form: expanded names, normalized attributes, system timestamps.

A payload (normalized or concise, CIM 009 §4.5) becomes an :class:`ExpandedEntity`::

    {"id": "urn:ngsi-ld:Device:1",
     "type": ["https://uri.etsi.org/ngsi-ld/default-context/Device"],
     "attrs": {"https://uri.etsi.org/ngsi-ld/default-context/temperature": [
         {"type": "Property", "value": 21.5, "observedAt": "…Z",
          "createdAt": "…Z", "modifiedAt": "…Z"}]},
     "createdAt": "…Z", "modifiedAt": "…Z"}

Attribute names (and sub-attribute names) are expanded IRIs; the NGSI-LD keywords inside an
attribute (``type``, ``value``, ``object``, ``observedAt`` …) keep their short names. Every
attribute is a list of instances, one per ``datasetId`` (the default instance has none). This is
the form :mod:`twin.store.entities` persists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, Literal, NotRequired, TypeAlias, TypedDict, TypeGuard

from twin.ngsild.errors import BadRequestDataError
from twin.ngsild.jsonld import Context
from twin.ngsild.query.geo import geometry_problem

__all__ = [
    "ATTRIBUTE_KEYWORDS",
    "ENTITY_KEYWORDS",
    "GEO_ATTRIBUTES",
    "PREVIOUS_MEMBER",
    "Attribute",
    "AttributeType",
    "ExpandedEntity",
    "is_uri",
    "parse_attribute",
    "parse_attribute_fragment",
    "parse_attributes",
    "parse_entity",
    "validate_datetime",
]

AttributeType: TypeAlias = Literal[
    "Property",
    "Relationship",
    "GeoProperty",
    "LanguageProperty",
    "VocabProperty",
    "ListProperty",
    "ListRelationship",
    "JsonProperty",
]

Attribute: TypeAlias = dict[str, Any]
"""One normalized attribute instance: ``type``, its value member, timestamps, sub-attributes."""


class ExpandedEntity(TypedDict):
    """An entity as stored: expanded names, lists of attribute instances."""

    id: str
    type: list[str]
    attrs: dict[str, list[Attribute]]
    createdAt: str
    modifiedAt: str
    scope: NotRequired[list[str]]


VALUE_MEMBER: Final[dict[str, str]] = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
    "JsonProperty": "json",
}
"""The member that carries each attribute type's value."""
PREVIOUS_MEMBER: Final[dict[str, str]] = {
    t: "previous" + m[0].upper() + m[1:] for t, m in VALUE_MEMBER.items()
}
"""The member a ``showChanges`` notification carries the value before the write in
(CIM 009 v1.8 §5.2.14: ``previousValue``, ``previousObject``, ``previousLanguageMap`` …)."""

ATTRIBUTE_KEYWORDS: Final = frozenset(
    {*VALUE_MEMBER.values(), *PREVIOUS_MEMBER.values(), "type", "observedAt", "unitCode",
     "datasetId", "createdAt", "modifiedAt", "instanceId", "deletedAt", "objectType", "lang"}
)  # fmt: skip
ENTITY_KEYWORDS: Final = frozenset(
    {"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt", "@context"}
)
GEO_ATTRIBUTES: Final = frozenset(
    {
        "https://uri.etsi.org/ngsi-ld/" + n
        for n in ("location", "observationSpace", "operationSpace")
    }
)
_GEOMETRY_TYPES: Final = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
     "GeometryCollection"}
)  # fmt: skip
_FORBIDDEN_NAME_CHARS: Final = frozenset("<>\"'=;()& \t\n")
NULL_URI: Final = "urn:ngsi-ld:null"
_NOT_IN_URI: Final = frozenset(' <>"{}|\\^`')
"""Characters RFC 3986 does not allow anywhere in a URI (space, delimiters, unwise ones)."""


def is_uri(text: object) -> bool:
    """Return whether ``text`` is an absolute URI (``scheme:rest``), as NGSI-LD ids must be.

    >>> is_uri("urn:ngsi-ld:Building:b1"), is_uri("b1"), is_uri("http://x/y")
    (True, False, True)
    """
    if not isinstance(text, str) or not text or not _NOT_IN_URI.isdisjoint(text):
        return False
    scheme, sep, rest = text.partition(":")
    return bool(sep and rest and scheme[:1].isalpha() and scheme.replace("+", "").replace(
        "-", "").replace(".", "").isalnum())  # fmt: skip


def validate_datetime(text: object, what: str) -> str:
    """Return ``text`` if it is an ISO 8601 date-time, else raise BadRequestDataError."""
    if isinstance(text, str) and "T" in text:
        try:
            dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return text
    raise BadRequestDataError(f"{what} must be an ISO 8601 date-time, got {text!r}")


def _check_name(name: str, what: str = "attribute name") -> None:
    if not name or any(c in _FORBIDDEN_NAME_CHARS for c in name):
        raise BadRequestDataError(f"invalid {what} {name!r}")


def parse_entity(doc: object, ctx: Context, now: str) -> ExpandedEntity:
    """Validate an entity payload and return its stored form.

    Parameters
    ----------
    doc : object
        The parsed JSON body (normalized or concise representation).
    ctx : Context
        The request's context, to expand type and attribute names.
    now : str
        The request time (ISO 8601, UTC), for ``createdAt``/``modifiedAt``.

    Raises
    ------
    BadRequestDataError
        No or invalid ``id``/``type``, or an invalid attribute.
    """
    if not isinstance(doc, Mapping):
        raise BadRequestDataError("an entity must be a JSON object")
    entity_id = doc.get("id")
    if not is_uri(entity_id):
        raise BadRequestDataError(f"entity id must be a URI, got {entity_id!r}")
    assert isinstance(entity_id, str)
    types = parse_types(doc.get("type"), ctx)
    attrs = parse_attributes({k: v for k, v in doc.items() if k not in ENTITY_KEYWORDS}, ctx, now)
    entity: ExpandedEntity = {
        "id": entity_id, "type": types, "attrs": attrs, "createdAt": now, "modifiedAt": now
    }  # fmt: skip
    scope = doc.get("scope")
    if scope is not None:
        entity["scope"] = [scope] if isinstance(scope, str) else [str(s) for s in scope]
    return entity


def parse_types(raw: object, ctx: Context) -> list[str]:
    """Return the expanded entity type(s) of a payload's ``type`` member."""
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(t, str) for t in names):
        raise BadRequestDataError("entity type must be a name or a non-empty list of names")
    for name in names:
        _check_name(name, "entity type")
    return list(dict.fromkeys(ctx.expand(t) for t in names))


def parse_attributes(
    members: Mapping[str, object], ctx: Context, now: str
) -> dict[str, list[Attribute]]:
    """Return the attributes of a payload fragment, by expanded name, as instance lists."""
    attrs: dict[str, list[Attribute]] = {}
    for name, raw in members.items():
        _check_name(name)
        iri = ctx.expand(name)
        raws = raw if isinstance(raw, list) and raw and all(
            isinstance(r, Mapping) for r in raw) and _is_instance_list(raw) else [raw]  # fmt: skip
        instances = [parse_attribute(name, iri, r, ctx, now) for r in raws]
        ids = [i.get("datasetId") for i in instances]
        if len(set(ids)) != len(ids):
            raise BadRequestDataError(f"attribute {name!r} repeats a datasetId")
        attrs[iri] = instances
    return attrs


def _is_instance_list(raw: list[Any]) -> bool:
    return all("type" in r or "value" in r or "object" in r for r in raw)


def parse_attribute(name: str, iri: str, raw: object, ctx: Context, now: str) -> Attribute:
    """Return one normalized attribute instance from its normalized or concise form."""
    if not isinstance(raw, Mapping) or _is_geometry(raw):
        raw = {"value": raw}
    attr_type = raw.get("type") or _infer_type(raw)
    if attr_type not in VALUE_MEMBER:
        raise BadRequestDataError(f"attribute {name!r} has an unknown type {attr_type!r}")
    member = VALUE_MEMBER[attr_type]
    if member not in raw or raw[member] is None:
        raise BadRequestDataError(f"{attr_type} {name!r} has no {member!r}")
    if attr_type == "Property" and iri in GEO_ATTRIBUTES:
        attr_type = "GeoProperty" if _is_geometry(raw["value"]) else attr_type
    _validate_value(name, iri, attr_type, raw[member])
    attr: Attribute = {"type": attr_type}
    for key, value in raw.items():
        if key in ("type", "createdAt", "modifiedAt", "instanceId"):
            continue
        if key in ATTRIBUTE_KEYWORDS:
            attr[key] = _check_keyword(name, key, value)
        else:
            _check_name(key)
            attr[ctx.expand(key)] = parse_attribute(key, ctx.expand(key), value, ctx, now)
    attr["createdAt"] = now
    attr["modifiedAt"] = now
    return attr


def _infer_type(raw: Mapping[str, object]) -> str:
    for attr_type, member in VALUE_MEMBER.items():
        if member in raw and attr_type != "GeoProperty":
            if attr_type == "Property" and _is_geometry(raw[member]):
                return "GeoProperty"
            return attr_type
    return "Property"


def _is_geometry(value: object) -> TypeGuard[Mapping[str, Any]]:
    return (
        isinstance(value, Mapping)
        and value.get("type") in _GEOMETRY_TYPES
        and ("coordinates" in value or "geometries" in value)
    )


def _validate_value(name: str, iri: str, attr_type: str, value: object) -> None:
    if attr_type == "Relationship":
        objects = value if isinstance(value, list) else [value]
        if not objects or not all(is_uri(o) for o in objects):
            raise BadRequestDataError(f"Relationship {name!r} must point to URIs")
    elif attr_type == "GeoProperty":
        if not _is_geometry(value):
            raise BadRequestDataError(f"GeoProperty {name!r} must have a GeoJSON geometry value")
        _check_geometry(name, value)
    elif iri in GEO_ATTRIBUTES and attr_type != "GeoProperty":
        raise BadRequestDataError(f"{name!r} must be a GeoProperty")
    elif attr_type == "LanguageProperty" and not isinstance(value, Mapping):
        raise BadRequestDataError(f"LanguageProperty {name!r} needs a languageMap object")


def _check_geometry(name: str, geometry: Mapping[str, Any]) -> None:
    """Refuse a geometry RFC 7946 does not allow (a geo-query refuses such coordinates too)."""
    problem = geometry_problem(geometry)
    if problem is not None:
        raise BadRequestDataError(f"GeoProperty {name!r}: {problem}")


def _check_keyword(name: str, key: str, value: object) -> object:
    if key == "value" and _is_geometry(value):
        _check_geometry(name, value)
    if key == "observedAt":
        return validate_datetime(value, f"observedAt of {name!r}")
    if key == "datasetId" and not is_uri(value):
        raise BadRequestDataError(f"datasetId of {name!r} must be a URI")
    if key == "unitCode" and not isinstance(value, str):
        raise BadRequestDataError(f"unitCode of {name!r} must be a string")
    return value


def parse_attribute_fragment(name: str, raw: object, ctx: Context, now: str) -> dict[str, Any]:
    """Return a partial attribute (for PATCH …/attrs/{attrId}): only the members given.

    A bare value (concise form) is the fragment ``{"value": raw}``.
    """
    if not isinstance(raw, Mapping):
        raw = {"value": raw}
    fragment: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("createdAt", "modifiedAt", "instanceId"):
            continue
        if key == "type":
            if value not in VALUE_MEMBER:
                raise BadRequestDataError(f"attribute {name!r} has an unknown type {value!r}")
            fragment[key] = value
        elif key in ATTRIBUTE_KEYWORDS:
            fragment[key] = _check_keyword(name, key, value)
        else:
            _check_name(key)
            fragment[ctx.expand(key)] = parse_attribute(key, ctx.expand(key), value, ctx, now)
    if not fragment:
        raise BadRequestDataError(f"nothing to update in attribute {name!r}")
    return fragment
