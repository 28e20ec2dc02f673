"""The exceptions page lists records Ferry could not write, with the sentences saying
what to fix, and filters by record type."""
from models import Connection, SyncRecord, db


def test_exceptions_listed_with_what_to_fix(app, client, auth):
    with app.app_context(), db.connection_context():
        sydney = Connection.create(kind="xero", name="Sydney IT Services Pty Ltd",
                                   tenant_id="t-syd")
        SyncRecord.create(record_type="invoice", cw_id=41, cw_number="10041", org=sydney,
                          state="exception", problems=[
                              "No Xero account for CW GL account 4900 in org Sydney IT "
                              "Services Pty Ltd"])
        SyncRecord.create(record_type="bill", cw_id=7, cw_number="PO-7", state="exception",
                          problems=["No routing rule sends bills of location Perth to a "
                                    "Xero organisation, and there is no default organisation."])
        SyncRecord.create(record_type="invoice", cw_id=42, cw_number="10042", org=sydney,
                          state="synced")
    auth.login()
    page = client.get("/exceptions/").get_data(as_text=True)
    assert "Invoice 10041" in page and "CW GL account 4900" in page
    assert "Bill PO-7" in page and "not routed" in page
    assert "10042" not in page
    bills = client.get("/exceptions/?type=bill").get_data(as_text=True)
    assert "Bill PO-7" in bills and "Invoice 10041" not in bills


def test_no_exceptions_says_so(client, auth):
    auth.login()
    page = client.get("/exceptions/?type=credit_note").get_data(as_text=True)
    assert "No exceptions for credit notes" in page
    # The tabs name record types as the dashboard and settings do.
    assert ">Credit notes</a>" in page and "Credit memos" not in page
