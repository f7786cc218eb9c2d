"""CityJSON 1.1/2.0 and CityJSONSeq reader: city objects as the CityGML reader yields them."""

from __future__ import annotations

from twin.cityjson.reader import CityJSONError, iter_cityjson_objects, iter_cityjson_stream

__all__ = ["CityJSONError", "iter_cityjson_objects", "iter_cityjson_stream"]
