"""The demo's three troublemakers fixed in a real Chromium, each re-synced in one click by
a real worker against the sandboxes: GL account 4900 with no Xero account, tax code
VAT20 with no tax type (after a 20% rate is added in Xero and the choices refreshed),
and a customer whose name is taken in Xero (a new contact under another name)."""
import re
from decimal import Decimal

import pytest

from jobs.cycle import run_cycle
from models import ContactLink, RecordEvent, SyncRecord, db
from tests.processes import ferry_process
from tests.browser.test_mappings import script_errors, shot, sign_in
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)
from tests.sync_e2e.helpers import duplicates, orgs

pytestmark = pytest.mark.browser
SYDNEY = "Sydney IT Services Pty Ltd"


@pytest.fixture
def demo(app, cw, xero):  # noqa: F811
    """Ferry connected to both sandboxes with the catalogue's mappings after a first
    invoice cycle: the demo's exceptions (the catalogue's customer whose name is taken
    in the Sydney org has invoices of its own)."""
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        run_cycle("invoice")
    return app


@pytest.fixture
def worker(demo, tmp_path):
    """Ferry's worker command in the background, as `make demo` starts it."""
    with ferry_process("worker", demo.config["DATABASE_URL"], tmp_path / "worker.log") as log:
        yield log


def open_exceptions(words: str) -> list[SyncRecord]:
    with db.connection_context():
        return [r for r in SyncRecord.select().where(SyncRecord.state == "exception")
                if any(words in p for p in r.problems or [])]


def resync(page, worker_log) -> None:
    """Press the offered Re-sync and wait for the run the worker starts to finish."""
    page.get_by_role("button", name=re.compile(r"^Re-sync (it|them) now$")).first.click()
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=60_000)
    page.locator('#run[data-status="done"]').wait_for(timeout=120_000)


def add_20_percent_rate_in_xero(xero):  # noqa: F811
    """What a person does in Xero's Settings, Tax rates: a custom 20% rate (TAX001)."""
    for org in orgs(xero).values():
        rate = Decimal("20.0000")
        org.tax_rates.append({
            "Name": "VAT 20%", "TaxType": "TAX001", "ReportTaxType": "OUTPUT",
            "Status": "ACTIVE", "CanApplyToAssets": False, "CanApplyToEquity": False,
            "CanApplyToExpenses": False, "CanApplyToLiabilities": False,
            "CanApplyToRevenue": True, "DisplayTaxRate": rate, "EffectiveRate": rate,
            "TaxComponents": [{"Name": "VAT", "Rate": rate, "IsCompound": False,
                               "IsNonRecoverable": False}],
            "_sales": True, "_purchases": False})


