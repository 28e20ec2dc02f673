"""A payment run whose worker dies, or whose lock goes to another worker: the pages say
it stopped (never "running" for ever), no second payment cycle starts beside a live
one, and a run that lost its lock applies nothing more."""
import os
import signal
import threading
import time
from contextlib import contextmanager

import pytest
from rq import Worker
from rq.job import Job

from jobs import cycle_lock
from jobs.cycle_lock import CycleBusy, lock_key
from jobs.cycle_payments import run_payment_cycle
from jobs.queue import get_redis
from models import PaymentLedger, SyncRun, db
from tests.conftest import csrf_token
from tests.processes import ferry_process, kill_mid_call

from .helpers import assert_converged, cw_payments, fault, pay, synced_invoices

INVOICES = "/api.xro/2.0/Invoices"


@pytest.fixture
def site(app, cw, xero):
    """As `synced`, but no app context stays pushed: each page request has its own (and
    its own `g`, where the CSRF token lives), as in production."""
    from jobs.cycle import run_cycle
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with _db(app):
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        assert run_cycle("invoice").status == "done"
        assert run_cycle("credit_note").status == "done"
    yield app


@contextmanager
def _db(app):
    with app.app_context(), db.connection_context():
        yield


def _payment_run() -> SyncRun:
    return SyncRun.select().where(SyncRun.record_type == "payment").order_by(
        SyncRun.id.desc()).get()


def _assert_shown_stopped(client, run) -> None:
    live = client.get("/dashboard/live").get_data(as_text=True)
    tile = live.split('id="tile-payment"')[1].split("</section>")[0]
    assert 'data-state="interrupted"' in tile and "stopped responding at" in tile
    assert "Running for" not in tile and "reading" not in tile
    listing = client.get("/runs/").get_data(as_text=True)
    row = listing.split(f'href="/runs/{run.id}"')[1].split("</tr>")[0]
    assert ">interrupted<" in row and "stopped responding at" in row
    page = client.get(f"/runs/{run.id}", headers={"HX-Request": "true"})
    assert page.status_code == 286                  # over: the page stops polling
    html = page.get_data(as_text=True)
    assert 'data-status="interrupted"' in html and "every 2s" not in html
    assert "Running for" not in html


def test_a_killed_payment_run_shows_stopped_at_once_and_the_next_one_runs(
        site, xero, client, auth):
    # Xero holds the read 3 s; the worker is killed meanwhile (kill -9).
    fault(xero, kind="slow", method="GET", path=INVOICES, nth=1, delay=3)
    kill_mid_call("jobs.cycle_payments:run_payment_cycle()", site.config["DATABASE_URL"],
                  xero.app.xero.kit.faults)
    with _db(site):
        dead = _payment_run()
    assert dead.status == "running" and dead.heartbeat_at is not None
    auth.login()
    # Seconds after the kill, not minutes: its lock names a process that is gone.
    _assert_shown_stopped(client, dead)
    with _db(site):
        assert run_payment_cycle().status == "done"


def _in_thread(app, target):
    """`target()` in its own thread with its own app context and DB connection, as a
    second worker would run it; returns the thread and a dict getting its result."""
    out = {}

    def work():
        with _db(app):
            out["result"] = target()
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, out


def _wait_fired(xero, timeout=30):
    deadline = time.monotonic() + timeout
    while xero.app.xero.kit.faults.rules()[0]["fired"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.fixture
def short_lock(monkeypatch):
    """The lock's 90 s and the heartbeat's 30 s, shortened to seconds."""
    monkeypatch.setattr(cycle_lock, "TTL", 1)
    monkeypatch.setattr(cycle_lock, "BEAT", 0.3)
    yield
    get_redis().delete(lock_key("payment"))


def test_a_read_longer_than_the_lock_keeps_it_and_no_second_cycle_starts(
        synced, xero, short_lock):
    fault(xero, kind="slow", method="GET", path=INVOICES, nth=1, delay=4)
    thread, out = _in_thread(synced, run_payment_cycle)
    _wait_fired(xero)
    time.sleep(2.5)                                   # well past the lock's ttl
    assert get_redis().get(lock_key("payment"))
    with pytest.raises(CycleBusy):                    # `flask sync payment` now
        run_payment_cycle()
    thread.join(60)
    assert out["result"].status == "done"
    assert SyncRun.select().where(SyncRun.record_type == "payment").count() == 1


def test_a_run_whose_lock_went_elsewhere_stops_before_applying_anything(
        synced, cw, xero, short_lock):
    (record,) = synced_invoices(cw=cw)
    pay(xero, record, "120.00")
    fault(xero, kind="slow", method="GET", path=INVOICES, nth=1, delay=2)
    thread, out = _in_thread(synced, run_payment_cycle)
    _wait_fired(xero)
    # Another host's worker holds the lock now (as after a Redis restart and a stall).
    get_redis().set(lock_key("payment"), "elsewhere:1:other", ex=30)
    thread.join(60)
    run = out["result"]
    assert run.status == "stopped" and "took over this cycle's lock" in run.message
    assert cw_payments(cw, record.cw_id) == []
    assert PaymentLedger.get_or_none(PaymentLedger.cw_invoice_id == record.cw_id) is None
    get_redis().delete(lock_key("payment"))
    assert run_payment_cycle().status == "done"
    assert len(cw_payments(cw, record.cw_id)) == 1
    assert_converged(cw, xero)


def _holder_pid() -> int:
    """The process running the payment cycle (RQ's work-horse): its lock names it."""
    holder = get_redis().get(lock_key("payment")).decode()
    return int(holder.split(":")[1])


def test_a_forced_sync_whose_worker_was_killed_leads_to_its_run(
        site, xero, client, auth, tmp_path):
    fault(xero, kind="slow", method="GET", path=INVOICES, nth=1, delay=4)
    auth.login()
    answer = client.post("/runs/force", data={"record_type": "payment",
                                              "csrf_token": csrf_token(client, "/")})
    assert answer.status_code == 303
    job_url = answer.headers["Location"]
    job_id = job_url.rstrip("/").rsplit("/", 1)[1]
    with ferry_process("worker", site.config["DATABASE_URL"], tmp_path / "worker.log"):
        _wait_fired(xero)
        horse = _holder_pid()
        (worker,) = Worker.all(connection=get_redis())
        assert horse != worker.pid
        os.kill(horse, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Job.fetch(job_id, connection=get_redis()).get_status() != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    time.sleep(4)                                     # Xero ends the held read anyway
    with _db(site):
        run = _payment_run()
    polled = client.get(job_url, headers={"HX-Request": "true"})
    assert polled.headers["HX-Redirect"] == f"/runs/{run.id}"
    page = client.get(job_url)
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/runs/{run.id}")
    assert "could not start" not in page.get_data(as_text=True)
    _assert_shown_stopped(client, run)
