"""The tiles package imports only numpy, the stdlib, its encoders, Pillow and itself; sorted API."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import tiles

PACKAGE = Path(tiles.__file__).resolve().parent
ALLOWED = {"numpy", "tiles", "__future__", "meshopt", "DracoPy", "PIL"}  # + encoders, Pillow


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_module_imports_only_numpy_stdlib_and_encoders(path: Path) -> None:
    foreign = imported_roots(path) - ALLOWED - set(sys.stdlib_module_names)
    assert foreign == set(), f"{path.name} imports {sorted(foreign)}"
    assert "twin" not in imported_roots(path)


def test_all_is_sorted_and_complete() -> None:
    assert tiles.__all__ == sorted(tiles.__all__)
    assert all(hasattr(tiles, name) for name in tiles.__all__)
    public = {
        name
        for module in ("axes", "glb", "metadata", "tileset")
        for name in getattr(tiles, module).__all__
        if not name.isupper()
    }
    assert public <= set(tiles.__all__)
