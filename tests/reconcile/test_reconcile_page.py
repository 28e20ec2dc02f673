"""Reports → Reconciliation as plain links and form posts (no JavaScript): the post
queues the report and lands on its page, which says it is running and refreshes itself;
the job run by an RQ worker (burst) fills it in; the CSV has the figures and differences;
a bad month or no organisation is a sentence; signed-out people are sent to sign in."""
import csv
import io
import os
import subprocess
import sys
from contextlib import contextmanager

import pytest

from jobs.cycle import run_cycle
from models import Connection, Reconciliation, db
from tests.conftest import csrf_token
from tests.sync_e2e.helpers import action

from .test_reconcile_e2e import SYDNEY, clean_month


@pytest.fixture
def synced(app, cw, xero):
    """Connected and synced; no app context left open (the client's requests keep their
    own)."""
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with data(app):
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        for kind in ("invoice", "credit_note", "bill"):
            run_cycle(kind)
    return app


def _work(app) -> None:
    """One burst of Ferry's own worker command, as `make demo` runs it."""
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"])
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "worker", "--burst"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


@contextmanager
def data(app):
    with app.app_context(), db.connection_context():
        yield


def test_the_page_queues_the_report_and_shows_it_with_its_csv(synced, xero, client, auth):
    with data(synced):
        org = Connection.get(Connection.name == SYDNEY)
        month, records = clean_month(org)
    voided = min((r for r in records if r.record_type == "invoice"), key=lambda r: r.cw_id)
    action(xero, "xero/void", {"org": SYDNEY, "invoice_id": voided.xero_id})
    assert client.get("/reports/reconciliation").status_code == 302      # sign in first
    auth.login()
    page = client.get("/reports/reconciliation")
    assert page.status_code == 200 and SYDNEY in page.text
    token = csrf_token(client, "/reports/reconciliation")
    bad = client.post("/reports/reconciliation", data={"org": org.id, "month": "June",
                                                       "csrf_token": token})
    assert bad.status_code == 400
    assert "is not a month: write it as YYYY-MM" in bad.text
    posted = client.post("/reports/reconciliation", data={"org": org.id, "month": month,
                                                          "csrf_token": token})
    assert posted.status_code == 303
    url = posted.headers["Location"]
    running = client.get(url)
    assert "running" in running.text and 'http-equiv="refresh"' in running.text
    _work(synced)
    with data(synced):
        report = Reconciliation.select().order_by(Reconciliation.id.desc()).first()
    assert report.status == "done" and report.differences == 1, report.message
    done = client.get(url)
    assert f"Invoice {voided.cw_number} was voided in Xero." in done.text
    assert "2 Xero API calls" in done.text and 'http-equiv="refresh"' not in done.text
    polled = client.get(url, headers={"HX-Request": "true"})
    assert polled.status_code == 286 and "<html" not in polled.text
    got = client.get(url + ".csv")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0][:3] == ["section", "record_type", "tax_type"]
    assert ["difference", "invoice", "", "", voided.cw_number, "voided"] == \
        [c for c in rows[-1][:6]]
    assert any(r[0] == "figures" and r[2] == "OUTPUT" for r in rows)
