"""Texture images: PNG and JPEG pass (a PNG without its colour-space chunks), others become PNG;
a tile embeds an image cropped to the texels it uses, and learns what its alpha holds."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from tiles import gltf_image
from tiles.images import BORDER_PX, TileImage, tile_image


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


PIXELS = Image.new("RGB", (3, 2), (200, 30, 40))
C4J_FACADE = "citygml/c4j_lod3_building_v2/appearances/testtown-001.jpg"


def test_a_png_loses_its_colour_profile_and_keeps_its_pixels() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    png = _encoded(PIXELS, "PNG", icc_profile=profile, dpi=(72, 144))
    assert b"iCCP" in png
    assert b"pHYs" in png
    data, mime = gltf_image(png)
    assert mime == "image/png"
    assert b"iCCP" not in data
    assert b"pHYs" not in data
    assert Image.open(io.BytesIO(data)).tobytes() == PIXELS.tobytes()


def test_a_jpeg_passes_unchanged() -> None:
    jpeg = _encoded(PIXELS, "JPEG")
    assert gltf_image(jpeg) == (jpeg, "image/jpeg")


@pytest.mark.parametrize("fmt", ["TIFF", "BMP", "GIF"])
def test_other_formats_become_png(fmt: str) -> None:
    data, mime = gltf_image(_encoded(PIXELS, fmt))
    assert mime == "image/png"
    decoded = Image.open(io.BytesIO(data)).convert("RGB")
    assert decoded.size == PIXELS.size
    if fmt != "GIF":  # GIF is paletted: colours may be requantized
        assert decoded.tobytes() == PIXELS.tobytes()


def test_bytes_that_are_no_image_are_refused() -> None:
    with pytest.raises(ValueError, match="not an image Pillow can read"):
        gltf_image(b"neither PNG nor JPEG nor anything else")


def test_a_truncated_png_is_refused() -> None:
    png = _encoded(PIXELS, "PNG")
    with pytest.raises(ValueError, match="damaged PNG: no complete IEND chunk in its 50 bytes"):
        gltf_image(png[:50])  # a download cut short: clients would fail on the whole tile


def _png_with_alpha(alphas: list[int], mode: str = "RGBA") -> bytes:
    image = Image.new("RGBA", (len(alphas), 1))
    image.putdata([(10, 20, 30, a) for a in alphas])
    return _encoded(image.convert(mode) if mode != "RGBA" else image, "PNG")


def _keyed(mode: str) -> bytes:
    """A PNG without an alpha channel whose tRNS chunk makes one colour transparent."""
    image = Image.new(mode, (2, 1))
    if mode == "P":
        image.putpalette([10, 20, 30, 40, 50, 60])
        image.putdata([0, 1])
        return _encoded(image, "PNG", transparency=0)
    colours = [(10, 20, 30), (40, 50, 60)] if mode == "RGB" else [10, 40]
    image.putdata(colours)  # type: ignore[arg-type]
    return _encoded(image, "PNG", transparency=colours[0])


@pytest.mark.parametrize(
    ("name", "data", "alpha"),
    [
        ("RGB PNG", _encoded(PIXELS, "PNG"), "OPAQUE"),
        ("JPEG", _encoded(PIXELS, "JPEG"), "OPAQUE"),
        ("RGBA all 255", _png_with_alpha([255, 255]), "OPAQUE"),
        ("RGBA 0 and 255", _png_with_alpha([0, 255, 255]), "MASK"),
        ("RGBA all 0", _png_with_alpha([0, 0]), "MASK"),
        ("RGBA 254", _png_with_alpha([255, 254]), "BLEND"),
        ("LA half", _png_with_alpha([128, 255], "LA"), "BLEND"),
        ("palette with tRNS", _keyed("P"), "MASK"),
        ("RGB with tRNS", _keyed("RGB"), "MASK"),
        ("grey with tRNS", _keyed("L"), "MASK"),
    ],
    ids=lambda v: v if isinstance(v, str) and not v.isupper() else "",
)
def test_the_alpha_mode_follows_the_pixels(name: str, data: bytes, alpha: str) -> None:
    mime = "image/jpeg" if name == "JPEG" else "image/png"
    image = tile_image(data, mime, None)
    assert (image.alpha, image.window) == (alpha, None)
    assert image.data == data  # whole: not re-encoded


def _gradient(width: int, height: int) -> Image.Image:
    """An image whose every pixel differs: red = column, green = row, blue = both."""
    image = Image.new("RGB", (width, height))
    image.putdata([(x, y, (x * 7 + y * 13) % 256) for y in range(height) for x in range(width)])
    return image


def test_a_png_is_cropped_to_the_used_texels_plus_a_border() -> None:
    source = _gradient(200, 100)
    used = (0.5, 0.25, 0.6, 0.5)  # texels 100..120 × 25..50
    image = tile_image(_encoded(source, "PNG"), "image/png", used)
    left, upper = 100 - BORDER_PX, 25 - BORDER_PX
    right, lower = 120 + BORDER_PX, 50 + BORDER_PX
    assert image.window == (left / 200, upper / 100, (right - left) / 200, (lower - upper) / 100)
    cropped = Image.open(io.BytesIO(image.data))
    assert cropped.size == (right - left, lower - upper)
    assert cropped.tobytes() == source.crop((left, upper, right, lower)).tobytes()
    # A texture coordinate names the same texel in the crop as in the source.
    centres = np.array([[100.5 / 200, 25.5 / 100], [119.5 / 200, 49.5 / 100]], dtype=np.float32)
    for (u, v), (cu, cv) in zip(centres, image.remap(centres), strict=True):
        texel = source.getpixel((int(u * 200), int(v * 100)))
        assert cropped.getpixel((int(cu * cropped.width), int(cv * cropped.height))) == texel


def test_a_jpeg_is_cropped_on_its_blocks_with_its_own_tables(shared_data: Path) -> None:
    jpeg = (shared_data / C4J_FACADE).read_bytes()  # a 1024×1024 photo
    image = tile_image(jpeg, "image/jpeg", (0.3, 0.3, 0.45, 0.45))  # texels 307.2..460.8
    assert image.window == (304 / 1024, 304 / 1024, 160 / 1024, 160 / 1024)  # 16-pixel blocks
    source = Image.open(io.BytesIO(jpeg))
    cropped = Image.open(io.BytesIO(image.data))
    assert cropped.quantization == source.quantization
    expected = np.asarray(source.crop((304, 304, 464, 464)), dtype=float)
    # The same blocks re-quantized with the same tables come back almost unchanged (measured
    # 0.08 of 255 on average; a fresh encode at quality 95 is 1.5 off).
    assert np.abs(np.asarray(cropped, dtype=float) - expected).mean() < 0.25
    assert len(image.data) < len(jpeg) / 10


@pytest.mark.parametrize(
    "used", [None, (0.0, 0.0, 1.0, 1.0), (0.1, 0.1, 0.9, 0.9)], ids=["repeats", "all", "most"]
)
def test_an_image_mostly_used_is_kept_whole(used: tuple[float, ...] | None) -> None:
    png = _encoded(_gradient(100, 100), "PNG")
    assert tile_image(png, "image/png", used) == TileImage(png, "image/png", "OPAQUE")


def test_the_alpha_of_a_crop_is_that_of_its_pixels() -> None:
    image = Image.new("RGBA", (100, 10), (50, 60, 70, 255))
    image.paste((50, 60, 70, 128), (90, 0, 100, 10))  # translucent only at the right end
    png = _encoded(image, "PNG")
    assert tile_image(png, "image/png", None).alpha == "BLEND"
    assert tile_image(png, "image/png", (0.0, 0.0, 0.5, 1.0)).alpha == "OPAQUE"


def test_an_image_pillow_refuses_to_decode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    png = _encoded(_gradient(100, 100), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels: over twice the limit
    with pytest.raises(ValueError, match="too large to decode safely"):
        tile_image(png, "image/png", (0.0, 0.0, 0.1, 0.1))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_an_image_with_an_exif_orientation_is_kept_whole(fmt: str) -> None:
    """Browsers turn an image by its EXIF orientation (createImageBitmap's default
    "from-image"); a crop is re-encoded without the tag, so it would show the other way round
    from the whole image, and its box would have been chosen on the unturned pixels."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = _encoded(_gradient(256, 256), fmt, exif=exif.tobytes())
    mime = "image/jpeg" if fmt == "JPEG" else "image/png"
    assert tile_image(data, mime, (0.1, 0.1, 0.2, 0.2)) == TileImage(data, mime, "OPAQUE")  # type: ignore[arg-type]


