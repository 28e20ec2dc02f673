"""The mapping screens as a browser without JavaScript sees them (plain links and form
posts) and as htmx asks for them (partials): routing rules, per-org tables with inline
edit, bulk update, delete, filter, flags on rows the API no longer offers, Unmapped."""
from decimal import Decimal

from models import (
    AccountMapping, ChoiceList, Connection, RecordProblem, RoutingRule, Setting, SyncRecord,
    TaxMapping, TrackingMapping, db,
)
from tests.conftest import csrf_token

HX = {"HX-Request": "true"}


def _orgs(app):
    with app.app_context(), db.connection_context():
        adl = Connection.create(kind="xero", name="Adelaide IT Services Pty Ltd", tenant_id="a")
        syd = Connection.create(kind="xero", name="Sydney IT Services Pty Ltd", tenant_id="s")
        # Choice lists as if read from the APIs, so no page calls them here.
        for kind, items in {
            "gl_accounts": [("4000", "4000 Managed services"), ("4900", "4900 Freight")],
            "tax_codes": [("GST", "GST"), ("VAT20", "VAT20")],
            "locations": [("1", "Adelaide"), ("2", "Sydney")],
            "departments": [("10", "Managed Services")],
            "members": [], "products": [], "company_types": []}.items():
            ChoiceList.create(source="connectwise", kind=kind, items=[
                {"value": v, "label": label, "active": True} for v, label in items])
        for org in (adl, syd):
            ChoiceList.create(source="xero", org_id=str(org.id), kind="accounts", items=[
                {"value": "200", "label": "200 Sales", "active": True},
                {"value": "260", "label": "260 Other Revenue", "active": True},
                {"value": "299", "label": "299 Old Sales", "active": False}])
            ChoiceList.create(source="xero", org_id=str(org.id), kind="tax_rates", items=[
                {"value": "OUTPUT", "label": "GST on Income", "active": True}])
            ChoiceList.create(source="xero", org_id=str(org.id), kind="tracking", items=[
                {"value": "Office", "label": "Office", "active": True, "options": [
                    {"value": "Adelaide", "label": "Adelaide", "active": True}]}])
            ChoiceList.create(source="xero", org_id=str(org.id), kind="items", items=[])
        return adl.id, syd.id


def test_routing_rules_in_order_with_a_disconnected_org_flagged(app, client, auth):
    adl, syd = _orgs(app)
    with app.app_context(), db.connection_context():
        RoutingRule.create(position=2, field="location", value="2", org=syd)
        RoutingRule.create(position=1, field="location", value="1", org=adl)
        Connection.update(status="needs_reconnect").where(Connection.id == syd).execute()
    auth.login()
    page = client.get("/mappings/").get_data(as_text=True)
    assert page.index("<td>Adelaide</td>") < page.index("<td>Sydney</td>")
    assert "not connected: this rule is skipped" in page


def test_add_edit_move_and_delete_a_routing_rule(app, client, auth):
    adl, syd = _orgs(app)
    auth.login()
    token = csrf_token(client, "/mappings/")
    for value, org in (("1", adl), ("2", syd)):
        answer = client.post("/mappings/routing/new", data={
            "csrf_token": token, "field": "location", "value": value, "record_type": "",
            "org": str(org)})
        assert answer.status_code == 302
    bad = client.post("/mappings/routing/new", headers=HX, data={
        "csrf_token": token, "field": "location", "value": "Perth", "record_type": "",
        "org": str(adl)})
    assert bad.status_code == 422
    assert "Choose a ConnectWise location from the list." in bad.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        first, second = RoutingRule.select().order_by(RoutingRule.position)
    client.post(f"/mappings/routing/{second.id}/move", data={"csrf_token": token,
                                                            "direction": "up"})
    with app.app_context(), db.connection_context():
        order = [r.value for r in RoutingRule.select().order_by(RoutingRule.position)]
        assert order == ["2", "1"]
    client.post(f"/mappings/routing/{first.id}", data={
        "csrf_token": token, "field": "department", "value": "10", "record_type": "bill",
        "org": str(syd)})
    with app.app_context(), db.connection_context():
        rule = RoutingRule.get_by_id(first.id)
        assert (rule.field, rule.value, rule.record_type, rule.org_id) == (
            "department", "10", "bill", syd)
    # Without JavaScript there is no dialog: the plain post asks first, deleting nothing.
    asked = client.post(f"/mappings/routing/{first.id}/delete", data={"csrf_token": token})
    assert asked.status_code == 200 and "Delete routing rule" in asked.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert RoutingRule.select().count() == 2
    client.post(f"/mappings/routing/{first.id}/delete", data={"csrf_token": token,
                                                              "confirmed": "1"})
    with app.app_context(), db.connection_context():
        assert [r.value for r in RoutingRule.select()] == ["2"]
        assert RoutingRule.get().position == 1
    client.post("/mappings/routing/default", data={"csrf_token": token,
                                                   "default_org": str(adl)})
    with app.app_context(), db.connection_context():
        assert Setting.get_value("sync.default_org") == adl


