"""Read CityGML appearances: X3DMaterial and ParameterizedTexture, per polygon and ring.

An appearance names the polygons it applies to by gml:id (``app:target``) and, for a texture,
gives texture coordinates per ring gml:id (``app:textureCoordinates/@ring``). The encodings:

- CityGML 1.0/2.0: ``app:Appearance/app:surfaceDataMember/app:X3DMaterial/app:target`` (text
  ``#polygon``) and ``…/app:ParameterizedTexture/app:target[@uri]/app:TexCoordList``;
- CityGML 3.0: ``app:Appearance/app:surfaceData/…``, a material's ``app:target`` and a texture's
  ``app:textureParameterization/app:TextureAssociation`` with ``app:target`` beside
  ``app:textureParameterization/app:TexCoordList``.

Appearances sit inside an object (``app:appearance``, local to it) or at the top of the
document (``appearanceMember``), often after every object. As objects are streamed on before
the document ends, the top-level ones are read first, by a tag-filtered pass over the document
that frees each object as it passes (also inside one ``gml:featureMembers``) — only when a
cheap byte scan finds an ``appearanceMember`` at all; a document without appearances costs one
read of its bytes and nothing else.

One theme is drawn (the one asked for, else the first met); a surface has at most one
front-side appearance per theme (CityGML 2.0 §9.3), a texture winning over a material.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
from lxml import etree

from twin.citygml.gml import PolygonSet, RingSource
from twin.citygml.namespaces import SAFE_PARSING, XLINK_HREF, find_child, local_name
from twin.citygml.objects import MEMBER_PROPERTIES
from twin.model import AppearanceLog, SurfaceAppearance, SurfaceMaterial, image_path, wrap_mode

__all__ = ["Appearances", "is_appearance", "open_appearances"]

_SCAN_CHUNK = 1 << 22
_PASS_CHUNK = 1 << 16  # bytes fed to the pre-pass's parser at a time
_SURFACE_DATA = frozenset({"surfaceDataMember", "surfaceData"})
_MEMBER_TAGS = [f"{{*}}{name}" for name in (*MEMBER_PROPERTIES, "appearanceMember")]
_MEMBER_NAMES = (b"appearanceMember", b"featureMember")  # the latter also in featureMembers
_UNKNOWN_EXAMPLES = 5
_T = TypeVar("_T")


def open_appearances(
    path: Path, stream: IO[bytes], theme: str | None, log: AppearanceLog
) -> Appearances | None:
    """Return the document's appearances reader, with its top-level appearances read.

    None when the document holds no appearance (then nothing else is done). ``stream`` is
    left at its start.
    """
    local, members = _scan(stream)
    if not local:
        return None
    appearances = Appearances(path.parent, theme, log)
    if members:
        appearances.read_members(stream)
        stream.seek(0)
    return appearances


def _scan(stream: IO[bytes]) -> tuple[bool, bool]:
    """Return whether the bytes hold an Appearance element and a member that may hold one.

    ``</…Appearance>`` closes every appearance of every version; the namespace declarations
    (``…/citygml/appearance/2.0``) hold neither pattern. A member (``appearanceMember``, or
    ``gml:featureMember(s)``, as an Appearance is a GML feature) is closed after the
    Appearance it holds, so its name is looked for only from there on: a document without
    appearances is searched once. A stream that cannot seek is taken to hold none.
    """
    if not stream.seekable():
        return False, False
    found_any = found_member = False
    tail = b""
    while chunk := stream.read(_SCAN_CHUNK):
        seam = tail + chunk[:32]
        if not found_any:
            found_any = b"Appearance>" in chunk or b"Appearance>" in seam
        if found_any:
            found_member = any(name in chunk or name in seam for name in _MEMBER_NAMES)
            if found_member:
                break
        tail = chunk[-32:]
    stream.seek(0)
    return found_any, found_member


@dataclass(slots=True)
class _Texture:
    """A ParameterizedTexture's hold on one polygon: its material and its rings' coordinates."""

    material: int  # index into the palette
    rings: dict[str, str]  # ring gml:id → texture coordinates as written
    generated: bool = False  # TexCoordGen instead of a list


@dataclass(slots=True)
class _Scope:
    """Targets of one scope (the document, or the top-level objects of one batch)."""

    materials: dict[str, int] = field(default_factory=dict)  # polygon id → palette index
    textures: dict[str, _Texture] = field(default_factory=dict)  # polygon id → texture
    used: set[str] = field(default_factory=set)

    def unknown(self) -> list[str]:
        """Return the targets no polygon read had (lower LoDs not drawn, or missing ids)."""
        return [t for t in (*self.materials, *self.textures) if t not in self.used]


class Appearances:
    """The appearances of one document, queried per object once its rings are packed."""

    def __init__(self, base_dir: Path, theme: str | None, log: AppearanceLog) -> None:
        self._base_dir = base_dir
        self._wanted = theme
        self._log = log
        self._palette: dict[SurfaceMaterial, int] = {}
        self._materials: list[SurfaceMaterial] = []
        self._document = _Scope()
        self._batch = _Scope()

    def read_members(self, stream: IO[bytes]) -> None:
        """Read every top-level appearance of the document, freeing objects as they are met.

        A member of the CityModel (``appearanceMember``, ``cityObjectMember``,
        ``gml:featureMember``) is read and freed when it ends. GML's plural
        ``gml:featureMembers`` may hold every object of the document in one element: its
        children are read and freed one by one between chunks of input, each once the next
        has begun (as the main pass does), so the pass holds a chunk and a child at a time.
        """
        parser = etree.XMLPullParser(events=("start", "end"), tag=_MEMBER_TAGS, **SAFE_PARSING)
        container: etree._Element | None = None
        try:
            while chunk := stream.read(_PASS_CHUNK):
                parser.feed(chunk)
                events: Iterator[tuple[str, Any]] = parser.read_events()
                for event, payload in events:
                    element: etree._Element = payload
                    parent = element.getparent()
                    if parent is None or parent.getparent() is not None:
                        continue  # not a member of the CityModel
                    if event == "start":
                        if local_name(element.tag) == "featureMembers":
                            container = element
                        continue
                    if element is container:
                        self._read_container(container, complete=True)
                        container = None
                    for appearance in element:
                        if is_appearance(appearance):
                            self._read_appearance(appearance, self._document)
                    element.clear()
                    while element.getprevious() is not None:
                        del parent[0]
                if container is not None:
                    self._read_container(container, complete=False)
            parser.close()
        except etree.XMLSyntaxError:
            return  # the main pass reports the error where it is

    def _read_container(self, container: etree._Element, *, complete: bool) -> None:
        """Read and free the children of a ``gml:featureMembers``; all but the last unless
        ``complete`` (the last may not have ended yet)."""
        while len(container) > (0 if complete else 1):
            child = container[0]
            if is_appearance(child):
                self._read_appearance(child, self._document)
            del container[0]

    def read_local(self, obj: etree._Element) -> None:
        """Read the appearances inside a top-level object (and its child objects)."""
        for prop in obj.iter("{*}appearance"):
            for appearance in prop:
                if isinstance(appearance.tag, str):
                    self._read_appearance(appearance, self._batch)

    def _read_appearance(self, appearance: etree._Element, scope: _Scope) -> None:
        theme_element = find_child(appearance, "theme")
        theme = (theme_element.text or "").strip() if theme_element is not None else ""
        data = [
            sd
            for prop in appearance
            if isinstance(prop.tag, str) and local_name(prop.tag) in _SURFACE_DATA
            for sd in prop
            if isinstance(sd.tag, str)
        ]
        if self._log.theme is None and self._wanted in (None, theme):
            self._log.theme = theme
        if theme != self._log.theme:
            self._log.themes_ignored[theme or "(no theme)"] += len(data)
            return
        for surface_data in data:
            self._read_surface_data(surface_data, scope)

    def _read_surface_data(self, element: etree._Element, scope: _Scope) -> None:
        name = local_name(element.tag)
        if _text(element, "isFront") == "false":
            self._log.ignored[f"{name} on the back side of surfaces (not drawn)"] += 1
            return
        if name == "X3DMaterial":
            index = self._material_index(_x3d_material(element))
            for target in _children(element, "target"):
                scope.materials[_target_id(target)] = index
        elif name == "ParameterizedTexture":
            self._read_texture(element, scope)
        elif name == "GeoreferencedTexture":
            self._log.ignored["GeoreferencedTexture (not supported; surfaces keep colour)"] += 1
        else:
            self._log.ignored[f"{name} (unknown surface data)"] += 1

    def _read_texture(self, element: etree._Element, scope: _Scope) -> None:
        uri = _text(element, "imageURI") or ""
        image = image_path(str(self._base_dir), uri)
        wrap = wrap_mode(_text(element, "wrapMode"), self._log)
        material = SurfaceMaterial((1.0, 1.0, 1.0), shininess=0.0, image=image, wrap=wrap)
        index = self._material_index(material)
        for target in element.iter("{*}target"):
            holder = target if len(target) else target.getparent()
            if holder is None:
                continue
            rings = {
                (coords.get("ring") or "").lstrip("#"): coords.text or ""
                for coords in holder.iter("{*}textureCoordinates")
            }
            generated = next(holder.iter("{*}TexCoordGen"), None) is not None
            scope.textures[_target_id(target)] = _Texture(index, rings, generated)

    def _material_index(self, material: SurfaceMaterial) -> int:
        index = self._palette.get(material)
        if index is None:
            index = self._palette[material] = len(self._materials)
            self._materials.append(material)
        return index

    def resolve(
        self, rings: RingSource, polygons: PolygonSet, polygon_count: int, vertex_count: int
    ) -> SurfaceAppearance | None:
        """Return the appearance of polygons read from ``rings`` and packed as ``polygons``.

        ``polygon_count`` and ``vertex_count`` are those of the object's surfaces, which may
        end with placed implicit geometry (which has no appearance). None when no polygon has
        one.
        """
        kept = np.flatnonzero(polygons.kept)
        first_ring = np.searchsorted(
            np.asarray(rings.ring_polygon), np.arange(len(rings.reverse) + 1)
        ).tolist()
        chosen = np.full(polygon_count, -1, dtype=np.int16)
        uv: np.ndarray | None = None
        used: dict[int, int] = {}
        for out, source in enumerate(kept.tolist()):
            ring_elements = rings.rings[first_ring[source] : first_ring[source + 1]]
            surface_ids = _surface_ids(ring_elements)
            if not surface_ids:
                continue
            texture = self._lookup_texture(surface_ids)
            index = -1
            if texture is not None:
                coords = self._texture_coordinates(
                    texture, rings, polygons, out, (source, first_ring[source]), ring_elements
                )
                if coords is not None:
                    if uv is None:
                        uv = np.zeros((vertex_count, 2), dtype=np.float32)
                    v0 = polygons.ring_offsets[polygons.polygon_offsets[out]]
                    uv[v0 : v0 + len(coords)] = coords
                    index = texture.material
                    self._log.textured_surfaces += 1
                    self._log.image_surfaces[str(self._materials[index].image)] += 1
            if index < 0 and (material := self._lookup_material(surface_ids)) is not None:
                index = material
                self._log.material_surfaces += 1
            if index >= 0:
                chosen[out] = used.setdefault(index, len(used))
        if not used:
            return None
        materials = tuple(self._materials[i] for i in used)
        return SurfaceAppearance(materials, chosen, uv)

    def _lookup_texture(self, surface_ids: list[str]) -> _Texture | None:
        return self._lookup(surface_ids, lambda scope: scope.textures)

    def _lookup_material(self, surface_ids: list[str]) -> int | None:
        return self._lookup(surface_ids, lambda scope: scope.materials)

    def _lookup(
        self, surface_ids: list[str], table: Callable[[_Scope], dict[str, _T]]
    ) -> _T | None:
        """Return the first entry any of ``surface_ids`` has, local scope first; mark it used.

        A document-wide entry moves into the batch's scope once used (where a polygon drawn
        again in the same batch still finds it): the top-level appearances read before the
        objects shrink as the objects stream past, and what remains at the end is unknown.
        """
        for surface_id in surface_ids:
            batch = table(self._batch)
            if (found := batch.get(surface_id)) is None:
                found = table(self._document).pop(surface_id, None)
                if found is not None:
                    batch[surface_id] = found
            if found is not None:
                self._batch.used.add(surface_id)
                return found
        return None

    def _texture_coordinates(
        self,
        texture: _Texture,
        rings: RingSource,
        polygons: PolygonSet,
        out: int,
        source_and_first_ring: tuple[int, int],
        ring_elements: list[etree._Element | None],
    ) -> np.ndarray | None:
        """Return the (n, 2) texture coordinates of packed polygon ``out``, or None (logged).

        Each ring's list holds one pair per vertex as written, the closing vertex repeated or
        not; the packed ring is open, and reversed when the polygon is. ``source`` is the
        polygon's index in ``rings``, ``first`` the index of its first ring there.
        """
        source, first = source_and_first_ring
        if texture.generated:
            self._log.ignored["TexCoordGen (texture coordinates by matrix; not supported)"] += 1
            return None
        r0, r1 = polygons.polygon_offsets[out], polygons.polygon_offsets[out + 1]
        if r1 - r0 != len(ring_elements):  # a hole was dropped: rings no longer line up
            self._log.ignored["textured polygons with a dropped ring (drawn untextured)"] += 1
            return None
        pieces = []
        for k, ring in enumerate(ring_elements):
            ring_id = None if ring is None else _gml_id(ring)
            text = texture.rings.get(ring_id or "")
            n_out = int(polygons.ring_offsets[r0 + k + 1] - polygons.ring_offsets[r0 + k])
            n_source = rings.counts[first + k]
            try:
                values = np.array((text or "").split(), dtype=np.float64)
            except ValueError:
                values = np.empty(0)
            if text is None or len(values) % 2 or not n_out <= len(values) // 2 <= n_source:
                self._log.ignored[
                    "textured rings without texture coordinates for each vertex (drawn untextured)"
                ] += 1
                return None
            ring_uv = values.reshape(-1, 2)[:n_out]
            pieces.append(ring_uv[::-1] if rings.reverse[source] else ring_uv)
        return np.concatenate(pieces)

    def end_batch(self) -> None:
        """Forget the local appearances of the objects just handed on; count unknown targets."""
        self._count_unknown(self._batch)
        self._batch = _Scope()

    def finish(self) -> None:
        """Count the document's top-level targets that named no polygon read."""
        self._count_unknown(self._document)

    def _count_unknown(self, scope: _Scope) -> None:
        unknown = scope.unknown()
        self._log.unknown_targets += len(unknown)
        room = _UNKNOWN_EXAMPLES - len(self._log.unknown_examples)
        self._log.unknown_examples.extend(unknown[: max(room, 0)])


