"""Domain values pickle field by field (pickled_by_fields) and come back exactly as they were."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import numpy as np
import pytest

from twin.model import (
    Address,
    CityObject,
    Measures,
    Mesh,
    SourceLocation,
    SurfaceAppearance,
    SurfaceMaterial,
    Surfaces,
    pickled_by_fields,
)

_TRI = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
_SURFACES = Surfaces(_TRI, np.array([0, 3]), np.array([0, 1]), np.array([2], dtype=np.uint8))
_MATERIAL = SurfaceMaterial(diffuse=(1.0, 0.5, 0.0), image="/tex/wall.jpg", wrap="clamp")

VALUES = [
    SourceLocation("city.gml", 12),
    Address(street="Main Street", house_number=None, locality="Delft"),
    Surfaces.empty(),
    _SURFACES,
    _MATERIAL,
    SurfaceAppearance((_MATERIAL,), np.array([0], dtype=np.int16), None),
    SurfaceAppearance((_MATERIAL,), np.array([-1], dtype=np.int16), np.zeros((3, 2), np.float32)),
    CityObject("B1", "Building", _SURFACES, None, SourceLocation("city.gml", 3)),
    CityObject(
        "B2",
        "BuildingPart",
        _SURFACES,
        "EPSG:25832",
        SourceLocation("city.gml", 9),
        lod=2,
        parent_id="B1",
        attributes={"measuredHeight": 9.5, "name": None},
        address=Address(street="Main Street"),
        issues=("ring 3: dropped",),
        shells=(np.array([0]),),
        srs_placement="local CRS",
    ),
    Mesh(_TRI, np.array([[0, 1, 2]], dtype=np.uint32), np.array([1], dtype=np.uint8)),
    Mesh(
        _TRI,
        np.array([[0, 1, 2]], dtype=np.uint32),
        np.array([1], dtype=np.uint8),
        np.array([0], dtype=np.int16),
        np.ones((3, 2), np.float32),
        (_MATERIAL,),
    ),
    Measures(),
    Measures(9.5, 120.25, None, 300.0, 120.0, None),
]


def _assert_same(back: object, value: object) -> None:
    """Assert ``back`` has ``value``'s class and equal fields, arrays by dtype, shape and values."""
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert isinstance(back, np.ndarray)
        assert back.dtype == value.dtype
        np.testing.assert_array_equal(back, value)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _assert_same(getattr(back, f.name), getattr(value, f.name))
    elif isinstance(value, tuple):
        assert isinstance(back, tuple)
        assert len(back) == len(value)
        for b, v in zip(back, value, strict=True):
            _assert_same(b, v)
    else:
        assert back == value


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_values_round_trip_through_pickle(value: object) -> None:
    _assert_same(pickle.loads(pickle.dumps(value, 5)), value)


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_values_pickle_without_reading_their_fields_again(
    value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dataclasses.fields() per instance was what made slots dataclasses slow to pickle
    blob = pickle.dumps(value, 5)
    monkeypatch.setattr(dataclasses, "fields", _no_fields)
    assert pickle.dumps(value, 5) == blob
    pickle.loads(blob)


def _no_fields(*args: object) -> None:
    raise AssertionError("dataclasses.fields called while pickling")


def test_an_unpickled_frozen_value_stays_frozen() -> None:
    back = pickle.loads(pickle.dumps(Measures(9.5)))
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'height_m'"):
        back.height_m = 1.0  # type: ignore[misc]


def test_a_class_with_one_field_pickles_as_a_one_tuple() -> None:
    @pickled_by_fields
    @dataclass(frozen=True, slots=True)
    class One:
        value: int | None

    assert One.__reduce__(One(None)) == (One, (None,))  # type: ignore[call-arg]


def test_a_field_outside_init_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Derived:
        value: int
        twice: int = field(init=False, default=0)

    with pytest.raises(TypeError, match="Derived: every field must be an __init__ argument"):
        pickled_by_fields(Derived)
