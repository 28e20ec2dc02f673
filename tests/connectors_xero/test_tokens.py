"""Consent, token storage and rotation against the Xero sandbox over HTTP."""
import json
import multiprocessing
import os
import time

import httpx2
import pytest

from connectors.audit import ListSink
from connectors.xero import open_client
from connectors.xero_governor import Governor
from connectors.xero_oauth import (
    ReconnectNeeded, TokenKeeper, XeroAuthError, exchange_code, start_authorization,
)
from models import Connection, XeroGrant
from tests.connectors_xero.conftest import REDIS_PREFIX, bearer_tokens, consent, xero_app_for


def refresh_calls(sandbox) -> list[dict]:
    return [e for e in sandbox.journal(method="POST", path="/connect/token")
            if (e["body"] or {}).get("grant_type") == "refresh_token"]


def make_stale(grant_id: int) -> None:
    """Ferry's copy says the access token has expired (as after a night's pause)."""
    grant = XeroGrant.get_by_id(grant_id)
    grant.token = {**grant.token, "expires_at": time.time() - 5}
    grant.save()


def client_for(xero_app, connection, redis_client, sink=None, keeper=None):
    keeper = keeper or TokenKeeper(xero_app, redis=redis_client, sink=sink)
    return open_client(xero_app, connection, sink=sink or ListSink(), tokens=keeper,
                       governor=Governor(redis_client, prefix=REDIS_PREFIX))


def test_consent_uses_pkce_and_reaches_both_organisations(sandbox, grant):
    authorize = sandbox.journal(path="/identity/connect/authorize")[0]
    assert "code_challenge_method=S256" in authorize["query"]
    assert "code_challenge=" in authorize["query"]
    exchange = sandbox.journal(method="POST", path="/connect/token")[0]
    assert exchange["body"]["code_verifier"] == "***"        # sent, and masked by the sandbox
    names = sorted(c.name for c in Connection.select().where(Connection.kind == "xero"))
    assert len(names) == 2
    stored = XeroGrant.get_by_id(grant.id)
    assert stored.token["refresh_token"] and stored.token["expires_at"] > time.time() + 1500


def test_the_token_is_encrypted_at_rest(grant):
    from models import db
    raw = db.execute_sql("SELECT token FROM xero_grant WHERE id = %s" % grant.id).fetchone()[0]
    assert grant.token["access_token"] not in raw
    assert grant.token["refresh_token"] not in raw


def test_wrong_client_secret_is_explained(app, sandbox):
    wrong = xero_app_for(sandbox.url, client_secret="not-the-secret")
    started = start_authorization(wrong)
    reply = consent(started.url)
    with pytest.raises(XeroAuthError, match="rejected the client id or client secret"):
        exchange_code(wrong, reply["code"], started.code_verifier)


def test_a_redirect_uri_that_differs_from_the_authorised_one_is_explained(app, sandbox):
    first = xero_app_for(sandbox.url)
    started = start_authorization(first)
    reply = consent(started.url)
    moved = xero_app_for(sandbox.url, redirect_uri="http://127.0.0.1:5001/settings/xero/callback")
    with pytest.raises(XeroAuthError, match="redirect URI saved in Ferry"):
        exchange_code(moved, reply["code"], started.code_verifier)


def test_token_expiring_mid_run_is_refreshed_once_and_the_call_repeated(
        sandbox, xero_app, grant, redis_client):
    connection = Connection.select().where(Connection.kind == "xero").first()
    client = client_for(xero_app, connection, redis_client)
    assert client.organisation()["Name"] == connection.name
    old_refresh = XeroGrant.get_by_id(grant.id).token["refresh_token"]

    sandbox.advance(31 * 60)        # Xero's clock: the access token is now dead
    assert client.organisation()["Name"] == connection.name

    assert len(refresh_calls(sandbox)) == 1
    rejected = [e for e in sandbox.journal(path="/api.xro/2.0/Organisation") if e["status"] == 401]
    assert len(rejected) == 1
    assert XeroGrant.get_by_id(grant.id).token["refresh_token"] != old_refresh