def test_inline_edit_saves_and_refuses_a_code_xero_does_not_have(app, client, auth):
    adl, _ = _orgs(app)
    with app.app_context(), db.connection_context():
        row = AccountMapping.create(org=adl, cw_account="4000", xero_code="200")
    auth.login()
    token = csrf_token(client, f"/mappings/org/{adl}/accounts")
    edit = client.get(f"/mappings/org/{adl}/accounts/{row.id}/edit", headers=HX)
    assert edit.status_code == 200 and 'class="editing"' in edit.get_data(as_text=True)
    bad = client.post(f"/mappings/org/{adl}/accounts/{row.id}", headers=HX, data={
        "csrf_token": token, "cw_gl_account": "4000", "xero_account_code": "999"})
    assert bad.status_code == 422
    assert "Xero org Adelaide IT Services Pty Ltd has no active account with code “999”" \
        in bad.get_data(as_text=True)
    good = client.post(f"/mappings/org/{adl}/accounts/{row.id}", headers=HX, data={
        "csrf_token": token, "cw_gl_account": "4000", "xero_account_code": "260"})
    assert good.status_code == 200 and "260 Other Revenue" in good.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert AccountMapping.get_by_id(row.id).xero_code == "260"


def test_a_new_row_with_nothing_chosen_says_what_to_choose(app, client, auth):
    adl, _ = _orgs(app)
    auth.login()
    token = csrf_token(client, f"/mappings/org/{adl}/accounts")
    for headers in (HX, {}):
        answer = client.post(f"/mappings/org/{adl}/accounts/new", headers=headers, data={
            "csrf_token": token, "cw_gl_account": "4900", "xero_account_code": ""})
        html = answer.get_data(as_text=True)
        assert answer.status_code == 422
        assert "Choose the Xero account." in html and "xero_account_code is" not in html
    with app.app_context(), db.connection_context():
        assert not AccountMapping.select().where(AccountMapping.org == adl).exists()


