"""Bounded memory: built features wait on disk, not in memory; a killed import harms nothing."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from synth import synth_city

from twin.citygml import iter_city_objects
from twin.geo import reprojector_for
from twin.model import CityObject, SurfaceClass
from twin.pipeline import ImportOptions, TileBudget, import_files
from twin.pipeline import spill as spill_module
from twin.pipeline.features import Feature, build_features, measures_of
from twin.pipeline.spill import FeatureSpill, pack, tile_feature, without
from twin.store import SQLiteStore, buildings, sqlite

ROOT = Path(__file__).resolve().parents[2]


def _city(folder: Path, buildings: int, seed: int = 5) -> Path:
    path = folder / f"city-{buildings}.gml"
    synth_city().write_city(path, buildings, seed=seed)
    return path


def _features(city: Path) -> list[Feature]:
    """Return the features built of the synthetic ``city``'s objects with geometry."""
    objs = [o for o in iter_city_objects(city) if isinstance(o, CityObject)]
    meshed = [o for o in objs if o.surfaces.polygon_count]
    assert meshed[0].srs_name is not None
    reprojector = reprojector_for(meshed[0].srs_name, meshed[0].surfaces.coords)
    return [f for f in build_features(meshed, reprojector) if isinstance(f, Feature)]


def test_spilled_features_read_back_as_written_and_leave_no_file(tmp_path: Path) -> None:
    features = _features(_city(tmp_path, 12))
    before = set(tmp_path.iterdir())
    with FeatureSpill(tmp_path) as spill:
        for batch in (features[:5], features[5:6], features[6:]):
            spill.add(pack(batch))
        summary = spill.finish()
        assert set(tmp_path.iterdir()) == before  # anonymous: nothing to clean up, or publish
        for k in (0, len(features) - 1):
            part = spill.catalog_part(k)
            assert part.id == features[k].obj.id
            assert part.footprint == features[k].footprint
            assert part.surfaces_wkb == features[k].surfaces_wkb
            assert part.measures == measures_of(part)
            tiled = tile_feature(spill.tile_parts(np.array([k]))[0])
            assert tiled.mesh is not None
            assert features[k].mesh is not None
            np.testing.assert_array_equal(
                tiled.mesh.positions_ecef, features[k].mesh.positions_ecef
            )
        light = tile_feature(spill.tile_parts(np.array([1]))[0])
        assert light.obj.id == features[1].obj.id
        assert light.footprint is None
        assert light.surfaces_wkb is None
        rows = np.concatenate([r for _, r in spill.iter_rows()])
        assert spill.rows_at(np.array([3]))[0] == rows[3]
    assert summary.count == summary.meshed == len(features)
    assert rows["has_mesh"].all()
    assert summary.type_names == list(dict.fromkeys(f.obj.type for f in features))
    assert [summary.type_names[c] for c in rows["type_code"]] == [f.obj.type for f in features]
    mesh = features[3].mesh
    assert mesh is not None
    np.testing.assert_array_equal(rows["extent_ecef"][3, 0], mesh.positions_ecef.min(axis=0))
    assert rows["bbox_wgs84"][3].tolist() == list(features[3].bbox_wgs84 or ())


def test_rows_are_read_and_updated_at_any_indices_in_their_order(tmp_path: Path) -> None:
    features = _features(_city(tmp_path, 12))
    indices = np.array([5, 1, 2, 9, 3, 2])  # runs, gaps, out of order, repeated
    with FeatureSpill(tmp_path) as spill:
        spill.add(pack(features))
        spill.finish()
        rows = np.concatenate([r for _, r in spill.iter_rows()])
        assert spill.rows_at(indices).tobytes() == rows[indices].tobytes()
        changed = spill.rows_at(indices[:5])
        changed["tile"] = np.arange(5)
        spill.update(indices[:5], changed)
        after = np.concatenate([r for _, r in spill.iter_rows()])
    assert after["tile"][indices[:5]].tolist() == [0, 1, 2, 3, 4]
    untouched = np.setdiff1d(np.arange(len(rows)), indices)
    assert after[untouched].tobytes() == rows[untouched].tobytes()


