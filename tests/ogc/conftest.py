"""A real ``twin serve`` subprocess on the imported demo city, on a free port."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_process import free_port, serve, stop

ROOT = Path(__file__).resolve().parents[2]
DEMO_GML = ROOT / "data" / "teco_district1_LoD2.gml"
TWIN = Path(sys.executable).with_name("twin")


@pytest.fixture(scope="session")
def ogc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Import the demo city as ``teco``, serve it, yield ``(base URL, data directory)``."""
    data_dir = tmp_path_factory.mktemp("twin-ogc")
    subprocess.run(
        [str(TWIN), "import", str(DEMO_GML), "--dataset", "teco", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = free_port()
    server = serve(data_dir, port, log=data_dir / "serve.log")
    try:
        yield f"http://127.0.0.1:{port}", data_dir
    finally:
        stop(server)
