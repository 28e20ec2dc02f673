"""The audit retention setting: saved when sensible, refused with a sentence otherwise,
and obeyed by the nightly purge."""
from datetime import timedelta

from jobs.audit import purge_entries_older_than, retention_days
from models import AuditEntry, db, utcnow
from tests.conftest import csrf_token


def test_retention_is_saved_and_used_by_the_purge(app, client, auth):
    auth.login()
    token = csrf_token(client, "/settings/")
    assert 'value="30"' in client.get("/settings/").get_data(as_text=True)
    saved = client.post("/settings/general", data={"retention_days": "90", "csrf_token": token},
                        headers={"HX-Request": "true"})
    assert "older than 90 days are removed" in saved.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert retention_days() == 90
        for age in (10, 100):
            AuditEntry.create(at=utcnow() - timedelta(days=age), api="xero", method="GET",
                              url="https://api.xero.com/api.xro/2.0/Invoices", status=200,
                              duration_ms=12.0)
        assert purge_entries_older_than(retention_days()) == 1
        assert AuditEntry.select().count() == 1


def test_nonsense_retention_is_refused_and_nothing_changes(app, client, auth):
    auth.login()
    token = csrf_token(client, "/settings/")
    for bad in ("0", "400", "a month"):
        answer = client.post("/settings/general",
                             data={"retention_days": bad, "csrf_token": token})
        assert answer.status_code == 422
        page = answer.get_data(as_text=True)
        assert "between 1 and 365 days" in page and "<html" in page
    with app.app_context(), db.connection_context():
        assert retention_days() == 30
