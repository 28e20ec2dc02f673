"""The dashboard in real Chromium when the schedule is broken (issue 20): the invoice
cycle overdue and the credit note cycle gone from the schedule each say so in red on
their tile with what to check, and "Ferry's parts" lists every part with its sentence.
A screenshot at 1366x768 (tests/browser/screenshots/) and axe-core's check."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis

from jobs.schedule import register_schedule
from models import SyncRun, db, utcnow
from tests.browser.test_live_ui import axe_for_tests, look, sign_in  # noqa: F401

pytestmark = pytest.mark.browser


def test_a_broken_schedule_on_the_dashboard(app, live_server, page, redis_url):
    connection = redis.Redis.from_url(redis_url)
    with app.app_context(), db.connection_context():
        for record_type in ("invoice", "credit_note", "bill"):
            started = utcnow() - timedelta(hours=7)
            SyncRun.create(record_type=record_type, trigger="schedule", status="done",
                           started_at=started, heartbeat_at=started,
                           finished_at=started + timedelta(seconds=35), read=12, written=12)
        register_schedule(connection)
    connection.zadd("rq:scheduler:scheduled_jobs",
                    {"ferry-cycle-invoice": time.time() - 75 * 60})
    connection.zrem("rq:scheduler:scheduled_jobs", "ferry-cycle-credit-note")

    sign_in(page, live_server.url)
    page.goto(live_server.url + "/")
    invoice = page.locator("#tile-invoice")
    assert invoice.get_attribute("data-state") == "overdue"
    assert "The invoice cycle is overdue" in invoice.inner_text()
    credit = page.locator("#tile-credit_note")
    assert credit.get_attribute("data-state") == "not_scheduled"
    assert "not in Ferry's schedule" in credit.inner_text()
    assert "not scheduled" in credit.inner_text()
    bill = page.locator("#tile-bill")
    assert bill.get_attribute("data-state") == "idle"
    assert " UTC" in bill.inner_text()                       # its next run
    parts = page.locator("#health")
    assert parts.locator('[data-part="schedule"] .badge').inner_text() == "problem"
    assert "No worker is running" in parts.inner_text()
    look(page, live_server.url, "dashboard-schedule-broken")
