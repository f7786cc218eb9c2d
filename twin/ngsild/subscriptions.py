"""Subscriptions (CIM 009 v1.8 §5.2.12, §5.8): validation, stored form, patch, rendering.

A payload becomes a :class:`StoredSubscription` — the wire members with every name expanded
(entity types, ``watchedAttributes``, ``notification.attributes``, the names inside ``q`` and
``geoQ.geoproperty``), defaults filled in, and the raw ``@context`` it was written with kept as
``jsonldContext`` so notifications compact names the way the subscriber expects. The status
counters live under ``notification`` (``timesSent``, ``timesFailed``, ``lastNotification``,
``lastSuccess``, ``lastFailure``, ``status``). :func:`render_subscription` compacts it back.

What is refused, and how:

- malformed members, ``notification.showChanges`` with ``format`` ``keyValues``, no
  ``entities`` and no ``watchedAttributes``, ``expiresAt`` in the past, ``timeInterval``
  together with ``watchedAttributes`` or ``throttling`` or without ``entities``: 400
  BadRequestData;
- ``temporalQ``, ``csf`` and endpoints that are not ``http(s)``: 422 OperationNotSupported.

A ``q`` that is not valid as written but is once URL-decoded is taken decoded (clients encode
it as in a query string).

``scopeQ`` (§4.19, the grammar of :mod:`twin.ngsild.scope`) restricts notifications to entities
whose ``scope`` matches it, as ``q`` restricts them by value; a malformed one is 400.

``lang`` (§5.2.12, the syntax of the ``lang`` query parameter, :mod:`twin.ngsild.language`)
gives the LanguageProperties of notified entities in the best of its languages; a malformed
one is 400.

``timeInterval`` (seconds) makes the subscription periodic (§5.2.12): it is notified every
interval with the entities that match it then, never on changes.
"""

from __future__ import annotations

import copy
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, NotRequired, TypedDict

from twin.errors import QueryError
from twin.ngsild.entity import ATTRIBUTE_KEYWORDS, is_uri, validate_datetime
from twin.ngsild.errors import BadRequestDataError, OperationNotSupportedError
from twin.ngsild.jsonld import Context, RawContext
from twin.ngsild.language import parse_lang
from twin.ngsild.query import map_attribute_names, parse_geoquery, parse_q, render_q
from twin.ngsild.scope import parse_scope_q
from twin.ngsild.selection import parse_type_expr
from twin.ngsild.subscriptions_render import COUNTERS, instant, render_notification

__all__ = [
    "DEFAULT_TRIGGERS",
    "TRIGGERS",
    "StoredSubscription",
    "merge_subscription",
    "parse_subscription",
]

TRIGGERS: Final = frozenset(
    {"entityCreated", "entityUpdated", "entityDeleted", "attributeCreated", "attributeUpdated",
     "attributeDeleted"}
)  # fmt: skip
DEFAULT_TRIGGERS: Final = ("attributeCreated", "attributeUpdated")
"""What notifies when ``notificationTrigger`` is absent (§5.2.12)."""

