"""The real-time doors: Xero's signed webhooks and ConnectWise's callbacks are checked,
queued once per burst, audited, and need no session."""
import base64
import hashlib
import hmac
import json

import pytest

from jobs import realtime
from jobs.queue import get_queue, get_redis
from models import AuditEntry, Connection, Setting, SyncRecord, db

KEY = "xero-webhook-key-for-tests-0123456789abcdefghijkl"
TENANT = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"
INVOICE = "717f2bfc-c6d4-41fd-b238-3f2f0c0cf777"


def sign(raw: bytes, key: str = KEY) -> str:
    return base64.b64encode(hmac.new(key.encode(), raw, hashlib.sha256).digest()).decode()


def events(*ids, category="INVOICE", tenant=TENANT) -> bytes:
    return json.dumps({"events": [{
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{i}", "resourceId": i,
        "eventDateUtc": "2026-01-05T01:15:39.902", "eventType": "UPDATE",
        "eventCategory": category, "tenantId": tenant, "tenantType": "ORGANISATION"}
        for i in ids], "firstEventSequence": 1, "lastEventSequence": len(ids),
        "entropy": "S0m3r4Nd0mt3xt"}).encode()


@pytest.fixture
def wired(app):
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name="Adelaide Pty Ltd", tenant_id=TENANT)
        cw = Connection.create(kind="connectwise", name="ConnectWise", settings={})
        SyncRecord.create(record_type="invoice", cw_id=77, xero_id=INVOICE, state="synced")
        Setting.set_value(realtime.XERO_KEY, KEY, secret=True)
        realtime.set_on(org, True)
        realtime.set_on(cw, True)
        secret = realtime.cw_secret(create=True)
    return app, secret


def post(client, path, raw, **headers):
    return client.post(path, data=raw, headers={"Content-Type": "application/json", **headers})


def queued_jobs():
    return get_queue().jobs


def audit():
    return list(AuditEntry.select().order_by(AuditEntry.id))


def test_xero_bad_or_missing_signature_is_401_and_queues_nothing(wired, client):
    app, _ = wired
    raw = events(INVOICE)
    assert post(client, "/hooks/xero", raw).status_code == 401
    assert post(client, "/hooks/xero", raw, **{"x-xero-signature": sign(raw, "wrong")}
                ).status_code == 401
    assert post(client, "/hooks/xero", raw + b" ",
                **{"x-xero-signature": sign(raw)}).status_code == 401
    assert queued_jobs() == []
    assert not get_redis().exists(realtime.PENDING.format("payment"))
    with app.app_context(), db.connection_context():
        rows = audit()
        assert [r.status for r in rows] == [401, 401, 401]
        assert all(r.api == "xero" and "Refused" in r.response_body for r in rows)
        assert realtime.last_event("xero") is None


def test_xero_intent_to_receive(wired, client):
    raw = json.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0,
                      "entropy": "XYZ"}).encode()
    assert post(client, "/hooks/xero", raw, **{"x-xero-signature": sign(raw)}
                ).status_code == 200
    assert post(client, "/hooks/xero", raw, **{"x-xero-signature": sign(raw, "x")}
                ).status_code == 401
    assert queued_jobs() == []


def test_a_burst_of_xero_events_for_one_invoice_is_one_payment_look_up(wired, client):
    app, _ = wired
    for _ in range(10):
        raw = events(INVOICE)
        response = post(client, "/hooks/xero", raw, **{"x-xero-signature": sign(raw)})
        assert response.status_code == 200 and response.data == b""
    jobs = queued_jobs()
    assert len(jobs) == 1 and jobs[0].func_name == "jobs.realtime.realtime_cycle"
    assert jobs[0].args == ("payment",)
    assert realtime.take_pending("payment") == ["77"]
    with app.app_context(), db.connection_context():
        rows = audit()
        assert len(rows) == 10 and rows[0].record_ref == "invoice:77"
        assert "Payment look-up queued for CW invoice 77" in rows[0].response_body
        assert "joined" in rows[1].response_body
        assert realtime.last_event("xero") is not None


