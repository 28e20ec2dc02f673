"""Who changed which mapping when: adding, changing and deleting a row, a routing rule,
as a finance person, shows on the Mappings → History page with their e-mail."""
from blueprints.auth import save_user
from models import AccountMapping, db
from tests.conftest import AuthActions, csrf_token
from tests.test_mappings_page import _orgs


def test_history_names_who_changed_which_mapping(app, client):
    adl, _ = _orgs(app)
    with app.app_context(), db.connection_context():
        save_user("money@msp.example", "a long enough pass", role="finance")
    AuthActions(client).login("money@msp.example", "a long enough pass")
    token = csrf_token(client, f"/mappings/org/{adl}/accounts")
    client.post(f"/mappings/org/{adl}/accounts/new", data={
        "csrf_token": token, "cw_gl_account": "4900", "xero_account_code": "200"})
    with db.connection_context():
        row_id = AccountMapping.get().id
    client.post(f"/mappings/org/{adl}/accounts/{row_id}", data={
        "csrf_token": token, "cw_gl_account": "4900", "xero_account_code": "260"})
    client.post(f"/mappings/org/{adl}/accounts/{row_id}/delete", data={
        "csrf_token": token, "confirmed": "1"})
    client.post("/mappings/routing/new", data={
        "csrf_token": token, "field": "location", "value": "1", "org": str(adl),
        "record_type": ""})
    page = client.get("/mappings/history").get_data(as_text=True)
    assert page.count("<td>money@msp.example</td>") == 4, page
    assert "added: 4900 → 200" in page
    assert "changed: was 4900 → 200, now 4900 → 260" in page
    assert "deleted: 4900 → 260" in page
    assert "Adelaide IT Services Pty Ltd" in page and "Routing" in page
    only_routing = client.get("/mappings/history?area=routing").get_data(as_text=True)
    assert "4900" not in only_routing and "rule 1" in only_routing
