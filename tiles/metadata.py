"""Encode a table of per-feature attributes as an ``EXT_structural_metadata`` property table.

Specification: glTF ``EXT_structural_metadata`` and the 3D Metadata Specification it implements
(CesiumGS/3d-tiles ``specification/Metadata``). Column types are inferred from the values:

========================  ===============================  ======================================
non-None values           class property                   missing value (``None``) stored as
========================  ===============================  ======================================
all ``bool``              ``BOOLEAN`` (bitstream)          — (no ``None`` in the column)
``bool`` with ``None``    ``ENUM`` ``optional_boolean``    enum value ``missing`` (255), ``noData``
all ``int``, fits int32   ``SCALAR`` ``INT32``             ``noData`` −2³¹
all ``int``, fits int64   ``SCALAR`` ``INT64``             ``noData`` −2⁶³
``int`` and ``float``     ``SCALAR`` ``FLOAT64``           ``noData`` −1.7976931348623157e308
anything else             ``STRING`` (UTF-8 + offsets)     ``noData`` ``""``
========================  ===============================  ======================================

Why these sentinels: ``BOOLEAN`` properties "may not specify ``noData`` values"
(class.property.schema.json ``noData``), hence the three-valued enum. ``NaN`` and ±Infinity "are
never allowed" in property tables (EXT_structural_metadata §Property Tables), hence the most
negative finite double for floats; float ``NaN`` inputs are read as missing and ±Infinity raises.
-2⁶³ is exactly representable as a JSON/IEEE double, so the INT64 ``noData`` survives JavaScript
parsing. When a sentinel collides with a real value the column is widened (INT32 → INT64 → STRING).
In ``STRING`` columns ``""`` and ``None`` both mean missing. Columns with no value at all are
dropped. Other objects are written with ``isoformat()`` when they have one (dates), else ``str()``.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tiles.typing import (
    ClassProperty,
    ComponentType,
    MetadataClass,
    MetadataEnum,
    PropertyTableJSON,
    PropertyTableProperty,
    Schema,
    StructuralMetadata,
)

__all__ = [
    "OPTIONAL_BOOLEAN_ENUM",
    "EncodedMetadata",
    "PropertyTable",
    "encode_property_table",
    "sanitize_identifier",
]

Value = str | int | float | bool | None

INT32_NO_DATA = -(2**31)
INT64_NO_DATA = -(2**63)
FLOAT64_NO_DATA = -float(np.finfo(np.float64).max)
_INT_TYPES: tuple[tuple[ComponentType, int, str], ...] = (
    ("INT32", INT32_NO_DATA, "<i4"),
    ("INT64", INT64_NO_DATA, "<i8"),
)
ENUM_FALSE, ENUM_TRUE, ENUM_MISSING = 0, 1, 255

OPTIONAL_BOOLEAN_ENUM = "optional_boolean"
_OPTIONAL_BOOLEAN: MetadataEnum = {
    "valueType": "UINT8",
    "values": [
        {"name": "false", "value": ENUM_FALSE},
        {"name": "true", "value": ENUM_TRUE},
        {"name": "missing", "value": ENUM_MISSING},
    ],
}

# Class, property and enum IDs: "alphanumeric identifiers matching the regular expression
# ^[a-zA-Z_][a-zA-Z0-9_]*$" (EXT_structural_metadata §Schema Definitions).
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True, slots=True)
class PropertyTable:
    """Per-feature attributes of one tile: row ``i`` belongs to feature id ``i``.

    Attributes
    ----------
    class_name : str
        Metadata class, e.g. ``"building"`` (sanitized into an identifier; kept as ``name``).
    count : int
        Number of features (rows), >= 1.
    columns : Mapping[str, Sequence[str | int | float | bool | None]]
        Original attribute name → one value per feature; ``None`` is missing. A column ``id``
        is always written first.
    """

    class_name: str
    count: int
    columns: Mapping[str, Sequence[Value]]


@dataclass(frozen=True, slots=True)
class EncodedMetadata:
    """The root ``EXT_structural_metadata`` object and the buffer view payloads it refers to.

    ``buffer_views[k]`` is the content of glTF bufferView ``first_buffer_view + k``; the caller
    places each at an 8-byte aligned offset (the spec requires alignment to the component size and
    suggests 8 bytes for all; EXT_structural_metadata §Property Tables).
    """

    extension: StructuralMetadata
    buffer_views: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class _Column:
    definition: ClassProperty
    payloads: tuple[bytes, ...]  # values, then stringOffsets for STRING


def sanitize_identifier(name: str) -> str:
    """Return ``name`` as a metadata identifier matching ``^[a-zA-Z_][a-zA-Z0-9_]*$``.

    Examples
    --------
    >>> sanitize_identifier("gen:Höhe")
    'gen_H_he'
    >>> sanitize_identifier("3dHeight")
    '_3dHeight'
    >>> sanitize_identifier("")
    '_'
    """
    cleaned = _NOT_IDENTIFIER.sub("_", name)
    if not cleaned or cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned


def _unique_ids(names: Sequence[str]) -> list[str]:
    used: set[str] = set()
    ids: list[str] = []
    for name in names:
        base = sanitize_identifier(name)
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        ids.append(candidate)
    return ids


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return str(isoformat())
    return str(value)


def normalize_values(name: str, values: Sequence[Value]) -> list[Value]:
    """Map float NaN to ``None``; reject ±Infinity, which property tables never allow."""
    out: list[Value] = []
    for value in values:
        if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
            if math.isnan(value):
                out.append(None)
                continue
            if math.isinf(value):
                raise ValueError(f"column {name!r}: infinite values are not allowed in metadata")
        out.append(value)
    return out


def _fill(values: Sequence[Value], no_data: float, dtype: npt.DTypeLike) -> npt.NDArray[np.generic]:
    present = [v for v in values if v is not None]
    out = np.full(len(values), no_data, dtype=dtype)
    out[np.array([v is not None for v in values], dtype=bool)] = np.array(present, dtype=dtype)
    return out


def _bool_column(values: Sequence[Value]) -> _Column:
    if all(v is not None for v in values):
        bits = np.packbits(np.array(values, dtype=bool), bitorder="little")  # LSB first
        return _Column({"type": "BOOLEAN"}, (bits.tobytes(),))
    codes = np.array(
        [ENUM_MISSING if v is None else (ENUM_TRUE if v else ENUM_FALSE) for v in values],
        dtype=np.uint8,
    )
    definition: ClassProperty = {
        "type": "ENUM",
        "enumType": OPTIONAL_BOOLEAN_ENUM,
        "noData": "missing",
    }
    return _Column(definition, (codes.tobytes(),))


def _int_column(values: Sequence[Value]) -> _Column | None:
    """Return an INT32/INT64 column, or None when no int type holds values and sentinel."""
    missing = any(v is None for v in values)
    try:
        present = np.array([v for v in values if v is not None], dtype=np.int64)
    except OverflowError:
        return None
    lo, hi = int(present.min()), int(present.max())
    for component, no_data, dtype in _INT_TYPES:
        if hi <= np.iinfo(dtype).max and (lo > no_data if missing else lo >= no_data):
            definition: ClassProperty = {"type": "SCALAR", "componentType": component}
            if missing:
                definition["noData"] = no_data
            return _Column(definition, (_fill(values, no_data, dtype).tobytes(),))
    return None


def _float_column(values: Sequence[Value]) -> _Column | None:
    missing = any(v is None for v in values)
    if missing and any(float(v) == FLOAT64_NO_DATA for v in values if v is not None):
        return None
    definition: ClassProperty = {"type": "SCALAR", "componentType": "FLOAT64"}
    if missing:
        definition["noData"] = FLOAT64_NO_DATA
    return _Column(definition, (_fill(values, FLOAT64_NO_DATA, "<f8").tobytes(),))


def _string_column(values: Sequence[Value]) -> _Column | None:
    texts = ["" if v is None else _as_text(v) for v in values]
    if not any(texts):
        return None
    encoded = [t.encode("utf-8") for t in texts]
    lengths = np.array([len(b) for b in encoded], dtype=np.uint64)
    offsets = np.concatenate([np.zeros(1, np.uint64), np.cumsum(lengths)])
    definition: ClassProperty = {"type": "STRING"}
    if not all(texts):
        definition["noData"] = ""
    if offsets[-1] > np.iinfo(np.uint32).max:
        raise ValueError("a string column larger than 4 GiB does not fit UINT32 offsets")
    return _Column(definition, (b"".join(encoded), offsets.astype("<u4").tobytes()))


def _encode_column(name: str, raw: Sequence[Value]) -> _Column | None:
    """Infer the type of one column and encode it; None when it has no value at all."""
    values = normalize_values(name, raw)
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, bool | np.bool_) for v in present):
        return _bool_column(values)
    column: _Column | None = None
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in present):
        column = _int_column(values)
    elif all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in present):
        column = _float_column(values)
    return column if column is not None else _string_column(values)


def encode_property_table(table: PropertyTable, *, first_buffer_view: int = 0) -> EncodedMetadata:
    """Build the schema, one property table and its binary buffer views from ``table``.

    Examples
    --------
    >>> t = PropertyTable("building", 2, {"id": ["a", "b"], "gen:Höhe": [3.5, None]})
    >>> enc = encode_property_table(t, first_buffer_view=4)
    >>> enc.extension["schema"]["classes"]["building"]["properties"]["gen_H_he"]["name"]
    'gen:Höhe'
    >>> props = enc.extension["propertyTables"][0]["properties"]
    >>> props["id"], props["gen_H_he"]
    ({'values': 4, 'stringOffsets': 5, 'stringOffsetType': 'UINT32'}, {'values': 6})
    >>> enc.buffer_views[0]
    b'ab'
    """
    if table.count < 1:
        raise ValueError(f"property table count must be >= 1, got {table.count}")
    for name, values in table.columns.items():
        if len(values) != table.count:
            raise ValueError(f"column {name!r} has {len(values)} values, expected {table.count}")
    names = sorted(table.columns, key=lambda n: n != "id")  # stable: "id" first, rest in order
    encoded = {
        name: column
        for name in names
        if (column := _encode_column(name, table.columns[name])) is not None
    }
    class_properties: dict[str, ClassProperty] = {}
    table_properties: dict[str, PropertyTableProperty] = {}
    payloads: list[bytes] = []
    for prop_id, (name, column) in zip(_unique_ids(list(encoded)), encoded.items(), strict=True):
        definition: ClassProperty = {**column.definition}
        if name:
            definition["name"] = name
        class_properties[prop_id] = definition
        prop: PropertyTableProperty = {"values": first_buffer_view + len(payloads)}
        if len(column.payloads) == 2:
            prop["stringOffsets"] = first_buffer_view + len(payloads) + 1
            prop["stringOffsetType"] = "UINT32"
        table_properties[prop_id] = prop
        payloads.extend(column.payloads)
    class_id = sanitize_identifier(table.class_name)
    metadata_class: MetadataClass = {}
    if table.class_name:
        metadata_class["name"] = table.class_name
    json_table: PropertyTableJSON = {"class": class_id, "count": table.count}
    if class_properties:
        metadata_class["properties"] = class_properties
        json_table["properties"] = table_properties
    schema: Schema = {"id": f"{class_id}_schema", "classes": {class_id: metadata_class}}
    if any(p.get("enumType") == OPTIONAL_BOOLEAN_ENUM for p in class_properties.values()):
        schema["enums"] = {OPTIONAL_BOOLEAN_ENUM: _OPTIONAL_BOOLEAN}
    return EncodedMetadata({"schema": schema, "propertyTables": [json_table]}, tuple(payloads))
