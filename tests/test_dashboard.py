"""The dashboard shows each Xero organisation's API budget, and says so plainly when the
day limit has stopped Ferry, using what the governor learnt from Xero's own headers."""
import re

import httpx2

from connectors.xero_governor import Governor
from jobs.queue import get_redis
from models import Connection, db


def _org(app, name, tenant):
    with app.app_context(), db.connection_context():
        return Connection.create(kind="xero", name=name, tenant_id=tenant,
                                 settings={"grant_id": 1})


def _answer(status, **headers):
    return httpx2.Response(status, headers=headers)


def test_budget_and_day_limit_on_the_dashboard(app, client, auth):
    _org(app, "Adelaide IT Services Pty Ltd", "tenant-adl")
    _org(app, "Sydney IT Services Pty Ltd", "tenant-syd")
    governor = Governor(get_redis())
    governor.observe("tenant-adl", _answer(200, **{"X-DayLimit-Remaining": "4321",
                                                   "X-MinLimit-Remaining": "59"}))
    governor.observe("tenant-syd", _answer(429, **{"X-Rate-Limit-Problem": "day",
                                                   "Retry-After": "7200"}))
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert "4,321" in page
    assert "daily API limit for Sydney IT Services Pty Ltd is used up" in page
    assert "about 2.0 hours" in page
    assert "limit reached" in page


def test_unknown_budget_before_any_call(app, client, auth):
    _org(app, "Adelaide IT Services Pty Ltd", "tenant-new")
    auth.login()
    assert "not known yet" in client.get("/").get_data(as_text=True)


def test_runs_and_the_months_count_are_shown(app, client, auth):
    from datetime import timedelta

    from models import MeteredVersion, SyncRun, utcnow
    with app.app_context(), db.connection_context():
        started = utcnow() - timedelta(minutes=5)
        SyncRun.create(record_type="invoice", trigger="schedule", status="done",
                       started_at=started, finished_at=started + timedelta(seconds=42),
                       read=120, written=118, skipped=0, exceptions=2, cw_calls=4,
                       xero_calls=9)
        SyncRun.create(record_type="bill", trigger="force", status="stopped",
                       started_at=started, message="Xero's daily limit for Sydney was reached")
        month = utcnow().strftime("%Y-%m")
        for cw_id, version in [(1, "v1:a"), (1, "v1:b"), (2, "v1:a")]:
            MeteredVersion.create(record_type="invoice", cw_id=cw_id, version_hash=version,
                                  month=month)
        MeteredVersion.create(record_type="credit_note", cw_id=9, version_hash="v1:c",
                              month="2020-01")
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert "118" in page and "4 / 9" in page and "42.0 s" in page
    assert "Xero&#39;s daily limit for Sydney was reached" in page
    invoices = page.split('id="tile-invoice"')[1].split("</section>")[0]
    assert 'data-count="metered">3<' in invoices
    credit = page.split('id="tile-credit_note"')[1].split("</section>")[0]
    assert 'data-count="metered">0<' in credit


# -- the live dashboard ---------------------------------------------------------------
def _cw(app, status="active"):
    with app.app_context(), db.connection_context():
        return Connection.create(kind="connectwise", name="ConnectWise (ferrydemo)",
                                 status=status, settings={"site": "x"})


def _call(app, connection, status, minutes_ago):
    from datetime import timedelta

    from models import AuditEntry, utcnow
    with app.app_context(), db.connection_context():
        AuditEntry.create(at=utcnow() - timedelta(minutes=minutes_ago), api=connection.kind,
                          connection_id=connection.id, method="GET", status=status,
                          url="https://cw.example/v4_6_release/apis/3.0/system/info",
                          duration_ms=12.0)


def test_a_refusal_shows_until_a_later_call_succeeds(app, client, auth):
    cw = _cw(app)
    auth.login()
    _call(app, cw, 200, minutes_ago=30)
    assert "refused Ferry" not in client.get("/dashboard/live").get_data(as_text=True)
    _call(app, cw, 401, minutes_ago=20)
    live = client.get("/dashboard/live").get_data(as_text=True)
    assert "ConnectWise refused Ferry&#39;s credentials" in live and "HTTP 401" in live
    assert "Open Settings" in live
    _call(app, cw, 200, minutes_ago=10)
    assert "refused Ferry" not in client.get("/dashboard/live").get_data(as_text=True)


