"""Review finding 2 in a real browser: a settings form whose token went stale (the same
person signed in again in another tab) shows Ferry's sentence above the form, and what
was typed stays in the form, instead of Werkzeug's "The CSRF token is missing." page
taking the form's place."""
import pytest

from tests.browser.conftest import live_server, page  # noqa: F401  (fixtures)
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def sign_in(tab, base):
    tab.goto(base + "/login")
    tab.fill("input[name=email]", ADMIN_EMAIL)
    tab.fill("input[name=password]", ADMIN_PASSWORD)
    tab.click("main button[type=submit]")
    tab.wait_for_url(base + "/")


def test_a_stale_htmx_form_keeps_what_was_typed_and_says_why(app, page, live_server):  # noqa: F811
    base = live_server.url
    sign_in(page, base)
    page.goto(base + "/settings/")
    page.wait_for_function("() => typeof window.htmx === 'object'", timeout=10000)
    page.fill("#general-settings input[name=retention_days]", "45")
    other_tab = page.context.new_page()
    sign_in(other_tab, base)          # a new sign-in: the first tab's token is now stale
    other_tab.close()
    with page.expect_response(lambda r: r.url.endswith("/settings/general")) as answer:
        page.click("#general-settings button[type=submit]")
    assert answer.value.status == 400
    alert = page.locator("[role=alert]", has_text="This page was open too long")
    alert.wait_for(timeout=10000)
    assert "reload the page" in alert.inner_text()
    assert page.input_value("#general-settings input[name=retention_days]") == "45"
    assert "CSRF" not in page.locator("main").inner_text()
    page.reload()                      # what the sentence says to do: then it saves
    page.fill("#general-settings input[name=retention_days]", "45")
    with page.expect_response(lambda r: r.url.endswith("/settings/general")) as answer:
        page.click("#general-settings button[type=submit]")
    assert answer.value.status == 200
    # The browser notes the refused post (400) itself; nothing else went wrong.
    assert [e for e in page.console_errors if "status of 400" not in e] == []
