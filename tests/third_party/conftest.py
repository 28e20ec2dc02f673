"""Both sandboxes served over loopback HTTP for API clients nobody here wrote.

The clients (xero-python, pyconnectwise) are not Ferry dependencies. Each test module
imports its client only through `pytest.importorskip`, so this folder skips, saying why,
where they are not installed. To run it:

    python3 -m venv /tmp/tp && /tmp/tp/bin/pip install -e . xero-python pyconnectwise pytest
    /tmp/tp/bin/pytest tests/third_party -q -p no:cacheprovider
"""
from __future__ import annotations

import pytest

from sandbox.kit import serve_in_thread


@pytest.fixture(scope="module")
def xero_url():
    from sandbox.xero import create_app
    server = serve_in_thread(create_app(seed=1))
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def cw_url():
    from sandbox.connectwise import create_app
    server = serve_in_thread(create_app(seed=1))
    yield server.url
    server.stop()