def test_xero_events_of_an_org_with_real_time_off_or_unknown_queue_nothing(wired, client):
    app, _ = wired
    with app.app_context(), db.connection_context():
        realtime.set_on(Connection.get(Connection.kind == "xero"), False)
    for raw in (events(INVOICE), events(INVOICE, tenant="0000"),
                events(INVOICE, category="CONTACT")):
        assert post(client, "/hooks/xero", raw, **{"x-xero-signature": sign(raw)}
                    ).status_code == 200
    assert queued_jobs() == []


def test_cw_callback_needs_the_secret(wired, client):
    app, secret = wired
    body = json.dumps({"Action": "updated", "Type": "Invoice", "ID": 77,
                       "Entity": json.dumps({"id": 77})}).encode()
    assert post(client, "/hooks/connectwise/not-the-secret", body).status_code == 403
    assert post(client, "/hooks/connectwise/" + secret[:-1], body).status_code == 403
    assert queued_jobs() == []
    response = post(client, f"/hooks/connectwise/{secret}", body)
    assert response.status_code == 200
    assert [j.args for j in queued_jobs()] == [("sales",)]
    with app.app_context(), db.connection_context():
        rows = audit()
        assert [r.status for r in rows] == [403, 403, 200]
        assert all(secret not in (r.url + (r.response_body or "")) for r in rows)
        assert rows[-1].record_ref == "invoice:77" and "queued" in rows[-1].response_body


def test_cw_callbacks_coalesce_per_kind_and_purchase_orders_run_the_bill_cycle(wired, client):
    _, secret = wired
    for record_id, kind in ((77, "Invoice"), (78, "Invoice"), (77, "Invoice"),
                            (5, "PurchaseOrder"), (6, "PurchaseOrder"), (9, "Ticket")):
        body = json.dumps({"Action": "updated", "Type": kind, "ID": record_id}).encode()
        assert post(client, f"/hooks/connectwise/{secret}", body).status_code == 200
    assert sorted(j.args for j in queued_jobs()) == [("bill",), ("sales",)]
    assert realtime.take_pending("sales") == ["77", "78"]


def test_cw_callback_with_real_time_off_is_answered_and_ignored(wired, client):
    app, secret = wired
    with app.app_context(), db.connection_context():
        realtime.set_on(Connection.get(Connection.kind == "connectwise"), False)
    body = json.dumps({"Action": "updated", "Type": "Invoice", "ID": 77}).encode()
    assert post(client, f"/hooks/connectwise/{secret}", body).status_code == 200
    assert queued_jobs() == []


def test_only_json_posts_of_a_sane_size(wired, client):
    _, secret = wired
    path = f"/hooks/connectwise/{secret}"
    assert client.get(path).status_code == 405
    assert client.get("/hooks/xero").status_code == 405
    assert client.post(path, data=b"ID=77", headers={
        "Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    big = json.dumps({"Type": "Invoice", "ID": 77, "Entity": "x" * 300_000}).encode()
    assert post(client, path, big).status_code == 413
    assert post(client, path, b"{not json").status_code == 400
    assert post(client, path, json.dumps({"Type": "Invoice"}).encode()).status_code == 400
    raw = b"x" * 300_000
    assert post(client, "/hooks/xero", raw, **{"x-xero-signature": sign(raw)}
                ).status_code == 413
    assert queued_jobs() == []


def test_rate_limited(wired, client):
    app, secret = wired
    app.config["REALTIME_RATE"] = 3
    body = json.dumps({"Action": "updated", "Type": "Invoice", "ID": 77}).encode()
    answers = [post(client, f"/hooks/connectwise/{secret}", body) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert int(answers[-1].headers["Retry-After"]) <= 60
    raw = events(INVOICE)
    assert post(client, "/hooks/xero", raw, **{"x-xero-signature": sign(raw)}
                ).status_code == 200            # counted per source


def test_the_dashboard_says_when_the_last_event_arrived(wired, client, auth):
    app, secret = wired
    auth.login()
    page = client.get("/dashboard/health").get_data(as_text=True)
    assert "ConnectWise: on; last callback none yet" in page
    body = json.dumps({"Action": "updated", "Type": "Invoice", "ID": 77}).encode()
    post(client, f"/hooks/connectwise/{secret}", body)
    page = client.get("/dashboard/health").get_data(as_text=True)
    assert "ConnectWise: on; last callback received 20" in page
    assert "Xero: on; last webhook none yet" in page
