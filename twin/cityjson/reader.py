"""Read CityJSON 1.1/2.0 files and CityJSONSeq streams into city objects.

A ``.json`` document is read whole (CityJSON keeps vertices shared across objects); a
CityJSONSeq (``.jsonl``) is read line by line: the first line is the ``CityJSON`` header
(``transform``, ``metadata``), each further line a ``CityJSONFeature`` with its own vertices.
Children (``parents``) are yielded before their parents, as the CityGML reader does.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from twin.cityjson.appearance import Looks, object_appearance, read_looks
from twin.cityjson.geometry import iter_surfaces, to_surfaces
from twin.errors import InputError
from twin.model import (
    AppearanceLog,
    AttributeValue,
    CityObject,
    LodChoice,
    Rejection,
    SourceLocation,
    SurfaceAppearance,
)
from twin.types import Float64Array

__all__ = ["CityJSONError", "iter_cityjson_objects", "iter_cityjson_stream"]

logger = logging.getLogger(__name__)


class CityJSONError(InputError):
    """A CityJSON document that cannot be read; the message names the file and line."""

    title = "Unreadable CityJSON"


@dataclass(frozen=True, slots=True)
class _Context:
    path: str
    line: int
    vertices: Float64Array
    srs_name: str | None
    lod: LodChoice
    looks: Looks | None = None
    theme: str | None = None
    log: AppearanceLog | None = None


def iter_cityjson_objects(
    path: Path,
    *,
    lod: LodChoice = "highest",
    types: Collection[str] | None = None,
    appearance_theme: str | None = None,
    appearance_log: AppearanceLog | None = None,
) -> Iterator[CityObject | Rejection]:
    """Yield the city objects of a CityJSON file (or a CityJSONSeq, sniffed by its first line).

    Raises
    ------
    CityJSONError
        When the file is not JSON, not CityJSON, or a line of a sequence is broken.
    """
    with Path(path).open("rb") as stream:
        yield from iter_cityjson_stream(
            stream,
            str(path),
            lod=lod,
            types=types,
            appearance_theme=appearance_theme,
            appearance_log=appearance_log,
        )


def iter_cityjson_stream(
    stream: IO[bytes],
    name: str,
    *,
    lod: LodChoice = "highest",
    types: Collection[str] | None = None,
    appearance_theme: str | None = None,
    appearance_log: AppearanceLog | None = None,
) -> Iterator[CityObject | Rejection]:
    """Yield the city objects of CityJSON (or CityJSONSeq) bytes read from ``stream``.

    ``appearance_theme`` picks the material and texture theme drawn (default: the document's
    default theme, else the first); ``appearance_log`` counts what was done with them.
    """
    log = appearance_log if appearance_log is not None else AppearanceLog()
    options = (lod, types, appearance_theme, log)
    first = stream.readline()
    header = _loads(first, name, 1, allow_partial=True)
    if header is None:  # a pretty-printed document: the first line is not all of it
        document = _loads(first + stream.read(), name, 1)
        yield from _iter_document(document, name, 1, _header(document, name), options)
        return
    scale, srs_name = _header(header, name)
    if header.get("CityObjects"):  # a one-line CityJSON document
        yield from _iter_document(header, name, 1, (scale, srs_name), options)
    for number, line in enumerate(stream, start=2):
        if line.strip():
            feature = _loads(line, name, number)
            yield from _iter_document(feature, name, number, (scale, srs_name), options)


Header = tuple[tuple[Float64Array, Float64Array] | None, str | None]


def _header(document: Mapping[str, Any], name: str) -> Header:
    kind = document.get("type")
    if kind not in ("CityJSON", "CityJSONFeature"):
        raise CityJSONError(f"{name}: not CityJSON (type is {kind!r}, not 'CityJSON')")
    transform = document.get("transform")
    scale = None
    if transform is not None:
        scale = (
            np.asarray(transform["scale"], dtype=np.float64),
            np.asarray(transform["translate"], dtype=np.float64),
        )
    reference = (document.get("metadata") or {}).get("referenceSystem")
    return scale, reference if isinstance(reference, str) else None


def _loads(data: bytes, name: str, line: int, allow_partial: bool = False) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        if allow_partial:
            return None
        raise CityJSONError(
            f"{name}:{line + exc.lineno - 1}:{exc.colno}: malformed JSON ({exc.msg})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise CityJSONError(f"{name}:{line}: not UTF-8 text ({exc.reason})") from exc


_Options = tuple[LodChoice, Collection[str] | None, str | None, AppearanceLog]
"""LoD choice, top-level types, appearance theme, appearance log."""


def _iter_document(
    document: Mapping[str, Any],
    name: str,
    line: int,
    header: Header,
    options: _Options,
) -> Iterator[CityObject | Rejection]:
    lod, types, theme, log = options
    scale, srs_name = header
    raw = np.asarray(document.get("vertices") or np.zeros((0, 3)), dtype=np.float64)
    vertices = raw.reshape(-1, 3) * scale[0] + scale[1] if scale else raw.reshape(-1, 3)
    looks = read_looks(document.get("appearance"), name, log)
    context = _Context(name, line, vertices, srs_name, lod, looks, theme, log)
    objects: Mapping[str, Any] = document.get("CityObjects") or {}
    roots = [oid for oid, o in objects.items() if not o.get("parents")]
    for oid in roots:
        if types is None or objects[oid].get("type") in types:
            yield from _iter_tree(oid, None, objects, context, depth=0)


def _iter_tree(
    oid: str, parent: str | None, objects: Mapping[str, Any], context: _Context, depth: int
) -> Iterator[CityObject | Rejection]:
    obj = objects[oid]
    for child in obj.get("children") or []:
        if child in objects and depth < 16:
            yield from _iter_tree(child, oid, objects, context, depth + 1)
    yield _read_object(oid, obj, parent, context)


def _read_object(
    oid: str, obj: Mapping[str, Any], parent: str | None, context: _Context
) -> CityObject | Rejection:
    kind = str(obj.get("type", "CityObject"))
    source = SourceLocation(context.path, context.line)
    geometries = [g for g in obj.get("geometry") or [] if any(True for _ in iter_surfaces(g))]
    chosen = _choose(geometries, context.lod)
    surfaces, dropped = to_surfaces([s for g in chosen for s in iter_surfaces(g)], context.vertices)
    if surfaces.polygon_count == 0 and not obj.get("children"):
        reason = "no surface geometry (points and curves are not drawn), and no child with any"
        return Rejection(oid, kind, source, reason)
    return CityObject(
        id=oid,
        type=kind,
        surfaces=surfaces,
        srs_name=context.srs_name,
        source=source,
        lod=_lod_number(chosen[0]) if chosen and surfaces.polygon_count else None,
        parent_id=parent,
        attributes=_attributes(obj.get("attributes") or {}),
        issues=(f"{dropped} degenerate ring(s) dropped",) if dropped else (),
        appearance=_appearance(chosen, context, len(surfaces.coords)),
    )


def _appearance(
    chosen: list[Mapping[str, Any]], context: _Context, vertex_count: int
) -> SurfaceAppearance | None:
    if context.looks is None or context.log is None or not vertex_count:
        return None
    return object_appearance(chosen, context.looks, context.theme, context.log, vertex_count)


def _lod_number(geometry: Mapping[str, Any]) -> int:
    """Return the integer LoD of a geometry (``"2.2"`` is LoD 2).

    >>> _lod_number({"lod": "2.2"})
    2
    """
    try:
        return int(float(str(geometry.get("lod", 0))))
    except ValueError:
        return 0


def _choose(geometries: list[Mapping[str, Any]], lod: LodChoice) -> list[Mapping[str, Any]]:
    """Keep the geometries of the best LoD (its finest refinement, 2.2 over 2.0), or of ``lod``."""
    if lod == "all" or not geometries:
        return geometries
    if lod == "highest":
        best = max(float(str(g.get("lod", 0))) for g in geometries)
        return [g for g in geometries if float(str(g.get("lod", 0))) == best]
    wanted = [g for g in geometries if _lod_number(g) == lod]
    best_level = max((float(str(g.get("lod", 0))) for g in wanted), default=None)
    return [g for g in wanted if float(str(g.get("lod", 0))) == best_level]


def _attributes(raw: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Keep scalar attributes as they are; nested ones become compact JSON text.

    A ``NaN`` or ``Infinity`` (which Python's json reads, though JSON has no such numbers,
    RFC 8259 §6) keeps its name without a value, as CityGML's unusable generic values do.
    """
    out: dict[str, AttributeValue] = {}
    for key, value in raw.items():
        if isinstance(value, float) and not math.isfinite(value):
            logger.warning("attribute %s value %r is not a finite number; left out", key, value)
            out[key] = None
        elif value is None or isinstance(value, str | int | float | bool):
            out[key] = value
        else:
            out[key] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return out
