"""``/tiles/<dataset>/<path>``: the served tileset's files, cacheable and CORS-open.

``tileset.json`` (and every other ``.json``: external tilesets) is revalidated on each use
(``no-cache``) because a re-import swaps the tileset behind the same URL; content (glb, b3dm,
subtrees, textures) is ``immutable`` for a year.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final

from aiohttp import web

from twin.errors import NotFoundError
from twin.server.files import open_under, send_file
from twin.server.state import STORE, call_store

__all__ = ["add_tile_routes", "cache_control_for_tile"]

REVALIDATE: Final = "no-cache"
IMMUTABLE: Final = "public, max-age=31536000, immutable"


def cache_control_for_tile(relpath: str) -> str:
    """Return the Cache-Control of a tileset file: JSON revalidated, content immutable.

    >>> cache_control_for_tile("tileset.json")
    'no-cache'
    >>> cache_control_for_tile("content/0_0_0.glb")
    'public, max-age=31536000, immutable'
    """
    return REVALIDATE if PurePosixPath(relpath).suffix.lower() == ".json" else IMMUTABLE


async def get_tile_file(request: web.Request) -> web.StreamResponse:
    """Serve one file of a dataset's tileset (GET and HEAD)."""
    dataset = request.match_info["dataset"]
    relpath = request.match_info["path"]
    store = request.app[STORE]
    root = await call_store(store.tileset_dir, dataset)
    try:
        opened = await call_store(open_under, root, relpath)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc} in the tileset of dataset {dataset!r}") from exc
    return await send_file(request, opened, cache_control=cache_control_for_tile(relpath))


def add_tile_routes(app: web.Application) -> None:
    """Mount the tiles under ``/tiles/``."""
    app.router.add_get("/tiles/{dataset}/{path:.+}", get_tile_file, name="tile")
