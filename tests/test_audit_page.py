"""The audit page shows real calls Ferry made to the ConnectWise sandbox: searchable,
each one openable, exportable as CSV, and with the keys masked."""
import csv
import io
import re

import pytest

from connectors.connectwise import ConnectWise, CWSettings
from connectors.errors import AuthenticationFailed
from jobs.audit import DatabaseAuditSink
from models import db
from sandbox.connectwise import DEFAULTS, create_app
from sandbox.kit import serve_in_thread


@pytest.fixture(scope="module")
def cw_sandbox():
    server = serve_in_thread(create_app(seed=1))
    yield server
    server.stop()


def _calls(app, url, private_key=DEFAULTS["private_key"]):
    """Read locations, then try a wrong key: two successes and a refusal in the trail."""
    settings = CWSettings(site=url, company_id=DEFAULTS["company"],
                          public_key=DEFAULTS["public_key"], private_key=private_key,
                          client_id=DEFAULTS["client_id"])
    with app.app_context(), db.connection_context(), DatabaseAuditSink() as sink:
        client = ConnectWise(settings, sink=sink, context={"run_id": 7})
        with client.bind(record_ref="invoice:1001"):
            assert list(client.locations())
        client.close()
        wrong = ConnectWise(CWSettings(**{**settings.__dict__, "private_key": "wrong-key"}),
                            sink=sink)
        with pytest.raises(AuthenticationFailed):
            list(wrong.departments())
        wrong.close()


def test_audit_search_detail_and_export(app, client, auth, cw_sandbox):
    _calls(app, cw_sandbox.url)
    auth.login()
    page = client.get("/audit/").get_data(as_text=True)
    assert "system/locations" in page and "system/departments" in page
    assert "invoice:1001" in page

    refused = client.get("/audit/?outcome=client_error").get_data(as_text=True)
    assert "system/departments" in refused and "system/locations" not in refused

    by_record = client.get("/audit/?q=invoice:1001", headers={"HX-Request": "true"})
    text = by_record.get_data(as_text=True)
    assert "<html" not in text and "system/locations" in text
    assert "system/departments" not in text

    by_run = client.get("/audit/?run=7").get_data(as_text=True)
    assert "system/locations" in by_run

    entry_link = client.get("/audit/?q=departments").get_data(as_text=True)
    entry_id = re.search(r'href="/audit/(\d+)"', entry_link).group(1)
    detail = client.get(f"/audit/{entry_id}").get_data(as_text=True)
    assert "401" in detail and "Basic ***" in detail
    assert DEFAULTS["private_key"] not in detail and "wrong-key" not in detail

    export = client.get("/audit/export.csv?api=connectwise")
    assert export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert rows[0][0] == "time (UTC)"
    assert any("system/locations" in row[3] for row in rows[1:])
    body = export.get_data(as_text=True)
    assert "wrong-key" not in body and DEFAULTS["private_key"] not in body


def test_bad_dates_get_a_sentence_and_unknown_entries_404(client, auth):
    auth.login()
    page = client.get("/audit/?from=21/11/2026").get_data(as_text=True)
    assert "is not a date like 2026-11-21" in page
    assert client.get("/audit/999999").status_code == 404


def test_a_record_reference_finds_that_record_only(app, client, auth):
    from models import AuditEntry, utcnow
    with app.app_context(), db.connection_context():
        for ref in ("invoice:5", "invoice:50", "bill:5"):
            AuditEntry.create(at=utcnow(), api="xero", method="PUT", status=200,
                              url=f"https://api.xero.com/api.xro/2.0/Invoices#{ref}",
                              duration_ms=10.0, record_ref=ref)
    auth.login()
    page = client.get("/audit/?q=invoice:5").get_data(as_text=True)
    assert "Invoices#invoice:5" in page
    assert "Invoices#invoice:50" not in page and "Invoices#bill:5" not in page
