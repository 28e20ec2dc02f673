"""The mapping screens and Disconnect in a real Chromium with JavaScript off (a plain
form post each): the re-sync offer after adding or bulk-updating the missing mapping,
and a confirmation page before anything is deleted or disconnected. With JavaScript on:
the dialog instead of that page, the filter by name, and the sentence for a list
ConnectWise would not give. Screenshots go to tests/browser/screenshots/."""
import re

import pytest
from playwright.sync_api import expect

from models import AccountMapping, ChoiceList, Connection, db
from tests.browser.test_mappings import org, script_errors, shot, sign_in  # noqa: F401
from tests.browser.test_mappings_fix import demo  # noqa: F401  (fixture)
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def plain_page(chromium):
    """Chromium with JavaScript off: every page must work as links and form posts."""
    context = chromium.new_context(java_script_enabled=False)
    try:
        yield context.new_page()
    finally:
        context.close()


def _accounts(org_id) -> dict[str, str]:
    with db.connection_context():
        return {r.cw_account: r.xero_code for r in
                AccountMapping.select().where(AccountMapping.org == org_id)}


def test_without_javascript_fix_offers_resync_and_deleting_asks_first(
        plain_page, live_server, demo):  # noqa: F811
    page, base = plain_page, live_server.url
    sign_in(page, base, "/exceptions/")

    # Add the missing mapping from the exception's link: the offer survives the redirect.
    page.get_by_role("link", name="Map GL account 4900").first.click()
    page.wait_for_url(re.compile(r"/mappings/org/(\d+)/accounts\?q=4900"))
    org_id = int(re.search(r"/org/(\d+)/", page.url).group(1))
    add = page.locator("tr#add")
    add.get_by_label("Xero account").select_option("260")
    add.get_by_role("button", name="Add").click()
    offer = page.locator("form.offer")
    offer.wait_for()
    assert re.search(r"This change may fix \d+ exceptions? \(Invoice \d+",
                     offer.inner_text()), offer.inner_text()
    assert offer.get_by_role("button", name=re.compile(r"^Re-sync (it|them) now$")).count()
    assert _accounts(org_id)["4900"] == "260"
    shot(page, "nojs-added-offer")

    # Bulk update of that row: the offer again.
    page.goto(f"{base}/mappings/org/{org_id}/accounts")
    row = page.locator("tr[id^=row-]", has_text="4900")
    row.get_by_label("Select this row").check()
    page.get_by_label("New Xero account for the ticked rows").select_option("200")
    page.get_by_role("button", name="Update ticked").click()
    page.get_by_text("Set Xero account 200 on 1 row(s).").wait_for()
    assert "This change may fix" in page.locator("form.offer").inner_text()
    assert _accounts(org_id)["4900"] == "200"
    shot(page, "nojs-bulk-offer")

    # Delete one row: a page says what goes; Cancel keeps it, Delete removes it.
    before = _accounts(org_id)
    page.locator("tr[id^=row-]", has_text="4900").get_by_role("button", name="Delete").click()
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text().startswith("Delete this account mapping of ")
    assert "4900" in page.locator("main li").inner_text()
    shot(page, "nojs-delete-confirm")
    assert _accounts(org_id) == before
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(f"{base}/mappings/org/{org_id}/accounts")
    assert _accounts(org_id) == before
    page.locator("tr[id^=row-]", has_text="4900").get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Delete").click()
    page.get_by_text("Deleted.").wait_for()
    assert "4900" not in _accounts(org_id)

    # Delete ticked: the page lists every ticked row first.
    ticked = list(_accounts(org_id))[:2]
    for cw_account in ticked:
        page.locator("tr[id^=row-]", has_text=cw_account).first.get_by_label(
            "Select this row").check()
    page.get_by_role("button", name="Delete ticked").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith(
        "Delete these 2 account mappings of ")
    assert page.locator("main li").count() == 2
    shot(page, "nojs-delete-ticked-confirm")
    assert set(ticked) <= set(_accounts(org_id))
    page.get_by_role("button", name="Delete").click()
    page.get_by_text("Deleted 2 row(s).").wait_for()
    assert not set(ticked) & set(_accounts(org_id))

    # Unmapped names the clashing company without its database id.
    page.goto(base + "/mappings/unmapped")
    text = page.locator("main").inner_text()
    assert "Harbour Dental Group" in text
    assert not re.search(r"Harbour Dental Group \(\d+\)", text)

    # Disconnect asks first too.
    with db.connection_context():
        name = Connection.get_by_id(org_id).name
    page.goto(base + "/settings/")
    disconnect = page.locator("#xero-settings tr", has_text=name).get_by_role(
        "button", name="Disconnect")
    disconnect.click()
    assert page.get_by_role("heading", level=1).inner_text() == \
        f"Disconnect {name} from Xero?"
    shot(page, "nojs-disconnect-confirm")
    with db.connection_context():
        assert Connection.get_by_id(org_id).status == "active"
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(re.compile(r"/settings/"))
    with db.connection_context():
        assert Connection.get_by_id(org_id).status == "active"
    page.locator("#xero-settings tr", has_text=name).get_by_role(
        "button", name="Disconnect").click()
    page.get_by_role("button", name="Disconnect").click()
    page.get_by_text(f"{name} is disconnected from Xero").wait_for()
    shot(page, "nojs-disconnected")
    with db.connection_context():
        assert Connection.get_by_id(org_id).status == "disabled"


