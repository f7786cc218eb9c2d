"""Tell city objects apart from the properties, surfaces and geometry around them.

A *top-level* object is any feature under ``cityObjectMember`` (or ``gml:featureMember``),
whatever its module — ADE feature types included. Inside it, *child* objects are the features
that CityGML models as objects of their own (parts, installations, storeys, rooms, building
units, bridge elements, relief components, inline group members); everything else — thematic
surfaces, openings, traffic spaces and areas, sections — belongs to the object it lies in.
"""

from __future__ import annotations

from lxml import etree

from twin.citygml.namespaces import TagTable, is_gml_namespace, namespace

__all__ = ["CHILD_OBJECT_TYPES", "MEMBER_PROPERTIES", "is_gml", "is_gml_tag"]

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


_GML_TAGS = TagTable(lambda tag: isinstance(tag, str) and is_gml_namespace(namespace(tag)))


def is_gml_tag(tag: str) -> bool:
    """Return whether a Clark-notation ``tag`` is in a GML namespace (geometry, envelope …)."""
    return _GML_TAGS[tag]


def is_gml(element: etree._Element) -> bool:
    """Return whether ``element`` is in a GML namespace (geometry, envelope, name …)."""
    return is_gml_tag(str(element.tag))
