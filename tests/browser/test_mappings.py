"""The mapping screens in a real Chromium: inline edit of a row (htmx swaps it back, and
a refused value shows its sentence beside the row), bulk update of ticked rows, and a
CSV preview then apply. Screenshots at 1366x768 go to tests/browser/screenshots/."""
from pathlib import Path

import pytest

from models import AccountMapping, ChoiceList, Connection, db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).parent / "screenshots"


def script_errors(page) -> list[str]:
    """Console errors but the browser's own note of an answered 422 (the sentence)."""
    return [e for e in page.console_errors if "status of 422" not in e]


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"mappings-{name}.png"), full_page=False)


def sign_in(page, base: str, path: str) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(base + path)
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + path)


@pytest.fixture
def org(app):
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name="Sydney IT Services Pty Ltd", tenant_id="s")
        Connection.create(kind="connectwise", name="ConnectWise", settings={})
        ChoiceList.create(source="connectwise", kind="gl_accounts", items=[
            {"value": v, "label": f"{v} {n}", "active": True}
            for v, n in (("4000", "Managed services"), ("4100", "Product sales"),
                         ("4300", "Agreement revenue"), ("4900", "Freight recovered"))])
        ChoiceList.create(source="xero", org_id=str(org.id), kind="accounts", items=[
            {"value": "200", "label": "200 Sales", "active": True},
            {"value": "210", "label": "210 Product Sales", "active": True},
            {"value": "260", "label": "260 Other Revenue", "active": True}])
        for kind in ("tax_codes", "locations", "departments", "members", "products",
                     "company_types"):
            ChoiceList.create(source="connectwise", kind=kind, items=[])
        for kind in ("tax_rates", "tracking", "items"):
            ChoiceList.create(source="xero", org_id=str(org.id), kind=kind, items=[])
        for cw, code in (("4000", "200"), ("4100", "200"), ("4900", "200")):
            AccountMapping.create(org=org, cw_account=cw, xero_code=code)
        return org.id


def test_inline_edit_and_bulk_update(page, live_server, org):
    base = live_server.url
    sign_in(page, base, f"/mappings/org/{org}/accounts")
    row = page.locator("tr[id^=row-]", has_text="4100 Product sales")
    row.get_by_role("link", name="Edit").click()
    editing = page.locator("tr.editing")
    editing.wait_for()
    assert page.url.endswith(f"/mappings/org/{org}/accounts")   # swapped in, no reload
    editing.get_by_label("Xero account").select_option("210")
    shot(page, "inline-edit")
    editing.get_by_role("button", name="Save").click()
    page.locator("tr[id^=row-]", has_text="4100 Product sales").get_by_text("Saved").wait_for()
    assert "210 Product Sales" in page.locator("tr[id^=row-]", has_text="4100 Product sales").inner_text()
    with db.connection_context():
        assert AccountMapping.get(AccountMapping.cw_account == "4100").xero_code == "210"

    # A row made into a duplicate of another: the server's sentence shows beside it.
    page.locator("tr[id^=row-]", has_text="4900 Freight").get_by_role("link", name="Edit").click()
    editing = page.locator("tr.editing")
    editing.get_by_label("ConnectWise GL account").select_option("4000")
    editing.get_by_role("button", name="Save").click()
    alert = editing.get_by_role("alert")
    alert.wait_for()
    assert "is already mapped in Sydney IT Services Pty Ltd" in alert.inner_text()
    shot(page, "inline-edit-refused")
    editing.get_by_role("link", name="Cancel").click()
    page.locator("tr.editing").wait_for(state="detached")

    # Bulk: tick two rows, set them to 260.
    for text in ("4000 Managed services", "4900 Freight"):
        page.locator("tr[id^=row-]", has_text=text).get_by_label("Select this row").check()
    page.get_by_label("New Xero account for the ticked rows").select_option("260")
    page.get_by_role("button", name="Update ticked").click()
    page.get_by_text("Set Xero account 260 on 2 row(s).").wait_for()
    shot(page, "bulk-update")
    with db.connection_context():
        codes = {r.cw_account: r.xero_code for r in AccountMapping.select()}
    assert codes == {"4000": "260", "4100": "210", "4900": "260"}
    assert script_errors(page) == []


def test_csv_preview_then_apply(page, live_server, org, tmp_path):
    base = live_server.url
    sign_in(page, base, f"/mappings/import?kind=accounts&org={org}")
    bad = tmp_path / "bad.csv"
    bad.write_bytes("cw_gl_account;xero_account_code\r\n4100;260\r\n4900;999\r\n".encode())
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Preview").click()
    page.locator("#preview").wait_for()
    assert "separated by semicolons" in page.content()
    rejected = page.locator("#preview tr.row-rejected")
    assert "no active account with code “999”" in rejected.inner_text()
    assert page.get_by_role("button", name="Apply").count() == 0
    shot(page, "csv-rejected")

    good = tmp_path / "good.csv"
    good.write_bytes(b"\xef\xbb\xbfcw_gl_account,xero_account_code\r\n4000,200\r\n"
                     b"4100,260\r\n4300,210\r\n")
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Apply 2 changes").wait_for()
    statuses = page.locator("#preview tbody tr td:nth-child(2)").all_inner_texts()
    assert statuses == ["unchanged", "changed", "added"]
    shot(page, "csv-preview")
    with db.connection_context():
        assert AccountMapping.select().count() == 3        # nothing written yet
    page.get_by_role("button", name="Apply 2 changes").click()
    page.wait_for_url(f"{base}/mappings/org/{org}/accounts")
    page.get_by_text("1 added, 1 changed, 1 unchanged").wait_for()
    shot(page, "csv-applied")
    with db.connection_context():
        codes = {r.cw_account: r.xero_code for r in AccountMapping.select()}
    assert codes == {"4000": "200", "4100": "260", "4300": "210", "4900": "200"}
    assert script_errors(page) == []
