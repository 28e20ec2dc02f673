"""Both sandboxes served over loopback HTTP, Ferry connected to them with the
catalogue's mappings, and helpers to look into the Xero sandbox's store."""
from __future__ import annotations

import pytest

from sandbox import connectwise as cw_sandbox
from sandbox import xero as xero_sandbox
from sandbox.kit import serve_in_thread


class FakeClock:
    """Moves on when the cycle sleeps, so Retry-After waits cost no real time."""

    def __init__(self):
        import time
        self.offset, self._time = 0.0, time.time
        self.slept: list[float] = []

    def clock(self) -> float:
        return self._time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds


@pytest.fixture
def cw():
    app = cw_sandbox.create_app(seed=1, scale=1)
    served = serve_in_thread(app)
    served.app = app
    yield served
    served.stop()


@pytest.fixture
def xero():
    app = xero_sandbox.create_app(seed=1)
    served = serve_in_thread(app)
    served.app = app
    yield served
    served.stop()


@pytest.fixture
def ferry(app, cw, xero):
    """The app context with a DB connection, connected to both sandboxes."""
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    from models import db
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        yield app


@pytest.fixture
def clock():
    return FakeClock()
