"""Imports point one way (ARCHITECTURE.md §3); third-party libraries stay in their adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each twin module prefix → the twin modules it may import (besides itself).
KERNEL = {"twin.errors", "twin.types"}
DOMAIN = KERNEL | {"twin.model"}
PURE = DOMAIN
ADAPTER = DOMAIN | {"twin.geometry"}
ALLOWED: dict[str, set[str]] = {
    "twin.errors": set(),
    "twin.types": set(),
    "twin.model": KERNEL,
    "twin.geometry": PURE,
    "twin.citygml": ADAPTER,
    "twin.cityjson": ADAPTER,
    "twin.geo": ADAPTER,
    "twin.store": ADAPTER,
    "twin.ngsild": ADAPTER,
    "twin.live": ADAPTER,
    "twin.pipeline": ADAPTER | {"twin.citygml", "twin.cityjson", "twin.geo", "twin.store"},
    # the server answers in the client's CRS (OGC API – Features Part 2) through twin.geo
    "twin.server": DOMAIN | {"twin.store", "twin.ngsild", "twin.live", "twin.geo"},
    "twin.sim": DOMAIN,
    "twin.cli": DOMAIN | {"twin", "twin.store", "twin.pipeline", "twin.server", "twin.sim"},
    "twin": set(),
}
# Third-party packages confined to one place.
CONFINED = {
    "lxml": "twin.citygml",
    "pyproj": "twin.geo",
    "aiohttp": "twin.server",
    "distributed": "twin.pipeline",
}
# the CLI starts the server; the simulator is an HTTP client of the public API, an edge too
CONFINED_EXTRA = {"aiohttp": {"twin.cli", "twin.sim"}}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("twin", "tiles"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(p for p in parts if p != "__init__")
            found.append((name, path))
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer(module: str) -> str:
    for prefix in sorted(ALLOWED, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    raise AssertionError(f"{module} belongs to no layer of ARCHITECTURE.md §3")


MODULES = _modules()


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_imports_point_down(module: str, path: Path) -> None:
    imported = _imports(path)
    if module.startswith("tiles"):
        assert not {i for i in imported if i == "twin" or i.startswith("twin.")}
        return
    layer = _layer(module)
    for name in imported:
        if name == "twin" or name.startswith("twin."):
            target = _layer(name) if name != "twin" else "twin"
            assert target == layer or target in ALLOWED[layer], f"{module} imports {name}"
        top = name.split(".")[0]
        if top in CONFINED:
            home = CONFINED[top]
            assert layer == home or layer in CONFINED_EXTRA.get(top, set()), (
                f"{module} imports {name}, which only {home} may import"
            )


def test_every_module_is_checked() -> None:
    assert {m for m, _ in MODULES} >= {"twin.errors", "twin.model", "tiles"}
