"""A real Chromium (Debian's package, driven by Playwright) against Ferry served over HTTP."""
import shutil

import pytest

from sandbox.kit import serve_in_thread

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture
def live_server(app):
    server = serve_in_thread(app)
    yield server
    server.stop()


@pytest.fixture
def page(chromium):
    """A fresh browser context (its own cookies and storage) in the worker's Chromium."""
    context = chromium.new_context()
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    try:
        yield page
    finally:
        context.close()
