"""The ConnectWise sandbox over loopback HTTP, and Ferry's client pointed at it."""
import httpx2
import pytest

from connectors.audit import ListSink
from connectors.connectwise import ConnectWise, CWSettings
from connectors.transport import RetryPolicy
from sandbox.connectwise import DEFAULTS, create_app
from sandbox.kit import serve_in_thread


class Sandbox:
    def __init__(self, scale: int = 1):
        self.app = create_app(seed=1, scale=scale)
        self.server = serve_in_thread(self.app)
        self.url = self.server.url

    def reset(self) -> None:
        httpx2.post(self.url + "/_sandbox/reset").raise_for_status()

    def action(self, path: str, payload: dict | None = None) -> dict:
        response = httpx2.post(self.url + "/_sandbox/" + path, json=payload or {})
        response.raise_for_status()
        return response.json()

    def fault(self, **rule) -> None:
        httpx2.post(self.url + "/_sandbox/faults", json=rule).raise_for_status()

    def journal(self, **query) -> list[dict]:
        return httpx2.get(self.url + "/_sandbox/journal", params=query).json()

    def settings(self, **overrides) -> CWSettings:
        values = {"site": self.url, "company_id": DEFAULTS["company"],
                  "public_key": DEFAULTS["public_key"],
                  "private_key": DEFAULTS["private_key"], "client_id": DEFAULTS["client_id"]}
        values.update(overrides)
        return CWSettings(**values)

    def client(self, sink=None, timeout: float = 10.0, context: dict | None = None,
               **overrides) -> ConnectWise:
        self.slept = []
        return ConnectWise(self.settings(**overrides), sink=sink or ListSink(),
                           timeout=timeout, sleep=self.slept.append, context=context,
                           retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05))

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def sandbox():
    served = Sandbox()
    yield served
    served.stop()


@pytest.fixture
def cw(sandbox):
    """The module's sandbox rebuilt from its seed (faults and journal cleared)."""
    sandbox.reset()
    return sandbox
