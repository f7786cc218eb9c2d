"""Texture images as glTF 2.0 core accepts them: PNG or JPEG (glTF 2.0 §3.9.4 / §5.18 mimeType).

Any other format Pillow reads (TIFF, GIF, BMP, WebP …) is converted to PNG; bytes in, bytes out.
glTF says colour-space information in a PNG or JPEG "MUST be ignored" (§3.9.4), and the Khronos
validator warns of it (IMAGE_FEATURES_UNSUPPORTED), so a PNG loses its colour-space and
pixel-size chunks (iCCP, sRGB, gAMA, cHRM, sBIT, pHYs): chunks are independent, each with its
own CRC, so the others are copied byte for byte.

A tile embeds an image cropped to the texels its texture coordinates touch
(:func:`tile_image`), so an atlas shared by a district is not copied whole into each tile, and
learns there whether the image's alpha needs blending.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "AlphaMode",
    "ImageMime",
    "TileImage",
    "gltf_image",
    "image_mime",
    "image_size",
    "tile_image",
]

ImageMime = Literal["image/png", "image/jpeg"]
AlphaMode = Literal["OPAQUE", "MASK", "BLEND"]
"""glTF 2.0 material.alphaMode; for an image, what its alpha channel holds."""

BORDER_PX = 2
"""Texels kept around the used ones, so bilinear filtering at the edge samples the source's."""
MAX_CROPPED_SHARE = 0.7
"""A crop keeping more of the image's area than this is not worth re-encoding the image."""
_JPEG_BLOCK_PX = 16
"""JPEG crops start and end on a 16-pixel grid (the largest MCU, 2×2 chroma subsampling): the
cropped image's blocks are the source's, re-quantized with the source's tables."""

_EXIF_ORIENTATION = 0x0112
"""EXIF tag whose values 2 to 8 turn or mirror the image for display (1: as stored)."""

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


def image_size(data: bytes) -> tuple[int, int] | None:
    """Return the ``(width, height)`` in pixels of an image as stored, or None if unreadable.

    Pillow reads only the header here, not the pixels.

    Examples
    --------
    >>> from PIL import Image
    >>> png = io.BytesIO()
    >>> Image.new("RGB", (40, 30)).save(png, format="PNG")
    >>> image_size(png.getvalue()), image_size(b"not an image")
    ((40, 30), None)
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError):
        return None
    return int(width), int(height)


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


@dataclass(frozen=True, slots=True)
class TileImage:
    """An image as one tile embeds it.

    ``window`` is ``(u0, v0, du, dv)``: the part of the source image this one shows, in texture
    coordinates (glTF convention, origin upper left); None when it is the whole image.
    """

    data: bytes
    mime: ImageMime
    alpha: AlphaMode
    window: tuple[float, float, float, float] | None = None

    def remap(self, uv: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Return texture coordinates of the source image as coordinates of this one.

        >>> TileImage(b"", "image/png", "OPAQUE", (0.5, 0.25, 0.5, 0.5)).remap(
        ...     np.array([[0.5, 0.25], [0.75, 0.5]], dtype=np.float32)).tolist()
        [[0.0, 0.0], [0.5, 0.5]]
        """
        if self.window is None:
            return uv
        u0, v0, du, dv = self.window
        remapped: npt.NDArray[np.float32] = ((uv - np.array([u0, v0])) / np.array([du, dv])).astype(
            np.float32
        )
        return remapped


