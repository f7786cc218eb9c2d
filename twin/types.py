"""Array aliases shared by every layer. Shapes and units are documented where they are used."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = [
    "BoolArray",
    "Float32Array",
    "Float64Array",
    "IndexArray",
    "Int16Array",
    "UInt8Array",
    "UInt16Array",
    "UInt32Array",
]

Float64Array: TypeAlias = npt.NDArray[np.float64]
Float32Array: TypeAlias = npt.NDArray[np.float32]
Int16Array: TypeAlias = npt.NDArray[np.int16]
IndexArray: TypeAlias = npt.NDArray[np.int64]
UInt16Array: TypeAlias = npt.NDArray[np.uint16]
UInt32Array: TypeAlias = npt.NDArray[np.uint32]
UInt8Array: TypeAlias = npt.NDArray[np.uint8]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
