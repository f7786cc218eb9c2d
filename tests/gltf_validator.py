"""Run the Khronos glTF-Validator (``tests/js/validate_gltf.mjs``, node from PATH) on GLB files.

Tests import :func:`validate_glb_files` and assert on the reports; :func:`unexpected_messages`
filters out what the validator reports only because it does not implement the ``EXT_`` metadata
extensions twin uses, nor meshopt or Draco compression. What it cannot read through those, it
checks on the decoded copy :func:`decode_glb_files` writes (glTF Transform with meshoptimizer's
and Draco's own decoders, ``tests/js/decode_gltf.mjs``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "js" / "validate_gltf.mjs"
DECODE_SCRIPT = SCRIPT.with_name("decode_gltf.mjs")

# The validator (2.0.0-dev.3.10) does not implement EXT_mesh_features/EXT_structural_metadata,
# EXT_meshopt_compression or KHR_draco_mesh_compression: it says so (UNSUPPORTED_EXTENSION) and
# cannot see that the property table or a Draco primitive uses its bufferViews.
KNOWN_EXTENSIONS = (
    "EXT_mesh_features",
    "EXT_structural_metadata",
    "EXT_meshopt_compression",
    "KHR_draco_mesh_compression",
)


def _node(script: Path, args: Sequence[str]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: the glTF tools cannot run")
    done = subprocess.run(
        [node, str(script), *args],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")] or [
        {"failure": f"{script.name} failed ({done.returncode}): {done.stderr.strip()}"}
    ]


def decode_glb_files(paths: Iterable[Path], out_dir: Path) -> list[dict[str, Any]]:
    """Decode compressed GLBs to uncompressed copies in ``out_dir``; one result per path.

    Each result has ``out`` (the copy's path), ``vertices`` (POSITION count over all primitives)
    and ``extensionsUsed`` as glTF Transform read them, or ``failure``.
    """
    args = [arg for p in paths for arg in (str(p), str(out_dir / f"decoded-{p.name}"))]
    return _node(DECODE_SCRIPT, args) if args else []


def read_b3dm_files(paths: Iterable[Path], out_dir: Path) -> list[dict[str, Any]]:
    """Read b3dm tiles with 3d-tiles-tools (``tests/js/read_b3dm.mjs``); one result per path.

    Each result has ``featureTable`` (its JSON), ``properties`` (batch table name → values, JSON
    and binary properties alike), ``glb`` (the embedded GLB, written to ``out_dir``) and
    ``glbByteLength``, or ``failure``.
    """
    args = [arg for p in paths for arg in (str(p), str(out_dir / f"{p.stem}.glb"))]
    return _node(SCRIPT.with_name("read_b3dm.mjs"), args) if args else []


def validate_glb_files(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """Return one validator report per path, in order (keys: numErrors, numWarnings, messages…)."""
    paths = [str(p) for p in paths]
    if not paths:
        return []
    reports = _node(SCRIPT, paths)
    if len(reports) != len(paths):
        raise RuntimeError(f"validator failed: {reports[-1]}")
    return reports


def unexpected_messages(
    report: dict[str, Any], extension_buffer_views: Sequence[int] = ()
) -> list[dict[str, Any]]:
    """Return the messages of ``report`` not explained by the validator's missing extensions.

    Explained: ``UNSUPPORTED_EXTENSION`` for :data:`KNOWN_EXTENSIONS`, and ``UNUSED_OBJECT`` for the
    given bufferViews that only those extensions use (property table, Draco data). Everything
    else (any severity) is returned.
    """
    unused = {f"/bufferViews/{i}" for i in extension_buffer_views}
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
