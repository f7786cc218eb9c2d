"""Import orchestration: input files to a published tileset and catalog."""

from twin.pipeline.importer import ImportOptions, import_files
from twin.pipeline.report import REPORT_NAME, ImportReport
from twin.pipeline.tiling import TileBudget

__all__ = ["REPORT_NAME", "ImportOptions", "ImportReport", "TileBudget", "import_files"]
