"""A ConnectWise sandbox served over loopback HTTP, and a client that talks to it the way
Ferry's connector must (Basic auth, clientId, versioned Accept)."""
import base64
import json
from decimal import Decimal

import httpx2
import pytest

from sandbox.connectwise import DEFAULTS, READONLY, create_app
from sandbox.kit import serve_in_thread

API = "/v4_6_release/apis/3.0/"
ACCEPT = "application/vnd.connectwise.com+json; version=2022.1"


def basic(company: str, public: str, private: str) -> str:
    token = base64.b64encode(f"{company}+{public}:{private}".encode()).decode()
    return f"Basic {token}"


def api_client(url: str, public: str = DEFAULTS["public_key"],
               private: str = DEFAULTS["private_key"], **headers) -> httpx2.Client:
    return httpx2.Client(base_url=url + API, timeout=30, headers={
        "Authorization": basic(DEFAULTS["company"], public, private),
        "clientId": DEFAULTS["client_id"], "Accept": ACCEPT, **headers})


def body(response) -> object:
    """The JSON body with numbers as Decimal, as a money-safe client reads it."""
    return json.loads(response.text, parse_float=Decimal)


class Served:
    def __init__(self, app):
        self.app = app
        self.server = serve_in_thread(app)
        self.url = self.server.url
        self.client = api_client(self.url)

    def reset(self) -> None:
        httpx2.post(self.url + "/_sandbox/reset").raise_for_status()

    def action(self, path: str, payload: dict | None = None):
        response = httpx2.post(self.url + "/_sandbox/" + path, json=payload or {})
        response.raise_for_status()
        return body(response)

    def close(self) -> None:
        self.client.close()
        self.server.stop()


@pytest.fixture(scope="module")
def cw():
    served = Served(create_app(seed=1, scale=1))
    yield served
    served.close()


@pytest.fixture
def fresh(cw):
    """The module's sandbox, rebuilt from its seed before the test."""
    cw.reset()
    return cw


@pytest.fixture
def readonly_client(cw):
    with api_client(cw.url, *READONLY) as client:
        yield client
