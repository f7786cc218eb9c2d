"""``/`` and ``/viewer/``: the web viewer's static files and CesiumJS's static build.

Viewer files are revalidated on every use (``no-cache`` with an ETag): they change with each
upgrade of twin or of the pinned CesiumJS, under the same URLs. ``node_modules`` is not served,
except CesiumJS's ``Build/Cesium`` folder, mounted at ``/viewer/cesium/``; dot-files are not
served either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aiohttp import web

from twin.errors import NotFoundError
from twin.server.files import open_under, send_file
from twin.server.state import VIEWER_DIR, call_store

__all__ = ["CESIUM_BUILD", "add_viewer_routes"]

CESIUM_BUILD: Final = Path("node_modules", "cesium", "Build", "Cesium")
"""Where npm installs CesiumJS's static build, relative to the viewer folder."""

_REVALIDATE: Final = "no-cache"


async def redirect_to_viewer(request: web.Request) -> web.StreamResponse:
    """Send ``/`` (and ``/viewer``) to the viewer."""
    raise web.HTTPFound("/viewer/")


async def _serve(request: web.Request, root: Path, relpath: str) -> web.StreamResponse:
    try:
        opened = await call_store(open_under, root, relpath)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc} in the viewer") from exc
    return await send_file(request, opened, cache_control=_REVALIDATE)


async def get_viewer_index(request: web.Request) -> web.StreamResponse:
    """Serve the viewer's ``index.html``."""
    return await _serve(request, request.app[VIEWER_DIR], "index.html")


async def get_viewer_file(request: web.Request) -> web.StreamResponse:
    """Serve a file of the viewer, but nothing from ``node_modules`` and no dot-file."""
    relpath = request.match_info["path"]
    parts = relpath.split("/")
    if any(p == "node_modules" or (p.startswith(".") and p not in (".", "..")) for p in parts):
        raise NotFoundError(f"no file {relpath!r} in the viewer")
    return await _serve(request, request.app[VIEWER_DIR], relpath)


async def get_cesium_file(request: web.Request) -> web.StreamResponse:
    """Serve a file of CesiumJS's static build (``Cesium.js``, ``Workers/``, ``Assets/`` …)."""
    root = request.app[VIEWER_DIR] / CESIUM_BUILD
    return await _serve(request, root, request.match_info["path"])


def add_viewer_routes(app: web.Application) -> None:
    """Mount the viewer under ``/viewer/`` and redirect ``/`` to it."""
    app.router.add_get("/", redirect_to_viewer, name="root")
    app.router.add_get("/viewer", redirect_to_viewer)
    app.router.add_get("/viewer/", get_viewer_index, name="viewer")
    app.router.add_get("/viewer/cesium/{path:.+}", get_cesium_file, name="cesium")
    app.router.add_get("/viewer/{path:.+}", get_viewer_file, name="viewer_file")
