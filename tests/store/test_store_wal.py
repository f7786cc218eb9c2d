"""The WAL file shrinks back after a publish: a large import grows it (SQLite never shrinks the
file by itself), and a server holding the database open must not keep that size on disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from synth import synth_city

from twin.pipeline import ImportOptions, import_files
from twin.store import SQLiteStore

LIMIT_PAGES = 256  # 1 MiB of 4 KiB pages; a publish of 600 buildings logs several times that


def test_the_wal_file_is_back_within_its_limit_after_a_large_publish(tmp_path: Path) -> None:
    source = tmp_path / "city.gml"
    synth_city().write_city(source, 600, seed=3)
    data = tmp_path / "data"
    store = SQLiteStore(data, importing=True, wal_limit_pages=LIMIT_PAGES)
    limit = LIMIT_PAGES * store._db.execute("PRAGMA page_size").fetchone()[0]
    wal = data / "twin.db-wal"
    server = sqlite3.connect(data / "twin.db")  # a `twin serve` beside the import
    peak = 0

    def watch(stage: str, done: int, total: int | None) -> None:
        nonlocal peak
        if stage == "publish" and wal.exists():
            peak = max(peak, wal.stat().st_size)

    try:
        import_files([source], store, ImportOptions(dataset="city", workers=1), watch)
        assert peak > 2 * limit  # the publish did grow the log past the limit
        assert wal.stat().st_size <= limit
        server.execute("SELECT count(*) FROM objects").fetchone()  # the server reads on
    finally:
        server.close()
        store.close()
