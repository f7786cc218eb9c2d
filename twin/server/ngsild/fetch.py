"""Fetch user @context documents over HTTP (aiohttp, short timeout) for the resolver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import aiohttp
from aiohttp import web

__all__ = ["CONTEXT_TIMEOUT_S", "context_fetcher"]

CONTEXT_TIMEOUT_S: Final = 2.0
_MAX_BYTES: Final = 1 << 20


def context_fetcher(
    app: web.Application,
) -> tuple[Callable[[str], Awaitable[object]], Callable[[web.Application], AsyncIterator[None]]]:
    """Return ``fetch(url)`` and the cleanup context owning its client session."""
    holder: dict[str, aiohttp.ClientSession] = {}

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=CONTEXT_TIMEOUT_S)
        holder["session"] = aiohttp.ClientSession(timeout=timeout)
        yield
        await holder.pop("session").close()

    async def fetch(url: str) -> object:
        session = holder.get("session")
        if session is None:
            raise RuntimeError("the server is not running")
        headers = {"Accept": "application/ld+json, application/json"}
        try:
            async with session.get(url, headers=headers) as resp:
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                raw = await resp.content.read(_MAX_BYTES + 1)
        except TimeoutError:  # its message is empty
            raise TimeoutError(f"no answer within {CONTEXT_TIMEOUT_S:g} s") from None
        if len(raw) > _MAX_BYTES:
            raise ValueError("larger than 1 MiB")
        return json.loads(raw)

    return fetch, session_ctx
