"""The reconciliation report's reading: Ferry's records of the month, ConnectWise's
invoices of the month (one list call a thousand), and the org's Xero documents of the
month (paged lists with `where` on the date range: one call a thousand invoices, one a
thousand credit notes), then sync/reconcile.py compares. Every call goes through the
connectors (the Xero governor, the audit trail) and is counted; nothing is written to
Xero or ConnectWise.

The page runs it as an RQ job (`queue_report`: the request never waits on Xero's limits,
the page polls); `flask --app app reconcile` runs it here (`run_report`).
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime
from decimal import Decimal

from flask import current_app

from connectors import cw_conditions as cond
from connectors.errors import ApiError
from connectors.xero import open_client
from connectors.xero_governor import DayLimitReached, Governor
from connectors.xero_oauth import TokenKeeper, XeroAuthError, load_app
from jobs.audit import DatabaseAuditSink
from jobs.context import in_job_context
from jobs.queue import get_queue, get_redis
from models import (
    Connection, ContactLink, OrgRecordSetting, Reconciliation, SyncRecord, TaxMapping, utcnow,
)
from sync import reconcile as rec
from sync.money import ZERO, cents, to_decimal

log = logging.getLogger("ferry.reconcile")

JOB_TIMEOUT = 3600
# Reconciliations this recent are what the digest and the dashboard report drift from.
DRIFT_DAYS = 7
CW_FIELDS = ("id", "invoiceNumber", "type", "date", "subtotal", "salesTax", "total",
             "taxCode", "currency", "company", "payments")
XERO_TYPES = {"ACCREC": "invoice", "ACCPAY": "bill", "ACCRECCREDIT": "credit_note"}


class CannotRun(Exception):
    """The report could not be made (a sentence for the person who asked)."""


class Counting:
    """Passes each call to the audit trail and counts it per API."""

    def __init__(self, inner):
        self.inner, self.calls = inner, Counter()

    def record(self, call) -> None:
        self.calls[call.api] += 1
        self.inner.record(call)


def find_org(name: str) -> Connection:
    orgs = list(Connection.select().where(Connection.kind == "xero"))
    found = [o for o in orgs if o.name.lower() == (name or "").strip().lower()]
    if not found:
        names = ", ".join(sorted(o.name for o in orgs)) or "none is connected"
        raise CannotRun(f"No Xero organisation is named “{name}” (Ferry has: {names}).")
    return found[0]


def start(org: Connection, month: str, trigger: str = "page") -> Reconciliation:
    """A report row for org and month (queued), after checking the month."""
    rec.month_bounds(month)                 # ValueError with its sentence
    return Reconciliation.create(org=org, org_name=org.name, month=month.strip(),
                                 trigger=trigger, status="queued")


def queue_report(org: Connection, month: str) -> Reconciliation:
    report = start(org, month)
    get_queue().enqueue(report_job, report.id, job_timeout=JOB_TIMEOUT)
    return report


@in_job_context
def report_job(report_id: int) -> int:
    return run_report(Reconciliation.get_by_id(report_id)).id


def run_report(report: Reconciliation) -> Reconciliation:
    """Read, compare and keep the result on `report` (needs the app context and a DB
    connection). A failure to read leaves status "failed" and a sentence."""
    report.status, report.started_at = "running", utcnow()
    report.save()
    with DatabaseAuditSink() as audit:
        sink = Counting(audit)
        try:
            result = reconcile(report.org, report.month, sink)
            report.result = to_json(result)
            report.differences = len({(d.record_type, d.number)
                                      for d in result["report"].differences})
            report.status = "done"
        except (CannotRun, ApiError, XeroAuthError, DayLimitReached) as exc:
            report.status, report.message = "failed", str(exc)
        except Exception as exc:
            log.exception("reconciliation %s failed", report.id)
            report.status = "failed"
            report.message = f"The reconciliation failed unexpectedly ({type(exc).__name__})."
        report.xero_calls, report.cw_calls = sink.calls["xero"], sink.calls["connectwise"]
    report.finished_at = utcnow()
    report.save()
    return report


def reconcile(org: Connection | None, month: str, sink) -> dict:
    if org is None:
        raise CannotRun("That Xero organisation is no longer connected to Ferry.")
    if org.status != "active":
        raise CannotRun(f"{org.name} is not connected (it needs reconnecting in "
                        "Settings), so Ferry cannot read it.")
    first, after = rec.month_bounds(month)
    records = list(SyncRecord.select().where(
        (SyncRecord.org == org) & SyncRecord.record_type.in_(rec.RECORD_TYPES) &
        (SyncRecord.doc_date >= first) & (SyncRecord.doc_date < after)))
    cw_rows, unread = _read_connectwise(org, records, first, after, sink)
    cw_docs = _cw_docs(org, records, cw_rows)
    xero_docs = _read_xero(org, first, after, [d.xero_id for d in cw_docs if d.xero_id],
                           sink)
    report = rec.compare(cw_docs, xero_docs, first, after)
    unrouted = SyncRecord.select().where(
        SyncRecord.org.is_null() & SyncRecord.record_type.in_(rec.RECORD_TYPES) &
        (SyncRecord.doc_date >= first) & (SyncRecord.doc_date < after)).count()
    return {"report": report, "unread": unread, "unrouted": unrouted}


def _connectwise(sink):
    from jobs.cycle import _known_codebase, keep_codebase
    from connectors.connectwise import ConnectWise, CWSettings
    connection = Connection.get_or_none((Connection.kind == "connectwise") &
                                        (Connection.status == "active"))
    if connection is None:
        raise CannotRun("ConnectWise is not connected: fill in its settings first.")
    s = connection.settings
    settings = CWSettings(s["site"], s["company_id"], s["public_key"],
                          (connection.secrets or {}).get("private_key", ""), s["client_id"])
    cw = ConnectWise(settings, sink=sink, codebase=_known_codebase(connection),
                     context={"connection_id": connection.id})
    return connection, cw, keep_codebase


def _read_connectwise(org, records, first: date, after: date, sink
                      ) -> tuple[dict[int, dict], int]:
    """CW's invoices and credit memos dated in the month (by id), plus those of Ferry's
    records CW no longer lists there (read by id: moved to another month, or gone).
    Also how many of the month's CW documents no cycle has read yet (any org)."""
    connection, cw, keep = _connectwise(sink)
    try:
        month = cond.and_(cond.ge("date", datetime(first.year, first.month, first.day)),
                          cond.lt("date", datetime(after.year, after.month, after.day)))
        rows = {r["id"]: r for r in cw.iter_list("finance/invoices", conditions=month,
                                                 fields=CW_FIELDS)}
        missing = [r.cw_id for r in records
                   if r.record_type in ("invoice", "credit_note") and r.cw_id not in rows]
        if missing:
            rows.update({r["id"]: r for r in cw.by_ids("finance/invoices", missing,
                                                          fields=CW_FIELDS)})
        known = {r.cw_id for r in SyncRecord.select(SyncRecord.cw_id).where(
            SyncRecord.record_type.in_(("invoice", "credit_note")) &
            SyncRecord.cw_id.in_(list(rows) or [0]))}
        unread = sum(1 for i, r in rows.items()
                     if i not in known and _day(r.get("date")) and first <= _day(r["date"]) < after)
    finally:
        keep(connection, cw)
        cw.close()
    return rows, unread


