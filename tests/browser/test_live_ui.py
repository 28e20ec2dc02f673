"""The live operations UI in real Chromium: every page at 1366x768 (a screenshot each in
tests/browser/screenshots/ and axe-core's check: no serious or critical violation), the
dashboard and audit log updating themselves while a real worker runs a cycle against
the sandboxes, settings refusals shown beside their form, and the guided setup from the
first-run screen to a first sync, against both sandboxes."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import send_file

from models import (
    AuditEntry, Connection, MeteredVersion, RecordEvent, SyncRecord, SyncRun, User, db,
    utcnow,
)
from tests.browser.test_sync_live import connected, worker  # noqa: F401  (fixtures)
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)
from tests.sync_e2e.helpers import fault

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(__file__).resolve().parent / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(autouse=True)
def axe_for_tests(app):
    """axe-core served by this test's Ferry only, from the same origin (the CSP allows
    no other script); production Ferry has no such route."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `npm ci` (make assets does)")

    def axe_script():
        return send_file(AXE, mimetype="text/javascript")
    axe_script.ferry_public = True
    app.add_url_rule("/_test/axe.min.js", "test_axe", axe_script)


def sign_in(page, base):
    page.set_viewport_size(VIEWPORT)
    page.goto(base + "/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def look(page, base, name: str) -> None:
    """Screenshot the page, then run axe-core on it: no serious or critical violation,
    and nothing on the page wider than the window (no sideways scrolling)."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.add_script_tag(url=base + "/_test/axe.min.js")
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', '));
    }""")
    assert found == [], f"{name}: {found}"
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than the window"
    errors = [e for e in page.console_errors
              if not (name == "not-found" and "status of 404" in e)]  # the page's own 404
    assert errors == [], f"{name}: {errors}"
    page.console_errors.clear()