def tile_image(
    data: bytes, mime: ImageMime, used: tuple[float, float, float, float] | None
) -> TileImage:
    """Return a PNG or JPEG cropped to the texels a tile uses, with its alpha mode.

    Parameters
    ----------
    data, mime : bytes, ImageMime
        The image as :func:`gltf_image` returns it.
    used : (u_min, v_min, u_max, v_max) or None
        The texture coordinates the tile samples, within [0, 1] (glTF convention, origin upper
        left); None keeps the whole image (coordinates that repeat it).

    The crop keeps :data:`BORDER_PX` texels around the used ones (a JPEG's is widened to its
    16-pixel blocks); it is skipped when it would keep more than :data:`MAX_CROPPED_SHARE` of
    the area, or encode no smaller, or when the image carries an EXIF orientation that turns
    it (clients that honour the tag show the whole image turned; the crop, re-encoded without
    it, would not be). The alpha mode is that of the pixels embedded: an image
    without an alpha channel or transparent colour (tRNS) is ``OPAQUE`` without decoding.

    Raises
    ------
    ValueError
        When Pillow cannot decode the image, or refuses to (more pixels than twice
        ``PIL.Image.MAX_IMAGE_PIXELS``, a decompression bomb).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            transparent = "A" in image.getbands() or "transparency" in image.info
            if _wide_colour_key(image):
                return TileImage(data, mime, _wide_key_alpha_mode(image))
            turned = image.getexif().get(_EXIF_ORIENTATION, 1) != 1
            box = None if used is None or turned else _crop_box(used, image.size, mime)
            if box is None:
                return TileImage(data, mime, _alpha_mode(image) if transparent else "OPAQUE")
            region = image.crop(box)
            cropped = _encode(region, image, mime)
            if len(cropped) >= len(data):
                return TileImage(data, mime, _alpha_mode(image) if transparent else "OPAQUE")
            width, height = image.size
            x0, y0, x1, y1 = box
            window = (x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height)
            alpha = _alpha_mode(region) if transparent else "OPAQUE"
            return TileImage(cropped, mime, alpha, window)
    except Image.DecompressionBombError as exc:
        raise ValueError(f"too large to decode safely ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"not an image Pillow can read ({exc})") from exc


def _crop_box(
    used: tuple[float, float, float, float], size: tuple[int, int], mime: ImageMime
) -> tuple[int, int, int, int] | None:
    """Return the pixel box (left, upper, right, lower) to keep, None for the whole image.

    >>> _crop_box((0.5, 0.5, 0.6, 0.6), (100, 100), "image/png")
    (48, 48, 62, 62)
    >>> _crop_box((0.5, 0.5, 0.6, 0.6), (100, 100), "image/jpeg")  # 16-pixel blocks
    (48, 48, 64, 64)
    >>> _crop_box((0.0, 0.0, 0.9, 0.9), (100, 100), "image/png") is None  # saves too little
    True
    """
    width, height = size
    step = _JPEG_BLOCK_PX if mime == "image/jpeg" else 1
    u0, v0, u1, v1 = used
    left = max(math.floor(u0 * width) - BORDER_PX, 0) // step * step
    upper = max(math.floor(v0 * height) - BORDER_PX, 0) // step * step
    right = min(-(-(math.ceil(u1 * width) + BORDER_PX) // step) * step, width)
    lower = min(-(-(math.ceil(v1 * height) + BORDER_PX) // step) * step, height)
    if (right - left) * (lower - upper) > MAX_CROPPED_SHARE * width * height:
        return None
    return left, upper, right, lower


def _encode(region: PILImage, source: PILImage, mime: ImageMime) -> bytes:
    """Encode a crop of ``source`` like it: a JPEG with the source's tables and subsampling."""
    from PIL import JpegImagePlugin

    out = io.BytesIO()
    if mime == "image/jpeg":
        options: dict[str, object] = {"qtables": getattr(source, "quantization", None)}
        if (sampling := JpegImagePlugin.get_sampling(source)) >= 0:
            options["subsampling"] = sampling
        region.save(out, format="JPEG", **options)
        return out.getvalue()
    region.save(out, format="PNG")
    return _without_colour_space(out.getvalue())


def _wide_colour_key(image: PILImage) -> bool:
    """Whether ``image`` is a 16-bit RGB PNG with a tRNS colour key.

    Pillow reads its pixels as 8-bit but keeps the 16-bit key, which then matches no pixel, and
    a crop would write that key into an 8-bit PNG, which cannot hold it (PNG §11.3.2.1): such an
    image is embedded whole, as the client decodes it exactly.
    """
    key = image.info.get("transparency")
    return image.mode == "RGB" and isinstance(key, tuple) and max(key) > 255


def _wide_key_alpha_mode(image: PILImage) -> AlphaMode:
    """MASK when some pixel's 8 high bits equal the 16-bit colour key's, else OPAQUE.

    A colour key makes each texel transparent or opaque, so MASK is right whenever one is
    transparent; a pixel matching only in its high bits makes MASK draw like OPAQUE.
    """
    key = np.array(image.info["transparency"]) >> 8
    pixels = np.asarray(image)
    return "MASK" if bool(np.all(pixels == key, axis=-1).any()) else "OPAQUE"


def _alpha_mode(image: PILImage) -> AlphaMode:
    """Return OPAQUE when every pixel's alpha is 255, MASK when each is 0 or 255, else BLEND."""
    bands = image.getbands()
    alpha = image.getchannel("A") if "A" in bands else image.convert("RGBA").getchannel("A")
    low, _ = alpha.getextrema()
    if low == 255:
        return "OPAQUE"
    counts = alpha.histogram()
    return "MASK" if not any(counts[1:255]) else "BLEND"
