"""What the application holds, under typed keys, and how handlers reach the store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Final, ParamSpec, TypeVar

from aiohttp import web

from twin.store import Store

__all__ = ["STORE", "VIEWER_DIR", "call_store"]

STORE: Final = web.AppKey[Store]("twin.store")
"""The store the server reads (owned by the app: closed on cleanup)."""

VIEWER_DIR: Final = web.AppKey[Path]("twin.viewer_dir")
"""The viewer's folder, resolved: ``index.html`` and ``node_modules/cesium``."""

_P = ParamSpec("_P")
_T = TypeVar("_T")


async def call_store(method: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a blocking store method in a worker thread, so the event loop keeps serving.

    Parameters
    ----------
    method : callable
        A bound method of the app's store, e.g. ``request.app[STORE].get_object``.
    *args, **kwargs
        Passed on to ``method``; its exceptions propagate unchanged.
    """
    return await asyncio.to_thread(method, *args, **kwargs)
