"""Features as table rows: CSV text (WKT geometry) and GeoParquet 1.1 row groups (WKB).

A :class:`TableLayout` fixes the columns once per export, from the collection's queryables
(``id`` first, then the other queryables by name, then ``geometry``: the footprint, or with
``geometry=lod`` the LoD surfaces the records carry), so every chunk of a
streamed export has the same header or Arrow schema. Values that do not fit a column's type
(a string in an integer column) are written as null in Parquet; in CSV everything is text,
objects and arrays as JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa
import shapely

from twin.model import BuildingRecord
from twin.server.ogc_params import GeometryChoice
from twin.store.derived import catalog_attributes, derived_values
from twin.types import Float64Array

__all__ = ["GEOPARQUET_VERSION", "TableLayout", "csv_rows", "geo_metadata", "parquet_table"]

GEOPARQUET_VERSION: Final = "1.1.0"
Geometry = Mapping[str, Any] | None
Transform = Callable[[Float64Array], Float64Array]
"""Coordinates ``(N, 2 or 3) float64`` from CRS84 to the answer's CRS (heights kept)."""
_ARROW: Final[dict[str, pa.DataType]] = {
    "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
}  # fmt: skip
_BBOX: Final = pa.struct([(k, pa.float64()) for k in ("xmin", "ymin", "xmax", "ymax")])


@dataclass(frozen=True, slots=True)
class TableLayout:
    """The columns of an export: names (``id`` first, ``geometry`` last) and JSON types.

    ``renamed`` gives the attributes named like a catalog property their column (the
    dataset's :func:`twin.store.derived.catalog_names`).
    """

    names: tuple[str, ...]
    types: Mapping[str, str]
    geometry: GeometryChoice = "footprint"
    renamed: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        queryables: Mapping[str, str],
        geometry: GeometryChoice = "footprint",
        renamed: Mapping[str, str] | None = None,
    ) -> TableLayout:
        """Return the layout of a collection's queryables; ``geometry`` says which one.

        >>> TableLayout.of({"lod": "integer", "id": "string", "a": "number"}).names
        ('id', 'a', 'lod', 'geometry')
        """
        rest = sorted(k for k in queryables if k not in ("id", "geometry"))
        return cls(("id", *rest, "geometry"), dict(queryables), geometry, dict(renamed or {}))

    def values(self, record: BuildingRecord, live: Mapping[str, Any]) -> dict[str, Any]:
        """Return a record's values by column (geometry excluded), live values included."""
        found: dict[str, Any] = {**live, **catalog_attributes(record.attributes, self.renamed)}
        found.update(id=record.id, type=record.type, parent_id=record.parent_id, lod=record.lod)
        found.update(derived_values(record))
        return {name: found.get(name) for name in self.names[:-1]}


def _shapes(
    layout: TableLayout, records: Sequence[BuildingRecord], transform: Transform | None
) -> Any:
    if layout.geometry == "lod":
        return shapely.from_wkb([r.lod_geometry for r in records])  # CRS84h, never transformed
    texts = [None if r.footprint is None else json.dumps(r.footprint) for r in records]
    shapes = shapely.from_geojson(texts)
    return shapes if transform is None else shapely.transform(shapes, transform, include_z=True)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def csv_rows(
    layout: TableLayout,
    records: Sequence[BuildingRecord],
    live: Mapping[str, Mapping[str, Any]],
    *,
    header: bool = False,
    transform: Transform | None = None,
) -> str:
    """Return CSV lines (RFC 4180: CRLF, quoted when needed) of records, geometry as WKT.

    ``live`` maps live property names to ``{object id: value}``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(layout.names)
    wkt = shapely.to_wkt(_shapes(layout, records, transform), rounding_precision=-1)
    for record, geometry in zip(records, wkt, strict=True):
        own = {name: by_id[record.id] for name, by_id in live.items() if record.id in by_id}
        values = layout.values(record, own)
        writer.writerow([*(_text(values[n]) for n in layout.names[:-1]), geometry or ""])
    return out.getvalue()


def _arrow_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    return value if isinstance(value, str) else _text(value)


def arrow_schema(layout: TableLayout) -> pa.Schema:
    """Return the Arrow schema of a layout: typed columns, WKB ``geometry``, ``bbox`` struct."""
    fields = [pa.field(n, _ARROW.get(layout.types.get(n, ""), pa.string()))
              for n in layout.names[:-1]]  # fmt: skip
    return pa.schema([*fields, pa.field("geometry", pa.binary()), pa.field("bbox", _BBOX)])


def parquet_table(
    layout: TableLayout,
    records: Sequence[BuildingRecord],
    live: Mapping[str, Mapping[str, Any]],
    transform: Transform | None = None,
) -> pa.Table:
    """Return one row group's table: the layout's columns, WKB geometry and its bbox."""
    rows = []
    for record in records:
        own = {name: by_id[record.id] for name, by_id in live.items() if record.id in by_id}
        rows.append(layout.values(record, own))
    shapes = _shapes(layout, records, transform)
    bounds = shapely.bounds(shapes)
    columns: dict[str, Any] = {
        n: [_arrow_value(layout.types.get(n, ""), row[n]) for row in rows]
        for n in layout.names[:-1]
    }
    columns["geometry"] = list(shapely.to_wkb(shapes))
    columns["bbox"] = [
        None if b[0] != b[0] else dict(zip(("xmin", "ymin", "xmax", "ymax"), map(float, b),
                                           strict=True))
        for b in bounds
    ]  # fmt: skip
    return pa.Table.from_pydict(columns, schema=arrow_schema(layout))


def geo_metadata(crs_projjson: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the GeoParquet 1.1 ``geo`` metadata of the export's ``geometry`` column.

    >>> geo_metadata(None)["columns"]["geometry"]["covering"]["bbox"]["xmin"]
    ['bbox', 'xmin']
    """
    column: dict[str, Any] = {
        "encoding": "WKB",
        "geometry_types": [],
        "covering": {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}},
    }
    if crs_projjson is not None:
        column["crs"] = dict(crs_projjson)
    return {"version": GEOPARQUET_VERSION, "primary_column": "geometry", "columns": {
        "geometry": column}}  # fmt: skip
