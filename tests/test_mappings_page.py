"""The mappings page shows the routing rules in order and each organisation's maps."""
from models import AccountMapping, Connection, RoutingRule, TaxMapping, db


def test_rules_and_maps_are_shown_per_org(app, client, auth):
    with app.app_context(), db.connection_context():
        adl = Connection.create(kind="xero", name="Adelaide IT Services Pty Ltd", tenant_id="a")
        syd = Connection.create(kind="xero", name="Sydney IT Services Pty Ltd", tenant_id="s")
        RoutingRule.create(position=2, field="location", value="Sydney", org=syd)
        RoutingRule.create(position=1, field="location", value="Adelaide", org=adl)
        AccountMapping.create(org=adl, cw_account="4000", xero_code="200")
        TaxMapping.create(org=syd, side="sales", cw_tax_code="GST", xero_tax_type="OUTPUT")
    auth.login()
    page = client.get("/mappings/").get_data(as_text=True)
    assert page.index("Adelaide</td>") < page.index("Sydney</td>")   # first rule first
    adelaide = page.split("<h2>Adelaide IT Services Pty Ltd</h2>")[1].split("</section>")[0]
    sydney = page.split("<h2>Sydney IT Services Pty Ltd</h2>")[1].split("</section>")[0]
    assert "<td>4000</td><td>200</td>" in adelaide and "OUTPUT" not in adelaide
    assert "<td>GST</td><td>OUTPUT</td>" in sydney


def test_without_xero_the_page_says_what_to_do_first(client, auth):
    auth.login()
    assert "Connect a Xero organisation" in client.get("/mappings/").get_data(as_text=True)
