"""The audit trail in the database: what a full ConnectWise flow leaves there (and in the
logs), truncation, batching, and retention."""
import base64
import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from connectors.audit import CallRecord
from connectors.transport import Transport
from jobs.audit import (
    BODY_LIMIT, DatabaseAuditSink, purge_entries_older_than, retention_days,
)
from models import AuditEntry, Setting, db
from sandbox.connectwise import DEFAULTS
from tests.connectors_cw.echo_server import EchoServer

PRIVATE = DEFAULTS["private_key"]
BASIC = base64.b64encode(
    f"{DEFAULTS['company']}+{DEFAULTS['public_key']}:{PRIVATE}".encode()).decode()


def everything_stored() -> str:
    rows = AuditEntry.select().dicts()
    return "\n".join(repr(row) for row in rows)


def test_a_full_flow_leaves_no_secret_in_the_table_or_the_logs(app, cw, caplog):
    with app.app_context(), db.connection_context(), caplog.at_level(logging.DEBUG):
        with DatabaseAuditSink(batch_size=10) as sink:
            client = cw.client(sink=sink, context={"connection_id": 1})
            result = client.test_connection()
            with client.bind(run_id=7, record_ref="invoice:1"):
                invoice = next(i for i in client.invoices_changed_since(None)
                               if i["balance"] > 5)
                client.create_invoice_payment(invoice["id"], {
                    "amount": Decimal("5.00")})
            echo = EchoServer()
            try:
                oauth = Transport("xero", echo.url, sink=sink)
                oauth.request("POST", "/token", data={
                    "grant_type": "authorization_code", "code": "the-oauth-code",
                    "code_verifier": "the-verifier", "client_secret": "the-client-secret"})
            finally:
                echo.stop()
        assert result.ok
        stored = everything_stored()
        total = AuditEntry.select().count()
        payment = AuditEntry.get(AuditEntry.method == "POST", AuditEntry.api == "connectwise")
    secrets = [PRIVATE, BASIC, "the-oauth-code", "the-verifier", "the-client-secret",
               "AT-the-oauth-code", "RT-secret-value"]
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    for secret in secrets:
        assert secret not in stored, secret
        assert secret not in ours, secret
    assert total == len(cw.journal()) + 1
    assert "Basic ***" in stored and '"access_token": "***"' in stored
    assert (payment.run_id, payment.record_ref, payment.connection_id) == (7, "invoice:1", 1)
    assert payment.status == 201 and '"amount": 5.00' in payment.request_body


def test_large_bodies_are_cut_and_say_so(app):
    call = CallRecord(api="xero", method="GET", url="https://api.xero.com/Invoices",
                      status=200, duration_ms=1.5, request_headers={}, request_body=None,
                      response_headers={"Content-Type": "application/json"},
                      response_body="x" * (BODY_LIMIT + 10), error=None,
                      started_at=datetime.now(timezone.utc))
    with app.app_context(), db.connection_context():
        with DatabaseAuditSink() as sink:
            sink.record(call)
            assert AuditEntry.select().count() == 0   # buffered until the batch is due
        row = AuditEntry.get()
    assert row.response_body.endswith(
        f"[truncated: {BODY_LIMIT:,} of {BODY_LIMIT + 10:,} characters kept]")
    assert row.at.tzinfo is None and abs(
        row.at - datetime.now(timezone.utc).replace(tzinfo=None)) < timedelta(minutes=1)


def test_retention_removes_only_what_is_older(app):
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with app.app_context(), db.connection_context():
        for age in (0, 5, 29, 31, 90, 400):
            AuditEntry.create(at=now - timedelta(days=age), api="connectwise", method="GET",
                              url=f"https://cw/{age}", duration_ms=1.0)
        assert retention_days() == 30
        assert purge_entries_older_than(retention_days()) == 3
        left = sorted(int(e.url.rsplit("/", 1)[1]) for e in AuditEntry.select())
        Setting.set_value("audit_retention_days", 1000)
        assert retention_days() == 365
        Setting.set_value("audit_retention_days", 0)
        assert retention_days() == 1
        assert purge_entries_older_than(1) == 2
    assert left == [0, 5, 29]