def _busy_month(app) -> dict:
    """What a few days of syncing leave behind: two orgs, records with their facts, runs,
    versions over the month and audit entries with JSON bodies."""
    with app.app_context(), db.connection_context():
        now = utcnow()
        cw_conn = Connection.create(kind="connectwise", name="ConnectWise (ferrydemo)",
                                    settings={"site": "https://na.myconnectwise.net"})
        adelaide = Connection.create(kind="xero", name="Adelaide IT Services Pty Ltd",
                                     tenant_id="t-adl", settings={"short_code": "!aB12c"})
        sydney = Connection.create(kind="xero", name="Sydney IT Services Pty Ltd",
                                   tenant_id="t-syd", status="needs_reconnect",
                                   last_error="Xero no longer accepts Ferry's access: "
                                              "connect Xero again in Settings.")
        run = SyncRun.create(record_type="invoice", trigger="schedule", status="done",
                             started_at=now - timedelta(minutes=47),
                             finished_at=now - timedelta(minutes=44), read=1284,
                             written=1270, skipped=9, exceptions=5, cw_calls=14,
                             xero_calls=31)
        SyncRun.create(record_type="bill", trigger="force", status="stopped",
                       started_at=now - timedelta(hours=2),
                       finished_at=now - timedelta(hours=2), read=12, written=3,
                       message="Xero no longer accepts Ferry's access to Sydney IT "
                               "Services Pty Ltd: connect Xero again in Settings.")
        parties = ["Barossa Valley Wines Pty Ltd", "Coorong Freight Co",
                   "Fleurieu Peninsula Veterinary Clinic and Animal Hospital", "Hahndorf Bakery"]
        records = []
        for i in range(24):
            records.append(SyncRecord.create(
                record_type="invoice" if i % 4 else "bill", cw_id=1000 + i,
                cw_number=str(10000 + i) if i % 4 else f"PO-{200 + i}",
                org=adelaide if i % 3 else sydney,
                state="exception" if i % 7 == 0 else "synced",
                xero_id=f"0b1e7c3a-1f7e-4a7a-9c11-{i:012d}", party_name=parties[i % 4],
                doc_date=date(2026, 11, 1) + timedelta(days=i), currency="AUD",
                cw_total=Decimal("1234567.89") if i == 5 else Decimal(110 * (i + 1)),
                xero_status="AUTHORISED" if i % 2 else "PAID",
                amount_due=Decimal(55 * (i % 3)), amount_paid=Decimal(110 * (i + 1) - 55 * (i % 3)),
                problems=["No Xero account for ConnectWise GL account 4900: map it under "
                          "Mappings, then sync the record again."] if i % 7 == 0 else None,
                last_run=run))
        RecordEvent.create(record=records[1], run=run, kind="created",
                           message="Written to Xero as an authorised invoice.")
        for day in range(1, 30):          # a month of scheduled cycles, for the chart
            for n, kind in enumerate(("invoice", "credit_note", "bill")):
                done = (day * 7 + n * 5) % 13 + 1
                SyncRun.create(record_type=kind, status="done", read=done, written=done,
                               started_at=now - timedelta(days=day),
                               finished_at=now - timedelta(days=day) + timedelta(minutes=1))
                MeteredVersion.create(record_type=kind, cw_id=90000 + day * 10 + n,
                                      version_hash="v", month=now.strftime("%Y-%m"), at=now)
        body = ('{"Invoices": [{"InvoiceNumber": "10001", "Type": "ACCREC", "Contact": '
                '{"ContactNumber": "BAROSSA"}, "LineItems": [{"Description": "Managed '
                'services November", "Quantity": 1, "UnitAmount": 110.0, "AccountCode": '
                '"200", "TaxType": "OUTPUT"}]}]}')
        for i in range(12):
            AuditEntry.create(at=now - timedelta(seconds=30 * i),
                              api="xero" if i % 2 else "connectwise",
                              connection_id=adelaide.id if i % 2 else cw_conn.id,
                              method="PUT" if i % 2 else "GET",
                              url=("https://api.xero.com/api.xro/2.0/Invoices?"
                                   "summarizeErrors=false" if i % 2 else
                                   "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/"
                                   "finance/invoices?conditions=id%20in%20(1001,1002)"),
                              status=(200, 200, 429, 200)[i % 4], duration_ms=140.0 + i,
                              request_headers={"Authorization": "Bearer ***"},
                              request_body=body if i % 2 else None,
                              response_headers={"X-DayLimit-Remaining": "4870"},
                              response_body=body, run_id=run.id,
                              record_ref=f"invoice:{1000 + i}")
        return {"record": records[1].id, "run": run.id,
                "entry": AuditEntry.select().where(AuditEntry.method == "PUT").first().id}


def test_every_page_reads_well_and_passes_axe(app, page, live_server):
    ids = _busy_month(app)
    base = live_server.url
    sign_in(page, base)
    pages = [("dashboard", "/"), ("records", "/records/"),
             ("records-sorted", "/records/?sort=-total&state=synced"),
             ("record", f"/records/{ids['record']}"), ("runs", "/runs/"),
             ("run", f"/runs/{ids['run']}"), ("audit", "/audit/"),
             ("audit-entry", f"/audit/{ids['entry']}"), ("settings", "/settings/"),
             ("not-found", "/records/999999")] + [
        (f"setup-{n}", f"/setup/{n}") for n in range(1, 6)]
    for name, path in pages:
        page.goto(base + path)
        page.wait_for_load_state()
        look(page, base, name)
    page.goto(base + "/")
    tile = page.locator("#tile-invoice")
    assert "1,284" in tile.inner_text() and "1,270" in tile.inner_text()
    assert "problem" in page.locator("#org-3").inner_text()
    assert page.locator(".chart rect").count() > 20
    # A 4-digit amount never wraps in the records table.
    page.goto(base + "/records/?sort=-total")
    cell = page.locator("table.records tbody tr").first.locator("td.money").first
    assert "1,234,567.89" in cell.inner_text()
    lines = cell.evaluate("""el => { const r = document.createRange(); r.selectNodeContents(el);
        return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }""")
    assert lines == 1


