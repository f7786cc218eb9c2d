"""Tell city objects apart from the properties, surfaces and geometry around them.

A *top-level* object is any feature under ``cityObjectMember`` (or ``gml:featureMember``),
whatever its module — ADE feature types included. Inside it, *child* objects are the features
that CityGML models as objects of their own (parts, installations, storeys, rooms, building
units, bridge elements, relief components, inline group members); everything else — thematic
surfaces, openings, traffic spaces and areas, sections — belongs to the object it lies in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from twin.citygml.namespaces import children, is_citygml_namespace, local_name, namespace

__all__ = [
    "CHILD_OBJECT_TYPES",
    "MEMBER_PROPERTIES",
    "is_child_object",
    "is_gml",
    "iter_child_objects",
]

MEMBER_PROPERTIES = frozenset({"cityObjectMember", "featureMember", "featureMembers"})
"""Properties of the CityModel whose content is a top-level city object."""

CHILD_OBJECT_TYPES = frozenset(
    {
        "BuildingPart",
        "BuildingInstallation",
        "IntBuildingInstallation",
        "BuildingFurniture",
        "Room",
        "Storey",
        "BuildingRoom",
        "BuildingUnit",
        "BuildingConstructiveElement",
        "BridgePart",
        "BridgeInstallation",
        "IntBridgeInstallation",
        "BridgeConstructionElement",
        "BridgeConstructiveElement",
        "BridgeRoom",
        "BridgeFurniture",
        "TunnelPart",
        "TunnelInstallation",
        "IntTunnelInstallation",
        "HollowSpace",
        "TunnelFurniture",
        "TINRelief",
        "MassPointRelief",
        "BreaklineRelief",
        "RasterRelief",
    }
)
"""Nested features read as city objects of their own, with their container as parent."""

_GML_NS = re.compile(r"^http://www\.opengis\.net/gml(/3\.2)?$")


def is_gml(element: etree._Element) -> bool:
    """Return whether ``element`` is in a GML namespace (geometry, envelope, name …)."""
    return _GML_NS.match(namespace(str(element.tag))) is not None


def is_child_object(element: etree._Element) -> bool:
    """Return whether a nested ``element`` is a city object of its own.

    A known child type in a CityGML namespace, or any feature with content placed in a
    CityObjectGroup's ``groupMember``.
    """
    name = local_name(str(element.tag))
    if name in CHILD_OBJECT_TYPES and is_citygml_namespace(namespace(str(element.tag))):
        return True
    parent = element.getparent()
    return parent is not None and local_name(str(parent.tag)) == "groupMember"


def iter_child_objects(obj: etree._Element) -> Iterator[etree._Element]:
    """Yield the child objects directly inside ``obj``, in document order.

    Properties, thematic surfaces and spaces are walked through; GML geometry and the child
    objects themselves are not (their own children are theirs).
    """
    for child in children(obj):
        if is_gml(child):
            continue
        if is_child_object(child):
            yield child
        else:
            yield from iter_child_objects(child)
