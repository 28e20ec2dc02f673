"""The dashboard shows each Xero organisation's API budget, and says so plainly when the
day limit has stopped Ferry, using what the governor learnt from Xero's own headers."""
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
    invoices_row = page.split("<td>Invoices</td>")[1].split("</tr>")[0]
    assert ">3<" in invoices_row
    credit_row = page.split("<td>Credit notes</td>")[1].split("</tr>")[0]
    assert ">0<" in credit_row
