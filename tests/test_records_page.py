"""The records page lists what Ferry read, filters it, and opens each record's history."""
import re
from decimal import Decimal

from models import Connection, RecordEvent, SyncRecord, db


def test_records_listed_filtered_and_opened(app, client, auth):
    with app.app_context(), db.connection_context():
        adelaide = Connection.create(kind="xero", name="Adelaide IT Services Pty Ltd",
                                     tenant_id="t-adl")
        synced = SyncRecord.create(record_type="invoice", cw_id=11, cw_number="10011",
                                   org=adelaide, state="synced", xero_id="inv-guid-11",
                                   cw_total=Decimal("1234.56"), rounding=Decimal("0.01"))
        RecordEvent.create(record=synced, kind="created",
                           message="Written to Xero as a draft invoice")
        SyncRecord.create(record_type="bill", cw_id=5, cw_number="PO-5", state="pending")
    auth.login()
    page = client.get("/records/").get_data(as_text=True)
    assert "Invoice 10011" in page and "1,234.56" in page and "Bill PO-5" in page
    only_synced = client.get("/records/?state=synced", headers={"HX-Request": "true"})
    text = only_synced.get_data(as_text=True)
    assert "<html" not in text and "10011" in text and "PO-5" not in text
    assert "PO-5" in client.get("/records/?q=PO-").get_data(as_text=True)
    record_id = re.search(r'href="/records/(\d+)">Invoice 10011', page).group(1)
    detail = client.get(f"/records/{record_id}").get_data(as_text=True)
    assert "inv-guid-11" in detail and "Written to Xero as a draft invoice" in detail
    assert "makes its total equal" in detail
    assert client.get("/records/999999").status_code == 404


def _record(**fields):
    values = {"record_type": "invoice", "state": "synced"}
    values.update(fields)
    return SyncRecord.create(**values)


def test_a_finance_person_reads_filters_and_sorts(app, client, auth):
    from datetime import date
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name="Sydney IT", tenant_id="t-syd",
                                settings={"short_code": "!AbC12"})
        _record(cw_id=1, cw_number="10001", party_name="Barossa Wines Pty Ltd",
                doc_date=date(2026, 10, 3), cw_total=Decimal("1100.00"), currency="AUD",
                xero_status="AUTHORISED", amount_due=Decimal("600.00"),
                amount_paid=Decimal("500.00"), org=org, xero_id="abc-123")
        _record(cw_id=2, cw_number="10002", party_name="Coorong Freight",
                doc_date=date(2026, 11, 20), cw_total=Decimal("55.50"), currency="NZD",
                xero_status="PAID", amount_due=Decimal("0"), amount_paid=Decimal("55.50"))
    auth.login()
    page = client.get("/records/").get_data(as_text=True)
    for text in ("Barossa Wines Pty Ltd", "03 Oct 2026", "1,100.00", "AUD", "AUTHORISED",
                 "600.00", "500.00", "Sydney IT"):
        assert text in page
    assert "Coorong Freight" in client.get("/records/?party=coorong").get_data(as_text=True)
    assert "Barossa" not in client.get("/records/?party=coorong").get_data(as_text=True)
    due = client.get("/records/?due=yes").get_data(as_text=True)
    assert "Barossa" in due and "Coorong" not in due
    dated = client.get("/records/?from=2026-11-01").get_data(as_text=True)
    assert "Coorong" in dated and "Barossa" not in dated
    assert "Coorong" not in client.get("/records/?currency=aud").get_data(as_text=True)
    assert "Barossa" not in client.get("/records/?xero_status=PAID").get_data(as_text=True)
    assert "Barossa" not in client.get("/records/?min=100&max=200").get_data(as_text=True)
    by_total = client.get("/records/?sort=total").get_data(as_text=True)
    assert by_total.index("Coorong") < by_total.index("Barossa")
    assert 'aria-sort="ascending"' in by_total
    by_total_desc = client.get("/records/?sort=-total").get_data(as_text=True)
    assert by_total_desc.index("Barossa") < by_total_desc.index("Coorong")
    refused = client.get("/records/?from=3/10/2026", headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "is not a date like" in refused.get_data(as_text=True)


def test_record_page_links_to_xero_and_lists_versions_and_calls(app, client, auth):
    from models import AuditEntry, MeteredVersion, utcnow
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name="Sydney IT", tenant_id="t-syd",
                                settings={"short_code": "!AbC12"})
        invoice = _record(cw_id=7, cw_number="10007", org=org, xero_id="inv-7")
        bill = _record(record_type="bill", cw_id=8, cw_number="PO-8", xero_id="bill-8")
        MeteredVersion.create(record_type="invoice", cw_id=7, version_hash="v1:abcdef0123456",
                              month="2026-11")
        RecordEvent.create(record=invoice, kind="exception",
                           message="No Xero account for CW GL account 4900")
        AuditEntry.create(at=utcnow(), api="xero", method="PUT", status=200, duration_ms=5.0,
                          url="https://api.xero.com/api.xro/2.0/Invoices?mine",
                          record_ref="invoice:7")
    auth.login()
    page = client.get(f"/records/{invoice.id}").get_data(as_text=True)
    assert 'href="https://go.xero.com/app/!AbC12/invoicing/view/inv-7"' in page
    assert "v1:abcdef012" in page and "No Xero account for CW GL account 4900" in page
    assert "Invoices?mine" in page and 'href="/audit/?q=invoice:7"' in page
    bill_page = client.get(f"/records/{bill.id}").get_data(as_text=True)
    assert "https://go.xero.com/AccountsPayable/Edit.aspx?InvoiceID=bill-8" in bill_page


def test_due_and_paid_show_their_currency_and_a_long_label_wraps(app, client, auth):
    """QA at 1366 px: 'Updated (UTC)' was pushed off by a long bill label, and Due / Paid
    were bare numbers beside 'Total 4,301.00 AUD'."""
    with app.app_context(), db.connection_context():
        bill = SyncRecord.create(record_type="bill", cw_id=51,
                                 cw_number="PO PO-00051 slip PS-00051-1", state="synced",
                                 currency="AUD", cw_total=Decimal("4301.00"),
                                 amount_due=Decimal("2150.50"), amount_paid=Decimal("2150.50"))
    auth.login()
    page = client.get("/records/").get_data(as_text=True)
    row = page.split("Bill PO PO-00051 slip PS-00051-1</a>")[1].split("</tr>")[0]
    assert re.findall(r'<td class="money">([^<]+) <small>(\w*)</small>', row) == [
        ("4,301.00", "AUD"), ("2,150.50", "AUD"), ("2,150.50", "AUD")]
    # The label's cell may wrap (ferry.css td.label) and carries the whole label.
    assert '<td class="label" title="Bill PO PO-00051 slip PS-00051-1">' in page
    detail = client.get(f"/records/{bill.id}").get_data(as_text=True)
    assert re.search(r"<dt>Amount due</dt><dd[^>]*>2,150\.50 AUD</dd>", detail)
    assert re.search(r"<dt>Amount paid</dt><dd[^>]*>2,150\.50 AUD</dd>", detail)
