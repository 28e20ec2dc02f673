"""Sync now from the browser's forms: the job is queued, a real RQ worker runs it against
both sandboxes, and the run's page shows what happened, polling only while it works."""
import os
import subprocess
import sys

import pytest

from jobs.cycle import run_cycle
from jobs.cycle_lock import CycleLock
from jobs.queue import get_redis
from models import SyncRecord, SyncRun, db
from tests.conftest import csrf_token
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)


@pytest.fixture
def ferry(app, cw, xero):  # noqa: F811
    """Connected to both sandboxes. No app context stays pushed: each request has its
    own (and its own `g`, where the CSRF token lives), as in production."""
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
    yield app


@pytest.fixture
def signed_in(ferry, client, auth):
    auth.login()
    return client


def _work(app) -> None:
    """One burst of Ferry's own worker command, as `make demo` runs it."""
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"])
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "worker", "--burst"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


def _press(client, data: dict, page: str = "/"):
    data = dict(data, csrf_token=csrf_token(client, page))
    return client.post("/runs/force", data=data)


def _follow_job(client, answer):
    """From "Sync now"'s redirect to the run page, as the waiting page's poll does."""
    assert answer.status_code == 303, answer.get_data(as_text=True)
    polled = client.get(answer.headers["Location"], headers={"HX-Request": "true"})
    assert polled.status_code == 200
    return polled.headers["HX-Redirect"]


def test_sync_now_for_invoices_runs_in_the_worker_and_the_run_page_shows_it(ferry, signed_in):
    client = signed_in
    dashboard = client.get("/").get_data(as_text=True)
    assert "Sync invoices now" in dashboard and "Sync bills now" in dashboard
    answer = _press(client, {"record_type": "invoice"})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    waiting = client.get(answer.headers["Location"])
    assert "waiting for Ferry's background worker" in waiting.get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in waiting.get_data(as_text=True)

    _work(ferry)
    run_url = _follow_job(client, answer)
    run = SyncRun.get()
    assert run_url == f"/runs/{run.id}"
    assert (run.record_type, run.trigger, run.status) == ("invoice", "force", "done")
    assert run.written > 0

    polled = client.get(run_url, headers={"HX-Request": "true"})
    assert polled.status_code == 286            # done: the page stops polling
    html = polled.get_data(as_text=True)
    assert f'<dd id="run-written">{run.written}</dd>' in html
    assert f'<dd id="run-read">{run.read}</dd>' in html
    assert "every 2s" not in html and "<html" not in html
    page = client.get(run_url)
    assert page.status_code == 200 and "Written to Xero" in page.get_data(as_text=True)
    assert f'href="{run_url}"' in client.get("/").get_data(as_text=True)
    assert f'href="{run_url}"' in client.get("/runs/").get_data(as_text=True)


def test_a_running_run_polls_every_two_seconds(ferry, signed_in):
    run = SyncRun.create(record_type="bill", trigger="force", status="running", read=7)
    polled = signed_in.get(f"/runs/{run.id}", headers={"HX-Request": "true"})
    assert polled.status_code == 200
    html = polled.get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in html and '<dd id="run-read">7</dd>' in html


def test_sync_this_record_now_and_sync_selected(ferry, signed_in):
    client = signed_in
    with ferry.app_context(), db.connection_context():
        run_cycle("invoice")
    first, second = list(SyncRecord.select().where(SyncRecord.state == "synced")
                         .order_by(SyncRecord.id).limit(2))
    page = f"/records/{first.id}"
    assert "Sync this record now" in client.get(page).get_data(as_text=True)
    answer = _press(client, {"record": f"invoice:{first.cw_id}"}, page)
    _work(ferry)
    run = SyncRun.get_by_id(int(_follow_job(client, answer).rsplit("/", 1)[1]))
    # Already in Xero at this version: read again, not sent again.
    assert (run.read, run.written, run.skipped) == (1, 0, 1)

    listing = client.get(f"/records/?q={second.cw_number}").get_data(as_text=True)
    assert f'value="invoice:{second.cw_id}" form="sync-selected"' in listing
    answer = _press(client, {"record": [f"invoice:{first.cw_id}", f"invoice:{second.cw_id}"]},
                    "/records/")
    _work(ferry)
    run = SyncRun.get_by_id(int(_follow_job(client, answer).rsplit("/", 1)[1]))
    assert (run.read, run.skipped) == (2, 2)


def test_nothing_ticked_gets_a_sentence(ferry, signed_in):
    answer = _press(signed_in, {}, "/records/")
    assert answer.status_code == 422
    assert "Tick at least one record" in answer.get_data(as_text=True)


def test_a_cycle_already_running_is_said_in_words(ferry, signed_in):
    lock = CycleLock(get_redis(), "credit_note")
    lock.acquire()
    try:
        answer = _press(signed_in, {"record_type": "credit_note"})
        _work(ferry)
        polled = signed_in.get(answer.headers["Location"], headers={"HX-Request": "true"})
    finally:
        lock.release()
    assert polled.status_code == 286
    assert "A sync of credit notes was already running" in polled.get_data(as_text=True)


def test_queue_down_answers_with_a_sentence_not_a_500(ferry, signed_in, monkeypatch):
    token = csrf_token(signed_in, "/")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")   # nothing listens there
    answer = signed_in.post("/runs/force", data={"record_type": "invoice",
                                                  "csrf_token": token})
    assert answer.status_code == 503
    assert "queue (Redis) is not answering" in answer.get_data(as_text=True)
    assert SyncRun.select().count() == 0


def test_a_message_flashed_before_the_waiting_page_is_still_there_on_the_run_page(
        ferry, signed_in):
    """QA: the demo's 'Paid invoice …' was shown by the waiting page and gone by the time
    its run showed. It shows on both, then once only."""
    client = signed_in
    answer = _press(client, {"record_type": "invoice"})
    said = "Paid invoice 10041 in full in Xero. The payment cycle is running now."
    with client.session_transaction() as session:     # as blueprints/demo.py flashes
        session["_flashes"] = [("message", said)]
    waiting = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "waiting for Ferry's background worker" in waiting and said in waiting
    polled = client.get(answer.headers["Location"], headers={"HX-Request": "true"})
    assert said not in polled.get_data(as_text=True)
    _work(ferry)
    run_url = _follow_job(client, answer)
    assert said in client.get(run_url).get_data(as_text=True)
    assert said not in client.get(run_url).get_data(as_text=True)    # shown once there