def test_plain_form_post_edit_shows_the_sentence_in_the_page(app, client, auth):
    adl, _ = _orgs(app)
    with app.app_context(), db.connection_context():
        row = AccountMapping.create(org=adl, cw_account="4000", xero_code="200")
        AccountMapping.create(org=adl, cw_account="4900", xero_code="200")
    auth.login()
    token = csrf_token(client, f"/mappings/org/{adl}/accounts")
    answer = client.post(f"/mappings/org/{adl}/accounts/{row.id}", data={
        "csrf_token": token, "cw_gl_account": "4900", "xero_account_code": "200"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "<html" in html
    assert "is already mapped in Adelaide IT Services Pty Ltd" in html


def test_bulk_update_and_delete_of_ticked_rows(app, client, auth):
    adl, syd = _orgs(app)
    with app.app_context(), db.connection_context():
        a = AccountMapping.create(org=adl, cw_account="4000", xero_code="200")
        b = AccountMapping.create(org=adl, cw_account="4900", xero_code="200")
        other = AccountMapping.create(org=syd, cw_account="4000", xero_code="200")
    auth.login()
    token = csrf_token(client, f"/mappings/org/{adl}/accounts")
    answer = client.post(f"/mappings/org/{adl}/accounts/bulk", headers=HX, data={
        "csrf_token": token, "ids": [str(a.id), str(b.id), str(other.id)],
        "action": "update", "bulk_value": "260"})
    assert answer.status_code == 200
    assert "Set Xero account 260 on 2 row(s)." in answer.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert {r.xero_code for r in AccountMapping.select().where(
            AccountMapping.org == adl)} == {"260"}
        assert AccountMapping.get_by_id(other.id).xero_code == "200"  # another org's row
    none = client.post(f"/mappings/org/{adl}/accounts/bulk", headers=HX, data={
        "csrf_token": token, "action": "update", "bulk_value": "260"})
    assert none.status_code == 422 and "Tick at least one row" in none.get_data(as_text=True)
    asked = client.post(f"/mappings/org/{adl}/accounts/bulk", data={
        "csrf_token": token, "ids": [str(a.id)], "action": "delete"})
    assert "Delete this account mapping of" in asked.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert AccountMapping.select().where(AccountMapping.org == adl).count() == 2
    client.post(f"/mappings/org/{adl}/accounts/bulk", data={
        "csrf_token": token, "ids": [str(a.id)], "action": "delete", "confirmed": "1"})
    with app.app_context(), db.connection_context():
        assert [r.cw_account for r in AccountMapping.select().where(
            AccountMapping.org == adl)] == ["4900"]


def test_rows_pointing_at_what_the_api_no_longer_has_are_flagged_and_filter(app, client, auth):
    adl, _ = _orgs(app)
    with app.app_context(), db.connection_context():
        AccountMapping.create(org=adl, cw_account="4000", xero_code="299")   # archived
        AccountMapping.create(org=adl, cw_account="4900", xero_code="777")   # deleted
        TaxMapping.create(org=adl, side="sales", cw_tax_code="GST", xero_tax_type="OUTPUT")
        TrackingMapping.create(org=adl, category="Office", source="location", cw_id=1,
                               option="Gone")
    auth.login()
    page = client.get(f"/mappings/org/{adl}/accounts").get_data(as_text=True)
    assert "archived in Xero" in page and "Xero no longer has this" in page
    filtered = client.get(f"/mappings/org/{adl}/accounts?q=4900", headers=HX)
    html = filtered.get_data(as_text=True)
    rows = [part.split("</tr>")[0] for part in html.split('<tr id="row-')[1:]]
    assert len(rows) == 1 and "4900 Freight" in rows[0]
    # The filter finds what the table shows, names as well as codes.
    for text, expected in (("freight", ["4900"]), ("Old Sales", ["4000"]),
                           ("Managed", ["4000"]), ("nothing like it", [])):
        html = client.get(f"/mappings/org/{adl}/accounts", query_string={"q": text},
                          headers=HX).get_data(as_text=True)
        found = [part.split("</tr>")[0] for part in html.split('<tr id="row-')[1:]]
        assert [cw for cw in ("4000", "4900") if any(f"{cw} " in r for r in found)] == \
            expected, text
    tracking = client.get(f"/mappings/org/{adl}/tracking").get_data(as_text=True)
    assert "Xero no longer has this" in tracking
    by_place = client.get(f"/mappings/org/{adl}/tracking?q=adel", headers=HX)
    assert by_place.get_data(as_text=True).count('<tr id="row-') == 1
    taxes = client.get(f"/mappings/org/{adl}/taxes").get_data(as_text=True)
    assert "GST on Income" in taxes and "no longer" not in taxes


def test_unmapped_counts_records_and_money_most_first(app, client, auth):
    adl, syd = _orgs(app)
    with app.app_context(), db.connection_context():
        for i, (org, kind, value, amount) in enumerate([
                (syd, "account", "4900", "100.00"), (syd, "account", "4900", "50.50"),
                (syd, "tax type", "VAT20", "20.00"), (adl, "account", "4900", "7.00")]):
            record = SyncRecord.create(record_type="invoice", cw_id=i + 1,
                                       cw_number=str(1000 + i), org=org, state="exception",
                                       problems=["x"])
            RecordProblem.create(record=record, org=org, kind=kind, cw_value=value,
                                 amount=Decimal(amount))
        synced = SyncRecord.create(record_type="invoice", cw_id=99, org=syd, state="synced")
        RecordProblem.create(record=synced, org=syd, kind="account", cw_value="4900",
                             amount=Decimal("1000"))   # resolved since: not counted
    auth.login()
    page = client.get("/mappings/unmapped").get_data(as_text=True)
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert "Sydney" in rows[0] and "4900" in rows[0] and ">2<" in rows[0]
    assert "150.50" in rows[0]
    assert f"/mappings/org/{syd}/accounts?q=4900" in rows[0]
    assert len(rows) == 3


def test_unmapped_money_in_two_currencies_is_not_one_sum(app, client, auth):
    adl, _ = _orgs(app)
    with app.app_context(), db.connection_context():
        for i, (amount, currency) in enumerate([("100.00", "AUD"), ("40.00", "USD"),
                                                ("0.50", "AUD")]):
            record = SyncRecord.create(record_type="invoice", cw_id=i + 1, org=adl,
                                       state="exception", problems=["x"], currency=currency)
            RecordProblem.create(record=record, org=adl, kind="account", cw_value="4900",
                                 amount=Decimal(amount))
    auth.login()
    page = client.get("/mappings/unmapped").get_data(as_text=True)
    row = page.split("<tbody>")[1].split("</tbody>")[0]
    assert ">3<" in row and "100.50 AUD" in row and "40.00 USD" in row
    assert "140.50" not in row


def test_without_xero_the_page_says_what_to_do_first(client, auth):
    auth.login()
    assert "Connect a Xero organisation" in client.get("/mappings/").get_data(as_text=True)


def test_fix_link_of_a_tracking_option_opens_the_row_on_the_cw_id(app, client, auth):
    adl, syd = _orgs(app)
    with app.app_context(), db.connection_context():
        record = SyncRecord.create(record_type="invoice", cw_id=5, cw_number="1005", org=syd,
                                   state="exception", problems=["No tracking option"])
        RecordProblem.create(record=record, org=syd, kind="tracking option",
                             cw_value="Sydney", amount=Decimal("10"))
    auth.login()
    page = client.get("/mappings/unmapped").get_data(as_text=True)
    assert f"/mappings/org/{syd}/tracking?new=2" in page
    table = client.get(f"/mappings/org/{syd}/tracking?new=2").get_data(as_text=True)
    add = table.split('id="add"')[1]
    assert '<option value="2" selected>Sydney</option>' in add


def test_status_per_record_type_and_rounding_account(app, client, auth):
    from models import OrgRecordSetting
    adl, _ = _orgs(app)
    auth.login()
    token = csrf_token(client, f"/mappings/org/{adl}/accounts")
    form = {"csrf_token": token, "status_invoice": "AUTHORISED", "status_credit_note": "DRAFT",
            "status_bill": "DRAFT", "rounding_account": "999"}
    bad = client.post(f"/mappings/org/{adl}/writing", headers=HX, data=form)
    assert bad.status_code == 422
    assert "has no active account with code “999”" in bad.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert OrgRecordSetting.select().count() == 0          # nothing saved
    good = client.post(f"/mappings/org/{adl}/writing", headers=HX,
                       data={**form, "rounding_account": "260"})
    assert good.status_code == 200 and "Saved." in good.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        statuses = {r.record_type: r.status for r in OrgRecordSetting.select()}
        assert statuses == {"invoice": "AUTHORISED", "credit_note": "DRAFT", "bill": "DRAFT"}
        assert Connection.get_by_id(adl).settings["rounding_account"] == "260"
    page = client.get(f"/mappings/org/{adl}/taxes").get_data(as_text=True)
    assert '<option value="260" selected>260 Other Revenue</option>' in page


def test_inline_edit_without_javascript(app, client, auth):
    adl, _ = _orgs(app)
    with app.app_context(), db.connection_context():
        row = AccountMapping.create(org=adl, cw_account="4000", xero_code="200")
    auth.login()
    edit = client.get(f"/mappings/org/{adl}/accounts/{row.id}/edit")
    assert edit.status_code == 302 and f"edit={row.id}" in edit.headers["Location"]
    page = client.get(edit.headers["Location"]).get_data(as_text=True)
    assert 'class="editing"' in page and f'form="edit-{row.id}"' in page
    token = csrf_token(client, f"/mappings/org/{adl}/accounts")
    saved = client.post(f"/mappings/org/{adl}/accounts/{row.id}", data={
        "csrf_token": token, "cw_gl_account": "4000", "xero_account_code": "260"},
        follow_redirects=True)
    assert "Saved." in saved.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert AccountMapping.get_by_id(row.id).xero_code == "260"


def test_a_new_routing_rule_offers_the_unroutable_records(app, client, auth):
    adl, _ = _orgs(app)
    with app.app_context(), db.connection_context():
        record = SyncRecord.create(record_type="bill", cw_id=77, cw_number="PO-77",
                                   state="exception", problems=["No routing rule sends"])
        RecordProblem.create(record=record, kind="routing", cw_value="1", label="Adelaide")
    auth.login()
    page = client.get("/exceptions/").get_data(as_text=True)
    assert "/mappings/?new=1#add-rule" in page
    token = csrf_token(client, "/mappings/")
    answer = client.post("/mappings/routing/new", headers=HX, data={
        "csrf_token": token, "field": "location", "value": "1", "record_type": "",
        "org": str(adl)})
    html = answer.get_data(as_text=True)
    assert 'name="record" value="bill:77"' in html and "Rule added" in html


def test_refresh_goes_back_only_to_a_page_of_ferry(app, client, auth):
    auth.login()
    token = csrf_token(client, "/mappings/")
    for evil in ("/\t/evil.example", "//evil.example", "https://evil.example/",
                 "/\\evil.example"):
        answer = client.post("/mappings/refresh", data={"csrf_token": token, "next": evil})
        assert answer.status_code == 302
        assert "evil" not in answer.headers["Location"], evil
    back = client.post("/mappings/refresh", data={"csrf_token": token,
                                                  "next": "/mappings/unmapped?x=1"})
    assert back.headers["Location"] == "/mappings/unmapped?x=1"


def test_without_javascript_an_added_or_bulk_updated_row_still_offers_the_resync(
        app, client, auth):
    adl, _ = _orgs(app)
    with app.app_context(), db.connection_context():
        record = SyncRecord.create(record_type="invoice", cw_id=7, cw_number="11355",
                                   org=adl, state="exception", problems=["x"])
        RecordProblem.create(record=record, org=adl, kind="account", cw_value="4900")
    auth.login()
    token = csrf_token(client, f"/mappings/org/{adl}/accounts")
    added = client.post(f"/mappings/org/{adl}/accounts/new", follow_redirects=True, data={
        "csrf_token": token, "cw_gl_account": "4900", "xero_account_code": "260"})
    html = added.get_data(as_text=True)
    assert "Added. 1 exception(s) this may fix" in html
    assert "This change may fix 1 exception" in html and "Invoice 11355" in html
    with app.app_context(), db.connection_context():
        row = AccountMapping.get(AccountMapping.cw_account == "4900")
    bulk = client.post(f"/mappings/org/{adl}/accounts/bulk", follow_redirects=True, data={
        "csrf_token": token, "ids": [str(row.id)], "action": "update", "bulk_value": "200"})
    html = bulk.get_data(as_text=True)
    assert "Set Xero account 200 on 1 row(s)." in html and "Invoice 11355" in html
    page = client.get(f"/mappings/org/{adl}/accounts").get_data(as_text=True)
    assert "Credit notes" in page and "Credit memos" not in page