def test_an_exif_orientation_that_turns_nothing_does_not_stop_the_crop() -> None:
    exif = Image.Exif()
    exif[0x0112] = 1
    data = _encoded(_gradient(256, 256), "JPEG", exif=exif.tobytes())
    assert tile_image(data, "image/jpeg", (0.1, 0.1, 0.2, 0.2)).window is not None


def _png_rgb16(pixels: np.ndarray, key: tuple[int, int, int]) -> bytes:
    """A 16-bit RGB PNG with a tRNS colour key, written by hand (Pillow cannot write one)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
        + chunk(b"tRNS", struct.pack(">HHH", *key))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("keyed", [True, False])
def test_a_16_bit_png_with_a_colour_key_is_kept_whole(keyed: bool) -> None:
    # Pillow reads 16-bit RGB as 8-bit but keeps the 16-bit key: a crop would write a tRNS
    # value an 8-bit PNG cannot hold (PNG §11.3.2.1), and the key matches no 8-bit pixel.
    pixels = np.full((64, 64, 3), 0x1234, dtype=np.uint16)
    key = (0xABCD, 0x0102, 0xFEDC)
    if keyed:
        pixels[:8, :8] = key  # the used corner holds transparent texels
    data = _png_rgb16(pixels, key)
    tiled = tile_image(data, "image/png", (0.0, 0.0, 0.1, 0.1))
    assert tiled.data == data
    assert tiled.alpha == ("MASK" if keyed else "OPAQUE")