def is_appearance(element: etree._Element) -> bool:
    """Return whether ``element`` is an ``app:Appearance`` (of any CityGML version)."""
    tag = element.tag
    return isinstance(tag, str) and tag.endswith("}Appearance") and "/appearance/" in tag


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str) and local_name(c.tag) == name]


def _text(element: etree._Element, name: str) -> str | None:
    child = find_child(element, name)
    return None if child is None or child.text is None else child.text.strip()


def _target_id(target: etree._Element) -> str:
    """Return the gml:id a target names: ``@uri`` (2.0 texture), ``xlink:href`` or its text."""
    value = target.get("uri") or target.get(XLINK_HREF) or target.text or ""
    return value.strip().lstrip("#")


def _colour(element: etree._Element, name: str, default: tuple[float, float, float]) -> Any:
    text = _text(element, name)
    try:
        values = [min(max(float(v), 0.0), 1.0) for v in (text or "").split()]
    except ValueError:
        return default
    return tuple(values) if len(values) == 3 else default


def _number(element: etree._Element, name: str, default: float) -> float:
    try:
        return min(max(float(_text(element, name) or default), 0.0), 1.0)
    except ValueError:
        return default


def _x3d_material(element: etree._Element) -> SurfaceMaterial:
    """Read an X3DMaterial; missing values take X3D's defaults (CityGML 2.0 §9.4)."""
    return SurfaceMaterial(
        diffuse=_colour(element, "diffuseColor", (0.8, 0.8, 0.8)),
        emissive=_colour(element, "emissiveColor", (0.0, 0.0, 0.0)),
        shininess=_number(element, "shininess", 0.2),
        transparency=_number(element, "transparency", 0.0),
        specular=_colour(element, "specularColor", (1.0, 1.0, 1.0)),
    )


def _gml_id(element: etree._Element) -> str | None:
    """Return the gml:id of a GML element (its own namespace is the GML one)."""
    tag = str(element.tag)
    return element.get(tag[: tag.index("}") + 1] + "id") if tag.startswith("{") else None


def _surface_ids(rings: list[etree._Element | None]) -> list[str]:
    """Return the gml:ids a polygon whose rings these are may be targeted by, nearest first.

    An appearance may target the polygon or any surface that holds it — a CompositeSurface,
    a MultiSurface, a Solid (CityGML 2.0 §9.3: the target is a surface geometry "and its
    parts") — so the ids of its GML ancestors follow the polygon's own, up to the
    geometry property of the city object.
    """
    ring = next((r for r in rings if r is not None), None)
    boundary = None if ring is None else ring.getparent()
    node = None if boundary is None else boundary.getparent()
    gml = str(ring.tag)[: str(ring.tag).find("}") + 1] if ring is not None else ""
    found = []
    while node is not None and str(node.tag).startswith(gml):
        if (node_id := _gml_id(node)) is not None:
            found.append(node_id)
        node = node.getparent()
    return found