def test_invalid_grant_stops_the_organisations_and_says_why(
        sandbox, xero_app, grant, redis_client):
    sandbox.fault(kind="token-revoked", path="/connect/token")
    make_stale(grant.id)
    keeper = TokenKeeper(xero_app, redis=redis_client)
    with pytest.raises(ReconnectNeeded, match="Connect Xero"):
        keeper.access_token(grant.id)
    for connection in Connection.select().where(Connection.kind == "xero"):
        assert connection.status == "needs_reconnect"
        assert "Connect Xero" in connection.last_error
    calls = len(sandbox.journal(path="/connect/token"))
    with pytest.raises(ReconnectNeeded):
        keeper.access_token(grant.id)
    with pytest.raises(ReconnectNeeded):
        client_for(xero_app, Connection.select().first(), redis_client)
    assert len(sandbox.journal(path="/connect/token")) == calls   # no more attempts


def test_audit_records_never_hold_a_token(sandbox, xero_app, grant, redis_client):
    sink = ListSink()
    connection = Connection.select().where(Connection.kind == "xero").first()
    client = client_for(xero_app, connection, redis_client, sink=sink)
    make_stale(grant.id)
    client.organisation()
    stored = XeroGrant.get_by_id(grant.id).token
    secrets = {grant.token["access_token"], grant.token["refresh_token"],
               stored["access_token"], stored["refresh_token"]}
    assert {r.url.rsplit("/", 1)[-1] for r in sink.records} >= {"token", "Organisation"}
    for record in sink.records:
        dumped = json.dumps([record.url, record.request_headers, record.request_body,
                             record.response_headers, record.response_body])
        assert not any(s in dumped for s in secrets), record.url
        assert bearer_tokens(dumped) == []
    api_call = next(r for r in sink.records if r.url.endswith("/Organisation"))
    assert api_call.request_headers["authorization"] == "Bearer ***"


# -- several processes refreshing the same grant at once ------------------------------------
def _refresh_in_worker(database_url, secret_key, redis_url, app_fields, grant_id,
                       connection_id, start, results):
    import redis as redis_lib

    import security
    from app import open_database
    from connectors.xero_oauth import TokenKeeper, XeroApp
    from models import Connection, db

    security.configure(secret_key)
    db.initialize(open_database(database_url))
    client = redis_lib.Redis.from_url(redis_url)
    xero_app = XeroApp(**app_fields)
    with db.connection_context():
        start.wait(30)
        token = TokenKeeper(xero_app, redis=client).access_token(grant_id)
        connection = Connection.get_by_id(connection_id)
        answer = httpx2.get(f"{xero_app.api_base}/api.xro/2.0/Organisation", timeout=10,
                            headers={"Authorization": f"Bearer {token}",
                                     "xero-tenant-id": connection.tenant_id,
                                     "Accept": "application/json"})
    results.put((token, answer.status_code))


def test_processes_refreshing_at_once_make_exactly_one_refresh(
        sandbox, xero_app, grant, database_url, redis_client, xero_redis_url):
    workers = 4
    sandbox.advance(31 * 60)
    make_stale(grant.id)
    connection = Connection.select().where(Connection.kind == "xero").first()
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    fields = {k: getattr(xero_app, k) for k in (
        "client_id", "client_secret", "redirect_uri", "scopes", "authorize_url",
        "token_url", "api_base")}
    procs = [ctx.Process(target=_refresh_in_worker, args=(
        database_url, os.environ["FERRY_SECRET_KEY"], xero_redis_url, fields, grant.id,
        connection.id, start, results)) for _ in range(workers)]
    for p in procs:
        p.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0

    assert len(refresh_calls(sandbox)) == 1
    tokens = {token for token, _ in outcomes}
    assert len(tokens) == 1 and all(status == 200 for _, status in outcomes)
    assert XeroGrant.get_by_id(grant.id).token["access_token"] in tokens
