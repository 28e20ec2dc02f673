"""The Outbox page and Settings → Alerts in a real Chromium at 1366x768: a sent, a
pending (with its retry) and a failed mail with the reason; Resend; the alert settings
saved over htmx and a bad field's sentence beside it; a test e-mail through aiosmtpd.
Screenshots go to tests/browser/screenshots/."""
from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser.conftest import live_server, page  # noqa: F401  (fixtures)
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

from .conftest import inside, point_at

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[1] / "browser" / "screenshots"


def sign_in(page, base, path):  # noqa: F811 (a page, not the fixture)
    page.set_viewport_size({"width": 1366, "height": 768})   # as the screenshots are read
    page.goto(base + path)
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + path)


def test_outbox_page_shows_sent_pending_failed_and_resends(app, smtp, live_server, page):  # noqa: F811
    from jobs.outbox import MAX_ATTEMPTS, queue_mail, send_due
    from models import utcnow
    point_at(app, smtp)
    with inside(app):
        queue_mail("digest", [ADMIN_EMAIL], "Ferry daily digest 2026-11-29: 12 written", "t",
                   "<p>h</p>", notify=False)
        send_due()
        smtp.inbox.refuse = "452 4.2.2 mailbox full"
        failed = queue_mail("exceptions", ["ar@msp.example"],
                            "Ferry: Invoice 11238 could not be written to Xero", "t",
                            notify=False)
        now = utcnow()
        for _ in range(MAX_ATTEMPTS):
            now += timedelta(hours=1)
            send_due(now=now, only=failed.id)
        queue_mail("incident", [ADMIN_EMAIL], "Ferry needs attention: Ferry's worker has "
                   "not been seen", "t", notify=False)
        send_due()
    smtp.inbox.refuse = None
    base = live_server.url
    sign_in(page, base, "/outbox/")
    page.click("nav >> text=Outbox")
    page.wait_for_url(base + "/outbox/")
    rows = page.locator("tbody tr")
    assert rows.count() == 3
    text = page.locator("main").inner_text()
    assert "sent" in text and "failed" in text and "pending" in text
    assert text.count("mailbox full") == 2           # the failed one and the pending one
    assert "try 2 at" in text
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "outbox.png"), full_page=True)
    failed_row = page.locator("tr", has_text="Invoice 11238")
    failed_row.get_by_role("button", name="Resend").click()
    page.wait_for_url(base + "/outbox/")
    assert "is queued to be sent again" in page.locator(".notice").inner_text()
    page.click("text=Failed (0)")
    assert "No e-mail failed yet." in page.locator("main").inner_text()
    assert page.console_errors == []


def test_alert_settings_save_show_a_bad_field_and_send_a_test(app, smtp, live_server, page):  # noqa: F811
    point_at(app, smtp)
    base = live_server.url
    sign_in(page, base, "/settings/")
    page.wait_for_function("() => typeof window.htmx === 'object'", timeout=10000)
    section = page.locator("#alert-settings")
    section.locator("select[name=mode_invoice]").select_option("immediate")
    section.locator("input[name=recipients_bill]").fill("ap@msp.example, accounts payable")
    section.locator("input[name=digest_time]").fill("07:30")
    section.locator("input[name=timezone]").fill("Australia/Adelaide")
    section.locator("text=Save alert settings").click()
    error = page.locator("#alert-settings .field-error")
    error.wait_for()
    assert "“accounts payable” is not an e-mail address" in error.inner_text()
    page.locator("#alert-settings input[name=recipients_bill]").fill("ap@msp.example")
    page.locator("#alert-settings >> text=Save alert settings").click()
    page.locator("#alert-settings .notice").wait_for()
    assert "Saved. The daily digest goes at 07:30 Australia/Adelaide." in \
        page.locator("#alert-settings .notice").inner_text()
    page.locator("#alert-settings input[name=test_to]").fill("me@msp.example")
    page.locator("#alert-settings >> text=Send a test e-mail").last.click()
    page.locator("#alert-settings p[role=status]", has_text="Sent to").wait_for()
    assert [m["Subject"] for m in smtp.inbox.messages] == ["Ferry test e-mail"]
    page.locator("#alert-settings").scroll_into_view_if_needed()
    page.locator("#alert-settings").screenshot(path=str(SHOTS / "settings-alerts.png"))
    page.screenshot(path=str(SHOTS / "settings-alerts-page.png"))
    with inside(app):
        from jobs import alerts
        assert alerts.mode("invoice") == "immediate"
        assert alerts.recipients("bill") == ["ap@msp.example"]
    # Chromium logs the refused save (422) as a failed resource; nothing else.
    assert [e for e in page.console_errors if "status of 422" not in e] == []
