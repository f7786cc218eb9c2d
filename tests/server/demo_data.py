"""The demo dataset the server tests publish: tile files and catalog records."""

from __future__ import annotations

import datetime as dt
import json

from twin.model import Address, BuildingRecord, DatasetInfo

SPECIAL_ID = "DEBY_LOD2_4959457:part.1-a_b~c"
"""A gml:id with the characters ids really carry: ':', '.', '-', '_', '~'."""

SECRET = b"top secret, outside every served folder"

TILESET = {
    "asset": {"version": "1.1"},
    "geometricError": 100.0,
    "root": {
        "boundingVolume": {"region": [0.2, 0.8, 0.21, 0.81, 0.0, 50.0]},
        "geometricError": 10.0,
        "refine": "REPLACE",
        "content": {"uri": "content/0.glb"},
    },
}

TILE_FILES: dict[str, bytes] = {
    "tileset.json": json.dumps(TILESET).encode(),
    "content/0.glb": b"glTF\x02\x00\x00\x00" + bytes(range(64)),
    "content/1.glb": b"glTF\x02\x00\x00\x00" + bytes(range(64, 128)),
    "external/child.json": b'{"asset": {"version": "1.1"}}',
    "subtrees/0.0.0.subtree": b"subt" + bytes(16),
    "content/legacy.b3dm": b"b3dm" + bytes(24),
    "content/buffer.bin": bytes(32),
}

FOOTPRINT = {
    "type": "Polygon",
    "coordinates": [[[11.0, 48.0], [11.001, 48.0], [11.001, 48.001], [11.0, 48.0]]],
}

RECORDS = [
    BuildingRecord(
        dataset="demo",
        id=SPECIAL_ID,
        type="BuildingPart",
        bbox_wgs84=(11.0, 48.0, 500.0, 11.001, 48.001, 512.5),
        footprint=FOOTPRINT,
        attributes={"measuredHeight": 12.5, "function": "31001_1000", "yearOfConstruction": 1972},
        parent_id="DEBY_LOD2_4959457",
        lod=2,
        address=Address(street="Arcisstraße", house_number="21", locality="München"),
        tile="content/0.glb",
        feature_id=0,
    ),
    BuildingRecord(
        dataset="demo",
        id="DEBY_LOD2_4959457",
        type="Building",
        bbox_wgs84=(11.0, 48.0, 500.0, 11.001, 48.001, 512.5),
        footprint=None,
        attributes={"creationDate": dt.date(2020, 5, 17)},
    ),
]

INFO = DatasetInfo(
    name="demo",
    title="Demo city",
    srs_name="EPSG:25832",
    object_count=len(RECORDS),
    bbox_wgs84=(11.0, 48.0, 500.0, 11.001, 48.001, 512.5),
    imported_at=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
)
