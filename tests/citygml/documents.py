"""Small hand-written CityGML 2.0 documents for the reader tests, one concern each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from twin.citygml import iter_city_objects
from twin.model import CityObject, Rejection

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<CityModel xmlns="http://www.opengis.net/citygml/2.0"
    xmlns:bldg="http://www.opengis.net/citygml/building/2.0"
    xmlns:gen="http://www.opengis.net/citygml/generics/2.0"
    xmlns:gml="http://www.opengis.net/gml"
    xmlns:xlink="http://www.w3.org/1999/xlink">
"""
FOOTER = "</CityModel>\n"

SQUARE = "0 0 0 1 0 0 1 1 0 0 1 0 0 0 0"
"""A unit square in the z = 0 plane, closed as GML writes it."""


def polygon(pos_list: str = SQUARE, gml_id: str = "poly-1") -> str:
    """Return a gml:Polygon with one exterior ring."""
    return (
        f'<gml:Polygon gml:id="{gml_id}"><gml:exterior><gml:LinearRing>'
        f"<gml:posList>{pos_list}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
    )


def building(inner: str, gml_id: str = "b-1") -> str:
    """Return a cityObjectMember holding one Building with ``inner`` as its content."""
    member = f'<bldg:Building gml:id="{gml_id}">{inner}</bldg:Building>'
    return f"<cityObjectMember>{member}</cityObjectMember>\n"


def lod2_surface(surface: str) -> str:
    """Wrap one surface member in ``bldg:lod2MultiSurface/gml:MultiSurface``."""
    return (
        "<bldg:lod2MultiSurface><gml:MultiSurface><gml:surfaceMember>"
        f"{surface}</gml:surfaceMember></gml:MultiSurface></bldg:lod2MultiSurface>"
    )


WriteCityGML = Callable[[str, str], Path]


def read_all(path: Path, **options: Any) -> list[CityObject | Rejection]:
    """Return everything the reader yields for ``path``."""
    return list(iter_city_objects(path, **options))


def city_objects(path: Path, types: tuple[str, ...] | None = ("Building",)) -> list[CityObject]:
    """Return the objects of ``types`` (buildings by default) read from ``path``; no rejection."""
    results = read_all(path, types=types)
    rejections = [r for r in results if isinstance(r, Rejection)]
    assert rejections == []
    return [r for r in results if isinstance(r, CityObject)]
