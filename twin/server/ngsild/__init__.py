"""The NGSI-LD API (``/ngsi-ld/v1``), the joined building views and ``/live``.

The NGSI-LD routes are the main application's; :func:`ngsild_middleware` (which the main
application runs) gives the paths under :data:`NGSILD_PREFIX` their ProblemDetails as
``application/json`` (CIM 009 §6.3.6) and bearer-token checks on writes, and only them.
"""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web

from twin.live import LiveHub
from twin.ngsild.jsonld import ContextResolver
from twin.ngsild.selection import SelectionCache
from twin.server.ngsild.batch import add_batch_routes
from twin.server.ngsild.discovery import add_discovery_routes
from twin.server.ngsild.entities import add_entity_routes
from twin.server.ngsild.fetch import context_fetcher
from twin.server.ngsild.http import NGSILD_PREFIX, ngsild_middleware
from twin.server.ngsild.live import add_live_routes
from twin.server.ngsild.notify import NOTIFIER, Notifier
from twin.server.ngsild.search import add_search_routes
from twin.server.ngsild.state import HUB, RESOLVER, SELECTIONS, TOKENS, WRITER
from twin.server.ngsild.subscriptions import add_subscription_routes
from twin.server.ngsild.temporal import add_temporal_routes
from twin.server.ngsild.writer import GroupCommit
from twin.server.state import STORE

__all__ = ["NGSILD_PREFIX", "add_ngsild_routes", "ngsild_middleware"]


def add_ngsild_routes(app: web.Application, *, tokens: Collection[str] = ()) -> None:
    """Mount ``/ngsi-ld/v1``, ``/api/joined`` and ``/live`` on ``app``.

    Parameters
    ----------
    app : web.Application
        The main application (its STORE key already set), built with
        :func:`ngsild_middleware` among its middlewares.
    tokens : collection of str
        Bearer tokens allowed to write; none means writes are open.
    """
    fetch, session_ctx = context_fetcher(app)
    app[RESOLVER] = ContextResolver(fetch)
    app[HUB] = LiveHub()
    app[TOKENS] = frozenset(tokens)
    app[SELECTIONS] = SelectionCache()
    app[WRITER] = GroupCommit(app[STORE].entities)
    app.cleanup_ctx.append(app[WRITER].lifetime)
    app.cleanup_ctx.append(session_ctx)
    app[NOTIFIER] = Notifier(app[STORE].entities, app[RESOLVER])
    app.cleanup_ctx.append(app[NOTIFIER].lifetime)
    add_entity_routes(app)
    add_search_routes(app)
    add_batch_routes(app)
    add_discovery_routes(app)
    add_subscription_routes(app)
    add_temporal_routes(app)
    add_live_routes(app)
