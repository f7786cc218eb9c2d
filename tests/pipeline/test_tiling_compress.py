"""Every compressed tile of a real city decodes (meshoptimizer's and Draco's own decoders, and
glTF Transform in node) to the uncompressed tile: same features, full-detail vertices within
1 mm; and every default tile of every shared dataset passes the validator once decoded."""

from __future__ import annotations

import json
from pathlib import Path

import glb_reader
import numpy as np
import pytest
from gltf_validator import decode_glb_files, validate_glb_files
from tileset_checks import check_tileset
from tileset_walk import content_tiles

from twin.pipeline import ImportOptions, TileBudget, import_files
from twin.store import SQLiteStore

TECO = "citygml/teco_district1_LoD2.gml"


def _import(shared_data: Path, store: SQLiteStore, compress: str) -> Path:
    options = ImportOptions(
        dataset=compress,
        budget=TileBudget(max_features=30),
        workers=1,
        compress=compress,  # type: ignore[arg-type]
    )
    import_files([shared_data / TECO], store, options)
    return store.tileset_dir(compress)


@pytest.mark.parametrize("compress", ["meshopt", "draco"])
def test_every_compressed_tile_decodes_to_the_uncompressed_one(
    shared_data: Path, store: SQLiteStore, compress: str, tmp_path: Path
) -> None:
    plain_dir, packed_dir = (
        _import(shared_data, store, "none"),
        _import(shared_data, store, compress),
    )
    check_tileset(json.loads((packed_dir / "tileset.json").read_text()), packed_dir)
    plain_tiles, packed_tiles = list(content_tiles(plain_dir)), list(content_tiles(packed_dir))
    assert len(packed_tiles) == len(plain_tiles) > 1  # the same tree: compression is per tile
    paths = []
    moved = {False: 0.0, True: 0.0}  # largest move of a vertex, in leaves and in inner tiles
    for (a, world_a), (b, world_b) in zip(plain_tiles, packed_tiles, strict=True):
        np.testing.assert_array_equal(world_a, world_b)
        plain_bytes = (plain_dir / a["content"]["uri"]).read_bytes()
        packed_path = packed_dir / b["content"]["uri"]
        paths.append(packed_path)
        plain, packed = (
            glb_reader.primitives(plain_bytes),
            glb_reader.primitives(packed_path.read_bytes()),
        )
        assert (
            glb_reader.property_table(packed_path.read_bytes())[1]
            == glb_reader.property_table(plain_bytes)[1]
        )
        # Full-detail tiles move no vertex more than 1 mm; LoD1 blocks (inner tiles) may move
        # by a tenth of their error (at most a tenth of the tile's geometric error).
        inner = bool(b.get("children"))
        tolerance = max(1e-3, b["geometricError"] / 10) if inner else 1e-3
        for p, q in zip(plain, packed, strict=True):
            assert len(q.indices) == len(p.indices)
            for fid in np.unique(p.feature_ids):
                mine, theirs = (
                    q.positions_yup[q.feature_ids == fid],
                    p.positions_yup[p.feature_ids == fid],
                )
                gap = np.linalg.norm(mine[:, None] - theirs[None], axis=2)
                assert gap.min(axis=1).max() <= tolerance
                assert gap.min(axis=0).max() <= tolerance
                moved[inner] = max(moved[inner], float(gap.min(axis=1).max()))
    if compress == "draco":  # the blocks use the coarser grid they are allowed
        assert moved[False] <= 1e-3 < moved[True]
    decoded = decode_glb_files(paths, tmp_path)
    assert [d.get("failure") for d in decoded] == [None] * len(paths)
    for report in validate_glb_files([d["out"] for d in decoded]):
        assert report["numErrors"] == 0, report["messages"][:5]
        assert report["numWarnings"] == 0, report["messages"][:5]


# CRSs the files themselves get wrong or leave out (as tests/pipeline/test_sources.py documents).
CRS = {
    "citygml/c4j_LOD2_Buildings_v100.gml": "EPSG:3068+5783",
    "citygml/lcg_BridgeAndBuilding.gml": "EPSG:23032",
    "citygml/lcg_b1_lod2_s.gml": "EPSG:25832",
    "citygml/ogc_Road_over_Bridge_CityGML3.0_LOD2_with_CityObjectRelations.gml": "EPSG:25832",
    "cityjson/cjio_DH_01_subs.city.json": "EPSG:7415",
    "cityjson/cjio_multi_lod.json": "EPSG:7415",
    "cityjson/cjio_rotterdam_subset/cjio_rotterdam_subset.json": "EPSG:7415",
    **{f"citygml/qie_{n}.gml": "EPSG:25832" for n in
       ("Cube-07", "i101_1", "i103_1", "i104_1", "i206_1", "i302_1", "v002")},
}  # fmt: skip
NOT_IMPORTABLE = {  # by design: no usable geometry
    "citygml/c4j_LOD0_Railway_NoiseADE_v200.gml",
}
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SHARED_FILES = sorted(
    str(p.relative_to(SHARED))
    for pattern in ("*.gml", "*.gml.gz", "*.citygml", "*.json")
    for p in SHARED.rglob(pattern)
    if str(p.relative_to(SHARED)) not in NOT_IMPORTABLE
)


@pytest.mark.parametrize("name", SHARED_FILES)
def test_every_default_tile_of_every_shared_dataset_is_valid_decoded(
    shared_data: Path, store: SQLiteStore, tmp_path: Path, name: str
) -> None:
    options = ImportOptions(dataset="d", crs=CRS.get(name), workers=1)
    import_files([shared_data / name], store, options)
    glbs = sorted(store.tileset_dir("d").glob("content/*.glb"))
    assert glbs
    for report in validate_glb_files(glbs):
        assert report["numErrors"] == 0, (name, report["messages"][:5])
    decoded = decode_glb_files(glbs, tmp_path)
    for path, result in zip(glbs, decoded, strict=True):
        assert "failure" not in result, result
        assert "EXT_meshopt_compression" in result["extensionsUsed"]
        vertices = sum(len(p.positions_yup) for p in glb_reader.primitives(path.read_bytes()))
        assert result["vertices"] == vertices
    for report in validate_glb_files([r["out"] for r in decoded]):
        assert report["numErrors"] == 0, (name, report["messages"][:5])
        assert report["numWarnings"] == 0, (name, report["messages"][:5])
