"""Fixtures of the CityGML reader tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .documents import FOOTER, HEADER, WriteCityGML


@pytest.fixture
def write_citygml(tmp_path: Path) -> WriteCityGML:
    """Return a function writing ``HEADER + body + FOOTER`` to ``tmp_path/name``."""

    def write(name: str, body: str) -> Path:
        path = tmp_path / name
        path.write_text(HEADER + body + FOOTER, encoding="utf-8")
        return path

    return write
