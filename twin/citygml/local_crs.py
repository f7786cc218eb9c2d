"""Read the local engineering CRSs a CityGML document defines, to place them by their anchor.

A geometry whose srsName is ``#<id>`` refers to a ``gml:EngineeringCRS`` with that gml:id in
the same document (CityGML 2.0 puts it in the CityModel's ``gml:metaDataProperty``, 3.0 in
``core:engineeringCRS``). Its ``gml:EngineeringDatum`` carries the anchor point — GML 3.1.1
``gml:anchorPoint``, GML 3.2 ``gml:anchorDefinition`` — which ISO 19111 defines as the
position of the datum's origin relative to the Earth; CityGML writes it as the world
coordinates of the local origin, the world CRS in its ``codeSpace``. That is a translation
only: no rotation or scale is defined, so none is applied, and local X, Y, Z (or east,
north, up) are added to the anchor's coordinates in the order written. So the anchor must be
written easting first; the importer refuses one it finds written northing first (the city
would be mirrored across its diagonal).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from lxml import etree

from twin.citygml.namespaces import gml_namespace, local_name, source_line
from twin.model import CityObject
from twin.types import Float64Array

__all__ = ["LocalCRS", "LocalCRSs", "read_engineering_crs"]

logger = logging.getLogger(__name__)

_METRE_UOMS = frozenset(
    {
        "m",
        "#m",
        "metre",
        "meter",
        "urn:ogc:def:uom:epsg::9001",
        "urn:x-ogc:def:uom:epsg::9001",
        "epsg:9001",
        "http://www.opengis.net/def/uom/epsg/0/9001",
    }
)
_AXIS_DIRECTIONS = (("x", "east"), ("y", "north"), ("z", "up"))
"""Directions accepted for the first, second and third local axis."""


@dataclass(frozen=True, slots=True)
class LocalCRS:
    """A local engineering CRS of the document: where it is anchored, or why it cannot be.

    Attributes
    ----------
    id : str
        Its gml:id (referenced as ``#<id>``).
    world_srs_name : str or None
        The anchor's world CRS as written (its codeSpace); None when not placeable.
    origin : (3,) float64
        The local origin in the world CRS, in that CRS's axis order (zeros when not placeable).
    refusal : str or None
        Why it cannot be placed, worded for a message.
    """

    id: str
    world_srs_name: str | None
    origin: Float64Array
    refusal: str | None = None

    def describe(self) -> str:
        """Word how coordinates in this CRS are placed, for the import report."""
        anchor = " ".join(str(float(v)) for v in self.origin)
        return (
            f"local engineering CRS '#{self.id}' placed by its anchor point ({anchor}) in "
            f"{self.world_srs_name}: coordinates shifted by the anchor; the datum defines no "
            "rotation, so none is applied"
        )

    def to_world(self, local: Float64Array) -> Float64Array:
        """Return local coordinates (N, 3) shifted by the anchor into the world CRS (N, 3)."""
        placed: Float64Array = local + self.origin
        return placed


@dataclass(slots=True)
class LocalCRSs:
    """The local engineering CRSs of one document, by gml:id, as their definitions are met."""

    by_id: dict[str, LocalCRS] = field(default_factory=dict)

    def define(self, path: Path, crs: etree._Element) -> None:
        """Remember a ``gml:EngineeringCRS`` for the srsNames ``#<id>`` that follow it."""
        local = read_engineering_crs(crs, f"{{{gml_namespace(crs.nsmap)}}}id")
        self.by_id[local.id] = local
        if local.refusal is not None:
            _warn_unplaced(f"{path}:{source_line(crs)}", local)

    def place(self, path: Path, obj: CityObject) -> CityObject:
        """Return ``obj`` shifted into its anchor's world CRS when its srsName is a local CRS.

        Any other srsName, or a local CRS that cannot be placed (logged once with the
        reason), leaves ``obj`` as it is: the import then refuses it unless ``--crs`` is given.
        """
        if obj.srs_name is None or not obj.srs_name.startswith("#"):
            return obj
        crs_id = obj.srs_name[1:]
        local = self.by_id.get(crs_id)
        if local is None:
            reason = "no gml:EngineeringCRS with that gml:id precedes it in the file"
            local = self.by_id[crs_id] = LocalCRS(crs_id, None, np.zeros(3), reason)
            _warn_unplaced(str(path), local)
        if local.world_srs_name is None:
            return obj
        coords = local.to_world(obj.surfaces.coords)
        return dataclasses.replace(
            obj,
            surfaces=dataclasses.replace(obj.surfaces, coords=coords),
            srs_name=local.world_srs_name,
            srs_placement=local.describe(),
        )


def _warn_unplaced(where: str, local: LocalCRS) -> None:
    logger.warning(
        "%s: local engineering CRS '#%s' cannot be placed on the globe: %s",
        where,
        local.id,
        local.refusal,
    )


def read_engineering_crs(crs: etree._Element, gml_id: str) -> LocalCRS:
    """Return the local CRS that a ``gml:EngineeringCRS`` element defines.

    ``gml_id`` is the Clark name of the document's gml:id attribute.
    """
    crs_id = crs.get(gml_id, "")
    try:
        _check_axes(crs, gml_id)
        world, origin = _anchor(crs)
    except ValueError as exc:
        return LocalCRS(crs_id, None, np.zeros(3), str(exc))
    return LocalCRS(crs_id, world, origin)


def _descendants(element: etree._Element, name: str) -> list[etree._Element]:
    return [e for e in element.iter() if isinstance(e.tag, str) and local_name(e.tag) == name]


def _check_axes(crs: etree._Element, gml_id: str) -> None:
    """Raise ValueError saying why the coordinate system is not Cartesian X, Y(, Z) metres."""
    if not _descendants(crs, "CartesianCS"):
        raise ValueError("its coordinate system is not a gml:CartesianCS")
    axes = _descendants(crs, "CoordinateSystemAxis")
    if len(axes) not in (2, 3):
        raise ValueError(f"its coordinate system has {len(axes)} axes, not 2 or 3")
    for axis, accepted in zip(axes, _AXIS_DIRECTIONS, strict=False):
        uom = next((v for k, v in axis.attrib.items() if local_name(str(k)) == "uom"), "")
        if uom.strip().lower() not in _METRE_UOMS:
            name = axis.get(gml_id, "?")
            raise ValueError(f"its axis {name} is in {uom or 'no unit'!r}, not metres")
        direction = " ".join(e.text or "" for e in _descendants(axis, "axisDirection")).strip()
        if direction.lower() not in accepted:
            wanted = " or ".join(repr(a.upper() if len(a) == 1 else a) for a in accepted)
            raise ValueError(f"its axis direction {direction!r} is not {wanted}")


def _anchor(crs: etree._Element) -> tuple[str, Float64Array]:
    """Return the anchor's world srsName and origin; raise ValueError saying what is wrong."""
    found = _descendants(crs, "anchorPoint") + _descendants(crs, "anchorDefinition")
    if not found:
        raise ValueError("its datum has no anchor point (gml:anchorPoint / anchorDefinition)")
    anchor = found[0]
    world = (anchor.get("codeSpace") or "").strip()
    if not world:
        raise ValueError("its anchor point names no world CRS (no codeSpace)")
    try:
        values = [float(v) for v in (anchor.text or "").split()]
    except ValueError:
        values = []
    if len(values) not in (2, 3):
        raise ValueError(f"its anchor point {anchor.text!r} is not 2 or 3 coordinates")
    origin = np.zeros(3)
    origin[: len(values)] = values
    return world, origin