def _cw_docs(org, records, cw_rows: dict[int, dict]) -> list[rec.CwDoc]:
    taxes = {m.cw_tax_code: m.xero_tax_type for m in TaxMapping.select().where(
        (TaxMapping.org == org) & (TaxMapping.side == "sales"))}
    links = {link.cw_company_id: link.xero_contact_id for link in
             ContactLink.select().where(ContactLink.org == org)}
    statuses = {s.record_type: s.status for s in OrgRecordSetting.select().where(
        OrgRecordSetting.org == org)}
    docs = []
    for r in records:
        reason = (r.problems or [None])[0] if r.state != "synced" else None
        doc = rec.CwDoc(record_type=r.record_type, cw_id=r.cw_id,
                        number=r.cw_number or str(r.cw_id), gross=r.cw_total,
                        date=r.doc_date, currency=r.currency, state=r.state, reason=reason,
                        xero_id=r.xero_id, status=statuses.get(r.record_type, "DRAFT"))
        if r.record_type in ("invoice", "credit_note"):
            row = cw_rows.get(r.cw_id)
            if row is None:
                doc.in_cw = False
            else:
                sign = Decimal(-1) if to_decimal(row.get("total")) < 0 else Decimal(1)
                doc.gross = cents(sign * to_decimal(row.get("total")))
                doc.net = cents(sign * to_decimal(row.get("subtotal")))
                doc.tax = cents(sign * to_decimal(row.get("salesTax")))
                doc.date = _day(row.get("date")) or doc.date
                code = (row.get("taxCode") or {}).get("name")
                doc.tax_type = taxes.get(code, f"CW {code}" if code else "")
                doc.currency = ((row.get("currency") or {}).get("currencyCode")
                                or doc.currency)
                doc.contact_id = links.get((row.get("company") or {}).get("id"))
                doc.applied = cents(to_decimal(row.get("payments")))
        docs.append(doc)
    return docs