def test_with_javascript_a_dialog_asks_and_the_filter_finds_names(
        page, live_server, org):  # noqa: F811
    base = live_server.url
    with db.connection_context():
        ChoiceList.update(error="ConnectWise's products could not be read (HTTP 404: "
                          "ConnectWise has no procurement/catalog).").where(
            ChoiceList.kind == "products").execute()
    sign_in(page, base, f"/mappings/org/{org}/accounts")

    # The filter matches what the table shows: "Freight" is 4900's name in ConnectWise.
    page.get_by_label("Filter").fill("Freight")
    expect(page.locator("tr[id^=row-]")).to_have_count(1)
    assert "4900 Freight recovered" in page.locator("tr[id^=row-]").inner_text()
    shot(page, "filter-by-name")
    page.get_by_label("Filter").fill("")
    expect(page.locator("tr[id^=row-]")).to_have_count(3)

    # Delete ticked asks in a dialog; dismissed, nothing goes, and no page asks again.
    asked = []
    page.on("dialog", lambda d: (asked.append(d.message), d.dismiss() if len(asked) == 1
                                 else d.accept()))
    page.locator("tr[id^=row-]", has_text="4000").get_by_label("Select this row").check()
    page.get_by_role("button", name="Delete ticked").click()
    page.wait_for_timeout(300)
    assert asked == ["Delete the ticked rows? Ferry stops using them from the next sync."]
    assert "4000" in _accounts(org)
    page.get_by_role("button", name="Delete ticked").click()
    page.get_by_text("Deleted 1 row(s).").wait_for()
    assert page.url.endswith(f"/mappings/org/{org}/accounts")    # swapped, no new page
    assert "4000" not in _accounts(org)

    # The Items tab says plainly that the product list could not be read.
    page.get_by_role("link", name="Items").click()
    hint = page.get_by_text("ConnectWise's product list could not be read")
    hint.wait_for()
    assert "so type the product's identifier instead" in hint.inner_text()
    assert "HTTP 404" not in page.content()
    assert "Credit notes" in page.content() and "Credit memos" not in page.content()
    shot(page, "items-list-unread")

    # Disconnect: the dialog was the question, so no page asks a second time.
    page.goto(base + "/settings/")
    page.locator("#xero-settings").get_by_role("button", name="Disconnect").click()
    page.wait_for_url(re.compile(r"/settings/$"))
    assert asked[-1].startswith("Disconnect Sydney IT Services Pty Ltd?")
    assert "from Xero?" not in page.get_by_role("heading", level=1).inner_text()
    with db.connection_context():
        assert Connection.get_by_id(org).status == "disabled"
    assert script_errors(page) == []
