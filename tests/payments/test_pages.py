"""What a finance person sees of the payment back-sync: the record page's Payments, a
forced payment sync of one invoice, and the payment runs."""
import os
import re
import subprocess
import sys
from decimal import Decimal

import pytest

from jobs.cycle_payments import run_payment_cycle
from models import PaymentLedger, SyncRecord, SyncRun, db
from tests.conftest import csrf_token

from .helpers import (
    cw_invoice, cw_payments, delete_payment, pay, payment_record, synced_invoices,
)


@pytest.fixture
def web(app, cw, xero):  # noqa: F811
    """Connected, invoices synced; no app context left pushed (each request has its own)."""
    from jobs.cycle import run_cycle
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        assert run_cycle("invoice").status == "done"
    return app


def test_the_record_page_shows_xero_payments_and_the_cw_payment(web, cw, xero, client,
                                                                 auth):
    with web.app_context(), db.connection_context():
        (record,) = synced_invoices(cw=cw)
        first = pay(xero, record, "120.00", reference="EFT 1")["payment"]
        run_payment_cycle()
        (cw_payment,) = cw_payments(cw, record.cw_id)
        pages = [f"/records/{record.id}", f"/records/{payment_record(record.cw_id).id}"]
    auth.login()
    for path in pages:
        page = client.get(path).get_data(as_text=True)
        assert "Payments" in page and "120.00" in page
        assert f"ConnectWise payment {cw_payment['id']}" in page
        assert first["PaymentID"][:8] in page
        assert "the Xero invoice Ferry wrote for it" in page
    runs = client.get("/runs/").get_data(as_text=True)
    assert "Payments" in runs


def test_sync_now_for_payments_runs_in_the_worker(web, cw, xero, client, auth):
    with web.app_context(), db.connection_context():
        (record,) = synced_invoices(cw=cw)
        pay(xero, record, "33.00")
    auth.login()
    answer = client.post("/runs/force", data={"record_type": "payment",
                                              "csrf_token": csrf_token(client, "/")})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    env = dict(os.environ, DATABASE_URL=web.config["DATABASE_URL"])
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "worker",
                           "--burst"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    with web.app_context(), db.connection_context():
        run = SyncRun.get(SyncRun.record_type == "payment")
        assert run.trigger == "force" and run.status == "done" and run.written == 1
    assert cw_payments(cw, record.cw_id)[0]["amount"] == Decimal("33.00")
    page = client.get(f"/runs/{run.id}").get_data(as_text=True)
    assert "Payments" in page or "payment" in page


def test_forcing_one_invoice_settles_it_and_nothing_else(synced, cw, xero):
    one, other = synced_invoices(cw=cw, n=2)
    pay(xero, one, "10.00")
    pay(xero, other, "20.00")
    run = run_payment_cycle(trigger="force", only_ids=[one.cw_id], forced=True)
    assert run.status == "done" and run.trigger == "force" and run.written == 1
    assert cw_payments(cw, one.cw_id)[0]["amount"] == Decimal("10.00")
    assert cw_payments(cw, other.cw_id) == []
    assert PaymentLedger.select().count() == 1
    # The scheduled cycle then takes the other one, and only it.
    assert run_payment_cycle().written == 1
    assert cw_payments(cw, other.cw_id)[0]["amount"] == Decimal("20.00")
    assert SyncRun.select().where(SyncRun.record_type == "payment").count() == 2
    assert SyncRecord.select().where(SyncRecord.record_type == "payment").count() == 2


def test_the_cli_runs_a_payment_cycle(synced, cw, xero):
    (record,) = synced_invoices(cw=cw)
    pay(xero, record, "15.00")
    result = synced.test_cli_runner().invoke(args=["sync", "payment"])
    assert result.exit_code == 0, result.output
    assert "payment cycle" in result.output and "written 1" in result.output
    assert cw_payments(cw, record.cw_id)[0]["amount"] == Decimal("15.00")
    assert SyncRun.get(SyncRun.record_type == "payment").trigger == "cli"


