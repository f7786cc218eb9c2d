"""The one place where glTF's y-up frame meets 3D Tiles' z-up frame.

3D Tiles 1.1, "glTF transforms" (specification §Tile transforms / glTF transforms): glTF content
is y-up, tiles are z-up, and a client applies the fixed rotation::

    y_up_to_z_up = [[1, 0,  0, 0],
                    [0, 0, -1, 0],
                    [0, 1,  0, 0],
                    [0, 0,  0, 1]]

after the glTF node hierarchy and before the tile transform. A writer therefore stores
``(x, y, z)_zup`` as ``(x, z, -y)_yup``. Both functions are exact (a permutation and a sign flip),
so they round-trip bit for bit in any float dtype.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["y_up_to_z_up", "z_up_to_y_up"]


def _check(points: npt.NDArray[np.floating]) -> None:
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3), got {points.shape}")


def z_up_to_y_up(points: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """Return ``(N, 3)`` z-up points (3D Tiles) as y-up points (glTF), same dtype.

    Examples
    --------
    >>> z_up_to_y_up(np.array([[1.0, 2.0, 3.0]]))
    array([[ 1.,  3., -2.]])
    """
    _check(points)
    return np.stack([points[:, 0], points[:, 2], -points[:, 1]], axis=1)


def y_up_to_z_up(points: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """Return ``(N, 3)`` y-up points (glTF) as z-up points (3D Tiles), same dtype.

    Examples
    --------
    >>> y_up_to_z_up(np.array([[1.0, 3.0, -2.0]]))
    array([[1., 2., 3.]])
    """
    _check(points)
    return np.stack([points[:, 0], -points[:, 2], points[:, 1]], axis=1)
