"""Read CityJSON appearances: materials and textures per surface, texture coordinates per vertex.

A document's ``appearance`` holds ``materials`` (X3D-like: ``diffuseColor``, ``emissiveColor``,
``specularColor``, ``shininess``, ``transparency``), ``textures`` (``image`` relative to the
file, ``wrapMode``) and ``vertices-texture`` (``[u, v]`` pairs). A geometry's ``material`` and
``texture`` are keyed by theme; ``material.<theme>.values`` nests like the boundaries down to the
surface (or ``value`` applies to every surface), ``texture.<theme>.values`` down to the ring,
each ring ``[texture index, uv index per vertex …]`` or ``[null]`` (CityJSON 2.0 §3.3
"Appearance").
One theme is drawn per kind: the one asked for (only that one), else the document's
``default-theme-texture``/``default-theme-material``, else the first the geometry has.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.cityjson.geometry import iter_surface_values, iter_surfaces, kept_rings
from twin.model import AppearanceLog, SurfaceAppearance, SurfaceMaterial, image_path, wrap_mode
from twin.types import Float32Array

__all__ = ["Looks", "object_appearance", "read_looks"]


@dataclass(frozen=True, slots=True)
class Looks:
    """A document's materials, textures and texture vertices, and its default themes."""

    materials: tuple[SurfaceMaterial, ...]
    textures: tuple[SurfaceMaterial, ...]
    uv: Float32Array  # (K, 2) vertices-texture
    material_theme: str | None
    texture_theme: str | None


def read_looks(appearance: Any, path: str, log: AppearanceLog) -> Looks | None:
    """Return the ``appearance`` member of a CityJSON document (file ``path``), or None."""
    if not isinstance(appearance, Mapping):
        return None
    base = os.path.dirname(os.path.abspath(path))
    materials = tuple(_material(m) for m in appearance.get("materials") or [])
    textures = tuple(
        SurfaceMaterial(
            (1.0, 1.0, 1.0),
            shininess=0.0,
            image=image_path(base, str(t.get("image", ""))),
            wrap=wrap_mode(t.get("wrapMode"), log),
        )
        for t in appearance.get("textures") or []
    )
    try:
        uv = np.asarray(appearance.get("vertices-texture") or [], dtype=np.float32).reshape(-1, 2)
    except ValueError:
        log.ignored["vertices-texture that are not [u, v] pairs (textures not drawn)"] += 1
        uv = np.zeros((0, 2), dtype=np.float32)
    if not materials and not textures:
        return None
    return Looks(
        materials,
        textures,
        uv,
        appearance.get("default-theme-material"),
        appearance.get("default-theme-texture"),
    )


def _material(raw: Mapping[str, Any]) -> SurfaceMaterial:
    def colour(key: str, default: tuple[float, float, float]) -> tuple[float, float, float]:
        value = raw.get(key)
        if not isinstance(value, list) or len(value) != 3:
            return default
        r, g, b = (min(max(float(c), 0.0), 1.0) for c in value)
        return (r, g, b)

    def number(key: str, default: float) -> float:
        value = raw.get(key)
        return min(max(float(value), 0.0), 1.0) if isinstance(value, int | float) else default

    return SurfaceMaterial(
        colour("diffuseColor", (0.8, 0.8, 0.8)),
        colour("emissiveColor", (0.0, 0.0, 0.0)),
        number("shininess", 0.2),
        number("transparency", 0.0),
        specular=colour("specularColor", (1.0, 1.0, 1.0)),
    )


def object_appearance(
    geometries: Sequence[Mapping[str, Any]],
    looks: Looks,
    theme: str | None,
    log: AppearanceLog,
    vertex_count: int,
) -> SurfaceAppearance | None:
    """Return the appearance of the surfaces :func:`~twin.cityjson.geometry.to_surfaces`
    makes of ``geometries`` (``vertex_count`` vertices), or None when none has any."""
    chosen: list[int] = []
    used: dict[SurfaceMaterial, int] = {}
    uv: Float32Array | None = None
    vertex = 0
    for geometry in geometries:
        materials = _surface_values(geometry, "material", theme, looks.material_theme, log)
        textures = _surface_values(geometry, "texture", theme, looks.texture_theme, log)
        for (boundary, _), material, texture in zip(
            iter_surfaces(geometry), materials, textures, strict=True
        ):
            rings = kept_rings(boundary)
            if rings is None:
                continue
            count = sum(len(boundary[k]) for k in rings)
            found = _texture(texture, boundary, rings, looks, log)
            look = None
            if found is not None:
                look, coords = found
                if uv is None:
                    uv = np.zeros((vertex_count, 2), dtype=np.float32)
                uv[vertex : vertex + count] = coords
                log.textured_surfaces += 1
                log.image_surfaces[str(look.image)] += 1
            elif isinstance(material, int) and 0 <= material < len(looks.materials):
                look = looks.materials[material]
                log.material_surfaces += 1
            elif isinstance(material, int):
                log.ignored[
                    "material indices past the document's materials (drawn in class colour)"
                ] += 1
            chosen.append(-1 if look is None else used.setdefault(look, len(used)))
            vertex += count
    if not used:
        return None
    return SurfaceAppearance(tuple(used), np.array(chosen, dtype=np.int16), uv)


def _surface_values(
    geometry: Mapping[str, Any],
    key: str,
    wanted: str | None,
    default: str | None,
    log: AppearanceLog,
) -> Iterator[Any]:
    """Yield the theme's value per surface of ``geometry`` (None where it has none)."""
    themes = geometry.get(key)
    if not isinstance(themes, Mapping) or not themes:
        return iter_surface_values(geometry, None)
    fallback = default if default in themes else next(iter(themes))
    name: str = wanted if wanted is not None else str(fallback)  # only the theme asked for
    if log.theme is None and name in themes:
        log.theme = name
    for other in themes:
        if other != name:
            log.themes_ignored[other] += 1
    if name not in themes:
        return iter_surface_values(geometry, None)
    entry = themes[name] if isinstance(themes[name], Mapping) else {}
    if "value" in entry:
        return (entry["value"] for _ in iter_surface_values(geometry, None))
    return iter_surface_values(geometry, entry.get("values"))


def _texture(
    value: Any,
    boundary: Sequence[Sequence[int]],
    rings: list[int],
    looks: Looks,
    log: AppearanceLog,
) -> tuple[SurfaceMaterial, Float32Array] | None:
    """Return a surface's texture and its kept rings' coordinates, or None (logged)."""
    if not isinstance(value, list) or not value or not isinstance(value[0], list):
        return None
    first = value[0][0] if value[0] else None
    if not isinstance(first, int):
        return None  # [null]: no texture
    if not 0 <= first < len(looks.textures):
        log.ignored["texture indices past the document's textures (drawn untextured)"] += 1
        return None
    pieces = []
    for k in rings:
        entry = value[k] if k < len(value) else None
        indices = entry[1:] if isinstance(entry, list) else []
        if len(indices) != len(boundary[k]) or not all(
            isinstance(i, int) and 0 <= i < len(looks.uv) for i in indices
        ):
            log.ignored[
                "textured rings without a texture vertex for each vertex (drawn untextured)"
            ] += 1
            return None
        pieces.append(looks.uv[np.asarray(indices, dtype=np.int64)])
    return looks.textures[first], np.concatenate(pieces)
