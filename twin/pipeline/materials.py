"""A tile's glTF materials: class colours, X3D materials, and textures cropped to the tile.

The texture images of a tile are read here, in the encoding worker, one tile at a time, each
once per tile. An image is cropped to the texels the tile's coordinates touch
(:func:`tiles.images.tile_image`) and the coordinates are remapped to the crop, so an atlas
shared by a district costs each tile only its own part; coordinates outside [0, 1] (a repeating
texture) keep the image whole. The pixels embedded decide the material's alpha mode.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import tiles
from tiles.glb import WRAP
from tiles.images import TileImage, tile_image
from twin.model import Mesh, SurfaceClass, SurfaceMaterial
from twin.pipeline.images import read_texture
from twin.types import Float32Array, UInt16Array

__all__ = ["MATERIALS", "tile_materials"]

log = logging.getLogger(__name__)

# Base colours (linear RGB) per semantic class, so roofs read apart from walls.
_PALETTE: dict[SurfaceClass, tuple[float, float, float, float]] = {
    SurfaceClass.UNCLASSIFIED: (0.80, 0.80, 0.78, 1.0),
    SurfaceClass.ROOF: (0.55, 0.16, 0.10, 1.0),
    SurfaceClass.WALL: (0.86, 0.83, 0.76, 1.0),
    SurfaceClass.GROUND: (0.35, 0.35, 0.35, 1.0),
    SurfaceClass.CLOSURE: (0.70, 0.70, 0.70, 0.5),
    SurfaceClass.OUTER_CEILING: (0.75, 0.72, 0.66, 1.0),
    SurfaceClass.OUTER_FLOOR: (0.60, 0.58, 0.55, 1.0),
    SurfaceClass.WINDOW: (0.25, 0.40, 0.55, 1.0),
    SurfaceClass.DOOR: (0.40, 0.25, 0.15, 1.0),
    SurfaceClass.INTERIOR_WALL: (0.90, 0.90, 0.88, 1.0),
    SurfaceClass.CEILING: (0.92, 0.92, 0.92, 1.0),
    SurfaceClass.FLOOR: (0.65, 0.55, 0.45, 1.0),
    SurfaceClass.TRAFFIC_AREA: (0.30, 0.30, 0.32, 1.0),
    SurfaceClass.AUXILIARY_TRAFFIC_AREA: (0.45, 0.55, 0.35, 1.0),
    SurfaceClass.WATER_SURFACE: (0.20, 0.40, 0.70, 0.8),
    SurfaceClass.WATER_GROUND: (0.35, 0.30, 0.25, 1.0),
}
MATERIALS = tuple(tiles.Material(c.name.lower(), _PALETTE[c]) for c in SurfaceClass)

_WRAP = {"wrap": WRAP["repeat"], "mirror": WRAP["mirror"], "clamp": WRAP["clamp"]}
_UV_SLACK = 1e-4
"""How far outside [0, 1] a coordinate may lie (float rounding) and still count as inside."""


def tile_materials(
    meshes: Sequence[Mesh], classes: UInt16Array
) -> tuple[tuple[tiles.Material, ...], UInt16Array, Float32Array | None]:
    """Return the tile's materials, the material of each face and the UVs (glTF convention).

    ``meshes`` are the tile's, in order; ``classes`` ``(M,)`` the class of each of their faces.
    Faces without a material of their own keep their class colour (:data:`MATERIALS`); so do
    those whose texture image cannot be read.
    """
    if not any(m.materials for m in meshes):
        return MATERIALS, classes, None
    palette: dict[SurfaceMaterial, int] = {}
    own = np.full(len(classes), -1, dtype=np.int64)  # palette index per face
    vertex_own = np.full(sum(len(m.positions_ecef) for m in meshes), -1, dtype=np.int64)
    face0 = vertex0 = 0
    for m in meshes:
        if m.face_materials is not None and m.materials:
            remap = np.array([palette.setdefault(x, len(palette)) for x in m.materials])
            chosen = m.face_materials >= 0
            own[face0 : face0 + len(m.faces)][chosen] = remap[m.face_materials[chosen]]
            # Polygons own their ring vertices: each vertex has its polygon's material.
            vertex_own[vertex0 + m.faces[chosen]] = remap[m.face_materials[chosen]][:, None]
        face0 += len(m.faces)
        vertex0 += len(m.positions_ecef)
    uv = None
    if any(m.uv is not None for m in meshes):
        uv = np.concatenate(
            [m.uv if m.uv is not None else np.zeros((len(m.positions_ecef), 2), np.float32)
             for m in meshes]
        )  # fmt: skip
        uv[:, 1] = 1.0 - uv[:, 1]  # CityGML/CityJSON: origin lower left; glTF: upper left
    images = _tile_images(list(palette), vertex_own, uv)
    made = [_material(x, images.get(x.image) if x.image else None) for x in palette]
    usable = np.array([x is not None for x in made] + [False])
    per_face = np.where(usable[own], len(MATERIALS) + own, classes).astype(np.uint16)
    materials = MATERIALS + tuple(x if x is not None else MATERIALS[0] for x in made)
    return materials, per_face, uv


def _tile_images(
    palette: list[SurfaceMaterial], vertex_own: np.ndarray, uv: Float32Array | None
) -> dict[str, TileImage | None]:
    """Read each texture image of the tile once, cropped to its used texels; remap ``uv``.

    Returns the image per path (None: unusable). ``uv`` is changed in place for the vertices
    of the faces a cropped image textures.
    """
    images: dict[str, TileImage | None] = {}
    if uv is None:
        return images
    for path in dict.fromkeys(x.image for x in palette if x.image is not None):
        users = [k for k, x in enumerate(palette) if x.image == path]
        vertices = np.isin(vertex_own, users)
        images[path] = image = _read_image(path, uv[vertices])
        if image is not None and image.window is not None:
            uv[vertices] = image.remap(uv[vertices])
    return images


def _read_image(path: str, uv: Float32Array) -> TileImage | None:
    """Return the image at ``path`` as the tile embeds it, given the coordinates that use it."""
    read = read_texture(path)
    if read is None:
        return None
    data, mime = read
    used = None
    if len(uv):
        lo, hi = uv.min(axis=0), uv.max(axis=0)
        if lo.min() >= -_UV_SLACK and hi.max() <= 1.0 + _UV_SLACK:
            lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
            used = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
    try:
        return tile_image(data, mime, used)
    except ValueError as exc:  # a JPEG Pillow cannot decode, or one too large: as it is
        log.warning("texture %s embedded whole, not cropped: %s", path, exc)
        return TileImage(data, mime, "OPAQUE")


def _material(source: SurfaceMaterial, image: TileImage | None) -> tiles.Material | None:
    """Return the glTF material of ``source`` (None: its texture image cannot be read).

    X3D colours are display (sRGB) values; glTF factors are linear (glTF 2.0 §3.9.2), so they
    are converted. ``transparency`` becomes alpha ``1 - transparency``, ``shininess``
    roughness ``1 - shininess``. The specular colour goes to ``KHR_materials_specular``
    (written only when not white): its largest linear component is the strength
    (``specularFactor``: black turns the specular lobe off, as in X3D) and the colour divided
    by it the tint (``specularColorFactor``, the F0 colour).
    """
    texture = None
    if source.image is not None:
        if image is None:
            return None
        wrap = WRAP["clamp"] if image.window is not None else _WRAP[source.wrap]
        texture = tiles.Texture(image.data, image.mime, wrap, wrap, image.alpha)
    r, g, b = (_linear(c) for c in source.diffuse)
    e_r, e_g, e_b = (_linear(c) for c in source.emissive)
    s_r, s_g, s_b = (_linear(c) for c in source.specular)
    strength = max(s_r, s_g, s_b)
    tint = (1.0, 1.0, 1.0) if strength == 0.0 else (s_r / strength, s_g / strength, s_b / strength)
    return tiles.Material(
        Path(source.image).name if source.image else "x3d-material",
        (r, g, b, 1.0 - source.transparency),
        roughness=1.0 - source.shininess,
        emissive=(e_r, e_g, e_b),
        texture=texture,
        specular=strength,
        specular_color=(round(tint[0], 6), round(tint[1], 6), round(tint[2], 6)),
    )


def _linear(c: float) -> float:
    """Return an sRGB component (0..1) as linear light (IEC 61966-2-1), rounded to 1e-6."""
    c = min(max(float(c), 0.0), 1.0)
    return round(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4, 6)
