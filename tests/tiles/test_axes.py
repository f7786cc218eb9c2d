"""The y-up/z-up swap: exact, a proper rotation, the one the 3D Tiles spec prescribes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tiles import y_up_to_z_up, z_up_to_y_up

# 3D Tiles 1.1 §glTF transforms: the y-up to z-up matrix applied to glTF content.
Y_UP_TO_Z_UP = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64)

POINTS = hnp.arrays(
    np.float32,
    st.tuples(st.integers(0, 20), st.just(3)),
    elements=st.floats(-1e6, 1e6, allow_nan=False, width=32),
)


@given(POINTS)
def test_round_trip_is_exact(points: np.ndarray) -> None:
    back = y_up_to_z_up(z_up_to_y_up(points))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, points)


@given(POINTS)
def test_matches_the_spec_matrix(points: np.ndarray) -> None:
    np.testing.assert_array_equal(y_up_to_z_up(points), points @ Y_UP_TO_Z_UP.T)


def test_spec_matrix_is_a_proper_rotation() -> None:
    assert np.linalg.det(Y_UP_TO_Z_UP) == 1.0


def test_wrong_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"points must have shape \(N, 3\), got \(3,\)"):
        z_up_to_y_up(np.zeros(3))
