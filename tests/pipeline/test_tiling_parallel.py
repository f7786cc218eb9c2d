"""The process pool gives the same features in the same order as one process; errors per object."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from synth import synth_city

from twin.citygml import iter_city_objects
from twin.errors import GeometryError
from twin.geo import reprojector_for
from twin.model import CityObject, SourceLocation, Surfaces
from twin.pipeline.features import Feature, build_feature, build_features
from twin.pipeline.parallel import Built, Decided, _batches, iter_work, map_ordered, workers_for
from twin.pipeline.spill import FeatureSpill, tile_feature


@pytest.fixture(scope="module")
def city_objects(tmp_path_factory: pytest.TempPathFactory) -> list[CityObject]:
    synth = synth_city()
    path = tmp_path_factory.mktemp("city") / "city.gml"
    synth.write_city(path, 60, seed=11)
    return [o for o in iter_city_objects(path) if isinstance(o, CityObject)]


def _flat(obj: CityObject) -> CityObject:
    """The object with all polygons squashed onto a point (no area)."""
    coords = np.repeat(obj.surfaces.coords[:1], len(obj.surfaces.coords), axis=0)
    s = obj.surfaces
    return CityObject(
        "flat", "Building", Surfaces(coords, s.ring_offsets, s.polygon_offsets, s.classes),
        obj.srs_name, SourceLocation("x.gml", 1),
    )  # fmt: skip


def _built(items, workers: int, batch_objects: int) -> Iterator[tuple[list[CityObject], Built]]:  # type: ignore[no-untyped-def]
    """Build batches of (object, reprojector) as an import does (no members to read)."""

    def decide(obj: CityObject) -> None:
        raise AssertionError(f"no CRS left to decide, got {obj.id}")

    with workers_for(workers) as opened:
        for objs, built in iter_work(
            items, opened, lambda: Decided({}, frozenset(), None), decide, batch_objects
        ):
            assert isinstance(built, Built)
            yield objs, built


def _items(objs: list[CityObject]):  # type: ignore[no-untyped-def]
    first = next(o for o in objs if o.surfaces.polygon_count)
    assert first.srs_name is not None
    r = reprojector_for(first.srs_name, first.surfaces.coords)
    return [(o, r if o.surfaces.polygon_count else None) for o in objs]


@pytest.mark.parametrize("workers", [1, 2])
def test_pool_matches_one_object_at_a_time(
    city_objects: list[CityObject], workers: int, tmp_path: Path
) -> None:
    items = _items(city_objects)
    with FeatureSpill(tmp_path) as spill:
        batches = []
        for objs, built in _built(items, workers, batch_objects=7):
            assert not built.errors
            batches.append(objs)
            spill.add(built.packed)
        spill.finish()
        assert [o.id for objs in batches for o in objs] == [o.id for o in city_objects]
        tiled = [tile_feature(blob) for blob in spill.tile_parts(np.arange(len(items)))]
        catalog = [spill.catalog_part(k) for k in range(len(items))]
    for (obj, reprojector), result, part in zip(items, tiled, catalog, strict=True):
        assert result.obj.id == part.id == obj.id
        if reprojector is None:
            assert result.mesh is None
            continue
        single = build_feature(obj, reprojector)
        assert result.mesh is not None
        assert single.mesh is not None
        np.testing.assert_array_equal(result.mesh.faces, single.mesh.faces)
        np.testing.assert_array_equal(result.mesh.positions_ecef, single.mesh.positions_ecef)
        np.testing.assert_array_equal(result.mesh.classes, single.mesh.classes)
        assert result.bbox_wgs84 == pytest.approx(single.bbox_wgs84, abs=1e-12)
        assert part.footprint == single.footprint
        assert part.footprint_area_m2 == single.footprint_area_m2
        assert part.surfaces_wkb == single.surfaces_wkb


@pytest.mark.parametrize("workers", [1, 2])
def test_a_batch_says_which_objects_failed_and_what_the_others_report(
    city_objects: list[CityObject], workers: int
) -> None:
    meshed = [o for o in city_objects if o.surfaces.polygon_count][:3]
    noted = dataclasses.replace(meshed[2], issues=("ring 1: dropped",))
    items = _items([meshed[0], _flat(meshed[1]), noted])
    [(objs, built)] = _built(items, workers, batch_objects=7)
    assert [o.id for o in objs] == [meshed[0].id, "flat", noted.id]
    assert list(built.errors) == [1]
    assert "none of its" in built.errors[1]
    assert built.findings == {2: (("ring 1: dropped",), 0)}
    assert len(built.packed.rows) == 2  # the features of objects 0 and 2


def test_buildings_made_of_parts_do_not_cut_batches(city_objects: list[CityObject]) -> None:
    items = _items(city_objects)
    assert any(r is None for _, r in items)  # the city has Buildings made of parts
    batches = list(_batches(items, 16))
    assert [len(objs) for objs, _ in batches[:-1]] == [16] * (len(batches) - 1)
    assert [o for objs, _ in batches for o in objs] == [o for o, _ in items]
    assert all(r is items[0][1] or r is None for _, r in batches)


def test_an_object_without_area_is_an_error_in_its_batch(city_objects: list[CityObject]) -> None:
    meshed = [o for o in city_objects if o.surfaces.polygon_count][:3]
    items = _items(meshed)
    out = build_features([meshed[0], _flat(meshed[1]), meshed[2]], items[0][1])  # type: ignore[arg-type]
    assert isinstance(out[0], Feature)
    assert isinstance(out[2], Feature)
    assert isinstance(out[1], GeometryError)
    assert "none of its" in str(out[1])


def test_map_ordered_keeps_order_and_bounds_work_in_flight() -> None:
    submitted: list[int] = []

    def tasks():  # type: ignore[no-untyped-def]
        for k in range(20):
            submitted.append(k)
            yield k

    with ThreadPoolExecutor(2) as pool:
        for task, result in map_ordered(pool, lambda x: x * x, tasks(), in_flight=3):
            assert result == task * task
            assert len(submitted) - task <= 3
