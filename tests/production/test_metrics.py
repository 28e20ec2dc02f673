"""/metrics as Prometheus reads it: the text parses with prometheus_client's own parser,
and after real cycles against the sandboxes its values are what happened (runs, records,
exceptions, calls per API and the 429s among them, Xero's calls left per organisation,
the queue, the outbox). Only this machine may read it unless a token is set."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from jobs.cycle import run_cycle
from models import AuditEntry, Connection, OutboxMail, SyncRecord, SyncRun
from tests.sync_e2e.helpers import fault


def scrape(client, **kwargs) -> dict:
    """(name, labels) -> value, parsed as Prometheus parses it. The request runs in a
    thread of its own, as a gunicorn worker would: its connection opens and closes there,
    leaving the test's own connection alone."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(client.get, "/metrics", **kwargs).result()
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    values = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(values, name, **labels):
    return values.get((name, tuple(sorted(labels.items()))))


def test_metrics_match_real_cycles(ferry, xero):
    client = ferry.test_client()
    # One minute-limit 429 from Xero on the first invoice write: retried, counted.
    fault(xero, kind="429-minute", path="/api.xro/2.0/Invoices", method="PUT", nth=1)
    invoice = run_cycle("invoice")
    credit = run_cycle("credit_note")
    assert invoice.status == credit.status == "done"
    OutboxMail.create(kind="test", recipients=["a@msp.example"], subject="s", text="t")
    values = scrape(client)

    assert value(values, "ferry_cycles_total", type="invoice", result="done") == 1
    assert value(values, "ferry_cycles_total", type="credit_note", result="done") == 1
    assert value(values, "ferry_records_written_total", type="invoice") == invoice.written
    assert value(values, "ferry_records_exceptions_total", type="invoice") == \
        invoice.exceptions
    for kind in ("invoice", "credit_note"):
        open_now = SyncRecord.select().where((SyncRecord.record_type == kind) &
                                             (SyncRecord.state == "exception")).count()
        assert value(values, "ferry_open_exceptions", type=kind) == open_now
    assert invoice.exceptions > 0 and invoice.written > 0

    calls = {api: AuditEntry.select().where(AuditEntry.api == api).count()
             for api in ("connectwise", "xero")}
    assert calls["xero"] >= invoice.xero_calls + credit.xero_calls > 0
    assert value(values, "ferry_api_calls_total", api="xero") == calls["xero"]
    assert value(values, "ferry_api_calls_total", api="connectwise") == calls["connectwise"]
    throttled = AuditEntry.select().where((AuditEntry.api == "xero") &
                                          (AuditEntry.status == 429)).count()
    assert throttled == 1
    assert value(values, "ferry_api_throttled_total", api="xero") == 1
    assert value(values, "ferry_api_throttled_total", api="connectwise") == 0

    for org in Connection.select().where(Connection.kind == "xero"):
        left = value(values, "ferry_xero_calls_left_today", org=org.name)
        assert left is not None and 0 < left < 5000, (org.name, left)
    last = SyncRun.get_by_id(credit.id).finished_at
    assert abs(value(values, "ferry_last_success_timestamp_seconds", type="credit_note") -
               last.replace(tzinfo=__import__("datetime").timezone.utc).timestamp()) < 1
    assert value(values, "ferry_outbox_pending") == OutboxMail.select().where(
        OutboxMail.status == "pending").count() >= 1
    assert value(values, "ferry_queue_depth", queue="default") is not None
    assert value(values, "ferry_redis_up") == 1
    from version import version
    assert value(values, "ferry_build_info", version=version()) == 1


def test_a_stopped_cycle_is_counted_by_its_result(ferry, xero):
    fault(xero, kind="429-day", path="/api.xro/2.0/*")
    assert run_cycle("invoice").status == "stopped"
    values = scrape(ferry.test_client())
    assert value(values, "ferry_cycles_total", type="invoice", result="stopped") == 1
    assert value(values, "ferry_cycles_total", type="invoice", result="done") is None


def test_only_this_machine_without_a_token(app, client):
    assert client.get("/metrics").status_code == 200            # loopback, no login
    away = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert away.status_code == 403 and "FERRY_METRICS_TOKEN" in away.get_data(as_text=True)
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403


def test_with_a_token_any_address_that_sends_it(app, client):
    app.config["METRICS_TOKEN"] = "s3cret-metrics-token-for-the-test"
    assert client.get("/metrics").status_code == 401             # loopback needs it too
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    right = scrape(client, headers={"Authorization": "Bearer s3cret-metrics-token-for-the-test"},
                   environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert value(right, "ferry_redis_up") == 1
