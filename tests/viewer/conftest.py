"""A real ``twin serve`` on the imported demo city, and headless Chromium looking at its viewer.

Everything here is session- or module-scoped: importing the demo, starting the server and
rendering the first view with SwiftShader take seconds, and the tests only read the page.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from .harness import CHROMIUM, CHROMIUM_ARGS, DEMO_GML, ViewerSession, open_viewer, serve_city


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Import the demo city, run ``twin serve --token TOKEN`` on it, yield its base URL."""
    with serve_city(tmp_path_factory.mktemp("twin-data"), {"demo": DEMO_GML}) as base_url:
        yield base_url


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
