"""The store seam: what the pipeline writes and the server reads.

The embedded default is :class:`twin.store.SQLiteStore` (SQLite + files in one data directory);
a PostgreSQL backend for multi-replica serving implements the same Protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from twin.model import BuildingRecord, DatasetInfo
from twin.store.entities import SQLiteEntities
from twin.store.features import SQLiteFeatures

__all__ = ["Store"]


class Store(Protocol):
    """Catalog of datasets and city objects, plus the tileset files being served."""

    @property
    def entities(self) -> SQLiteEntities:
        """NGSI-LD entities in the same database (a Protocol of its own when PostgreSQL lands)."""
        ...

    @property
    def features(self) -> SQLiteFeatures:
        """Feature queries over the catalog (OGC API – Features)."""
        ...

    def list_datasets(self) -> list[DatasetInfo]:
        """Return every dataset, sorted by name."""
        ...

    def get_dataset(self, name: str) -> DatasetInfo:
        """Return one dataset; raise NotFoundError when there is none of that name."""
        ...

    def get_object(self, dataset: str, object_id: str) -> BuildingRecord:
        """Return one city object; raise NotFoundError when unknown."""
        ...

    def tileset_dir(self, dataset: str) -> Path:
        """Return the folder of the tileset being served; raise NotFoundError when none."""
        ...

    def staging_dir(self, dataset: str) -> Path:
        """Return a new empty folder to write a tileset in, aside from the one being served."""
        ...

    def discard_staging(self, staging: Path) -> None:
        """Delete a staging folder that will not be published (its import failed)."""
        ...

    def publish(self, info: DatasetInfo, records: Iterable[BuildingRecord], staging: Path) -> None:
        """Replace the dataset's catalog rows and swap its served tileset for ``staging``."""
        ...

    def update_report(self, info: DatasetInfo) -> None:
        """Store ``info.report`` as the import report of the publish that wrote ``info`` (same
        name and ``imported_at``); do nothing if a later publish replaced it."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
