"""The import report: what was read, what was kept, what was left out and why."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from twin.model import AppearanceLog, Rejection

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
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    appearances: AppearanceLog = field(default_factory=AppearanceLog)

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
            "tiles": {"count": self.tiles, "bytes": self.tile_bytes},
            "seconds": round(self.seconds, 3),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
        }
        if not self.appearances.empty:
            out["appearance"] = appearance_json(self.appearances)
        return out

    def write(self, folder: Path) -> Path:
        """Write ``import-report.json`` into ``folder`` and return its path."""
        path = folder / REPORT_NAME
        path.write_text(json.dumps(self.as_json(), indent=2, ensure_ascii=False), encoding="utf-8")
        return path


def appearance_json(log: AppearanceLog) -> dict[str, object]:
    """Return what the readers did with appearances, as the report's ``appearance`` section.

    Each image that could not be used is listed once, with the count of surfaces drawn in
    their class colour instead.
    """
    return {
        "theme": "(no theme)" if log.theme == "" else log.theme,
        "themes_ignored": dict(sorted(log.themes_ignored.items())),
        "textured_surfaces": log.textured_surfaces,
        "material_surfaces": log.material_surfaces,
        "missing_images": [
            {"image": image, "surfaces": count, "drawn_as": "surface class colour"}
            for image, count in sorted(log.missing_images.items())
        ],
        "unreadable_images": [
            {"image": image, "surfaces": count, "drawn_as": "surface class colour"}
            for image, count in sorted(log.unreadable_images.items())
        ],
        "converted_to_png": sorted(log.converted_images),
        "not_drawn": dict(sorted(log.ignored.items())),
        "unknown_targets": {"count": log.unknown_targets, "examples": log.unknown_examples},
    }
