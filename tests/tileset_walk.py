"""Walk a tileset on disk: every tile with content, with its composed world transform."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def content_tiles(tileset_dir: Path) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """Yield (tile, world transform (4, 4)) for every tile with content, composing transforms."""
    tileset = json.loads((tileset_dir / "tileset.json").read_text())

    def walk(
        tile: dict[str, Any], parent: np.ndarray
    ) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
        local = np.array(tile.get("transform", np.eye(4).ravel(order="F")), dtype=float)
        world = parent @ local.reshape(4, 4, order="F")  # column-major, 3D Tiles §Transforms
        if "content" in tile:
            yield tile, world
        for child in tile.get("children", []):
            yield from walk(child, world)

    yield from walk(tileset["root"], np.eye(4))