def test_filters_and_settings_are_reachable_by_keyboard(app, page, live_server):
    _busy_month(app)
    base = live_server.url
    sign_in(page, base)
    for path, form in (("/audit/", "#audit-filters"), ("/records/", "#record-filters"),
                       ("/settings/", "#connectwise-settings form")):
        page.goto(base + path)
        controls = page.locator(f"{form} input:not([type=hidden]), {form} select, "
                                f"{form} button")
        wanted = controls.count()
        assert wanted > 3
        reached = set()
        page.locator("body").focus()
        for _ in range(120):
            page.keyboard.press("Tab")
            inside = page.evaluate(f"""() => {{
                const el = document.activeElement;
                const all = [...document.querySelectorAll(
                  "{form} input:not([type=hidden]), {form} select, {form} button")];
                return all.indexOf(el); }}""")
            if inside >= 0:
                reached.add(inside)
            if len(reached) == wanted:
                break
        assert len(reached) == wanted, f"{path}: {len(reached)} of {wanted} reached by Tab"


def test_dashboard_and_audit_follow_a_real_cycle_without_reload(
        app, page, live_server, worker, xero):  # noqa: F811
    from jobs.force import force_sync
    base = live_server.url
    # Xero answers each write slowly, so the cycle is visibly running for a while.
    fault(xero, kind="slow", path="/api.xro/2.0/Invoices", method="PUT", delay=1.5)
    sign_in(page, base)
    page.goto(base + "/")
    page.evaluate("() => { window.notReloaded = true; }")
    tile = page.locator("#tile-invoice")
    assert tile.get_attribute("data-state") == "idle"
    assert "none yet" in tile.inner_text()

    audit = page.context.new_page()
    audit.console_errors = []
    audit.on("console", lambda m: m.type == "error" and audit.console_errors.append(m.text))
    audit.set_viewport_size(VIEWPORT)
    audit.goto(base + "/audit/")
    audit.evaluate("() => { window.notReloaded = true; }")
    # Connecting the sandboxes made a few calls already: remember the newest.
    before = audit.locator("#audit-rows tr").first
    top = int(before.get_attribute("id").split("-")[1]) if before.count() else 0

    with app.app_context(), db.connection_context():
        force_sync("invoice", None)
    page.locator('#tile-invoice[data-state="running"]').wait_for(timeout=60_000)
    look(page, base, "dashboard-running")
    written = page.locator('#tile-invoice [data-count="written"]')
    first = written.inner_text()
    page.wait_for_function(
        """(first) => { const el = document.querySelector('#tile-invoice [data-count="written"]');
                       return el && el.textContent !== first; }""", arg=first, timeout=120_000)
    # New calls arrive at the top of the audit log while the cycle runs.
    audit.wait_for_function(
        """(top) => { const r = document.querySelector('#audit-rows tr');
                     return r && parseInt(r.id.split('-')[1]) > top; }""", arg=top,
        timeout=60_000)
    look(audit, base, "audit-live")
    assert audit.evaluate("() => window.notReloaded") is True

    page.locator('#tile-invoice[data-state="idle"]').wait_for(timeout=240_000)
    with app.app_context(), db.connection_context():
        run = SyncRun.select().where(SyncRun.record_type == "invoice").get()
    assert run.written > 0
    assert page.locator('#tile-invoice [data-count="written"]').inner_text() == \
        f"{run.written:,}"
    assert page.evaluate("() => window.notReloaded") is True
    assert page.console_errors == [] and audit.console_errors == [], worker.read_text()


