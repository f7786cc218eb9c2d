"""What the NGSI-LD routes keep in the application, under typed keys."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from twin.live import LiveHub
from twin.ngsild.jsonld import ContextResolver
from twin.ngsild.selection import SelectionCache
from twin.server.ngsild.writer import GroupCommit

__all__ = ["HUB", "RESOLVER", "SELECTIONS", "TOKENS", "WRITER"]

RESOLVER: Final = web.AppKey[ContextResolver]("twin.ngsild.resolver")
"""Resolves and caches request @contexts (remote ones fetched with a short timeout)."""

HUB: Final = web.AppKey[LiveHub]("twin.live.hub")
"""Fans joined-value changes out to ``/live`` listeners."""

TOKENS: Final = web.AppKey[frozenset[str]]("twin.ngsild.tokens")
"""Bearer tokens that may write; empty means writes are open."""

WRITER: Final = web.AppKey[GroupCommit]("twin.ngsild.writer")
"""The single writer that batches entity writes into group commits."""

SELECTIONS: Final = web.AppKey[SelectionCache]("twin.ngsild.selections")
"""Entity selections (``type``, ``q`` …) parsed once for the queries that repeat them."""
