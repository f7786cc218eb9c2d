"""With a pool, members read and built in the workers import as the reader in this process does.

``--workers 1`` reads every member in the calling process (the reference); ``--workers 2``
hands the members it can on to the workers. Report (rejections and warnings with their
``file:line``, CRSs), catalog and tiles must be the same.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from twin.citygml.members import MemberBatch
from twin.errors import CRSError
from twin.pipeline import REPORT_NAME, ImportOptions, TileBudget, import_files
from twin.pipeline.sources import ReadOptions, iter_objects
from twin.store import SQLiteStore


def _imported(store: SQLiteStore, dataset: str) -> tuple[dict[str, object], dict[str, bytes]]:
    """Return the import report (without timings) and every file of the served tileset."""
    root = store.tileset_dir(dataset)
    report = json.loads((root / REPORT_NAME).read_text())
    for timing in ("seconds", "stage_seconds"):
        report.pop(timing)
    report["dataset"] = None
    tiles = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != REPORT_NAME
    }
    return report, tiles


@pytest.mark.parametrize(
    ("names", "options"),
    [
        (["nds_LoD1_24085862_2_2021-01-25.gml"], {}),  # Buildings of parts
        (["hel_2549_6674.gml"], {}),  # swapped axis order, decided from the first building
        (["ogc_v2_Building_LOD1-LocalEngineeringCRS.gml"], {}),  # placed by its anchor
        (["plateau_hodokyo_51324378_brid_6697.gml"], {"lod": "all"}),
        (["plateau_53361601_trk_6697.gml", "teco_district1_LoD2.gml"], {}),  # two CRSs
        (["c4j_LOD2_Buildings_v100.gml"], {"crs": "EPSG:3068+5783"}),
        (["teco_district1_LoD2.gml"] * 2, {}),  # every id repeated: the copies are rejected
        (["qie_i101_1.gml", "qie_i206_1.gml", "qie_v002.gml"], {"crs": "EPSG:25832"}),  # defects
    ],
)
def test_members_read_in_workers_import_as_read_here(
    shared_data: Path, tmp_path: Path, names: list[str], options: dict[str, object]
) -> None:
    paths = [shared_data / "citygml" / name for name in names]
    assert any(isinstance(i, MemberBatch) for i in iter_objects(paths, ReadOptions(ship=True)))
    store = SQLiteStore(tmp_path / "data")
    try:
        budget = TileBudget(max_features=40)
        for dataset, workers in (("here", 1), ("workers", 2)):
            opts = ImportOptions(dataset=dataset, workers=workers, budget=budget, **options)  # type: ignore[arg-type]
            import_files(paths, store, opts)
        here, there = _imported(store, "here"), _imported(store, "workers")
    finally:
        store.close()
    assert there[0] == here[0]
    assert there[1] == here[1]
    assert _catalog(tmp_path / "data" / "twin.db", "workers") == _catalog(
        tmp_path / "data" / "twin.db", "here"
    )


def _catalog(db: Path, dataset: str) -> list[tuple[object, ...]]:
    """Return the catalog rows of ``dataset`` (objects and their LoD geometry), in id order."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT * FROM objects LEFT JOIN object_lod USING (dataset, id) WHERE dataset = ? "
            "ORDER BY id",
            (dataset,),
        ).fetchall()
    return [row[1:] for row in rows]


def test_a_missing_srsname_is_refused_from_a_worker_as_here(
    shared_data: Path, tmp_path: Path
) -> None:
    path = shared_data / "citygml" / "c4j_LOD2_Buildings_v100.gml"
    store = SQLiteStore(tmp_path / "data")
    try:
        messages = []
        for workers in (1, 2):
            with pytest.raises(CRSError) as caught:
                import_files([path], store, ImportOptions(dataset="city", workers=workers))
            messages.append(str(caught.value))
    finally:
        store.close()
    assert messages[1] == messages[0]
    assert "no srsName for Building" in messages[0]
