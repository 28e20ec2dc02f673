"""Reports → Reconciliation in a real Chromium: a real worker runs the report against the
sandboxes while the page polls; the result shows each difference with its reason, the
dashboard names the drift, and the page is photographed for the README
(docs/reconciliation.png)."""
import re
from pathlib import Path

import pytest

from models import Connection, SyncRecord, db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.processes import ferry_process
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)
from tests.sync_e2e.helpers import action

pytestmark = pytest.mark.browser

SYDNEY = "Sydney IT Services Pty Ltd"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "reconciliation.png"


@pytest.fixture
def drifted(app, cw, xero):  # noqa: F811
    """A clean sync, then in Xero one invoice voided and one edited, and in CW a new
    invoice Ferry cannot map (an exception): the month to reconcile."""
    from jobs.cycle import run_cycle
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    from tests.reconcile.test_reconcile_e2e import clean_month
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        for kind in ("invoice", "credit_note", "bill"):
            run_cycle(kind)
        org = Connection.get(Connection.name == SYDNEY)
        month, records = clean_month(org)
        invoices = sorted((r for r in records if r.record_type == "invoice"),
                          key=lambda r: r.cw_id)
        action(xero, "xero/void", {"org": SYDNEY, "invoice_id": invoices[0].xero_id})
        action(xero, "xero/edit-invoice", {"org": SYDNEY, "invoice_id": invoices[1].xero_id,
                                           "line": 0, "unit_amount": "1.00"})
        action(cw, "invoices", {"companyName": "Recon Test Pty Ltd", "identifier": "ReconTest",
                                "location": "Sydney", "taxCode": "VAT20", "amount": "100.00",
                                "date": f"{month}-15"})
        run_cycle("invoice")
        exception = SyncRecord.get((SyncRecord.state == "exception") &
                                   (SyncRecord.org == org) &
                                   (SyncRecord.party_name == "Recon Test Pty Ltd"))
        yield {"org": org, "month": month, "voided": invoices[0].cw_number,
               "edited": invoices[1].cw_number, "exception": exception.cw_number}


@pytest.fixture
def worker(app, drifted, tmp_path):
    with ferry_process("worker", app.config["DATABASE_URL"], tmp_path / "worker.log") as log:
        yield log


def test_the_reconciliation_page_runs_the_report_and_shows_each_difference(
        page, live_server, drifted, worker):
    base = live_server.url
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(base + "/reports/reconciliation")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/reports/reconciliation")
    page.select_option("select[name=org]", label=SYDNEY)
    page.fill("input[name=month]", drifted["month"])

    def stopped(response):
        return re.search(r"/reports/reconciliation/\d+$", response.url) and \
            response.status == 286

    with page.expect_response(stopped, timeout=120_000):
        page.get_by_role("button", name="Reconcile").click()
        page.wait_for_url(re.compile(r"/reports/reconciliation/\d+$"), timeout=30_000)
    page.locator('#report[data-status="done"]').wait_for(timeout=10_000)
    assert page.locator("#report").get_attribute("hx-trigger") is None
    summary = page.locator("#summary").inner_text()
    assert summary.endswith("3 documents differ."), summary
    causes = {row.get_attribute("data-cause"): row.inner_text()
              for row in page.locator("#differences tbody tr").all()}
    assert set(causes) == {"voided", "amount", "exception"}
    assert drifted["voided"] in causes["voided"] and "voided in Xero" in causes["voided"]
    assert drifted["edited"] in causes["amount"]
    assert "No Xero tax type for ConnectWise tax code VAT20" in causes["exception"]
    assert "2 Xero API calls" in page.locator("#report").inner_text()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.goto(base + "/")
    drift = page.locator("#drift").inner_text()
    assert f"3 invoices differ in {SYDNEY} for" in drift
    assert page.console_errors == [], worker.read_text()
