"""`--dask`: the import's batches and tiles run on a Dask cluster and give the same tileset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import LocalCluster

from twin.cli import main
from twin.pipeline import ImportOptions, TileBudget, import_files
from twin.store import SQLiteStore

CITY = "citygml/teco_district1_LoD2.gml"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


def _content(store: SQLiteStore, dataset: str) -> dict[str, bytes]:
    root = store.tileset_dir(dataset)
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "import-report.json"
    }


def test_dask_cluster_builds_the_same_tileset_as_the_local_pool(
    shared_data: Path, tmp_path: Path, cluster: LocalCluster
) -> None:
    path = shared_data / CITY
    store = SQLiteStore(tmp_path / "data")
    try:
        budget = TileBudget(max_features=20)  # several tiles, so encoding is distributed too
        local = ImportOptions(dataset="local", workers=2, budget=budget)
        remote = ImportOptions(dataset="remote", dask=cluster.scheduler_address, budget=budget)
        local_report = import_files([path], store, local)
        remote_report = import_files([path], store, remote)
        assert remote_report.imported == local_report.imported > 100
        assert remote_report.tiles == local_report.tiles > 2
        assert remote_report.rejections == local_report.rejections
        assert remote_report.warnings == local_report.warnings
        assert _content(store, "remote") == _content(store, "local")
    finally:
        store.close()
    # the work really ran on the cluster: the scheduler saw the batch and tile tasks (Dask
    # names a task by its function, leading underscores dropped)
    prefixes = set(cluster.scheduler.task_prefixes)
    assert {"run_batch", "encode_job"} <= prefixes, prefixes


def test_unreachable_scheduler_is_a_clear_cli_error(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["import", str(shared_data / CITY), "--data-dir", str(tmp_path)]
    code = main([*argv, "--dask", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code != 0
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
    assert "without --dask" in err
    assert not (tmp_path / "tilesets" / "teco_district1_LoD2").exists()
