"""The reconciliation against both sandboxes over loopback HTTP, on SQLite and
PostgreSQL: after a clean sync every org and month agrees but for Ferry's own open
exceptions; a document voided, edited or deleted in Xero and a new exception each appear
with their reason; the report reads Xero in two calls per org and month and changes
nothing there; the digest and the dashboard name the drift."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from click.testing import CliRunner

from jobs import reconcile
from jobs.cycle import run_cycle
from models import AuditEntry, Connection, SyncRecord
from sync.reconcile import month_bounds, month_name

from tests.sync_e2e.helpers import action, orgs

SYDNEY = "Sydney IT Services Pty Ltd"


def sync_all():
    for kind in ("invoice", "credit_note", "bill"):
        assert run_cycle(kind).status == "done"


def report_of(org, month):
    report = reconcile.run_report(reconcile.start(org, month, "cli"))
    assert report.status == "done", report.message
    return report


def in_month(month):
    first, after = month_bounds(month)
    return (SyncRecord.doc_date >= first) & (SyncRecord.doc_date < after)


def months_of(org) -> list[str]:
    return sorted({r.doc_date.strftime("%Y-%m") for r in SyncRecord.select().where(
        (SyncRecord.org == org) & SyncRecord.doc_date.is_null(False))})


def test_after_a_clean_sync_every_difference_is_an_open_exception(ferry, cw, xero):
    sync_all()
    for org in Connection.select().where(Connection.kind == "xero"):
        for month in months_of(org):
            report = report_of(org, month)
            exceptions = {r.cw_number for r in SyncRecord.select().where(
                (SyncRecord.org == org) & (SyncRecord.state == "exception") &
                in_month(month))}
            found = report.result["differences"]
            assert {d["number"] for d in found} == exceptions, (org.name, month, found)
            assert all(d["kind"] == "not_in_xero" and d["cause"] == "exception"
                       for d in found)
            assert report.differences == len(exceptions)
            # The month's Xero documents in two calls (invoices and bills; credit notes),
            # ConnectWise's in one.
            assert (report.xero_calls, report.cw_calls) == (2, 1), (org.name, month)
            for row in report.result["rows"]:
                if not any(d["record_type"] == row["record_type"] for d in found):
                    assert row["cw"]["gross"] == row["xero"]["gross"], row


def clean_month(org) -> tuple[str, list[SyncRecord]]:
    """A month of the org with no exception and at least two invoices and a bill."""
    for month in months_of(org):
        records = list(SyncRecord.select().where(
            (SyncRecord.org == org) & in_month(month)))
        kinds = Counter(r.record_type for r in records if r.state == "synced")
        if kinds["invoice"] >= 2 and kinds["bill"] >= 1 and \
                all(r.state == "synced" for r in records):
            return month, records
    raise AssertionError("no clean month in the sandbox data")


def test_voided_edited_deleted_in_xero_and_an_exception_each_appear_with_their_reason(
        ferry, cw, xero, app):
    sync_all()
    org = Connection.get(Connection.name == SYDNEY)
    month, records = clean_month(org)
    assert report_of(org, month).differences == 0
    invoices = sorted((r for r in records if r.record_type == "invoice"),
                      key=lambda r: r.cw_id)
    bill = next(r for r in records if r.record_type == "bill")
    voided, edited = invoices[0], invoices[1]
    action(xero, "xero/void", {"org": SYDNEY, "invoice_id": voided.xero_id})
    before = orgs(xero)[SYDNEY].invoices[edited.xero_id.lower()]["Total"]
    action(xero, "xero/edit-invoice", {"org": SYDNEY, "invoice_id": edited.xero_id,
                                       "line": 0, "unit_amount": "1.00"})
    after = orgs(xero)[SYDNEY].invoices[edited.xero_id.lower()]["Total"]
    assert after != before
    action(xero, "xero/delete", {"org": SYDNEY, "invoice_id": bill.xero_id})
    made = action(cw, "invoices", {"companyName": "Recon Test Pty Ltd",
                                   "identifier": "ReconTest", "location": "Sydney",
                                   "taxCode": "VAT20", "amount": "100.00",
                                   "date": f"{month}-15"})
    assert run_cycle("invoice").status == "done"
    new = SyncRecord.get((SyncRecord.record_type == "invoice") &
                         (SyncRecord.cw_id == made["id"]))
    assert new.state == "exception" and new.org_id == org.id

    xero_calls_before = AuditEntry.select().where(AuditEntry.api == "xero").count()
    writes_before = sum(1 for o in orgs(xero).values() for d in o.invoices.values())
    report = report_of(org, month)
    reasons = {d["number"]: d for d in report.result["differences"]}
    assert set(reasons) == {voided.cw_number, edited.cw_number, bill.cw_number,
                            new.cw_number}
    assert reasons[voided.cw_number]["cause"] == "voided"
    assert reasons[voided.cw_number]["reason"] == \
        f"Invoice {voided.cw_number} was voided in Xero."
    assert reasons[edited.cw_number]["cause"] == "amount"
    assert reasons[edited.cw_number]["xero_amount"] == str(after)
    assert reasons[edited.cw_number]["cw_amount"] == str(before)
    assert reasons[bill.cw_number]["cause"] == "deleted"
    assert reasons[new.cw_number]["cause"] == "exception"
    assert "No Xero tax type for ConnectWise tax code VAT20" in \
        reasons[new.cw_number]["reason"]
    assert report.differences == 4
    assert report.result["by_type"] == {"invoice": 3, "bill": 1}
    # Every call audited, and the report's own count is what the audit trail holds.
    assert AuditEntry.select().where(AuditEntry.api == "xero").count() - \
        xero_calls_before == report.xero_calls == 2
    # Nothing was written to Xero.
    assert sum(1 for o in orgs(xero).values() for d in o.invoices.values()) == writes_before
    assert orgs(xero)[SYDNEY].invoices[edited.xero_id.lower()]["Total"] == after

    # The drift, as the digest and the dashboard name it.
    drift = reconcile.drift()
    name = report.month
    assert [d["sentence"] for d in drift] == [
        f"3 invoices and 1 bill differ in {SYDNEY} for "
        f"{month_name(name)}"]
    from jobs.alerts import render_mail
    from jobs.digest import build
    from models import utcnow
    content = build(utcnow() - timedelta(hours=24), utcnow(), ["invoice"])
    text, html = render_mail("digest", content)
    assert drift[0]["sentence"] in text and drift[0]["sentence"] in html

    # The command line: exit 1 with differences, the same figures.
    result = CliRunner().invoke(app.cli, ["reconcile", "--org", SYDNEY, "--month", month],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "4 documents differ" in result.output
    assert f"Invoice {voided.cw_number} was voided in Xero." in result.output
    assert "Xero API calls used: 2" in result.output


def test_the_command_line_exits_0_when_they_agree_and_2_when_it_cannot_run(
        ferry, cw, xero, app):
    sync_all()
    org = Connection.get(Connection.name == SYDNEY)
    month, _records = clean_month(org)
    runner = CliRunner()
    agree = runner.invoke(app.cli, ["reconcile", "--org", SYDNEY, "--month", month])
    assert agree.exit_code == 0, agree.output
    assert "agree" in agree.output
    bad_month = runner.invoke(app.cli, ["reconcile", "--org", SYDNEY, "--month", "11/2026"])
    assert bad_month.exit_code == 2
    assert "is not a month: write it as YYYY-MM" in bad_month.output
    no_org = runner.invoke(app.cli, ["reconcile", "--org", "Perth", "--month", month])
    assert no_org.exit_code == 2
    assert "No Xero organisation is named “Perth”" in no_org.output
    action(xero, "xero/revoke-connection", {"org": SYDNEY})
    lost = runner.invoke(app.cli, ["reconcile", "--org", SYDNEY, "--month", month])
    assert lost.exit_code == 2, lost.output
    assert "could not run" in lost.output
