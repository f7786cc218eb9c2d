"""pygeofilter (a second to import: it builds its grammar then) is imported only to parse CQL2."""

from __future__ import annotations

import subprocess
import sys

import pytest

LOADED = (
    "import sys; print(sorted({m.split('.')[0] for m in sys.modules} & {'pygeofilter', 'lark'}))"
)


@pytest.mark.parametrize(
    ("modules", "expected"),
    [
        ("twin.cli, twin.store, twin.pipeline", "[]"),
        ("twin.store.features_cql2", "['lark', 'pygeofilter']"),
    ],
)
def test_pygeofilter_loads_only_with_the_cql2_parser(modules: str, expected: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", f"import {modules}; {LOADED}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.strip() == expected
