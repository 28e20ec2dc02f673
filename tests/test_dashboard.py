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
