"""Signing in and moving around Ferry in a real browser, with htmx live and the CSP strict."""
import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def _sign_in(page, base):
    page.goto(base + "/audit/")
    assert "/login" in page.url
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/audit/")


def test_sign_in_navigate_and_sign_out(app, page, live_server, tmp_path):
    from models import Connection, db
    with app.app_context(), db.connection_context():   # not a first run: no guided setup
        Connection.create(kind="connectwise", name="ConnectWise", settings={})
    base = live_server.url
    _sign_in(page, base)
    for label, path in [("Dashboard", "/"), ("Records", "/records/"),
                        ("Mappings", "/mappings/"), ("Exceptions", "/exceptions/"),
                        ("Settings", "/settings/")]:
        page.click(f"nav >> text={label}")
        page.wait_for_url(base + path)
        assert page.locator("h1").inner_text() in (label, "Dashboard")
    page.click("nav >> text=Dashboard")
    page.wait_for_url(base + "/")
    # htmx came from our own static files and runs under the CSP.
    page.wait_for_function("() => typeof window.htmx === 'object'", timeout=10000)
    assert page.locator("#health").is_visible()
    page.screenshot(path=str(tmp_path / "dashboard.png"))
    page.click("text=Sign out")
    page.wait_for_url(base + "/login")
    assert page.console_errors == []


def test_health_panel_refreshes_itself_over_htmx(app, page, live_server):
    from models import Connection, db
    with app.app_context(), db.connection_context():
        Connection.create(kind="connectwise", name="ConnectWise", settings={})
    base = live_server.url
    _sign_in(page, base)
    page.goto(base + "/")
    with page.expect_request(lambda r: r.url.endswith("/dashboard/health"),
                             timeout=15000) as request:
        pass
    assert request.value.headers.get("hx-request") == "true"
    assert request.value.headers.get("x-csrftoken")
    assert page.console_errors == []


def test_wrong_password_shows_a_sentence(page, live_server):
    page.goto(live_server.url + "/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", "not it at all")
    page.click("button[type=submit]")
    assert "do not match an account" in page.locator(".error").inner_text()
