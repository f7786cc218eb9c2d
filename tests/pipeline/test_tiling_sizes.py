"""The import report says what a real city's tileset bytes are made of: bytes per object type
adding up to the content files exactly, objects and triangles as the tiles hold them, and the
heaviest objects found in their tiles."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import glb_reader
import numpy as np
import pygltflib
import pytest
from tileset_walk import content_tiles

from twin.pipeline import ImportOptions, TileBudget, import_files
from twin.store import SQLiteStore

TECO = "citygml/teco_district1_LoD2.gml"
PLATEAU = "citygml/plateau_52397519_bldg_6697_op/plateau_52397519_bldg_6697_op.gml"  # textured
ROTTERDAM = "cityjson/cjio_rotterdam_subset/cjio_rotterdam_subset.json"  # 1 of 74 images given


def _import(shared_data: Path, store: SQLiteStore, name: str, compress: str) -> Path:
    options = ImportOptions(
        dataset="d",
        crs="EPSG:7415" if name == ROTTERDAM else None,
        budget=TileBudget(max_features=30),
        workers=1,
        compress=compress,  # type: ignore[arg-type]
    )
    import_files([shared_data / name], store, options)
    return store.tileset_dir("d")


def _leaf_objects(folder: Path) -> tuple[dict[str, tuple[str, int]], int, int]:
    """Read the tiles back: {id: (type, triangles)} of full-detail tiles, the bytes of the
    inner (LoD1 block) tiles' files and the bytes of every embedded image."""
    objects: dict[str, tuple[str, int]] = {}
    inner: dict[str, int] = {}
    images = 0
    for tile, _ in content_tiles(folder):
        data = (folder / tile["content"]["uri"]).read_bytes()
        gltf = pygltflib.GLTF2.load_from_bytes(data)
        images += sum(gltf.bufferViews[i.bufferView].byteLength for i in gltf.images)
        if tile.get("children"):
            inner[tile["content"]["uri"]] = len(data)
            continue
        _, columns, _ = glb_reader.property_table(data)
        triangles = Counter[int]()
        for p in glb_reader.primitives(data):
            triangles.update(p.feature_ids[p.indices.reshape(-1, 3)[:, 0]].astype(int).tolist())
        for fid, (oid, kind) in enumerate(zip(columns["id"], columns["type"], strict=True)):
            objects[oid] = (kind, triangles[fid])
    return objects, sum(inner.values()), images


@pytest.mark.parametrize(
    ("name", "compress"),
    [(TECO, "meshopt"), (TECO, "draco"), (PLATEAU, "meshopt"), (ROTTERDAM, "none")],
)
def test_bytes_per_type_add_up_to_the_content_files(
    shared_data: Path, store: SQLiteStore, name: str, compress: str
) -> None:
    folder = _import(shared_data, store, name, compress)
    sizes: dict[str, Any] = json.loads((folder / "import-report.json").read_text())["tiles"]
    content = sum(p.stat().st_size for p in (folder / "content").iterdir())
    by_type = sizes["by_type"]
    assert sizes["content_bytes"] == content
    assert sum(t["bytes"] for t in by_type.values()) == content
    assert sum(sizes["made_of"].values()) == content
    assert all(sum(t["made_of"].values()) == t["bytes"] for t in by_type.values())
    objects, inner_bytes, image_bytes = _leaf_objects(folder)
    assert sum(t["coarse_bytes"] for t in by_type.values()) == inner_bytes
    assert sizes["made_of"]["textures"] == image_bytes
    assert {k: t["objects"] for k, t in by_type.items()} == Counter(t for t, _ in objects.values())
    triangles = Counter[str]()
    for kind, n in objects.values():
        triangles[kind] += n
    assert {k: t["triangles"] for k, t in by_type.items()} == triangles
    assert sizes["bytes_per_object"] == round(content / len(objects), 1)


@pytest.mark.parametrize(("name", "textured"), [(TECO, False), (PLATEAU, True)])
def test_heaviest_objects_are_found_in_their_tiles(
    shared_data: Path, store: SQLiteStore, name: str, textured: bool
) -> None:
    folder = _import(shared_data, store, name, "meshopt")
    sizes: dict[str, Any] = json.loads((folder / "import-report.json").read_text())["tiles"]
    heaviest = sizes["heaviest"]
    objects, _, _ = _leaf_objects(folder)
    assert len(heaviest) == min(10, len(objects))
    assert [h["bytes"] for h in heaviest] == sorted((h["bytes"] for h in heaviest), reverse=True)
    full_detail_mean = max(
        (t["bytes"] - t["coarse_bytes"]) / t["objects"] for t in sizes["by_type"].values()
    )
    assert heaviest[0]["bytes"] >= full_detail_mean
    for h in heaviest:
        assert objects[h["id"]] == (h["type"], h["triangles"])
        assert h["geometry"] + h["properties"] + h["textures"] + h["other"] == h["bytes"]
        tile = (folder / h["tile"]).read_bytes()
        assert h["id"] in glb_reader.property_table(tile)[1]["id"]
        assert h["bytes"] < len(tile)
    # The textured building parts outweigh every untextured building by their images.
    assert (heaviest[0]["textures"] > heaviest[0]["geometry"]) == textured
    assert (np.array([h["textures"] for h in heaviest]) > 0).any() == textured
