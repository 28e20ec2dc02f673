"""Failure alerts, whatever the alert mode: once per incident, and a "resolved" mail when
it clears. Real causes where Ferry can meet them: ConnectWise refusing the keys (the
sandbox answers 401), N failed cycles in a row, Xero's day limit (the sandbox's), no
worker or scheduler registered in Redis; a Xero connection marked needs_reconnect as
connectors/xero_oauth.py marks it on invalid_grant."""
import pytest
from rq import Worker
from jobs.scheduler import FerryScheduler

from jobs.alerts import FAILURES_IN_A_ROW, MODE, check_incidents
from jobs.cycle import run_cycle
from jobs.outbox import send_due
from jobs.queue import get_redis
from models import AlertIncident, Connection, OutboxMail, Setting
from sandbox import xero as xero_sandbox
from sandbox.kit import serve_in_thread

from .conftest import parts


def processes_alive():
    """A worker and a scheduler registered as rq and rq-scheduler register themselves."""
    connection = get_redis()
    worker = Worker(["default"], connection=connection)
    worker.register_birth()
    worker.heartbeat()
    FerryScheduler(connection, interval=60).beat()
    return worker


def subjects(smtp):
    return [m["Subject"].strip() for m in smtp.inbox.messages]


def test_connectwise_keys_refused_and_failing_cycles_once_each_then_resolved(ferry, smtp):
    processes_alive()
    for kind in ("invoice", "credit_note", "bill", "payment"):
        Setting.set_value(MODE.format(kind), "digest")        # failure alerts regardless
    Setting.set_value(FAILURES_IN_A_ROW, 2)
    cw = Connection.get(Connection.kind == "connectwise")
    good_secrets = cw.secrets
    cw.secrets = {"private_key": "changed-by-someone"}
    cw.save()

    first = run_cycle("invoice")
    assert first.status == "stopped"
    assert check_incidents()["opened"] == ["connectwise-keys"]
    assert check_incidents() == {"opened": [], "resolved": []}          # once per incident
    second = run_cycle("invoice")
    assert second.status == "stopped"
    assert check_incidents()["opened"] == ["failing:invoice"]
    run_cycle("invoice")
    assert check_incidents() == {"opened": [], "resolved": []}
    send_due()
    assert subjects(smtp) == [
        "Ferry needs attention: ConnectWise refuses Ferry's API keys",
        "Ferry needs attention: The last 2 invoice cycles did not finish"]
    keys_mail = parts(smtp.inbox.messages[0])
    assert "Settings → ConnectWise" in keys_mail["text/plain"]
    assert "https://ferry.msp.example/settings/" in keys_mail["text/html"]

    cw = Connection.get_by_id(cw.id)
    cw.secrets = good_secrets
    cw.save()
    assert run_cycle("invoice").status == "done"
    assert sorted(check_incidents()["resolved"]) == ["connectwise-keys", "failing:invoice"]
    send_due()
    assert sorted(subjects(smtp)[2:]) == [
        "Ferry resolved: ConnectWise refuses Ferry's API keys",
        "Ferry resolved: The last 2 invoice cycles did not finish"]
    assert "no longer the case" in parts(smtp.inbox.messages[2])["text/plain"]
    assert AlertIncident.select().where(AlertIncident.resolved_at.is_null()).count() == 0
    assert check_incidents() == {"opened": [], "resolved": []}
    send_due()
    assert len(smtp.inbox.messages) == 4


