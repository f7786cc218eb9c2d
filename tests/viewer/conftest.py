"""A real ``twin serve`` on the imported demo city, and headless Chromium looking at its viewer.

Everything here is session- or module-scoped: importing the demo, starting the server and
rendering the first view with SwiftShader take seconds, and the tests only read the page.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from .harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEMO_GML,
    TOKEN,
    TWIN,
    ViewerSession,
    free_port,
    open_viewer,
    wait_for_health,
)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Import the demo city, run ``twin serve --token TOKEN`` on it, yield its base URL."""
    data_dir = tmp_path_factory.mktemp("twin-data")
    subprocess.run(
        [str(TWIN), "import", str(DEMO_GML), "--dataset", "demo", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = free_port()
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                str(TWIN),
                *("serve", "--data-dir", str(data_dir), "--port", str(port), "--token", TOKEN),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, server, log)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Launch headless Chromium with WebGL on SwiftShader and no background networking."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set TWIN_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def viewer(browser: Browser, demo_server: str) -> Iterator[ViewerSession]:
    """Open ``/viewer/`` at 1280×800 and wait until every visible tile is loaded."""
    yield from open_viewer(browser, demo_server, "/viewer/")
