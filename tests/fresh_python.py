"""Run a Python script in a fresh interpreter: for what a process does the first time."""

from __future__ import annotations

import subprocess
import sys


def fresh_output(script: str, *args: str) -> str:
    """Return what ``script`` prints when run by a new interpreter with ``args``."""
    return subprocess.run(
        [sys.executable, "-c", script, *args], check=True, capture_output=True, text=True
    ).stdout
