"""The record page's Payments in a real Chromium, after a payment cycle."""
import pytest

from jobs.cycle import run_cycle
from jobs.cycle_payments import run_payment_cycle
from models import db
from tests.browser.conftest import live_server, page  # noqa: F401  (fixtures)
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

from .helpers import cw_payments, pay, payment_record, synced_invoices

pytestmark = pytest.mark.browser


def test_a_paid_invoice_shows_its_payments(app, cw, xero, page, live_server):  # noqa: F811
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        run_cycle("invoice")
        (record,) = synced_invoices(cw=cw)
        pay(xero, record, "250.00")
        pay(xero, record, "100.00")
        run_payment_cycle()
        (cw_payment,) = cw_payments(cw, record.cw_id)
        path = f"/records/{payment_record(record.cw_id).id}"
    page.goto(live_server.url + "/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.goto(live_server.url + path)
    section = page.locator("section[aria-labelledby=payments-h]")
    text = section.inner_text()
    assert "350.00" in text and f"ConnectWise payment {cw_payment['id']}" in text
    assert text.count("received") >= 2
    page.screenshot(path="tests/browser/screenshots/payment_record.png", full_page=True)
    assert page.console_errors == []
