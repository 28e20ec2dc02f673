"""The chaos suite runs against the same sandboxes as tests/sync_e2e, plus a private
redis-server of its own (so restarting Redis harms nobody else's run)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from sandbox import xero as xero_sandbox
from sandbox.kit import serve_in_thread
from tests.sync_e2e.conftest import clock, cw, ferry  # noqa: F401 (fixtures)


class PrivateRedis:
    """A redis-server that the chaos test may kill and start again, on a unix socket in a
    folder of its own (no TCP port: parallel test workers, and two suites on one machine,
    never race for one)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ferry-chaos-redis-")
        self.socket = Path(self.dir) / "redis.sock"
        self.process = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX) as probe:
            return probe.connect_ex(str(self.socket)) == 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", str(self.socket),
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError("the chaos suite's redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
        self.restarts += 1

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_redis(monkeypatch):
    server = PrivateRedis()
    server.start()
    monkeypatch.setenv("REDIS_URL", server.url)   # get_redis() and child workers use it
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def xero():
    """The Xero sandbox without its own minute and day limits: Ferry's pacing clock is
    moved (Retry-After, the day limit) while the sandbox counts real time, so its real
    limits would only measure the test's speed. The limits come as injected faults
    (429-minute, 429-day) instead; tests/sync_e2e covers the real ones."""
    app = xero_sandbox.create_app(seed=1, minute_limit=10**6, day_limit=10**6)
    served = serve_in_thread(app)
    served.app = app
    yield served
    served.stop()


def pytest_terminal_summary(terminalreporter):
    """The chaos figures of every seed run, added up (each seed prints its own)."""
    from tests.chaos.test_chaos import TOTALS
    if not TOTALS:
        return
    terminalreporter.write_line("chaos totals: " + "; ".join(
        f"{k} {n}" for k, n in sorted(TOTALS.items())))
