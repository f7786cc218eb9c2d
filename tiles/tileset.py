"""Write a 3D Tiles 1.1 tileset JSON from a tree of tiles, and build local ENU content frames.

Specification: 3D Tiles 1.1 (OGC 22-025r4), sections cited inline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tiles.typing import TileJSON, Tileset

__all__ = ["WGS84_A", "WGS84_F", "Tile", "enu_frame", "tileset_files", "tileset_json"]

WGS84_A = 6378137.0  # semi-major axis, m
WGS84_F = 1.0 / 298.257223563  # flattening

Region = tuple[float, float, float, float, float, float]


@dataclass(frozen=True, slots=True)
class Tile:
    """One tile of the tree.

    Attributes
    ----------
    region : (west, south, east, north, min_height, max_height)
        Radians and metres above the WGS84 ellipsoid (EPSG:4979); ``west > east`` crosses the
        antimeridian.
    geometric_error : float
        Metres; never larger than the parent's.
    transform : (4, 4) float64 or None
        WORLD (ECEF, EPSG:4978) transform of this tile's content frame, or None to inherit the
        parent's frame. Written relative to the parent.
    content_uri : str or None
        Relative URI of the tile content (e.g. a ``.glb``).
    children : Sequence[Tile]
    refine : "ADD" or "REPLACE"
    """

    region: Region
    geometric_error: float
    transform: npt.NDArray[np.float64] | None
    content_uri: str | None
    children: Sequence[Tile] = ()
    refine: Literal["ADD", "REPLACE"] = "REPLACE"


def _check_region(region: Region, where: str) -> None:
    west, south, east, north, lo, hi = region
    ok = (
        all(math.isfinite(v) for v in region)
        and -math.pi <= west <= math.pi
        and -math.pi <= east <= math.pi
        and -math.pi / 2 <= south <= north <= math.pi / 2
        and lo <= hi
    )
    if not ok:
        raise ValueError(f"{where}: invalid region {region} (radians, south<=north, min<=max)")


def _column_major(matrix: npt.NDArray[np.floating]) -> list[float]:
    """Return a 4×4 matrix as 16 numbers in column-major order (3D Tiles §Tile transforms)."""
    return [float(v) for v in matrix.reshape(4, 4).T.reshape(-1)]


class _Writer:
    """Write a tree as one tileset JSON, or split into external tilesets every ``levels`` levels.

    3D Tiles 1.1 §External tilesets: a tile whose content is a tileset JSON "cannot have any
    children", and both its transform and the external root's apply. So a subtree whose root
    lies ``levels`` below its file's root moves to a file of its own: in its place stays a tile
    with the subtree root's region, geometric error and refinement, no transform (the external
    root keeps its own, written relative to the same parent frame) and the new file as content.
    Every file then holds at most ``1 + c + … + c**levels`` tiles for ``c`` children a tile (the
    last level being references or leaves).
    """

    def __init__(self, levels: int, version: Literal["1.0", "1.1"], generator: str) -> None:
        self.levels = levels
        self.version: Literal["1.0", "1.1"] = version
        self.generator = generator
        self.files: dict[str, Tileset] = {}

    def document(
        self,
        root: Tile,
        parent_world: npt.NDArray[np.float64],
        geometric_error: float,
        name: str,
    ) -> Tileset:
        out: Tileset = {
            "asset": {"version": self.version, "generator": self.generator},
            "geometricError": float(geometric_error),
            "root": {},  # type: ignore[typeddict-item]  # filled below, after the subtree files
        }
        self.files[name] = out
        stem = name.removesuffix(".json")
        out["root"] = self.tile(root, parent_world, float(geometric_error), "root", 0, stem)
        return out

    def tile(
        self,
        tile: Tile,
        parent_world: npt.NDArray[np.float64],
        parent_error: float,
        where: str,
        depth: int,
        stem: str,
    ) -> TileJSON:
        if not 0.0 <= tile.geometric_error <= parent_error:
            raise ValueError(
                f"{where}: geometricError {tile.geometric_error} must be in [0, {parent_error}] "
                "(it never grows from parent to child)"
            )
        _check_region(tile.region, where)
        if tile.refine not in ("ADD", "REPLACE"):
            raise ValueError(f"{where}: refine must be 'ADD' or 'REPLACE', got {tile.refine!r}")
        # boundingVolume.region is always in EPSG:4979 and is not transformed by tile.transform
        # (3D Tiles 1.1 §Bounding volumes/Region and §Tile transforms), so it is written as given.
        out: TileJSON = {
            "boundingVolume": {"region": [float(v) for v in tile.region]},
            "geometricError": float(tile.geometric_error),
            "refine": tile.refine,
        }
        world = parent_world
        if tile.transform is not None:
            world = np.asarray(tile.transform, dtype=np.float64)
            if world.shape != (4, 4) or not np.isfinite(world).all():
                raise ValueError(f"{where}: transform must be a finite (4, 4) matrix")
            # A tile's transform is applied after its parent's: world = parent_world @ transform
            # (3D Tiles 1.1 §Tile transforms), hence transform = inv(parent_world) @ world.
            out["transform"] = _column_major(np.linalg.solve(parent_world, world))
        if tile.content_uri is not None:
            out["content"] = {"uri": tile.content_uri}
        if tile.children:
            out["children"] = [
                self.child(
                    child,
                    world,
                    tile.geometric_error,
                    f"{where}.children[{i}]",
                    depth + 1,
                    f"{stem}-{i}",
                )
                for i, child in enumerate(tile.children)
            ]
        return out

    def child(
        self,
        tile: Tile,
        parent_world: npt.NDArray[np.float64],
        parent_error: float,
        where: str,
        depth: int,
        stem: str,
    ) -> TileJSON:
        if not self.levels or depth < self.levels or not tile.children:
            return self.tile(tile, parent_world, parent_error, where, depth, stem)
        name = f"{stem}.json"
        external = self.document(tile, parent_world, parent_error, name)
        return {
            "boundingVolume": external["root"]["boundingVolume"],
            "geometricError": external["root"]["geometricError"],
            "refine": external["root"]["refine"],
            "content": {"uri": name},
        }


def tileset_files(
    root: Tile,
    *,
    geometric_error: float,
    levels_per_file: int = 0,
    generator: str = "twin tiles",
    extras: Mapping[str, Any] | None = None,
    version: Literal["1.0", "1.1"] = "1.1",
) -> dict[str, Tileset]:
    """Return the tileset JSON files of the tree under ``root``: ``{file name: document}``.

    The first is ``tileset.json``; with ``levels_per_file`` > 0, every subtree rooted that many
    levels below its file's root is an external tileset ``tileset-<child indices>.json`` (in the
    same folder, so content URIs stay as given), so no file grows with the tree's size. Leaves
    are never split off. Parameters and errors as :func:`tileset_json`.

    Examples
    --------
    >>> region = (0.1, 0.8, 0.2, 0.9, 0.0, 50.0)
    >>> leaf = Tile(region, 0.0, None, "0.glb")
    >>> inner = Tile(region, 5.0, None, "1.glb", [leaf])
    >>> files = tileset_files(Tile(region, 10.0, None, None, [inner]), geometric_error=100.0,
    ...                       levels_per_file=1)
    >>> list(files), files["tileset.json"]["root"]["children"][0]["content"]
    (['tileset.json', 'tileset-0.json'], {'uri': 'tileset-0.json'})
    >>> files["tileset-0.json"]["root"]["children"][0]["content"]
    {'uri': '0.glb'}
    """
    if not math.isfinite(geometric_error):
        raise ValueError(f"tileset geometricError must be finite, got {geometric_error}")
    if levels_per_file < 0:
        raise ValueError(f"levels_per_file must be >= 0, got {levels_per_file}")
    writer = _Writer(levels_per_file, version, generator)
    main = writer.document(root, np.eye(4), geometric_error, "tileset.json")
    if extras is not None:
        main["extras"] = dict(extras)
    return writer.files


def tileset_json(
    root: Tile,
    *,
    geometric_error: float,
    generator: str = "twin tiles",
    extras: Mapping[str, Any] | None = None,
    version: Literal["1.0", "1.1"] = "1.1",
) -> Tileset:
    """Return the tileset JSON of the tree under ``root``.

    Parameters
    ----------
    root : Tile
    geometric_error : float
        Tileset-level error in metres (below it the root is not rendered); >= the root's.
    generator : str
        ``asset.generator``.
    extras : Mapping, optional
        Application data for the tileset's ``extras``.
    version : "1.0" or "1.1"
        ``asset.version``: "1.0" for b3dm content read by 3D Tiles 1.0 clients.

    Raises
    ------
    ValueError
        When a geometric error grows downward, a region is malformed or a transform is not 4×4.

    Examples
    --------
    >>> leaf = Tile((0.1, 0.8, 0.2, 0.9, 0.0, 50.0), 0.0, None, "0.glb")
    >>> ts = tileset_json(Tile((0.1, 0.8, 0.2, 0.9, 0.0, 50.0), 10.0, None, None, [leaf]),
    ...                   geometric_error=100.0)
    >>> ts["asset"]["version"], ts["root"]["refine"], ts["root"]["children"][0]["content"]
    ('1.1', 'REPLACE', {'uri': '0.glb'})
    """
    return tileset_files(
        root, geometric_error=geometric_error, generator=generator, extras=extras,
        version=version,
    )["tileset.json"]  # fmt: skip


def _geodetic_lon_lat(origin_ecef: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Return geodetic (lon, lat) in radians of an ECEF point (Bowring 1976, sub-mm near ground)."""
    x, y, z = (float(v) for v in origin_ecef)
    a, f = WGS84_A, WGS84_F
    b = a * (1.0 - f)
    e2 = f * (2.0 - f)
    ep2 = e2 / (1.0 - e2)
    p = math.hypot(x, y)
    theta = math.atan2(z * a, p * b)
    lat = math.atan2(z + ep2 * b * math.sin(theta) ** 3, p - e2 * a * math.cos(theta) ** 3)
    return math.atan2(y, x), lat


