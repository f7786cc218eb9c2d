"""Run the Khronos glTF-Validator (``tests/js/validate_gltf.mjs``, node from PATH) on GLB files.

Tests import :func:`validate_glb_files` and assert on the reports; :func:`unexpected_messages`
filters out what the validator reports only because it does not implement the ``EXT_`` metadata
extensions twin uses.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "js" / "validate_gltf.mjs"

# The validator (2.0.0-dev.3.10) does not implement EXT_mesh_features/EXT_structural_metadata:
# it says so (UNSUPPORTED_EXTENSION) and cannot see that the property table uses its bufferViews.
KNOWN_EXTENSIONS = ("EXT_mesh_features", "EXT_structural_metadata")


def validate_glb_files(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """Return one validator report per path, in order (keys: numErrors, numWarnings, messages…)."""
    paths = [str(p) for p in paths]
    if not paths:
        return []
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: the glTF validator cannot run")
    done = subprocess.run(
        [node, str(SCRIPT), *paths],
        cwd=SCRIPT.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(reports) != len(paths):
        raise RuntimeError(f"validator failed ({done.returncode}): {done.stderr.strip()}")
    return reports


def unexpected_messages(
    report: dict[str, Any], metadata_buffer_views: Sequence[int] = ()
) -> list[dict[str, Any]]:
    """Return the messages of ``report`` not explained by the validator's missing extensions.

    Explained: ``UNSUPPORTED_EXTENSION`` for :data:`KNOWN_EXTENSIONS`, and ``UNUSED_OBJECT`` for the
    given property-table bufferViews. Everything else (any severity) is returned.
    """
    unused = {f"/bufferViews/{i}" for i in metadata_buffer_views}
    out = []
    for message in report["messages"]:
        code, pointer = message.get("code"), message.get("pointer", "")
        if code == "UNSUPPORTED_EXTENSION" and any(
            e in message["message"] for e in KNOWN_EXTENSIONS
        ):
            continue
        if code == "UNUSED_OBJECT" and pointer in unused:
            continue
        out.append(message)
    return out