def test_fix_each_demo_exception_in_the_browser_and_resync(page, live_server, demo, worker,
                                                           xero):  # noqa: F811
    base = live_server.url
    freight = open_exceptions("GL account 4900")
    vat = open_exceptions("ConnectWise tax code VAT20")
    clash = open_exceptions("already exists in org")
    assert freight and vat and clash
    sign_in(page, base, "/exceptions/")
    shot(page, "fix-exceptions-before")
    page.goto(base + "/mappings/unmapped")
    assert "Harbour Dental Group" in page.locator("main").inner_text()
    shot(page, "unmapped")
    page.goto(base + "/mappings/")
    page.locator("#routing").wait_for()
    shot(page, "routing")
    page.goto(base + "/exceptions/")

    # 1. GL 4900: the exception's link opens that org's accounts on 4900.
    for _ in range(2):                          # one per org that holds such records
        link = page.get_by_role("link", name="Map GL account 4900").first
        if link.count() == 0:
            break
        link.click()
        page.wait_for_url(re.compile(r"/mappings/org/\d+/accounts\?q=4900"))
        add = page.locator("tr#add")
        assert add.get_by_label("ConnectWise GL account").input_value() == "4900"
        add.get_by_label("Xero account").select_option("260")
        add.get_by_role("button", name="Add").click()
        page.get_by_text("This change may fix").wait_for()
        shot(page, "fix-account-offer")
        resync(page, worker)
        page.goto(base + "/exceptions/")
    assert open_exceptions("GL account 4900") == []
    with db.connection_context():
        assert {SyncRecord.get_by_id(r.id).state for r in freight} == {"synced"}

    # 2. VAT20: Xero gets a 20% rate, the choices are refreshed, VAT20 maps to it.
    page.get_by_role("link", name="Map tax code VAT20").first.click()
    page.wait_for_url(re.compile(r"/mappings/org/\d+/taxes\?q=VAT20"))
    add_20_percent_rate_in_xero(xero)
    page.get_by_role("button", name="Refresh choices").click()
    page.get_by_text("Choices read again from ConnectWise and Xero.").wait_for()
    add = page.locator("tr#add")
    add.get_by_label("ConnectWise tax code").select_option("VAT20")
    add.get_by_label("Xero tax rate").select_option("TAX001")
    add.get_by_role("button", name="Add").click()
    page.get_by_text("This change may fix").wait_for()
    shot(page, "fix-tax-offer")
    resync(page, worker)
    page.goto(base + "/exceptions/")
    for _ in range(2):                          # the other org, if it has VAT20 records
        link = page.get_by_role("link", name="Map tax code VAT20").first
        if link.count() == 0:
            break
        link.click()
        add = page.locator("tr#add")
        add.get_by_label("Xero tax rate").select_option("TAX001")
        add.get_by_role("button", name="Add").click()
        page.get_by_text("This change may fix").wait_for()
        resync(page, worker)
        page.goto(base + "/exceptions/")
    assert open_exceptions("ConnectWise tax code VAT20") == []
    with db.connection_context():
        assert {SyncRecord.get_by_id(r.id).state for r in vat} == {"synced"}

    # 3. The name clash: a new Xero contact with a distinguishing name.
    page.get_by_role("link", name="Resolve the contact clash").first.click()
    page.wait_for_url(re.compile(r"/mappings/org/\d+/contacts\?company=\d+"))
    page.get_by_role("button", name="Search").click()
    # The legacy contact of that name is found (and could be linked instead).
    page.get_by_role("button", name="Link", exact=True).wait_for()
    assert "HDG-LEGACY-01" in page.locator("#contacts").inner_text()
    page.get_by_label("Name in Xero").fill("Harbour Dental Group (Sydney clinic)")
    shot(page, "fix-contact")
    page.get_by_role("button", name="Create and link").click()
    page.get_by_text("This change may fix").wait_for()
    resync(page, worker)
    sydney = orgs(xero)[SYDNEY]
    with db.connection_context():
        assert {SyncRecord.get_by_id(r.id).state for r in clash} == {"synced"}
        record = SyncRecord.get_by_id(clash[0].id)
        contact_id = sydney.invoices[record.xero_id.lower()]["_contact_id"]
        assert ContactLink.get(ContactLink.org == record.org_id,
                               ContactLink.xero_contact_id == contact_id)
    contact = next(c for c in sydney.contacts.values()
                   if c["ContactID"].lower() == contact_id.lower())
    assert contact["Name"] == "Harbour Dental Group (Sydney clinic)"
    names = [c["Name"] for c in sydney.contacts.values()]
    assert "Harbour Dental Group (Sydney clinic)" in names
    assert names.count("Harbour Dental Group") == 1          # the other one, untouched
    assert duplicates(sydney) == {}

    page.goto(base + "/exceptions/")
    shot(page, "fix-exceptions-after")
    page.goto(base + "/mappings/unmapped")
    assert "4900" not in page.locator("main").inner_text()
    assert script_errors(page) == [], worker.read_text()


def test_dismiss_with_a_reason_is_kept_in_the_history(page, live_server, demo):
    base = live_server.url
    stuck = open_exceptions("GL account 4900")[0]
    sign_in(page, base, "/exceptions/")
    row = page.locator(f"#exception-{stuck.id}")
    row.get_by_role("link", name="Dismiss…").click()
    row.get_by_role("button", name="Dismiss").click()
    alert = row.get_by_role("alert")
    alert.wait_for()
    assert "Say why this exception can be dismissed" in alert.inner_text()
    row.get_by_label("Why dismiss it?").fill("Freight written off by hand in Xero")
    row.get_by_role("button", name="Dismiss").click()
    page.get_by_text("dismissed: “Freight written off by hand in Xero”").wait_for()
    with db.connection_context():
        record = SyncRecord.get_by_id(stuck.id)
        assert record.state == "excluded"
        event = record.events.where(RecordEvent.kind == "dismissed").get()
        assert event.message.endswith("Freight written off by hand in Xero")
    page.goto(base + f"/records/{stuck.id}")
    assert "Freight written off by hand in Xero" in page.content()
    assert script_errors(page) == []
