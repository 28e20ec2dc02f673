"""A page whose own call to Xero meets the organisation's day limit, or finds Redis (the
API limits' counters) down, says so in a sentence with the way on: never an error page.
Chaos found the first: Create and link pressed after a cycle used up the day's calls."""
from __future__ import annotations

import socket

import pytest

from models import Connection, db
from tests.conftest import csrf_token
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)
from tests.sync_e2e.helpers import fault


@pytest.fixture
def ferry(app, cw, xero):  # noqa: F811
    """Connected to both sandboxes, no app context left pushed (each request has its own)."""
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
    yield app


def _link(client, auth):
    auth.login()
    with db.connection_context():
        org = Connection.select().where(Connection.kind == "xero").order_by(
            Connection.id).first()
    token = csrf_token(client, f"/mappings/org/{org.id}/contacts")
    return client.post(f"/mappings/org/{org.id}/contacts/link",
                       data={"company": "1", "contact_id": "a-contact", "csrf_token": token})


def test_xero_day_limit_on_a_page_is_a_sentence(ferry, xero, client, auth):  # noqa: F811
    fault(xero, kind="429-day", path="/api.xro/2.0/*", nth=1, times=5)
    answer = _link(client, auth)
    assert answer.status_code == 503
    page = answer.get_data(as_text=True)
    assert "used all of today&#39;s API calls" in page or "used all of today's API calls" in page
    assert "Nothing was changed by this press" in page


def test_a_withdrawn_xero_sign_in_on_a_page_is_a_sentence(ferry, xero, client, auth):  # noqa: F811
    """Chaos seed 30: Create and link pressed after Xero withdrew the grant raised
    ReconnectNeeded (an error page in production)."""
    fault(xero, kind="token-revoked", path="/api.xro/2.0/*", nth=1, times=5)
    answer = _link(client, auth)
    assert answer.status_code == 503
    page = answer.get_data(as_text=True)
    assert "no longer connected to Ferry" in page and "Nothing was changed by this press" in page


def test_redis_down_on_a_page_is_a_sentence(ferry, client, auth, monkeypatch):
    with socket.socket() as probe:              # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    answer = _link(client, auth)
    assert answer.status_code == 503
    assert "Redis (its queue and the APIs&#39; limit counters) is not answering" in \
        answer.get_data(as_text=True)
