"""The OpenAPI document as one static HTML page: paths, methods, parameters, answers.

Rendered on the server from the same document as ``/openapi.json``; no script, no CDN, works
offline. Every value is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from twin.server.ogc_html import page

__all__ = ["openapi_page"]


def _resolve(ref_or_obj: Mapping[str, Any], doc: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = ref_or_obj.get("$ref")
    if not isinstance(ref, str):
        return ref_or_obj
    found: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found  # type: ignore[no-any-return]


def _parameters(op: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    rows = []
    for ref in op.get("parameters", []):
        p = _resolve(ref, doc)
        kind = p.get("schema", {}).get("type", "")
        rows.append(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
            f"<td>{escape(str(kind))}</td><td>{escape(p.get('description', ''))}</td></tr>"
        )
    if not rows:
        return ""
    head = "<tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _responses(op: Mapping[str, Any]) -> str:
    parts = []
    for status, answer in op["responses"].items():
        media = ", ".join(answer.get("content", {})) or "no body"
        parts.append(f"<li><b>{escape(status)}</b> {escape(media)}</li>")
    return f"<ul>{''.join(parts)}</ul>"


def openapi_page(doc: Mapping[str, Any]) -> str:
    """Return the HTML page of an OpenAPI document, grouped by tag.

    >>> from twin.server.openapi import build_openapi
    >>> "<code>/healthz</code>" in openapi_page(build_openapi("http://x"))
    True
    """
    by_tag: dict[str, list[str]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            secured = " 🔒 bearer token" if op.get("security") else ""
            section = (
                f'<h3 id="{escape(op["operationId"])}">{escape(method.upper())} '
                f"<code>{escape(path)}</code></h3><p>{escape(op['summary'])}{secured}</p>"
                f"{_parameters(op, doc)}{_responses(op)}"
            )
            by_tag.setdefault(op["tags"][0], []).append(section)
    toc = "".join(f'<li><a href="#tag-{escape(t)}">{escape(t)}</a></li>' for t in by_tag)
    body = "".join(
        f'<h2 id="tag-{escape(tag)}">{escape(tag)}</h2>{"".join(sections)}'
        for tag, sections in by_tag.items()
    )
    intro = (
        f"<p>{escape(doc['info']['description'])}</p>"
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI '
        f"{escape(doc['openapi'])})</p>"
    )
    return page(f"{doc['info']['title']} API", f"{intro}<ul>{toc}</ul>{body}")