def test_live_tiles_show_progress_waiting_and_the_month(app, client, auth):
    from datetime import timedelta

    from models import MeteredVersion, SyncRun, utcnow
    _cw(app)
    with app.app_context(), db.connection_context():
        now = utcnow()
        running = SyncRun.create(record_type="invoice", status="running", started_at=now,
                                 read=120, written=40)
        if hasattr(running, "total"):
            running.total, running.done = 120, 45
            running.save()
        SyncRun.create(record_type="bill", status="running", started_at=now, read=3,
                       **({"waiting_until": now + timedelta(seconds=37)}
                          if hasattr(SyncRun, "waiting_until") else {}))
        for cw_id in range(5):
            MeteredVersion.create(record_type="credit_note", cw_id=cw_id,
                                  version_hash="v", month=now.strftime("%Y-%m"), at=now)
    auth.login()
    answer = client.get("/dashboard/live", headers={"HX-Request": "true"})
    live = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<html" not in live
    assert 'hx-trigger="every 2s"' in live
    invoice = live.split('id="tile-invoice"')[1].split("</section>")[0]
    assert 'data-state="running"' in invoice.split(">")[0] + ">"
    assert "120" in invoice and "40" in invoice
    if hasattr(SyncRun, "total"):
        assert '<progress max="120" value="45"' in invoice and "45 / 120" in invoice
        bill = live.split('id="tile-bill"')[1].split("</section>")[0]
        assert "Waiting for Xero&#39;s one-minute limit" in bill
        assert re.search(r"(3[0-7]) s left", bill)
    credit = live.split('id="tile-credit_note"')[1].split("</section>")[0]
    assert 'data-count="metered">5<' in credit


def test_thirty_day_chart_counts_per_day_and_type(app, client, auth):
    from datetime import timedelta

    from models import SyncRun, utcnow
    _cw(app)
    with app.app_context(), db.connection_context():
        now = utcnow()
        for written in (2, 1):            # two invoice cycles on one day
            SyncRun.create(record_type="invoice", status="done", read=written, written=written,
                           started_at=now - timedelta(days=2))
        SyncRun.create(record_type="bill", status="done", read=7, written=7,
                       started_at=now - timedelta(days=40))     # outside the chart
        # A payment run writes to ConnectWise: not in a chart titled "Written to Xero".
        SyncRun.create(record_type="payment", status="done", read=5, written=5,
                       started_at=now - timedelta(days=2))
    auth.login()
    page = client.get("/").get_data(as_text=True)
    day = (now - timedelta(days=2)).strftime("%d %b")
    assert f"<title>{day}: 3 invoices</title>" in page
    svg = page.split("<svg")[1].split("</svg>")[0]
    assert "bills</title>" not in svg
    assert re.search(r"Bills <span class=\"num\">0</span>", page)
    chart = page.split('id="chart-h"')[1].split("</section>")[0]
    assert "Written to Xero, last 30 days" in chart
    assert "payments" not in chart.lower() and f"{day}: 3 invoices</title>" in chart


def test_first_run_opens_the_guided_setup_and_errors_are_pages(client, auth):
    auth.login()
    first = client.get("/").get_data(as_text=True)
    assert "Set up Ferry" in first and 'aria-current="step"' in first
    assert 'name="company_id"' in first            # step 2: ConnectWise, in place
    assert client.get("/setup/").headers["Location"].endswith("/setup/2")
    missing = client.get("/records/987654")
    assert missing.status_code == 404
    text = missing.get_data(as_text=True)
    assert "There is nothing at this address" in text and 'aria-label="Main"' in text


def test_a_failure_is_a_page_inside_the_layout(app, client, auth):
    def broken():
        raise RuntimeError("a bug")
    app.add_url_rule("/_test/broken", "test_broken", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False       # as in production
    auth.login()
    answer = client.get("/_test/broken")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 500
    assert "Something went wrong on Ferry" in text and 'aria-label="Main"' in text
    assert "a bug" not in text


def test_a_run_that_stopped_beating_never_shows_as_running(app, client, auth):
    from datetime import timedelta

    from models import SyncRun, utcnow
    _cw(app)
    with app.app_context(), db.connection_context():
        last = utcnow() - timedelta(minutes=4)
        dead = SyncRun.create(record_type="payment", status="running",
                              started_at=last - timedelta(seconds=5), heartbeat_at=last)
    auth.login()
    live = client.get("/dashboard/live", headers={"HX-Request": "true"}).get_data(
        as_text=True)
    tile = live.split('id="tile-payment"')[1].split("</section>")[0]
    assert 'data-state="interrupted"' in tile
    assert f"stopped responding at {last:%d %b %H:%M} UTC" in tile
    assert "Running for" not in tile and "reading" not in tile
    assert live.count(">interrupted<") >= 1 and ">running<" not in live
    page = client.get(f"/runs/{dead.id}").get_data(as_text=True)
    assert 'data-status="interrupted"' in page
    assert f"stopped responding at {last:%Y-%m-%d %H:%M} UTC" in page
