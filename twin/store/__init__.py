"""Persistence: the building catalog and the tilesets being served."""

from twin.store.protocol import Store
from twin.store.sqlite import SQLiteStore, validate_dataset_name

__all__ = ["SQLiteStore", "Store", "validate_dataset_name"]