def test_live_audit_pauses_and_resumes(app, page, live_server):
    base = live_server.url
    with app.app_context(), db.connection_context():
        Connection.create(kind="connectwise", name="ConnectWise", settings={})

    def add(url):
        with app.app_context(), db.connection_context():
            AuditEntry.create(at=utcnow(), api="xero", method="GET", status=200, url=url,
                              duration_ms=9.0)
    add("https://api.xero.com/api.xro/2.0/Organisation?first")
    sign_in(page, base)
    page.goto(base + "/audit/")
    rows = page.locator("#audit-rows tr")
    assert rows.count() == 1
    add("https://api.xero.com/api.xro/2.0/Accounts?second")
    page.wait_for_function("() => document.querySelectorAll('#audit-rows tr').length == 2",
                           timeout=10_000)
    assert "Accounts?second" in rows.first.inner_text()
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Resume live updates").wait_for()
    add("https://api.xero.com/api.xro/2.0/TaxRates?third")
    page.wait_for_timeout(4500)
    assert rows.count() == 2
    page.get_by_role("button", name="Resume live updates").click()
    page.wait_for_function("() => document.querySelectorAll('#audit-rows tr').length == 3",
                           timeout=10_000)
    assert "TaxRates?third" in rows.first.inner_text()
    assert page.console_errors == []


def test_settings_refusals_show_their_sentence_and_keep_the_value(app, page, live_server):
    base = live_server.url
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name="Adelaide IT Services Pty Ltd",
                                tenant_id="t-adl", settings={"grant_id": 1})
    sign_in(page, base)
    page.goto(base + "/settings/")
    section = page.locator("#general-settings")
    section.locator("input[name=retention_days]").fill("999")
    section.get_by_role("button", name="Save").click()
    alert = page.locator("#general-settings [role=alert]")
    alert.wait_for(timeout=10_000)
    assert "between 1 and 365 days" in alert.inner_text()
    assert page.locator("#general-settings input[name=retention_days]").input_value() == "999"
    assert "Saved." not in page.locator("#general-settings").inner_text()
    # Chromium logs the refusal (HTTP 422) itself as a console error; nothing else may.
    assert all("status of 422" in e for e in page.console_errors)
    page.console_errors.clear()
    look(page, base, "settings-refused")
    page.locator("#general-settings input[name=retention_days]").fill("30")
    page.locator("#general-settings").get_by_role("button", name="Save").click()
    page.locator("#general-settings .notice").wait_for(timeout=10_000)
    assert page.locator("#general-settings .notice").inner_text().startswith("Saved.")
    assert page.locator("#general-settings [role=alert]").count() == 0

    # ConnectWise with nothing filled: each missing value named, nothing lost.
    cw_form = page.locator("#connectwise-settings")
    cw_form.locator("input[name=site]").fill("na.myconnectwise.net")
    cw_form.locator("input[name=site]").evaluate("el => el.form.noValidate = true")
    cw_form.get_by_role("button", name="Save").click()
    page.locator("#connectwise-settings [role=alert]").wait_for(timeout=10_000)
    assert "company id" in page.locator("#connectwise-settings [role=alert]").inner_text()
    assert page.locator("#connectwise-settings input[name=site]").input_value() == \
        "na.myconnectwise.net"
    assert all("status of 422" in e for e in page.console_errors)
    page.console_errors.clear()

    # Disconnect asks first; saying no changes nothing.
    questions = []
    page.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
    page.locator("#xero-settings").get_by_role("button", name="Disconnect").click()
    page.wait_for_timeout(500)
    assert questions and "Disconnect Adelaide IT Services Pty Ltd?" in questions[0]
    with app.app_context(), db.connection_context():
        assert Connection.get_by_id(org.id).status == "active"
    assert page.console_errors == []