def test_no_indices_read_no_rows_and_write_none(tmp_path: Path) -> None:
    """A Building whose parts all failed asks for the rows of no parts."""
    features = _features(_city(tmp_path, 3))
    none = np.array([], dtype=np.int64)
    with FeatureSpill(tmp_path) as spill:
        spill.add(pack(features))
        spill.finish()
        rows = np.concatenate([r for _, r in spill.iter_rows()])
        assert spill.rows_at(none).dtype == rows.dtype
        assert len(spill.rows_at(none)) == 0
        spill.update(none, spill.rows_at(none))
        assert spill.tile_parts(none) == []
        after = np.concatenate([r for _, r in spill.iter_rows()])
    assert after.tobytes() == rows.tobytes()


def test_class_areas_sum_feature_by_feature_whatever_the_batches(tmp_path: Path) -> None:
    features = _features(_city(tmp_path, 12))
    total = np.zeros(len(SurfaceClass))
    for f in features:  # the order a city's totals were always summed in
        assert f.class_areas_m2 is not None
        total = total + f.class_areas_m2
    with FeatureSpill(tmp_path) as spill:
        for batch in (features[:1], features[1:7], features[7:]):
            spill.add(pack(batch))
        assert spill.finish().class_areas_m2.tolist() == total.tolist()


@contextmanager
def _staged_spill(tmp_path: Path) -> Iterator[tuple[list[Feature], FeatureSpill, Path]]:
    """Yield a small city's features, spilled (finished) in a staging folder of their own."""
    features = _features(_city(tmp_path, 3))
    staging = tmp_path / "staging"
    staging.mkdir()
    with FeatureSpill(staging) as spill:
        spill.add(pack(features))
        spill.finish()
        yield features, spill, staging


def test_reading_a_catalog_part_does_not_read_the_mesh(tmp_path: Path) -> None:
    with _staged_spill(tmp_path) as (features, spill, staging):
        start, middle, _ = spill.rows_at(np.array([1]))[0]["offsets"].tolist()
        fd = max(_spill_fds(staging), key=lambda fd: os.fstat(fd).st_size)  # the pickles
        os.pwrite(fd, bytes(middle - start), start)  # feature 1's tiling part: mesh and all
        with pytest.raises(pickle.UnpicklingError):
            tile_feature(spill.tile_parts(np.array([1]))[0])
        assert spill.catalog_part(1).footprint == features[1].footprint


def test_a_spill_holds_no_memory_per_feature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What tiling and the catalog need of each feature is a row on disk and its parent in a
    # SQLite index (whose own memory, untraced, is its bounded page cache), so the Python heap
    # held after many features is about that after few: one chunk of rows is buffered. (When
    # the rows were numpy columns and the parents dicts in memory, it grew ~180 B a feature.)
    monkeypatch.setattr(spill_module, "CHUNK", 256)
    part = next(f for f in _features(_city(tmp_path, 40)) if f.obj.parent_id is not None)
    counts, held, packed = (2 * 256, 20 * 256), [], pack([part])
    for count in counts:
        tracemalloc.start()
        try:
            with FeatureSpill(tmp_path) as spill:
                for _ in range(count):
                    spill.add(packed)
                spill.finish()
                gc.collect()  # pickling leaves cyclic garbage behind
                held.append(tracemalloc.get_traced_memory()[0])
        finally:
            tracemalloc.stop()
    assert (held[1] - held[0]) / (counts[1] - counts[0]) < 16, held


def _import_peak_bytes(path: Path, data_dir: Path) -> int:
    """Import ``path`` in this process; return the peak of the Python heap (numpy included)."""
    store = SQLiteStore(data_dir)
    options = ImportOptions(dataset="city", budget=TileBudget(max_features=40), workers=1)
    tracemalloc.start()
    try:
        import_files([path], store, options)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        store.close()


