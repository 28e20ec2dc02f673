"""Create and link in a real Chromium, with JavaScript (HTMX swaps the fragment) and
without (a plain form post, redirected): the clash row and its form leave, the re-sync
button is there, and Xero holds one contact for the company."""
import re

import pytest

from models import ContactLink, db
from tests.browser.test_mappings import ADMIN_EMAIL, ADMIN_PASSWORD, SHOTS, script_errors
from tests.browser.test_mappings_fix import SYDNEY, demo, open_exceptions  # noqa: F401
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)
from tests.sync_e2e.helpers import orgs

pytestmark = pytest.mark.browser
NAME = "Harbour Dental Group (Sydney clinic)"


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def browser_page(request, chromium):
    """The worker's shared Chromium (tests/conftest.py), a context of this test's own."""
    context = chromium.new_context(java_script_enabled=request.param,
                                   viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.js = request.param
    yield page
    context.close()


def test_create_and_link_moves_the_page_on(browser_page, live_server, demo, xero):  # noqa: F811
    page, base = browser_page, live_server.url
    clash = open_exceptions("already exists in org")
    assert clash
    page.goto(base + "/exceptions/")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/exceptions/")
    page.get_by_role("link", name="Resolve the contact clash").first.click()
    page.wait_for_url(re.compile(r"/mappings/org/\d+/contacts\?company=\d+"))
    contacts = page.locator("#contacts")
    assert contacts.get_by_role("link", name="Resolve").count() == 1
    page.get_by_label("Name in Xero").fill(NAME)
    page.get_by_role("button", name="Create and link").click()

    resync = page.get_by_role("button", name=re.compile(r"^Re-sync (it|them) now$"))
    resync.wait_for(timeout=30_000)
    if not page.js:                    # the plain post was redirected to the page
        assert re.search(r"/mappings/org/\d+/contacts$", page.url), page.url
    page.get_by_text(f"Created the Xero contact {NAME} and linked it").wait_for()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"contact-create-link-{'js' if page.js else 'nojs'}.png"))
    assert contacts.get_by_role("link", name="Resolve").count() == 0      # the clash row left
    assert page.get_by_role("button", name="Create and link").count() == 0
    assert page.get_by_label("Name in Xero").count() == 0
    assert "This change may fix" in contacts.inner_text()

    with db.connection_context():
        link = ContactLink.get(ContactLink.org == clash[0].org_id,
                               ContactLink.cw_company_id ==
                               int(clash[0].problem_keys.get().cw_value))
    made = orgs(xero)[SYDNEY].contacts[link.xero_contact_id.lower()]
    assert made["Name"] == NAME
    same = [c for c in orgs(xero)[SYDNEY].contacts.values()
            if c.get("ContactNumber") == made["ContactNumber"]]
    assert len(same) == 1
    if page.js:
        assert script_errors(page) == []