def _read_xero(org, first: date, after: date, ferry_ids: list[str], sink
               ) -> list[rec.XeroDoc]:
    """The org's invoices, bills and credit notes dated in the month, every status; then
    Ferry's documents the month's lists left out, by id (a date changed there, or a
    deletion Xero no longer lists)."""
    app = load_app(current_app.config["BASE_URL"])
    redis = get_redis()
    client = open_client(app, org, sink=sink, tokens=TokenKeeper(app, redis=redis, sink=sink),
                         governor=Governor(redis))
    try:
        where = (f"Date >= DateTime({first.year}, {first.month:02d}, {first.day:02d}) AND "
                 f"Date < DateTime({after.year}, {after.month:02d}, {after.day:02d})")
        docs = [_xero_doc(d, "Invoice") for d in client.invoices(where=where)]
        docs += [_xero_doc(d, "CreditNote") for d in client.credit_notes(where=where)]
        docs = [d for d in docs if d is not None]
        seen = {d.xero_id.lower() for d in docs}
        left = [i for i in ferry_ids if i.lower() not in seen]
        if left:
            found = [_xero_doc(d, "Invoice") for d in client.invoices_by_ids(left)]
            seen |= {d.xero_id.lower() for d in found if d}
            rest = [i for i in left if i.lower() not in seen]
            if rest:
                found += [_xero_doc(d, "CreditNote") for d in client.credit_notes_by_ids(rest)]
            docs += [d for d in found if d is not None]
    finally:
        client.transport.close()
    return docs


def _xero_doc(d: dict, kind: str) -> rec.XeroDoc | None:
    record_type = XERO_TYPES.get(d.get("Type"))
    if record_type is None:
        return None
    inclusive = d.get("LineAmountTypes") == "Inclusive"
    by_tax: dict[str, tuple[Decimal, Decimal]] = {}
    for line in d.get("LineItems") or []:
        amount, tax = to_decimal(line.get("LineAmount")), to_decimal(line.get("TaxAmount"))
        net = amount - tax if inclusive else amount
        before = by_tax.get(line.get("TaxType") or "", (ZERO, ZERO))
        by_tax[line.get("TaxType") or ""] = (before[0] + net, before[1] + tax)
    when = d.get("Date")
    contact = d.get("Contact") or {}
    return rec.XeroDoc(
        record_type=record_type, xero_id=d[f"{kind}ID"],
        number=d.get(f"{kind}Number") or "", status=d.get("Status") or "",
        total=to_decimal(d.get("Total")), sub_total=to_decimal(d.get("SubTotal")),
        total_tax=to_decimal(d.get("TotalTax")),
        date=when.date() if isinstance(when, datetime) else None,
        currency=d.get("CurrencyCode"), contact_id=contact.get("ContactID"),
        contact_name=contact.get("Name"), by_tax=by_tax,
        amount_paid=to_decimal(d.get("AmountPaid")) if "AmountPaid" in d else None)


def _day(value) -> date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def to_json(result: dict) -> dict:
    """The report as JSON (money as strings, dates ISO) for Reconciliation.result."""
    def plain(value):
        if isinstance(value, Decimal):
            return str(cents(value))
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value
    report: rec.Report = result["report"]
    return plain({**report.as_dict(), "by_type": report.by_type(),
                  "unread": result["unread"], "unrouted": result["unrouted"]})


def latest(org_id: int, month: str) -> Reconciliation | None:
    return (Reconciliation.select().where((Reconciliation.org == org_id) &
                                          (Reconciliation.month == month) &
                                          (Reconciliation.status == "done"))
            .order_by(Reconciliation.id.desc()).first())


def drift(since: datetime | None = None) -> list[dict]:
    """The newest finished report of each org and month (finished since `since`, when
    given) that found differences: [{org, month, sentence, report_id, differences}]."""
    query = Reconciliation.select().where(Reconciliation.status == "done")
    if since is not None:
        query = query.where(Reconciliation.finished_at >= since)
    newest: dict[tuple, Reconciliation] = {}
    for r in query.order_by(Reconciliation.id):
        newest[(r.org_id, r.month)] = r
    out = []
    for (_org, month), r in sorted(newest.items(), key=lambda kv: (kv[1].org_name,
                                                                      kv[1].month)):
        if r.differences:
            by_type = (r.result or {}).get("by_type") or {}
            out.append({"org": r.org_name, "month": month, "report_id": r.id,
                        "differences": r.differences,
                        "sentence": rec.drift_sentence(r.org_name, month, by_type)})
    return out
