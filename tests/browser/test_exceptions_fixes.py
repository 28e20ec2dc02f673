"""The exceptions page in Chromium after a real invoice cycle against the sandboxes:
dismissing one (with JavaScript) updates "Re-sync all N shown" at once, and a total Xero
would compute differently leads to the tax mapping of its code in its organisation."""
import re

import pytest

from jobs.cycle import run_cycle
from models import TaxMapping, db
from tests.browser.test_live_ui import axe_for_tests, look  # noqa: F401
from tests.browser.test_mappings import script_errors, sign_in
from tests.browser.test_mappings_fix import demo, open_exceptions  # noqa: F401
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def resync_values(page) -> list[str]:
    return page.locator("#resync-all input[name=record]").evaluate_all(
        "inputs => inputs.map(i => i.value)")


def test_dismissing_one_updates_the_resync_all_toolbar(page, live_server, demo):  # noqa: F811
    base = live_server.url
    shown = len(open_exceptions(""))
    stuck = open_exceptions("GL account 4900")[0]
    sign_in(page, base, "/exceptions/")
    page.evaluate("() => { window.notReloaded = true; }")
    assert page.locator("#resync-all button").inner_text() == f"Re-sync all {shown} shown"
    assert f"invoice:{stuck.cw_id}" in resync_values(page)

    row = page.locator(f"#exception-{stuck.id}")
    row.get_by_role("link", name="Dismiss…").click()
    row.get_by_label("Why dismiss it?").fill("Credited by hand in Xero")
    row.get_by_role("button", name="Dismiss").click()
    page.get_by_text("dismissed: “Credited by hand in Xero”").wait_for()
    page.get_by_role("button", name=f"Re-sync all {shown - 1} shown").wait_for()
    values = resync_values(page)
    assert len(values) == shown - 1 and f"invoice:{stuck.cw_id}" not in values
    assert page.evaluate("() => window.notReloaded") is True
    look(page, base, "exceptions-after-dismiss")
    assert script_errors(page) == []


def test_a_total_mismatch_links_to_its_tax_mapping_with_amounts_as_money(
        app, page, live_server, demo):  # noqa: F811
    """VAT20 (20% in ConnectWise) mapped to a 10% Xero tax type: Xero would total each
    such invoice lower, and the exception says so and leads to that mapping."""
    vat = open_exceptions("ConnectWise tax code VAT20")
    assert vat
    with app.app_context(), db.connection_context():
        for org_id in {r.org_id for r in vat}:
            TaxMapping.create(org=org_id, side="sales", cw_tax_code="VAT20",
                              xero_tax_type="OUTPUT")
        run_cycle("invoice", trigger="force", only_ids=[r.cw_id for r in vat])
    total = re.compile(r"ConnectWise totals it at (\d{1,3}(,\d{3})+\.\d\d) AUD")
    # One over a thousand, so the thousands separator shows.
    record = next(r for r in open_exceptions("Xero would total")
                  if any(total.search(p) for p in r.problems))

    base = live_server.url
    sign_in(page, base, "/exceptions/")
    row = page.locator(f"#exception-{record.id}")
    sentence = row.locator("td.problems").inner_text()      # "What is wrong"
    assert total.search(sentence), sentence
    assert re.search(r"Xero would total invoice \d+ at [\d,]+\.\d\d AUD \(tax [\d,]+\.\d\d\)",
                     sentence), sentence
    look(page, base, "exceptions-total-mismatch")

    row.get_by_role("link", name="Check the tax mapping for VAT20").click()
    page.wait_for_url(re.compile(rf"/mappings/org/{record.org_id}/taxes\?q=VAT20$"))
    rows = page.locator("main table tbody tr", has_text="VAT20")
    assert rows.count() >= 1 and "OUTPUT" in rows.first.inner_text()
    look(page, base, "exceptions-total-mismatch-mapping")
    assert script_errors(page) == []
