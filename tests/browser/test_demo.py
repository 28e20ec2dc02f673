"""The demo's own page in a real browser: the tour of the five pillars, and "Pay half of an
invoice" receiving a payment in the Xero sandbox that a real worker's payment cycle then
applies to the ConnectWise invoice, watched on the run page until it stops polling."""
import re
from decimal import Decimal
from pathlib import Path

import pytest

from models import PaymentLedger, db
from tests.processes import ferry_process
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.payments.helpers import assert_converged, cw_invoice
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture
def demo(app, cw, xero):  # noqa: F811
    """Ferry as `make demo` runs it: FERRY_DEMO on, connected, a first invoice cycle."""
    from jobs.cycle import run_cycle
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    app.config["DEMO"] = True
    from blueprints import demo as demo_pages
    app.register_blueprint(demo_pages.bp)
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        assert run_cycle("invoice").status == "done"
    return app


@pytest.fixture
def worker(demo, tmp_path):
    """Ferry's worker command in the background, as `make demo` starts it."""
    with ferry_process("worker", demo.config["DATABASE_URL"], tmp_path / "worker.log") as log:
        yield log


def test_pay_half_an_invoice_and_watch_it_reach_connectwise(demo, page, worker, cw, xero):  # noqa: F811
    from sandbox.kit import serve_in_thread
    server = serve_in_thread(demo)
    try:
        base = server.url
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(base + "/login")
        page.fill("input[name=email]", ADMIN_EMAIL)
        page.fill("input[name=password]", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/")
        page.get_by_role("link", name="Demo").click()
        page.wait_for_url(base + "/demo/")
        assert page.get_by_role("heading", name="Receive a payment in Xero").is_visible()
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "demo.png"), full_page=True)

        page.get_by_role("button", name="Pay half of an invoice").click()
        # The queued job's page follows the worker to the run, which polls until done.
        page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=120_000)
        page.locator('#run[data-status="done"]').wait_for(timeout=120_000)
        page.screenshot(path=str(SHOTS / "demo-payment-run.png"), full_page=True)
        with demo.app_context(), db.connection_context():
            ledger = PaymentLedger.select().where(PaymentLedger.applied > 0).get()
            invoice = cw_invoice(cw, ledger.cw_invoice_id)
            assert Decimal(str(invoice["payments"])) == ledger.applied > 0
            assert Decimal(str(invoice["balance"])) > 0        # half, not all of it
            assert_converged(cw, xero)
        # The run lists no records: the demo page leads on to the invoice's Payments.
        page.goto(base + "/demo/")
        row = page.locator("tr", has_text=f"Invoice {ledger.cw_number}")
        page.screenshot(path=str(SHOTS / "demo-after-payment.png"), full_page=True)
        assert f"{ledger.applied:,.2f} {ledger.currency}" in row.inner_text()
        row.get_by_role("link").click()
        page.wait_for_url(re.compile(r"/records/\d+$"))
        assert page.get_by_text("Applied in ConnectWise by Ferry").is_visible()
        page.screenshot(path=str(SHOTS / "demo-record-payments.png"), full_page=True)
        assert page.console_errors == [], worker.read_text()
    finally:
        server.stop()
