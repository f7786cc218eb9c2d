"""Wrap a GLB as a 3D Tiles 1.0 Batched 3D Model (``.b3dm``) with a batch table.

Specification: 3D Tiles 1.0 (and 1.1, where b3dm is deprecated but kept), TileFormats
"Batched 3D Model", "Feature Table" and "Batch Table":

- a 28-byte header (magic ``b3dm``, version 1, byteLength, then the byte lengths of the feature
  table JSON and binary and of the batch table JSON and binary), then those four sections, then
  the GLB;
- each JSON section is padded with spaces and each binary section with zeros so the next section
  starts on an 8-byte boundary of the file, and "the binary glTF shall start and end on an 8-byte
  boundary" (b3dm §Padding), so the tile's byteLength is a multiple of 8;
- the feature table holds ``BATCH_LENGTH`` (and ``RTC_CENTER`` when given); the GLB's vertices
  carry the feature index as ``_BATCHID`` (b3dm §Binary glTF).

The batch table keeps every column of the tile's :class:`~tiles.metadata.PropertyTable`: numeric
columns without missing values go to the binary body (``INT`` when they fit int32, else
``DOUBLE``), everything else stays a JSON array with ``null`` for missing values.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from tiles.metadata import PropertyTable, Value, normalize_values

__all__ = ["encode_b3dm"]

_MAGIC: Final = b"b3dm"
_VERSION: Final = 1
_HEADER_BYTES: Final = 28
_RESERVED: Final = ("extensions", "extras")  # batch table keys that are not properties


def _json_section(document: dict[str, Any], offset: int) -> bytes:
    """JSON padded with spaces so that ``offset + len`` is a multiple of 8."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    data = text.encode("utf-8")
    return data + b" " * (-(offset + len(data)) % 8)


def _binary_column(values: list[Value]) -> tuple[str, bytes] | None:
    """Return (componentType, little-endian bytes) for a numeric column with no missing value."""
    if any(v is None or isinstance(v, bool | str) for v in values):
        return None
    if all(isinstance(v, int) for v in values):
        if all(-(2**31) <= v < 2**31 for v in values):  # type: ignore[operator]
            return "INT", np.array(values, dtype="<i4").tobytes()
        return None  # beyond int32: exact only as JSON numbers
    return "DOUBLE", np.array(values, dtype="<f8").tobytes()


def _batch_table(table: PropertyTable) -> tuple[dict[str, Any], bytes]:
    document: dict[str, Any] = {}
    chunks: list[bytes] = []
    length = 0
    for name, raw in table.columns.items():
        if len(raw) != table.count:
            raise ValueError(f"column {name!r} has {len(raw)} values for {table.count} features")
        values = normalize_values(name, raw)
        key = f"attribute.{name}" if name in _RESERVED else name
        binary = _binary_column(values)
        if binary is None:
            document[key] = values
            continue
        component, data = binary
        document[key] = {"byteOffset": length, "componentType": component, "type": "SCALAR"}
        chunks.append(data + b"\x00" * (-len(data) % 8))  # the next column stays 8-aligned
        length += len(chunks[-1])
    return document, b"".join(chunks)


def encode_b3dm(
    glb: bytes, table: PropertyTable, *, rtc_center: Sequence[float] | None = None
) -> bytes:
    """Return a b3dm tile of ``glb`` (whose vertices carry ``_BATCHID``) and its batch table.

    Parameters
    ----------
    glb : bytes
        A GLB whose ``_BATCHID`` values index the rows of ``table``.
    table : PropertyTable
        ``table.count`` is the ``BATCH_LENGTH``; its columns become the batch table.
    rtc_center : (3,) float, optional
        ``RTC_CENTER`` of the feature table (metres, after the y-up→z-up transform).

    Examples
    --------
    >>> tile = encode_b3dm(b"glTF" + bytes(20), PropertyTable("b", 2, {"id": ["a", "b"]}))
    >>> tile[:4], len(tile) % 8, struct.unpack_from("<I", tile, 8)[0] == len(tile)
    (b'b3dm', 0, True)
    """
    if glb[:4] != b"glTF":
        raise ValueError("glb must be a binary glTF (magic 'glTF')")
    feature_table: dict[str, Any] = {"BATCH_LENGTH": table.count}
    if rtc_center is not None:
        feature_table["RTC_CENTER"] = [float(v) for v in rtc_center]
    feature_json = _json_section(feature_table, _HEADER_BYTES)
    batch_document, batch_binary = _batch_table(table)
    batch_json = _json_section(batch_document, _HEADER_BYTES + len(feature_json))
    body = glb + b"\x00" * (-len(glb) % 8)
    total = _HEADER_BYTES + len(feature_json) + len(batch_json) + len(batch_binary) + len(body)
    header = _MAGIC + struct.pack(
        "<6I", _VERSION, total, len(feature_json), 0, len(batch_json), len(batch_binary)
    )
    return header + feature_json + batch_json + batch_binary + body
