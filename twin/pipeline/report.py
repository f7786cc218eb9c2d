"""The import report: what was read, what was kept, what was left out and why."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from twin.model import AppearanceLog, Rejection
from twin.pipeline.images import ImageStatus, image_status
from twin.pipeline.sizes import SizeReport

__all__ = ["REPORT_NAME", "ImportReport", "appearance_json"]

REPORT_NAME = "import-report.json"


@dataclass(slots=True)
class ImportReport:
    """Counts reconcile: ``objects_read == imported + rejected``."""

    dataset: str
    inputs: list[str]
    objects_read: int = 0
    imported_by_type: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    crs: dict[str, dict[str, object]] = field(default_factory=dict)
    tiles: int = 0
    tile_bytes: int = 0
    tile_sizes: SizeReport = field(default_factory=SizeReport)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    appearances: AppearanceLog = field(default_factory=AppearanceLog)
    _appearance: dict[str, object] | None = field(default=None, repr=False)

    @property
    def imported(self) -> int:
        return sum(self.imported_by_type.values())

    def reject(self, rejection: Rejection) -> None:
        """Record an object left out."""
        self.rejections.append(rejection)

    def as_json(self) -> dict[str, object]:
        """Return the report as JSON-compatible data (``appearance`` only when there was any)."""
        out: dict[str, object] = {
            "dataset": self.dataset,
            "inputs": self.inputs,
            "objects": {
                "read": self.objects_read,
                "imported": self.imported,
                "rejected": len(self.rejections),
                "imported_by_type": dict(sorted(self.imported_by_type.items())),
            },
            "rejections": [asdict(r) | {"source": str(r.source)} for r in self.rejections],
            "warnings": self.warnings,
            "crs": self.crs,
            "tiles": {"count": self.tiles, "bytes": self.tile_bytes, **self.tile_sizes.as_json()},
            "seconds": round(self.seconds, 3),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
        }
        if not self.appearances.empty:
            if self._appearance is None:  # images are checked once
                self._appearance = appearance_json(self.appearances)
            out["appearance"] = self._appearance
        return out

    def write(self, folder: Path) -> Path:
        """Write ``import-report.json`` into ``folder`` (replacing it at once: a reader sees the
        old or the new report, never part of one) and return its path."""
        path = folder / REPORT_NAME
        tmp = folder / f".{REPORT_NAME}.{os.getpid()}"
        tmp.write_text(json.dumps(self.as_json(), indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
        return path


def appearance_json(
    log: AppearanceLog, status: Callable[[str], ImageStatus] = image_status
) -> dict[str, object]:
    """Return what the readers did with appearances, as the report's ``appearance`` section.

    Each image that cannot be used (``status`` checks each once) is listed once, with the
    count of surfaces drawn in their class colour instead.
    """
    by_status: dict[ImageStatus, list[str]] = {}
    for image in sorted(log.image_surfaces):
        by_status.setdefault(status(image), []).append(image)

    def unusable(kind: ImageStatus) -> list[dict[str, object]]:
        return [
            {"image": image, "surfaces": log.image_surfaces[image], "drawn_as": "class colour"}
            for image in by_status.get(kind, [])
        ]

    return {
        "theme": "(no theme)" if log.theme == "" else log.theme,
        "themes_ignored": dict(sorted(log.themes_ignored.items())),
        "textured_surfaces": log.textured_surfaces,
        "material_surfaces": log.material_surfaces,
        "images": len(log.image_surfaces),
        "missing_images": unusable("missing"),
        "unreadable_images": unusable("unreadable"),
        "converted_to_png": by_status.get("converted", []),
        "not_drawn": dict(sorted(log.ignored.items())),
        "unknown_targets": {"count": log.unknown_targets, "examples": log.unknown_examples},
    }