def enu_frame(origin_ecef: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return the ``(4, 4)`` east-north-up frame at ``origin_ecef`` (metres, EPSG:4978).

    Columns are east, north, up (the WGS84 geodetic normal) and the origin, so
    ``points_ecef = points_enu @ M[:3, :3].T + M[:3, 3]``: a tile transform whose content is local,
    metric and z-up.

    Examples
    --------
    >>> enu_frame(np.array([WGS84_A, 0.0, 0.0])).round(12) + 0.0
    array([[0.000000e+00, 0.000000e+00, 1.000000e+00, 6.378137e+06],
           [1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00],
           [0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00],
           [0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00]])
    """
    origin = np.asarray(origin_ecef, dtype=np.float64).reshape(-1)
    if origin.shape != (3,) or not np.isfinite(origin).all():
        raise ValueError(f"origin_ecef must be 3 finite numbers, got {origin_ecef!r}")
    if np.linalg.norm(origin) < 1.0:
        raise ValueError("origin_ecef is at the centre of the Earth: no local up direction")
    lon, lat = _geodetic_lon_lat(origin)
    sin_lon, cos_lon, sin_lat, cos_lat = math.sin(lon), math.cos(lon), math.sin(lat), math.cos(lat)
    frame = np.eye(4)
    frame[:3, 0] = [-sin_lon, cos_lon, 0.0]
    frame[:3, 1] = [-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat]
    frame[:3, 2] = [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat]
    frame[:3, 3] = origin
    return frame
