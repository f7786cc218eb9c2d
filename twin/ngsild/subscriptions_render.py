"""Subscriptions back to the wire: names compacted, status computed (CIM 009 §5.2.12).

The counters ``notification`` carries (``timesSent`` …) are shown as they are; ``status`` is
computed from ``isActive`` and ``expiresAt`` at the time asked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from twin.ngsild.entity import ATTRIBUTE_KEYWORDS
from twin.ngsild.jsonld import Context
from twin.ngsild.query import map_attribute_names, parse_q, render_q

__all__ = [
    "COUNTERS",
    "SubscriptionStatus",
    "instant",
    "render_notification",
    "render_subscription",
    "subscription_status",
]

COUNTERS: Final = frozenset(
    {"timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure", "status"}
)
"""The members of ``notification`` the server maintains."""

SubscriptionStatus = Literal["active", "paused", "expired"]
_TYPE_NAME: Final = re.compile(r"[^(),|;\s]+")


def instant(text: str) -> dt.datetime:
    """Return an ISO 8601 date-time as an aware datetime (UTC when it has no offset)."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def subscription_status(sub: Mapping[str, Any], now: str) -> SubscriptionStatus:
    """Return ``expired`` past ``expiresAt``, ``paused`` when not active, else ``active``.

    >>> sub = {"isActive": True, "expiresAt": "2030-01-01T00:00:00Z"}
    >>> subscription_status(sub, "2029-12-31T23:59:59Z")
    'active'
    >>> subscription_status(sub, "2031-01-01T00:00:00Z")
    'expired'
    """
    expires = sub.get("expiresAt")
    if expires is not None and instant(expires) <= instant(now):
        return "expired"
    return "active" if sub.get("isActive", True) else "paused"


def render_subscription(stored: Mapping[str, Any], ctx: Context, now: str) -> dict[str, Any]:
    """Return the wire form of a subscription, names compacted with ``ctx``, with its status."""
    out: dict[str, Any] = {"id": stored["id"], "type": "Subscription"}
    for key in ("subscriptionName", "description", "expiresAt", "throttling", "timeInterval",
                "scopeQ", "lang", "jsonldContext"):  # fmt: skip
        if key in stored:
            out[key] = stored[key]
    if "entities" in stored:
        out["entities"] = [
            {**e, "type": _TYPE_NAME.sub(lambda m: ctx.compact(m.group()), e["type"])}
            for e in stored["entities"]
        ]
    if "watchedAttributes" in stored:
        out["watchedAttributes"] = [ctx.compact(n) for n in stored["watchedAttributes"]]
    if "q" in stored:
        out["q"] = render_q(map_attribute_names(parse_q(stored["q"]), _compactor(ctx)))
    if "geoQ" in stored:
        out["geoQ"] = {**stored["geoQ"], "geoproperty": ctx.compact(stored["geoQ"]["geoproperty"])}
    out["notificationTrigger"] = stored["notificationTrigger"]
    out["isActive"] = stored["isActive"]
    out["status"] = subscription_status(stored, now)
    out["notification"] = render_notification(stored["notification"], ctx)
    return out


def _compactor(ctx: Context) -> Callable[[str], str]:
    return lambda n: n if n in ATTRIBUTE_KEYWORDS else ctx.compact(n)


def render_notification(notification: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    out = dict(notification)
    if "attributes" in out:
        out["attributes"] = [ctx.compact(n) for n in out["attributes"]]
    return out