FORMATS: Final = ("normalized", "keyValues", "concise")
ACCEPTS: Final = ("application/json", "application/ld+json", "application/geo+json")
_REFUSED: Final = ("temporalQ", "csf")
_TYPE_NAME: Final = re.compile(r"[^(),|;\s]+")
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP field name (RFC 9110 §5.1, a token)."""
_HEADER_VALUE: Final = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")
"""An HTTP field value (RFC 9110 §5.5): no control characters but tab."""


class StoredSubscription(TypedDict):
    """A subscription as stored (names expanded, defaults filled in)."""

    id: str
    type: Literal["Subscription"]
    notification: dict[str, Any]
    notificationTrigger: list[str]
    isActive: bool
    createdAt: str
    modifiedAt: str
    jsonldContext: NotRequired[RawContext]
    subscriptionName: NotRequired[str]
    description: NotRequired[str]
    entities: NotRequired[list[dict[str, str]]]
    watchedAttributes: NotRequired[list[str]]
    q: NotRequired[str]
    scopeQ: NotRequired[str]
    lang: NotRequired[str]
    geoQ: NotRequired[dict[str, Any]]
    expiresAt: NotRequired[str]
    throttling: NotRequired[float]
    timeInterval: NotRequired[float]


def parse_subscription(
    doc: object, ctx: Context, raw_context: RawContext, now: str, new_id: str
) -> StoredSubscription:
    """Validate a subscription payload and return its stored form.

    Parameters
    ----------
    doc : object
        The parsed JSON body.
    ctx : Context
        The request's context, to expand names.
    raw_context : RawContext
        The request's raw ``@context`` (kept for notifications unless ``jsonldContext`` is given).
    now : str
        The request time (ISO 8601, UTC).
    new_id : str
        The id to use when the payload has none.

    Raises
    ------
    BadRequestDataError, OperationNotSupportedError
        As the module docstring lists.
    """
    if not isinstance(doc, Mapping):
        raise BadRequestDataError("a subscription must be a JSON object")
    if doc.get("type", "Subscription") != "Subscription":
        raise BadRequestDataError('a subscription\'s type must be "Subscription"')
    sub_id = doc.get("id", new_id)
    if not is_uri(sub_id):
        raise BadRequestDataError(f"subscription id must be a URI, got {sub_id!r}")
    stored: StoredSubscription = {
        "id": str(sub_id), "type": "Subscription", "notification": {}, "isActive": True,
        "notificationTrigger": list(DEFAULT_TRIGGERS), "createdAt": now, "modifiedAt": now,
    }  # fmt: skip
    context = doc.get("jsonldContext", raw_context)
    if context is not None:
        stored["jsonldContext"] = context
    _apply(stored, {k: v for k, v in doc.items() if k not in ("id", "type", "@context")}, ctx)
    _check_whole(stored, now)
    return stored


def merge_subscription(
    stored: StoredSubscription, fragment: object, ctx: Context, now: str
) -> StoredSubscription:
    """Return ``stored`` with the members of a PATCH fragment replaced (§5.8.2).

    ``notification`` is merged one level deep (so a fragment may change only its ``endpoint``);
    the status counters survive.
    """
    if not isinstance(fragment, Mapping) or not fragment:
        raise BadRequestDataError("a subscription fragment must be a non-empty JSON object")
    if fragment.get("id", stored["id"]) != stored["id"]:
        raise BadRequestDataError("a subscription's id cannot change")
    if fragment.get("type", "Subscription") != "Subscription":
        raise BadRequestDataError('a subscription\'s type must be "Subscription"')
    new = copy.deepcopy(stored)
    members = {k: v for k, v in fragment.items() if k not in ("id", "type", "@context")}
    if isinstance(members.get("notification"), Mapping):
        merged = {k: v for k, v in stored["notification"].items() if k not in COUNTERS}
        merged = {**render_notification(merged, ctx), **members["notification"]}
        members["notification"] = merged
    _apply(new, members, ctx)
    new["modifiedAt"] = now
    _check_whole(new, None)
    return new


def _apply(stored: StoredSubscription, members: Mapping[str, Any], ctx: Context) -> None:
    target: dict[str, Any] = stored  # type: ignore[assignment]
    for key, value in members.items():
        handler = _MEMBERS.get(key)
        if key in _REFUSED:
            raise OperationNotSupportedError(f"subscriptions with {key} are not supported")
        if handler is None:
            raise BadRequestDataError(f"unknown subscription member {key!r}")
        if value is None:
            target.pop(key, None)
            continue
        target[key] = handler(value, ctx)
        if key == "notification":
            counters = {k: v for k, v in stored["notification"].items() if k in COUNTERS}
            target[key] = {**target[key], **counters}


def _check_whole(stored: StoredSubscription, now: str | None) -> None:
    if "entities" not in stored and "watchedAttributes" not in stored:
        raise BadRequestDataError("a subscription needs entities or watchedAttributes")
    if not stored["notification"].get("endpoint"):
        raise BadRequestDataError("a subscription needs notification.endpoint")
    if "timeInterval" in stored:
        if "watchedAttributes" in stored or "throttling" in stored:
            raise BadRequestDataError(
                "timeInterval cannot be combined with watchedAttributes or throttling"
            )
        if "entities" not in stored:
            raise BadRequestDataError("a periodic subscription (timeInterval) needs entities")
    expires = stored.get("expiresAt")
    if now is not None and expires is not None and instant(expires) <= instant(now):
        raise BadRequestDataError(f"expiresAt {expires} is not in the future")


def _text(value: object, ctx: Context) -> str:
    if not isinstance(value, str):
        raise BadRequestDataError(f"expected a string, got {value!r}")
    return value


def _names(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(
            isinstance(v, str) and v for v in value):  # fmt: skip
        raise BadRequestDataError(f"{what} must be a non-empty array of names")
    return list(dict.fromkeys(value))


def _entities(value: object, ctx: Context) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise BadRequestDataError("entities must be a non-empty array of entity selectors")
    out = []
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
            raise BadRequestDataError("each entity selector needs a type")
        unknown = set(item) - {"id", "idPattern", "type"}
        if unknown:
            raise BadRequestDataError(f"unknown entity selector members {sorted(unknown)}")
        parse_type_expr(item["type"], ctx)
        selector = {"type": _TYPE_NAME.sub(lambda m: ctx.expand(m.group()), item["type"])}
        if "id" in item:
            if not is_uri(item["id"]):
                raise BadRequestDataError(f"entity selector id must be a URI, got {item['id']!r}")
            selector["id"] = item["id"]
        if "idPattern" in item:
            selector["idPattern"] = _pattern(item["idPattern"])
        out.append(selector)
    return out


def _pattern(value: object) -> str:
    if not isinstance(value, str):
        raise BadRequestDataError("idPattern must be a string")
    try:
        re.compile(value)
    except re.error as exc:
        raise BadRequestDataError(f"invalid idPattern {value!r}: {exc}") from exc
    return value


def _watched(value: object, ctx: Context) -> list[str]:
    return [ctx.expand(n) for n in _names(value, "watchedAttributes")]


def _triggers(value: object, ctx: Context) -> list[str]:
    names = _names(value, "notificationTrigger")
    unknown = [n for n in names if n not in TRIGGERS]
    if unknown:
        raise BadRequestDataError(f"unknown notificationTrigger {unknown[0]!r}")
    return names


def _q(value: object, ctx: Context) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequestDataError("q must be a non-empty string")
    try:
        expr = parse_q(value)
    except QueryError as exc:
        # Clients (ngsildclient; Stellio decodes them) send it URL-encoded as in a query
        # string: "temperature%3E20". A q that is valid as written is never decoded.
        decoded = urllib.parse.unquote(value)
        try:
            expr = parse_q(decoded)
        except QueryError:
            raise BadRequestDataError(str(exc)) from exc
    return render_q(
        map_attribute_names(expr, lambda n: n if n in ATTRIBUTE_KEYWORDS else ctx.expand(n))
    )


def _scope_q(value: object, ctx: Context) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequestDataError("scopeQ must be a non-empty string")
    parse_scope_q(value)  # BadRequestDataError naming what is wrong
    return value


def _lang(value: object, ctx: Context) -> str:
    if not isinstance(value, str):
        raise BadRequestDataError(f"lang must be a string of language tags, got {value!r}")
    parse_lang(value)  # (raises BadRequestData naming the bad part)
    return value


def _geo_q(value: object, ctx: Context) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRequestDataError("geoQ must be an object")
    georel, geometry, coords = (value.get(k) for k in ("georel", "geometry", "coordinates"))
    if not isinstance(georel, str) or not isinstance(geometry, str) or coords is None:
        raise BadRequestDataError("geoQ needs georel, geometry and coordinates")
    geoproperty = value.get("geoproperty", "location")
    if not isinstance(geoproperty, str):
        raise BadRequestDataError("geoQ.geoproperty must be a name")
    text = coords if isinstance(coords, str) else json.dumps(coords)
    try:
        parse_geoquery(georel, geometry, text, geoproperty)
    except QueryError as exc:
        raise BadRequestDataError(str(exc)) from exc
    return {"georel": georel, "geometry": geometry, "coordinates": coords,
            "geoproperty": ctx.expand(geoproperty)}  # fmt: skip


def _bool(value: object, ctx: Context) -> bool:
    if not isinstance(value, bool):
        raise BadRequestDataError(f"expected true or false, got {value!r}")
    return value


def _seconds(name: str) -> Callable[[object, Context], float]:
    def check(value: object, ctx: Context) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise BadRequestDataError(f"{name} must be a positive number, got {value!r}")
        return value

    return check


def _expires(value: object, ctx: Context) -> str:
    return validate_datetime(value, "expiresAt")


def _context(value: object, ctx: Context) -> RawContext:
    if not is_uri(value):
        raise BadRequestDataError("jsonldContext must be a URI")
    assert isinstance(value, str)
    return value


def _notification(value: object, ctx: Context) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRequestDataError("notification must be an object")
    unknown = set(value) - {"attributes", "format", "endpoint", "sysAttrs", "showChanges"}
    if unknown - COUNTERS:
        raise BadRequestDataError(f"unknown notification members {sorted(unknown - COUNTERS)}")
    out: dict[str, Any] = {"format": value.get("format", "normalized")}
    if out["format"] not in FORMATS:
        raise BadRequestDataError(f"notification.format must be one of {', '.join(FORMATS)}")
    if "attributes" in value:
        out["attributes"] = [ctx.expand(n) for n in _names(value["attributes"], "attributes")]
    for flag in ("sysAttrs", "showChanges"):
        if flag in value:
            out[flag] = _bool(value[flag], ctx)
    if out.get("showChanges") and out["format"] == "keyValues":  # §5.2.14: it has no place
        raise BadRequestDataError(
            "notification.showChanges cannot be true with format keyValues (it has no member "
            "for the previous value); use normalized or concise"
        )
    out["endpoint"] = _endpoint(value.get("endpoint"))
    return out


def _endpoint(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not is_uri(value.get("uri")):
        raise BadRequestDataError("notification.endpoint needs a uri")
    uri = str(value["uri"])
    if not uri.startswith(("http://", "https://")):
        raise OperationNotSupportedError(f"only http(s) endpoints are supported, not {uri!r}")
    accept = value.get("accept", "application/json")
    if accept not in ACCEPTS:
        raise BadRequestDataError(f"notification.endpoint.accept must be one of {ACCEPTS}")
    out: dict[str, Any] = {"uri": uri, "accept": accept}
    for key in ("receiverInfo", "notifierInfo"):
        info = value.get(key)
        if info is None:
            continue
        if not isinstance(info, list) or not all(
                isinstance(i, Mapping) and isinstance(i.get("key"), str)
                and isinstance(i.get("value"), str) for i in info):  # fmt: skip
            raise BadRequestDataError(f"{key} must be an array of {{key, value}} strings")
        for i in info:  # sent as HTTP headers (receiverInfo)
            if not _HEADER_NAME.fullmatch(i["key"]) or not _HEADER_VALUE.fullmatch(i["value"]):
                raise BadRequestDataError(
                    f"{key} {i['key']!r}: {i['value']!r} cannot be an HTTP header"
                )
        out[key] = [{"key": i["key"], "value": i["value"]} for i in info]
    return out


_MEMBERS: Final[dict[str, Callable[[Any, Context], Any]]] = {
    "subscriptionName": _text,
    "description": _text,
    "entities": _entities,
    "watchedAttributes": _watched,
    "notificationTrigger": _triggers,
    "q": _q,
    "scopeQ": _scope_q,
    "geoQ": _geo_q,
    "lang": _lang,
    "notification": _notification,
    "expiresAt": _expires,
    "throttling": _seconds("throttling"),
    "timeInterval": _seconds("timeInterval"),
    "isActive": _bool,
    "jsonldContext": _context,
}