def test_memory_held_does_not_grow_with_the_city(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Held features cost ~10 kB each: 4x the buildings would be ~3x the peak if they stayed
    # in memory until the tiles and the catalog were written. Spilled, the peak is a few
    # tiles' worth, one chunk of catalog records and one chunk of spill rows (what stays per
    # feature is ~48 bytes while the tile tree is planned; the spill's own heap is checked
    # by the test above).
    # The catalog's chunks are made small so that the smaller city already fills them.
    monkeypatch.setattr(sqlite, "_PUBLISH_CHUNK", 64)
    monkeypatch.setattr(buildings, "CHUNK", 64)
    small = _import_peak_bytes(_city(tmp_path, 300), tmp_path / "small")
    large = _import_peak_bytes(_city(tmp_path, 1200), tmp_path / "large")
    assert large < 1.5 * small, (small, large)


def _served(data_dir: Path) -> tuple[Path, bytes, int, str, str | None]:
    """Return what is served: tileset folder and JSON, object count, title, one object's tile."""
    store = SQLiteStore(data_dir)
    try:
        folder = store.tileset_dir("city")
        info = store.get_dataset("city")
        tile = store.get_object("city", "SYN_0000001")
        return (
            folder,
            (folder / "tileset.json").read_bytes(),
            info.object_count,
            info.title,
            tile.tile,
        )
    finally:
        store.close()


def test_killed_import_leaves_the_served_tileset_and_catalog_intact(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first, second = _city(tmp_path, 40, seed=1), _city(tmp_path, 900, seed=2)
    command = [sys.executable, "-m", "twin.cli", "import", "--data-dir", str(data_dir)]
    command += ["--dataset", "city", "--workers", "1", "--max-features", "10"]
    subprocess.run([*command, "--title", "first", str(first)], check=True, cwd=ROOT)
    before = _served(data_dir)
    versions = data_dir / "tilesets" / ".versions"
    child = subprocess.Popen([*command, "--title", "second", str(second)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not any(versions.glob("*/content/*.glb")) or len(list(versions.iterdir())) < 2:
            assert child.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert child.poll() is None, "the import ended before it could be killed"
        os.kill(child.pid, signal.SIGKILL)  # midway through the tiles
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert _served(data_dir) == before
    assert not [p for p in data_dir.rglob("*") if "spill" in p.name]  # the spill died with it
    store = SQLiteStore(data_dir)
    try:
        report = import_files([second], store, ImportOptions("city", title="second", workers=1))
        assert store.get_dataset("city").object_count == report.imported
        assert report.imported == report.objects_read > 900
        assert store.tileset_dir("city") != before[0]
        assert list(versions.iterdir()) == [store.tileset_dir("city")]  # the killed one's: gone
    finally:
        store.close()


@pytest.mark.parametrize(
    ("truncated", "message"),
    [
        ("pickles", r"spill file in {staging}: feature 1 \(bytes \d+-\d+\) is truncated"),
        ("rows", r"spill rows file in {staging}: rows 1-2 are truncated"),
    ],
)
def test_a_truncated_spill_file_is_an_error_naming_its_folder_and_feature(
    tmp_path: Path, truncated: str, message: str
) -> None:
    with _staged_spill(tmp_path) as (_, spill, staging):
        files = _spill_fds(staging)
        assert len(files) == 2  # the features' pickles (the larger) and their rows
        pick = max if truncated == "pickles" else min
        fd = pick(files, key=lambda fd: os.fstat(fd).st_size)
        os.ftruncate(fd, 10)  # as a full disk or another process would leave it
        with pytest.raises(OSError, match=message.format(staging=staging)):
            spill.catalog_part(1)


def _spill_fds(staging: Path) -> list[int]:
    """Return the descriptors of the spill's files in ``staging``."""
    return [fd for fd in _open_fds() if _fd_path(fd).startswith(f"{staging}/")]


def _open_fds() -> list[int]:
    return [int(name) for name in os.listdir("/proc/self/fd")]


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except FileNotFoundError:  # the descriptor listdir itself used
        return ""


def test_features_left_out_of_a_packed_batch_are_as_never_packed(tmp_path: Path) -> None:
    features = _features(_city(tmp_path, 12))
    dropped = [0, 4, len(features) - 1]
    kept = [f for k, f in enumerate(features) if k not in dropped]
    spilled = []
    for packed in (without(pack(features), dropped), pack(kept)):
        with FeatureSpill(tmp_path) as spill:
            spill.add(packed)
            summary = spill.finish()
            rows = np.concatenate([r for _, r in spill.iter_rows()])
            parts = [spill.catalog_part(k) for k in range(len(rows))]
            tiled = [tile_feature(blob).obj for blob in spill.tile_parts(np.arange(len(rows)))]
            spilled.append((rows[["has_mesh", "extent_ecef", "type_code"]], summary, parts, tiled))
    (rows, summary, parts, tiled), (rows_kept, summary_kept, parts_kept, tiled_kept) = spilled
    np.testing.assert_array_equal(rows, rows_kept)
    assert summary.count == summary_kept.count == len(kept)
    np.testing.assert_array_equal(summary.class_areas_m2, summary_kept.class_areas_m2)
    assert [p.id for p in parts] == [p.id for p in parts_kept] == [f.obj.id for f in kept]
    assert [o.id for o in tiled] == [o.id for o in tiled_kept]