def test_guided_setup_from_first_run_to_a_live_first_sync(
        app, page, live_server, cw, xero, tmp_path):  # noqa: F811
    from jobs.demo import seed_mappings_from_catalog
    from sandbox.connectwise import DEFAULTS as CW
    from sandbox.xero import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    base = live_server.url
    with app.app_context(), db.connection_context():
        User.delete().execute()
    page.set_viewport_size(VIEWPORT)
    # 1: the first-run screen makes the administrator.
    page.goto(base + "/")
    page.wait_for_url(re.compile(r"/setup$"))
    from blueprints.auth import setup_code
    with app.app_context(), db.connection_context():
        code = setup_code()            # what the server's log shows the administrator
    page.fill("input[name=setup_code]", code)
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.fill("input[name=confirm]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/login"))
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    # First run: nothing connected, so the dashboard is the guided setup's next step.
    page.wait_for_url(base + "/")
    assert page.locator("h1").inner_text() == "Set up Ferry"
    look(page, base, "wizard-2")

    # 2: ConnectWise keys, saved and tested against the sandbox.
    form = page.locator("#connectwise-settings")
    form.locator("input[name=site]").fill(cw.url)
    form.locator("input[name=company_id]").fill(CW["company"])
    form.locator("input[name=public_key]").fill(CW["public_key"])
    form.locator("input[name=private_key]").fill(CW["private_key"])
    form.locator("input[name=client_id]").fill(CW["client_id"])
    form.get_by_role("button", name="Save").click()
    page.locator("#connectwise-settings .notice").wait_for(timeout=15_000)
    page.locator("#connectwise-settings").get_by_role("button", name="Test connection").click()
    page.locator("#connectwise-test-result").wait_for(timeout=30_000)
    assert page.locator("#connectwise-test-result .problem").count() == 0
    look(page, base, "wizard-2-tested")

    # 3: the Xero app, then Connect Xero through the sandbox's consent screen.
    page.get_by_role("link", name=re.compile("Next: Xero")).click()
    page.wait_for_url(base + "/setup/3")
    app_form = page.locator("#xero-settings form", has=page.locator("input[name=client_id]"))
    app_form.locator("input[name=client_id]").fill(DEFAULT_CLIENT_ID)
    app_form.locator("input[name=client_secret]").fill(DEFAULT_CLIENT_SECRET)
    app_form.locator("input[name=redirect_uri]").fill(base + "/settings/xero/callback")
    page.locator("#xero-settings summary", has_text="Xero addresses").click()
    app_form.locator("input[name=authorize_url]").fill(xero.url + "/identity/connect/authorize")
    app_form.locator("input[name=token_url]").fill(xero.url + "/connect/token")
    app_form.locator("input[name=api_base]").fill(xero.url)
    app_form.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Continue the guided setup").click()
    page.wait_for_url(base + "/setup/3")
    page.get_by_role("button", name="Connect Xero").click()
    page.get_by_role("button", name="Allow access").click()
    page.wait_for_url(re.compile(r"/settings/xero/organisations"))
    # The sandbox's consent page has no favicon: its 404 is the sandbox's, not Ferry's.
    assert all("status of 404" in e for e in page.console_errors)
    page.console_errors.clear()
    page.get_by_role("button", name="Connect").click()
    page.wait_for_url(re.compile(r"/settings/"))
    page.get_by_role("link", name="Continue the guided setup").click()
    page.wait_for_url(base + "/setup/3")
    assert "2 organisations connected" in page.locator("main").inner_text()
    page.locator("#xero-settings").get_by_role("button", name="Test connection").first.click()
    page.locator("#xero-settings .result-ok").wait_for(timeout=30_000)
    assert "Connected" in page.locator("#xero-settings .result-ok").inner_text()
    look(page, base, "wizard-3")

    # 4: mappings (made here as a person would in the mapping screens).
    with app.app_context(), db.connection_context():
        seed_mappings_from_catalog()
    page.get_by_role("link", name=re.compile("Next: Mappings")).click()
    page.wait_for_url(base + "/setup/4")
    assert page.get_by_role("link", name="Open the unmapped values").get_attribute("href") \
        == "/mappings/unmapped"
    look(page, base, "wizard-4")

    # 5: the first sync, watched live, with a real worker.
    page.get_by_role("link", name=re.compile("Next: First sync")).click()
    page.wait_for_url(base + "/setup/5")
    look(page, base, "wizard-5")
    import os
    import subprocess
    import sys
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"])
    with (tmp_path / "worker.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"],
                                env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        page.get_by_role("button", name="Sync invoices now").click()
        page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=60_000)
        page.locator('#run[data-status="done"]').wait_for(timeout=240_000)
        assert int(page.locator("#run-written").inner_text()) > 0
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    page.goto(base + "/setup/5")
    assert "✓" in page.locator(".steps li", has_text="First sync").inner_text()
    assert page.console_errors == [], (tmp_path / "worker.log").read_text()
