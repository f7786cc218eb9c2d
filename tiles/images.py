"""Texture images as glTF 2.0 core accepts them: PNG or JPEG (glTF 2.0 §3.9.4 / §5.18 mimeType).

Any other format Pillow reads (TIFF, GIF, BMP, WebP …) is converted to PNG; bytes in, bytes out.
glTF says colour-space information in a PNG or JPEG "MUST be ignored" (§3.9.4), and the Khronos
validator warns of it (IMAGE_FEATURES_UNSUPPORTED), so a PNG loses its colour-space and
pixel-size chunks (iCCP, sRGB, gAMA, cHRM, sBIT, pHYs): chunks are independent, each with its
own CRC, so the others are copied byte for byte.
"""

from __future__ import annotations

import io
import struct
from typing import Literal

__all__ = ["ImageMime", "gltf_image", "image_mime"]

ImageMime = Literal["image/png", "image/jpeg"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_IGNORED_PNG_CHUNKS = frozenset({b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"sBIT", b"pHYs"})


def image_mime(head: bytes) -> ImageMime | None:
    """Return the glTF mime type of an image from its first bytes, None when glTF lacks it.

    >>> image_mime(b"\\x89PNG\\r\\n\\x1a\\n...."), image_mime(b"II*\\x00"), image_mime(b"")
    ('image/png', None, None)
    """
    if head.startswith(_PNG_MAGIC):
        return "image/png"
    if head.startswith(_JPEG_MAGIC):
        return "image/jpeg"
    return None


def gltf_image(data: bytes) -> tuple[bytes, ImageMime]:
    """Return ``data`` as an image glTF accepts, and its mime type.

    PNG and JPEG pass unchanged; other formats are decoded with Pillow and written as PNG.

    Raises
    ------
    ValueError
        When the bytes are no image Pillow can read, or a PNG cut short.
    """
    mime = image_mime(data[:8])
    if mime == "image/png":
        return _without_colour_space(data), mime
    if mime is not None:
        return data, mime
    from PIL import Image, UnidentifiedImageError  # only for the rare non-PNG/JPEG texture

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image: Image.Image = opened
            if image.mode not in ("RGB", "RGBA", "L", "LA"):
                image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            out = io.BytesIO()
            image.save(out, format="PNG")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"not an image Pillow can read ({exc})") from exc
    return out.getvalue(), "image/png"


def _without_colour_space(png: bytes) -> bytes:
    """Return a PNG without its colour-space and pixel-size chunks, up to its IEND chunk.

    Raises
    ------
    ValueError
        When no complete IEND chunk is found (a file cut short or corrupt, which a client
        would fail to decode).

    >>> chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + b"CRC!"
    >>> head, end = _PNG_MAGIC + chunk(b"IHDR", b"h" * 13), chunk(b"IEND", b"")
    >>> _without_colour_space(head + chunk(b"gAMA", b"g" * 4) + end) == head + end
    True
    """
    kept = [png[:8]]
    offset = 8
    while offset + 8 <= len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind, end = png[offset + 4 : offset + 8], offset + 12 + length
        if end > len(png):
            break
        if kind not in _IGNORED_PNG_CHUNKS:
            kept.append(png[offset:end])
        if kind == b"IEND":
            return b"".join(kept)
        offset = end
    raise ValueError(
        f"damaged PNG: no complete IEND chunk in its {len(png)} bytes (the file is cut short "
        "or corrupt); re-export the image"
    )
