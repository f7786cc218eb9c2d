"""Streaming CityGML 1.0/2.0/3.0 reader: Buildings and BuildingParts as city objects."""

from __future__ import annotations

from twin.citygml.reader import iter_city_objects

__all__ = ["iter_city_objects"]