def test_xero_needs_reconnecting_once_then_resolved(mailing):
    processes_alive()
    org = Connection.create(kind="xero", name="Ferry Demo Adelaide", tenant_id="t-1",
                            status="needs_reconnect",
                            last_error="Xero refused the saved consent (invalid_grant).")
    assert check_incidents()["opened"] == [f"reconnect:{org.id}"]
    check_incidents()
    send_due()
    [alert] = mailing.inbox.messages
    assert alert["Subject"].strip() == \
        "Ferry needs attention: Xero organisation Ferry Demo Adelaide needs reconnecting"
    assert "invalid_grant" in parts(alert)["text/plain"]
    org.status = "active"
    org.save()
    assert check_incidents()["resolved"] == [f"reconnect:{org.id}"]
    # It breaks again later: that is a new incident, mailed again.
    org.status = "needs_reconnect"
    org.save()
    assert check_incidents()["opened"] == [f"reconnect:{org.id}"]
    send_due()
    assert [m["Subject"].strip().split(":")[0] for m in mailing.inbox.messages] == [
        "Ferry needs attention", "Ferry resolved", "Ferry needs attention"]
    assert OutboxMail.select().where(OutboxMail.kind == "incident").count() == 2


def test_worker_and_scheduler_not_seen(mailing):
    opened = check_incidents()["opened"]
    assert sorted(opened) == ["scheduler", "worker"]
    send_due()
    assert sorted(subjects(mailing)) == [
        "Ferry needs attention: Ferry's scheduler has not been seen",
        "Ferry needs attention: Ferry's worker has not been seen"]
    worker = processes_alive()
    assert sorted(check_incidents()["resolved"]) == ["scheduler", "worker"]
    worker.register_death()
    send_due()
    # Cleared within seconds: the mail reads "after 1 minute", never "1 minutes".
    resolved = [parts(m)["text/plain"] for m in mailing.inbox.messages[2:]]
    assert len(resolved) == 2
    for text in resolved:
        assert "is no longer the case after 1 minute." in text and "1 minutes" not in text


@pytest.fixture
def xero_small_day():
    app = xero_sandbox.create_app(seed=1, day_limit=4)
    served = serve_in_thread(app)
    yield served
    served.stop()


def test_a_day_limit_reached_is_reported_once(app, smtp, cw, xero_small_day):
    from connectors.xero_governor import DayLimitReached
    from jobs.audit import DatabaseAuditSink
    from jobs.cycle import CountingSink, Pacing, _xero
    from jobs.demo import connect_sandboxes
    from models import SyncRun, db

    from .conftest import point_at
    point_at(app, smtp)
    with app.app_context(), db.connection_context():
        processes_alive()
        [org, *_] = connect_sandboxes(cw.url, xero_small_day.url)
        run = SyncRun.create(record_type="invoice")
        with DatabaseAuditSink() as audit, \
                _xero(org, run, CountingSink(audit, run.id), Pacing()) as client:
            with pytest.raises(DayLimitReached):
                for _ in range(10):
                    client.currencies()
        assert check_incidents()["opened"] == [f"day-limit:{org.id}"]
        assert check_incidents()["opened"] == []
        send_due()
        [alert] = smtp.inbox.messages
        assert alert["Subject"].strip() == \
            f"Ferry needs attention: Xero organisation {org.name} reached its day limit"
        assert "nothing is lost" in parts(alert)["text/plain"]


def test_cycles_failing_in_a_row_say_what_to_check_not_that_it_is_brief(ferry, smtp, cw):
    """ConnectWise answering 503 every time: each cycle's message says "usually brief";
    the alert for N in a row quotes what failed and says what a person should check."""
    from tests.sync_e2e.helpers import fault
    processes_alive()
    Setting.set_value(FAILURES_IN_A_ROW, 3)
    fault(cw, kind="503", path="*/finance/*")
    runs = [run_cycle("invoice") for _ in range(3)]
    assert all(r.status in ("failed", "stopped") for r in runs)
    assert "usually brief" in runs[-1].message
    assert check_incidents()["opened"] == ["failing:invoice"]
    send_due()
    [alert] = smtp.inbox.messages
    assert alert["Subject"].strip() == \
        "Ferry needs attention: The last 3 invoice cycles did not finish"
    text, html = parts(alert)["text/plain"], parts(alert)["text/html"]
    for part in (text, html.replace("&#39;", "'")):
        assert "usually brief" not in part and "try again on the next cycle" not in part
        assert "ConnectWise had a problem (HTTP 503)" in part
        assert "Failing this many times in a row, it is not clearing by itself." in part
        assert "press Test connection for it under Settings" in part
