"""Texture images on disk: read one for a tile, or tell whether one can be used at all."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import tiles
from tiles.images import ImageMime

__all__ = ["ImageStatus", "image_status", "read_texture"]

log = logging.getLogger(__name__)

ImageStatus = Literal["ok", "converted", "missing", "unreadable"]


def read_texture(path: str) -> tuple[bytes, ImageMime] | None:
    """Return the image at ``path`` as PNG or JPEG bytes, or None (logged) when unusable."""
    try:
        return tiles.gltf_image(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        log.warning("texture %s not used: %s", path, exc)
        return None


def image_status(path: str) -> ImageStatus:
    """Return whether the image at ``path`` goes into tiles as it is, converted, or not at all.

    JPEG is told from its first bytes; a PNG's chunks are walked (one cut short is
    unreadable); other files are decoded to be sure.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(16)
            mime = tiles.image_mime(head)
            if mime == "image/jpeg":
                return "ok"
            tiles.gltf_image(head + file.read())
    except OSError:
        return "missing"
    except ValueError:
        return "unreadable"
    return "ok" if mime == "image/png" else "converted"
