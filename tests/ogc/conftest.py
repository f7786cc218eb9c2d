"""A real ``twin serve`` subprocess on the imported demo city, on a free port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_GML = ROOT / "data" / "teco_district1_LoD2.gml"
TWIN = Path(sys.executable).with_name("twin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_health(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"twin serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"twin serve did not answer /healthz within 30 s:\n{log.read_text()}")


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
    port = _free_port()
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(TWIN), "serve", "--data-dir", str(data_dir), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base_url, server, log)
        yield base_url, data_dir
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
