"""The JSON texts of a catalog record, each value serialized once for the catalog and its entity.

A publish stores each record's attributes and footprint as JSON in ``objects`` and, for a
``Building``, the same values again inside its NGSI-LD entity (:mod:`twin.store.buildings`).
:func:`record_json` writes each attribute value's text once and the footprint's once; the
catalog row and the entity are assembled from them. The texts are exactly what
``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` writes for the same values
(dates as their ISO text), so the stored rows do not depend on which of the two wrote them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from json.encoder import encode_basestring  # (C, when built)
from typing import Final

from twin.model import AttributeValue, BuildingRecord

__all__ = ["RecordJson", "dumps", "record_json", "value_json"]


@dataclass(frozen=True, slots=True)
class RecordJson:
    """The JSON texts of one record: its ``objects.footprint`` (None without a footprint),
    ``objects.attributes``, and each attribute value's text in the order of the record's
    ``attributes`` (dates as quoted ISO text)."""

    footprint: str | None
    attributes: str
    values: tuple[str, ...]


def _default(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the catalog")


_ENCODER: Final = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":"))
"""One encoder: ``json.dumps`` with options builds a new one at every call."""


def dumps(value: object) -> str:
    """Return the catalog's JSON text of ``value`` (compact, UTF-8, dates as ISO text).

    >>> dumps({"built": dt.date(1972, 1, 1), "name": "Maße"})
    '{"built":"1972-01-01","name":"Maße"}'
    """
    return _ENCODER.encode(value)


def value_json(value: AttributeValue) -> str:
    """Return the JSON text of one attribute value, as :func:`dumps` writes it.

    >>> [value_json(v) for v in (True, 3, 2.5, float("nan"), "a\\"b", None)]
    ['true', '3', '2.5', 'NaN', '"a\\\\"b"', 'null']
    >>> value_json(dt.date(2024, 1, 10))
    '"2024-01-10"'
    """
    if type(value) is str:
        return encode_basestring(value)
    if type(value) is float:
        if math.isfinite(value):
            return float.__repr__(value)
        return "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    if type(value) is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dt.date):
        return encode_basestring(value.isoformat())
    return dumps(value)  # a subclass of the types above


def record_json(record: BuildingRecord) -> RecordJson:
    """Return the JSON texts of ``record``'s footprint and attributes.

    >>> r = BuildingRecord("d", "B1", "Building", (0, 0, 0, 1, 1, 1), None, {"h": 2.5, "n": None})
    >>> record_json(r)
    RecordJson(footprint=None, attributes='{"h":2.5,"n":null}', values=('2.5', 'null'))
    """
    values = tuple(value_json(v) for v in record.attributes.values())
    pairs = ",".join(
        f"{encode_basestring(name)}:{text}"
        for name, text in zip(record.attributes, values, strict=True)
    )
    return RecordJson(
        footprint=None if record.footprint is None else dumps(record.footprint),
        attributes=f"{{{pairs}}}",
        values=values,
    )
