"""``scripts/synth_city.py`` loaded as a module, for the tests that write synthetic cities."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "synth_city.py"


@functools.cache
def synth_city() -> ModuleType:
    """Return ``scripts/synth_city.py`` as a module (loaded once)."""
    spec = importlib.util.spec_from_file_location("synth_city", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
