"""The audit log after a real invoice cycle, in Chromium: a batch write names the invoices
it carried (their numbers link to their pages), and an invoice's number as the pages
show it ("invoice:11377") finds the batch write that carried it."""
import re

import pytest

from jobs.cycle import run_cycle
from models import AuditEntry, SyncRecord, db
from tests.browser.test_live_ui import axe_for_tests, look, sign_in  # noqa: F401
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def synced(app, cw, xero):  # noqa: F811
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        run_cycle("invoice")
        batch = (AuditEntry.select().where((AuditEntry.method == "PUT") &
                                           AuditEntry.record_refs.is_null(False))
                 .order_by(AuditEntry.id).first())
        ids = [int(i) for i in batch.record_refs.strip(",").split(",")]
        records = {r.cw_id: r for r in SyncRecord.select().where(
            (SyncRecord.record_type == "invoice") & SyncRecord.cw_id.in_(ids))}
    return batch, [records[i] for i in ids]


def test_a_batch_write_names_its_invoices_and_their_numbers_find_it(page, live_server,
                                                                    synced):
    batch, carried = synced
    base = live_server.url
    sign_in(page, base)
    page.goto(base + "/audit/?method=PUT")
    cell = page.locator(f"#entry-{batch.id} td.record")
    text = " ".join(cell.inner_text().split())
    assert text.startswith(f"{len(carried)} invoices: {carried[0].cw_number}, "
                           f"{carried[1].cw_number}, {carried[2].cw_number}")
    assert text.endswith(f"and {len(carried) - 3} more")
    look(page, base, "audit-batches")

    # "and 47 more" opens the call's page, which names every invoice it carried.
    cell.get_by_role("link", name=re.compile(r"more$")).click()
    page.wait_for_url(re.compile(rf"/audit/{batch.id}#records$"))
    records = page.locator("dd", has=page.locator(f'a[href="/records/{carried[-1].id}"]'))
    assert carried[-1].cw_number in records.inner_text()
    look(page, base, "audit-batch-entry")

    # The last invoice of the batch, as every page names it, finds that write.
    page.goto(base + "/audit/")
    page.get_by_label("Search").fill(f"invoice:{carried[-1].cw_number}")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"[?&]q=invoice%3A\d+"))
    # A first cycle sends each invoice once: its batch write is its only call.
    page.wait_for_function("document.querySelectorAll('#audit-rows tr').length === 1")
    page.locator(f"#entry-{batch.id}").wait_for()
    look(page, base, "audit-search-invoice-number")

    # A number in the Record column opens that invoice.
    page.locator(f"#entry-{batch.id} td.record").get_by_role(
        "link", name=f"Invoice {carried[0].cw_number}").click()
    page.wait_for_url(f"{base}/records/{carried[0].id}")
    assert carried[0].cw_number in page.locator("h1").inner_text()
