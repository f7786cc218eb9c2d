"""Re-importing rewrites only the tiles whose content changed; the rest are hard links."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth import synth_city

from twin.pipeline import ImportOptions, TileBudget, import_files
from twin.store import SQLiteStore


@pytest.fixture
def city(tmp_path: Path) -> Path:
    synth = synth_city()
    path = tmp_path / "city.gml"
    synth.write_city(path, 80, seed=9)
    return path


def _inodes(tileset_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in (tileset_dir / "content").iterdir()}


def _import(store: SQLiteStore, path: Path) -> dict[str, int]:
    options = ImportOptions(dataset="city", budget=TileBudget(max_features=15), workers=1)
    import_files([path], store, options)
    return _inodes(store.tileset_dir("city"))


def test_same_input_links_every_tile(store: SQLiteStore, city: Path) -> None:
    first = _import(store, city)
    second = _import(store, city)
    assert second == first  # same names, same files on disk


def test_one_changed_building_rewrites_one_tile(
    store: SQLiteStore, city: Path, tmp_path: Path
) -> None:
    first = _import(store, city)
    changed = tmp_path / "changed.gml"
    text = city.read_text(encoding="utf-8")
    assert text.count("<gml:name>Building 5</gml:name>") == 1
    changed.write_text(text.replace("<gml:name>Building 5<", "<gml:name>Building five<"))
    second = _import(store, changed)
    assert len(set(second) - set(first)) == 1
    assert all(second[name] == first[name] for name in set(second) & set(first))