def test_a_payment_exception_is_listed_with_what_to_do(web, cw, xero, client, auth):
    with web.app_context(), db.connection_context():
        (record,) = synced_invoices(cw=cw)
        total = cw_invoice(cw, record.cw_id)["total"]
        pay(xero, record, str(total + Decimal("12.50")))
        assert run_payment_cycle().exceptions == 1
    auth.login()
    page = client.get("/exceptions/?type=payment").get_data(as_text=True)
    assert "overpayment of AUD 12.50" in page and "Allocate it in Xero" in page


def test_the_invoice_page_agrees_with_its_payments_after_a_payment(web, cw, xero, client,
                                                                    auth):
    """The top card's Amount due / paid and the history follow the payment cycle, not
    only the invoice cycle (QA: 'Amount paid 0.00' beside '2,150.50 AUD received')."""
    with web.app_context(), db.connection_context():
        (record,) = synced_invoices(cw=cw)
        total = SyncRecord.get_by_id(record.id).cw_total
        pay(xero, record, "120.00")
        run_payment_cycle()
        (cw_payment,) = cw_payments(cw, record.cw_id)
        currency = SyncRecord.get_by_id(record.id).currency or ""
    auth.login()
    page = client.get(f"/records/{record.id}").get_data(as_text=True)
    facts = page.split('<dl class="facts">')[1].split("</dl>")[0]
    assert re.search(r"<dt>Amount paid</dt><dd[^>]*>120\.00\b", facts), facts
    due = f"{total - Decimal('120.00'):,.2f}"
    assert re.search(rf"<dt>Amount due</dt><dd[^>]*>{re.escape(due)}\b", facts), facts
    assert (f"Payment of 120.00 {currency} applied in ConnectWise (CW payment "
            f"{cw_payment['id']}).").replace("  ", " ") in page


def test_a_payment_run_says_it_read_xero_and_applied_in_connectwise(web, cw, xero, client,
                                                                    auth):
    with web.app_context(), db.connection_context():
        (record,) = synced_invoices(cw=cw)
        pay(xero, record, "45.00")
        run = run_payment_cycle()
        assert run.written == 1
    auth.login()
    page = client.get(f"/runs/{run.id}").get_data(as_text=True)
    facts = page.split('<dl class="facts">')[1].split("</dl>")[0]
    assert "Invoices read from Xero" in facts and "Payments applied in ConnectWise" in facts
    assert "Written to Xero" not in facts and "Read from ConnectWise" not in facts
    assert "already in Xero" not in facts
    # The invoice it paid is listed, linking to the invoice's own page.
    listed = page.split('id="run-invoices"')[1].split("</table>")[0]
    assert f'href="/records/{record.id}">{record.cw_number}</a>' in listed
    assert "applied in ConnectWise" in listed and "45.00" in listed
    runs = client.get("/runs/").get_data(as_text=True)
    row = runs.split(f'href="/runs/{run.id}"')[1].split("</tr>")[0]
    assert "applied in ConnectWise" in row and "Xero → ConnectWise" in row


def test_a_payment_deleted_in_xero_shows_on_the_invoice_as_removed(web, cw, xero, client,
                                                                   auth):
    with web.app_context(), db.connection_context():
        (record,) = synced_invoices(cw=cw)
        total = SyncRecord.get_by_id(record.id).cw_total
        made = pay(xero, record, "75.00")["payment"]
        run_payment_cycle()
        delete_payment(xero, record, made["PaymentID"])
        run_payment_cycle()
        assert cw_payments(cw, record.cw_id) == []
        currency = SyncRecord.get_by_id(record.id).currency or ""
    auth.login()
    page = client.get(f"/records/{record.id}").get_data(as_text=True)
    facts = page.split('<dl class="facts">')[1].split("</dl>")[0]
    assert re.search(r"<dt>Amount paid</dt><dd[^>]*>0\.00\b", facts), facts
    assert re.search(rf"<dt>Amount due</dt><dd[^>]*>{re.escape(f'{total:,.2f}')}\b", facts)
    assert f"Payment of 75.00 {currency} applied in ConnectWise".replace("  ", " ") in page
    assert f"Payment of 75.00 {currency} removed in ConnectWise".replace("  ", " ") in page
