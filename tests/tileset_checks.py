"""Structural checks of a 3D Tiles 1.1 tileset JSON, shared by every test that writes a tileset.

:func:`check_tileset` raises ``AssertionError`` listing every problem it finds: asset.version "1.1"
(or the one asked for), upper-case ``refine`` (required on the root), geometricError never growing
downward (the tileset's own >= the root's), child regions inside the parent region (1e-9 rad, 1 mm
tolerance), and every content URI existing under ``root_dir``. External tilesets are followed and
checked the same way, across files (3D Tiles §External tilesets: the referring tile has no
children, there are no cycles, and the external root continues its referring tile's tree).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ANGLE_TOLERANCE = 1e-9  # radians (≈ 6 mm on the ground)
HEIGHT_TOLERANCE = 1e-3  # metres


def _inside(child: list[float], parent: list[float]) -> bool:
    cw, cs, ce, cn, clo, chi = child
    pw, ps, pe, pn, plo, phi = parent
    tol = ANGLE_TOLERANCE
    if pw <= pe and cw <= ce:  # neither crosses the antimeridian
        lon_ok = cw >= pw - tol and ce <= pe + tol
    else:  # compare on the unwrapped circle
        two_pi = 6.283185307179586
        p_east = pe + two_pi if pe < pw else pe
        c_west, c_east = cw, ce + two_pi if ce < cw else ce
        if c_west < pw - tol:
            c_west, c_east = c_west + two_pi, c_east + two_pi
        lon_ok = c_west >= pw - tol and c_east <= p_east + tol
    return (
        lon_ok
        and cs >= ps - tol
        and cn <= pn + tol
        and clo >= plo - HEIGHT_TOLERANCE
        and chi <= phi + HEIGHT_TOLERANCE
    )


@dataclass
class _Check:
    """What a walk over one tileset and its external tilesets shares."""

    version: str
    problems: list[str] = field(default_factory=list)

    def tile(
        self,
        tile: Mapping[str, Any],
        parent: Mapping[str, Any] | None,
        parent_error: float,
        folder: Path,
        where: str,
        seen: frozenset[Path],
    ) -> None:
        problems = self.problems
        error = tile.get("geometricError")
        if not isinstance(error, int | float) or error < 0:
            problems.append(f"{where}: geometricError must be a number >= 0, got {error!r}")
            error = parent_error
        elif error > parent_error:
            problems.append(
                f"{where}: geometricError {error} grows above its parent's {parent_error}"
            )
        refine = tile.get("refine")
        if parent is None and refine is None:
            problems.append(f"{where}: the root tile must have refine")
        if refine is not None and refine not in ("ADD", "REPLACE"):
            problems.append(f"{where}: refine must be 'ADD' or 'REPLACE', got {refine!r}")
        region = tile.get("boundingVolume", {}).get("region")
        if region is None or len(region) != 6:
            problems.append(f"{where}: boundingVolume.region with 6 numbers expected")
        elif parent is not None:
            parent_region = parent["boundingVolume"].get("region")
            if parent_region is not None and not _inside(region, parent_region):
                problems.append(f"{where}: region {region} is not inside parent {parent_region}")
        transform = tile.get("transform")
        if transform is not None and len(transform) != 16:
            problems.append(f"{where}: transform must have 16 numbers")
        uri = tile.get("content", {}).get("uri", "")
        if "content" in tile and (not uri or not (folder / unquote(uri)).is_file()):
            problems.append(f"{where}: content uri {uri!r} does not exist under {folder}")
        elif uri.endswith(".json"):
            self.external(tile, error, folder / unquote(uri), where, seen)
        for i, child in enumerate(tile.get("children", [])):
            self.tile(child, tile, error, folder, f"{where}.children[{i}]", seen)

    def external(
        self, tile: Mapping[str, Any], error: float, path: Path, where: str, seen: frozenset[Path]
    ) -> None:
        if tile.get("children"):
            self.problems.append(f"{where}: a tile with an external tileset cannot have children")
        if path.resolve() in seen:
            self.problems.append(f"{where}: external tileset {path.name} makes a cycle")
            return
        self.document(json.loads(path.read_text()), tile, error, path, seen)

    def document(
        self,
        tileset: Mapping[str, Any],
        parent: Mapping[str, Any] | None,
        parent_error: float,
        path: Path,
        seen: frozenset[Path],
    ) -> None:
        where = "" if parent is None else f"{path.name}:"
        version = tileset.get("asset", {}).get("version")
        if version != self.version:
            self.problems.append(f"{where}asset.version must be {self.version!r}, got {version!r}")
        error = tileset.get("geometricError")
        if not isinstance(error, int | float) or error < 0:
            self.problems.append(f"{where}geometricError must be a number >= 0, got {error!r}")
            error = float("inf")
        if "root" not in tileset:
            self.problems.append(f"{where}tileset has no root tile")
            return
        # An external tileset's root continues the referring tile's tree (its parent).
        limit = float(error) if parent is None else parent_error
        self.tile(tileset["root"], parent, limit, path.parent, f"{where}root",
                  seen | {path.resolve()})  # fmt: skip


def check_tileset(
    tileset: Mapping[str, Any], root_dir: Path | str, *, version: str = "1.1"
) -> None:
    """Assert that ``tileset`` (a parsed tileset.json whose files live in ``root_dir``) is sound.

    ``version`` is the expected ``asset.version`` ("1.0" for b3dm tilesets).
    """
    check = _Check(version)
    check.document(tileset, None, float("inf"), Path(root_dir) / "tileset.json", frozenset())
    if check.problems:
        raise AssertionError("tileset problems:\n" + "\n".join(check.problems))
