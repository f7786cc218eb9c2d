"""Server-rendered HTML for browsers (``Accept: text/html`` or ``f=html``): no script needed.

Every value is escaped with :func:`html.escape`; links are the JSON answer's own links, so the
pages browse the same API a client would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any, Final

__all__ = [
    "collection_page",
    "collections_page",
    "item_page",
    "items_page",
    "landing_page",
    "page",
    "queryables_page",
]

_STYLE: Final = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
)


def page(title: str, body: str) -> str:
    """Return a whole HTML document around ``body`` (already escaped HTML).

    >>> "<title>a &amp; b</title>" in page("a & b", "")
    True
    """
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _links(links: Iterable[Mapping[str, Any]]) -> str:
    items = "".join(_link(link) for link in links)
    return f"<ul>{items}</ul>"


def _link(link: Mapping[str, Any]) -> str:
    href, rel = escape(str(link["href"])), escape(str(link["rel"]))
    title, kind = escape(str(link.get("title") or rel)), escape(str(link.get("type", "")))
    return f'<li><a href="{href}">{title}</a> <small>({rel}, {kind})</small></li>'


def _value(value: object) -> str:
    if isinstance(value, dict | list):
        return f"<code>{escape(json.dumps(value, ensure_ascii=False, default=str))}</code>"
    return escape("" if value is None else str(value))


def _table(rows: Iterable[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{_value(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def landing_page(body: Mapping[str, Any]) -> str:
    """Render the landing page."""
    return page(
        str(body["title"]), f"<p>{escape(str(body['description']))}</p>" + _links(body["links"])
    )


def collections_page(body: Mapping[str, Any]) -> str:
    """Render the list of collections."""
    rows = "".join(
        f'<li><a href="{escape(_self(c["links"]))}">{escape(c["title"])}</a> '
        f"<small>({escape(c['id'])})</small></li>"
        for c in body["collections"]
    )
    return page("Collections", f"<ul>{rows}</ul>")


def collection_page(body: Mapping[str, Any]) -> str:
    """Render one collection."""
    rows = [("id", body["id"]), ("extent", body.get("extent")), ("crs", body.get("crs"))]
    return page(str(body["title"]), _table(rows) + _links(body["links"]))


def items_page(dataset: str, body: Mapping[str, Any]) -> str:
    """Render one page of items: a table of ids and properties, and the paging links."""
    features: Sequence[Mapping[str, Any]] = body["features"]
    names = sorted({k for f in features for k in f["properties"]})
    head = "".join(f"<th>{escape(n)}</th>" for n in ["id", *names])
    rows = "".join(
        f'<tr><td><a href="{escape(_self(f["links"]))}">{escape(str(f["id"]))}</a></td>'
        + "".join(f"<td>{_value(f['properties'].get(n))}</td>" for n in names)
        + "</tr>"
        for f in features
    )
    counts = (
        f"<p>{body['numberReturned']} of {body['numberMatched']} features "
        f"(as of {escape(str(body['timeStamp']))})</p>"
    )
    return page(
        f"{dataset}: items",
        counts + f"<table><tr>{head}</tr>{rows}</table>" + _links(body["links"]),
    )


def item_page(feature: Mapping[str, Any]) -> str:
    """Render one feature: its properties and geometry."""
    rows = [*sorted(feature["properties"].items()), ("geometry", feature["geometry"])]
    return page(str(feature["id"]), _table(rows) + _links(feature["links"]))


def queryables_page(dataset: str, body: Mapping[str, Any], kind: str = "queryables") -> str:
    """Render the queryables (or sortables) of a collection."""
    rows = [(name, p.get("type") or p.get("format")) for name, p in body["properties"].items()]
    return page(f"{dataset}: {kind}", _table(rows))


def _self(links: Iterable[Mapping[str, Any]]) -> str:
    return next((str(link["href"]) for link in links if link["rel"] == "self"), "")
