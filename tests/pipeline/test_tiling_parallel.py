"""The process pool gives the same features in the same order as one process; errors per object."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from synth import synth_city

from twin.citygml import iter_city_objects
from twin.errors import GeometryError
from twin.geo import reprojector_for
from twin.model import CityObject, SourceLocation, Surfaces
from twin.pipeline.features import Feature, build_feature, build_features
from twin.pipeline.parallel import _batches, iter_built, map_ordered


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


def _items(objs: list[CityObject]):  # type: ignore[no-untyped-def]
    first = next(o for o in objs if o.surfaces.polygon_count)
    assert first.srs_name is not None
    r = reprojector_for(first.srs_name, first.surfaces.coords)
    return [(o, r if o.surfaces.polygon_count else None) for o in objs]


@pytest.mark.parametrize("workers", [1, 2])
def test_pool_matches_one_object_at_a_time(city_objects: list[CityObject], workers: int) -> None:
    items = _items(city_objects)
    built = list(iter_built(items, workers, batch_objects=7))
    assert [o.id for o, _ in built] == [o.id for o in city_objects]
    for (obj, reprojector), (_, result) in zip(items, built, strict=True):
        assert isinstance(result, Feature)
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
        assert result.footprint == single.footprint
        assert result.footprint_area_m2 == single.footprint_area_m2
        assert result.surfaces_wkb == single.surfaces_wkb


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
