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


def test_a_dismissal_refreshes_the_toolbar_for_the_pages_filters(app, client, auth):
    from tests.conftest import csrf_token
    with app.app_context(), db.connection_context():
        bills = [SyncRecord.create(record_type="bill", cw_id=i, cw_number=f"PO-{i}",
                                   state="exception", problems=["No routing rule"])
                 for i in (1, 2)]
        SyncRecord.create(record_type="invoice", cw_id=3, cw_number="10003",
                          state="exception", problems=["No routing rule"])
    auth.login()
    page = client.get("/exceptions/?type=bill").get_data(as_text=True)
    assert 'hx-get="/exceptions/toolbar?type=bill"' in page
    assert "Re-sync all 2 shown" in page
    token = csrf_token(client, "/exceptions/")
    answer = client.post(f"/exceptions/{bills[0].id}/dismiss", headers={"HX-Request": "true"},
                         data={"reason": "Paid by card", "csrf_token": token})
    assert answer.headers["HX-Trigger"] == "exception-dismissed"
    toolbar = client.get("/exceptions/toolbar?type=bill").get_data(as_text=True)
    assert "Re-sync all 1 shown" in toolbar
    assert 'value="bill:2"' in toolbar and 'value="bill:1"' not in toolbar
    assert 'value="invoice:3"' not in toolbar


def test_a_total_mismatch_links_to_the_tax_mapping_of_its_codes(app, client, auth):
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name="Sydney IT Services Pty Ltd", tenant_id="t")
        SyncRecord.create(record_type="invoice", cw_id=55, cw_number="11355", org=org,
                          state="exception", problems=[
                              "Xero would total invoice 11355 at 5,280.00 AUD (tax 480.00) "
                              "but ConnectWise totals it at 5,760.00 AUD (tax 960.00); check "
                              "the tax mapping for ConnectWise tax code GST, VAT20"])
    auth.login()
    page = client.get("/exceptions/").get_data(as_text=True)
    for code in ("GST", "VAT20"):
        assert (f'<a href="/mappings/org/{org.id}/taxes?q={code}">Check the tax mapping '
                f'for {code}</a>') in page
