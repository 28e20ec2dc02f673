"""Inviting a person in a real Chromium, with JavaScript on and off: the administrator
sends the invitation from People, copies the link from the Outbox (no mail server in
the test), and the person opens it in another browser, chooses a password, lands signed
in with their role, and cannot open what their role does not allow. The link then no
longer works. Screenshots go to tests/browser/screenshots/people-*.png."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture(params=["js", "nojs"])
def browser(request, chromium):
    """Pages in the worker's shared Chromium (tests/conftest.py), each in a new context."""
    contexts = []

    def new_page():
        context = chromium.new_context(java_script_enabled=request.param == "js",
                                       viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        return page
    new_page.mode = request.param
    yield new_page
    for context in contexts:
        context.close()


def shot(page, mode: str, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"people-{name}-{mode}.png"), full_page=True)


def test_invite_a_person_who_signs_up_through_the_link(app, live_server, browser):
    base, mode = live_server.url, browser.mode
    app.config["BASE_URL"] = base
    admin = browser()
    admin.goto(base + "/people/")
    admin.fill("input[name=email]", ADMIN_EMAIL)
    admin.fill("input[name=password]", ADMIN_PASSWORD)
    admin.click("button[type=submit]")
    admin.wait_for_url(base + "/people/")
    expect(admin.locator("header .role-badge")).to_have_text("Administrator")

    form = admin.locator("#invite-form")
    form.locator("input[name=email]").fill("bookkeeper@msp.example")
    form.locator("select[name=role]").select_option("finance")
    form.locator("button[type=submit]").click()
    admin.wait_for_url(base + "/people/")
    expect(admin.locator(".notice")).to_contain_text(
        "Invitation to bookkeeper@msp.example as finance is in the Outbox")
    expect(admin.get_by_role("cell", name="Invitation as finance")).to_be_visible()
    shot(admin, mode, "1-invited")

    admin.goto(base + "/outbox/")
    admin.get_by_role("link", name="You are invited to Ferry").click()
    text = admin.locator("pre").inner_text()
    link = re.search(r"(http://\S+/welcome/\S+)", text).group(1)
    assert link.startswith(base)
    shot(admin, mode, "2-outbox-mail")

    person = browser()
    person.goto(link)
    expect(person.locator("h1")).to_have_text("Welcome to Ferry")
    expect(person.locator("main")).to_contain_text("invited as finance")
    shot(person, mode, "3-welcome")
    person.fill("input[name=password]", "ledger and tea 42")
    person.fill("input[name=confirm]", "ledger and tea 42")
    person.click("button[type=submit]")
    person.wait_for_url(base + "/")
    expect(person.locator(".notice")).to_contain_text(
        "Welcome to Ferry. You are signed in as bookkeeper@msp.example (finance).")
    expect(person.locator("header .role-badge")).to_have_text("Finance")
    nav = person.locator("nav[aria-label=Main]")
    expect(nav.get_by_role("link", name="Mappings")).to_be_visible()
    expect(nav.get_by_role("link", name="People")).to_have_count(0)
    shot(person, mode, "4-signed-in")

    person.goto(base + "/people/")
    expect(person.locator("h1")).to_have_text("Your role does not allow this")
    expect(person.locator("main")).to_contain_text(
        "Your role (Finance) cannot do this: it needs an administrator.")
    shot(person, mode, "5-refused")

    again = browser()
    again.goto(link)
    expect(again.locator("h1")).to_have_text("This link no longer works")

    admin.goto(base + "/people/")
    row = admin.get_by_role("row", name=re.compile("bookkeeper@msp.example"))
    expect(row.locator("select[name=role]")).to_have_value("finance")
    expect(admin.get_by_role("cell", name="Invitation as finance")).to_have_count(0)
    shot(admin, mode, "6-people")
    for page in (admin, person, again):
        # The browser notes the refused page's own 403 (and the used link's 410).
        errors = [e for e in page.console_errors
                  if "status of 403" not in e and "status of 410" not in e]
        assert errors == [], errors
