"""Fixtures for the Xero connector: the Xero sandbox over real HTTP, Ferry's Xero app
settings pointing at it, and a grant obtained through the real consent flow."""
import re
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
import redis as redis_lib

from sandbox.kit import serve_in_thread
from sandbox.xero import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app

REDIRECT_URI = "http://127.0.0.1:5000/settings/xero/callback"
REDIS_PREFIX = "ferry-test-xero"


class Sandbox:
    """The served Xero sandbox plus helpers for its control endpoints."""

    def __init__(self, **options):
        self.wsgi = create_app(**options)
        self.served = serve_in_thread(self.wsgi)
        self.url = self.served.url
        self.http = httpx2.Client(base_url=self.url, timeout=10)

    @property
    def xero(self):
        return self.wsgi.xero

    def journal(self, **filters) -> list[dict]:
        return self.http.get("/_sandbox/journal", params=filters).json()

    def fault(self, **rule) -> None:
        self.http.post("/_sandbox/faults", json=rule).raise_for_status()

    def advance(self, seconds: float) -> None:
        self.http.post("/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()

    def stop(self):
        self.http.close()
        self.served.stop()


@pytest.fixture
def sandbox():
    box = Sandbox()
    yield box
    box.stop()


def xero_app_for(url: str, **overrides):
    from connectors.xero_oauth import XeroApp
    fields = dict(client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET,
                  redirect_uri=REDIRECT_URI, authorize_url=f"{url}/identity/connect/authorize",
                  token_url=f"{url}/connect/token", api_base=url)
    fields.update(overrides)
    return XeroApp(**fields)


@pytest.fixture
def xero_app(sandbox):
    return xero_app_for(sandbox.url)


@pytest.fixture
def xero_redis_url(redis_url):
    """The run's own Redis database (tests/conftest.py claims one per run), so two
    suites on one Redis never share the governor's counters."""
    return redis_url


@pytest.fixture
def redis_client(xero_redis_url):
    client = redis_lib.Redis.from_url(xero_redis_url)
    for key in client.scan_iter(f"{REDIS_PREFIX}*"):
        client.delete(key)
    yield client
    client.close()


def consent(authorize_url: str) -> dict:
    """Follow the consent page headlessly (the sandbox's auto_consent); the callback's
    query parameters."""
    response = httpx2.get(authorize_url + "&auto_consent=1", follow_redirects=False,
                          timeout=10)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


@pytest.fixture
def grant(app, xero_app):
    """A stored grant and one Ferry Connection per organisation it reaches."""
    from connectors.audit import ListSink
    from connectors.xero_oauth import (
        exchange_code, identity_transport, list_connections, start_authorization,
    )
    from models import Connection, XeroGrant
    started = start_authorization(xero_app)
    reply = consent(started.url)
    token = exchange_code(xero_app, reply["code"], started.code_verifier)
    row = XeroGrant.create(token=token, scopes=token["scope"])
    orgs = list_connections(identity_transport(xero_app, ListSink()), token["access_token"])
    for org in orgs:
        Connection.create(kind="xero", name=org["tenantName"], tenant_id=org["tenantId"],
                          settings={"grant_id": row.id, "xero_connection_id": org["id"]})
    return row


def bearer_tokens(text: str) -> list[str]:
    return re.findall(r"Bearer\s+([A-Za-z0-9._~+/=-]{8,})", text)
