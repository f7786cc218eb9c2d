"""Texture images: PNG and JPEG pass (a PNG without its colour-space chunks), others become PNG."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms

from tiles import gltf_image


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


PIXELS = Image.new("RGB", (3, 2), (200, 30, 40))


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
