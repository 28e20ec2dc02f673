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
