"""``f=csv`` and ``f=parquet`` of ``/items``: every feature of a filtered query, streamed.

The store hands out keyset chunks (:meth:`twin.store.features.SQLiteFeatures.iter_chunks`);
each chunk becomes CSV lines or one Parquet row group and is written to the client before the
next is read, so an export of a million buildings holds one chunk in memory. ``limit`` and
``offset`` do not apply: an export is the whole result of the filter, bbox and datetime.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any, Final, Literal

import pyarrow.parquet as pq
from aiohttp import web

from twin.geo import projjson
from twin.model import BuildingRecord
from twin.server.ogc_crs import answer_crs
from twin.server.ogc_items import mixed_live, prepare_query
from twin.server.ogc_params import parse_geometry
from twin.server.ogc_tables import (
    TableLayout,
    Transform,
    arrow_schema,
    csv_rows,
    geo_metadata,
    parquet_table,
)
from twin.server.state import STORE, call_store
from twin.store import Store

__all__ = ["CSV", "PARQUET", "export_items"]

CSV: Final = "text/csv; charset=utf-8; header=present"
PARQUET: Final = "application/vnd.apache.parquet"
_CHUNK: Final = 2000

log = logging.getLogger(__name__)


class _Drain:
    """A write-only file for pyarrow that hands out what was written since the last take."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _encoder(
    fmt: Literal["csv", "parquet"],
    layout: TableLayout,
    live: Mapping[str, Mapping[str, Any]],
    crs: str,
    transform: Transform | None,
) -> tuple[Callable[[list[BuildingRecord] | None], bytes], bytes]:
    """Return ``encode(chunk)`` (None at the end) and the bytes that open the file."""
    if fmt == "csv":

        def encode_csv(chunk: list[BuildingRecord] | None) -> bytes:
            return (
                b""
                if chunk is None
                else csv_rows(layout, chunk, live, transform=transform).encode()
            )

        return encode_csv, csv_rows(layout, [], live, header=True).encode()
    schema = arrow_schema(layout).with_metadata({"geo": json.dumps(geo_metadata(projjson(crs)))})
    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")

    def encode_parquet(chunk: list[BuildingRecord] | None) -> bytes:
        if chunk is None:
            writer.close()
        else:
            writer.write_table(parquet_table(layout, chunk, live, transform))
        return sink.take()

    return encode_parquet, sink.take()  # fmt: skip


def _with_lod_geometry(
    store: Store, dataset: str, chunks: Iterator[list[BuildingRecord]]
) -> Iterator[list[BuildingRecord]]:
    """Yield the chunks with each record's LoD surfaces read from the store."""
    for chunk in chunks:
        lods = store.features.lod_geometries(dataset, [r.id for r in chunk])
        yield [replace(r, lod_geometry=lods.get(r.id)) for r in chunk]


async def export_items(
    request: web.Request, dataset: str, fmt: Literal["csv", "parquet"]
) -> web.StreamResponse:
    """Stream the items matching the request's filter as CSV or GeoParquet."""
    store: Store = request.app[STORE]
    fq, known, live = await call_store(prepare_query, store, dataset, request.query, with_live=True)
    info = await call_store(store.get_dataset, dataset)
    geometry = parse_geometry(request.query)
    # GeoParquet 1.1, coordinate axis order: x is the easting or longitude, whatever the CRS
    crs, transform = answer_crs(request.query, info, geometry, easting_first=fmt == "parquet")
    # a column of several types is text, so that no value is lost
    mixed = (await call_store(store.features.value_hints, dataset)).mixed | mixed_live(live)
    renamed = await call_store(store.features.renamed, dataset)
    types = {k: "string" if k in mixed else v for k, v in known.items()}
    layout = TableLayout.of(types, geometry, renamed)
    encode, head = await asyncio.to_thread(_encoder, fmt, layout, live, crs, transform)
    chunks = store.features.iter_chunks(fq, _CHUNK)
    if geometry == "lod":
        chunks = _with_lod_geometry(store, dataset, chunks)
    response = web.StreamResponse(headers={
        "Content-Type": CSV if fmt == "csv" else PARQUET,
        "Content-Disposition": f'attachment; filename="{dataset}.{fmt}"',
        "Content-Crs": f"<{crs}>",
    })  # fmt: skip
    await response.prepare(request)
    try:
        await response.write(head)
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            data = await asyncio.to_thread(encode, chunk)
            if data:
                await response.write(data)
            if chunk is None:
                break
    except Exception:
        # The status line is out, so no problem body can follow. Closing the connection before
        # the last chunk tells the client the transfer is incomplete (RFC 9112 §7.1 and §8);
        # left open, it would wait for the rest.
        log.exception("export of %s as %s failed after %s", dataset, fmt, request.path_qs)
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response
