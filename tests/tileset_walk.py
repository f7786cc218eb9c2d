"""Walk a tileset on disk: every tile with content, with its composed world transform.

External tilesets (a tile whose content is a tileset JSON, 3D Tiles §External tilesets) are
followed: their URIs resolve against the referring file's folder, and their root's transform
applies after the referring tile's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np


def _walk(
    tile: dict[str, Any], parent: np.ndarray, folder: Path, seen: set[Path]
) -> Iterator[tuple[dict[str, Any], np.ndarray, Path]]:
    local = np.array(tile.get("transform", np.eye(4).ravel(order="F")), dtype=float)
    world = parent @ local.reshape(4, 4, order="F")  # column-major, 3D Tiles §Transforms
    uri = tile.get("content", {}).get("uri")
    if uri is not None and uri.endswith(".json"):
        path = (folder / unquote(uri)).resolve()
        assert path not in seen, f"external tileset cycle through {path}"
        external = json.loads(path.read_text())
        yield from _walk(external["root"], world, path.parent, seen | {path})
    elif uri is not None:
        yield tile, world, folder
    for child in tile.get("children", []):
        yield from _walk(child, world, folder, seen)


def content_tiles(tileset_dir: Path) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """Yield (tile, world transform (4, 4)) for every tile with content, composing transforms.

    Content URIs are relative to ``tileset_dir`` (twin writes external tilesets beside
    ``tileset.json``).
    """
    path = (tileset_dir / "tileset.json").resolve()
    tileset = json.loads(path.read_text())
    for tile, world, folder in _walk(tileset["root"], np.eye(4), path.parent, {path}):
        assert folder == path.parent, "content URIs are relative to their tileset file"
        yield tile, world
