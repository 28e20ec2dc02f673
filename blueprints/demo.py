"""The demo's own page (only with FERRY_DEMO=1, which `make demo` sets): what to look at,
and buttons that do what a finance person would do in Xero's screens — receive a payment
on an invoice Ferry wrote — so the payment back-sync can be watched flowing to
ConnectWise. The payment is made through the Xero sandbox's test-only action; Ferry's
payment cycle then finds it the way it finds a real one."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import httpx2
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from blueprints.query_args import whole_number
from connectors.xero_oauth import load_app
from models import Connection, PaymentLedger, SyncRecord
from blueprints.roles import role

bp = Blueprint("demo", __name__, url_prefix="/demo")

CENT = Decimal("0.01")


@bp.get("/")
@role("viewer")
def index():
    return render_template("demo/index.html", orgs=_orgs(), payments=_applied_payments())


def _applied_payments() -> list[tuple[PaymentLedger, SyncRecord | None]]:
    """The latest payments Ferry applied in ConnectWise, each with its invoice's record:
    the payment run's page lists no records, so this is the way on to their Payments."""
    ledger = list(PaymentLedger.select().where(PaymentLedger.applied > 0)
                  .order_by(PaymentLedger.applied_at.desc()).limit(5))
    records = {r.cw_id: r for r in SyncRecord.select().where(
        (SyncRecord.record_type == "invoice") &
        SyncRecord.cw_id.in_([p.cw_invoice_id for p in ledger]))} if ledger else {}
    return [(p, records.get(p.cw_invoice_id)) for p in ledger]


def _orgs() -> list[Connection]:
    return list(Connection.select().where(Connection.kind == "xero").order_by(Connection.name))


def _unpaid_invoice(org_id: int | None) -> SyncRecord | None:
    """An invoice Ferry wrote that Xero has not been paid for yet (as far as Ferry knows)."""
    query = SyncRecord.select().where(
        (SyncRecord.record_type == "invoice") & (SyncRecord.state == "synced") &
        SyncRecord.xero_id.is_null(False) & (SyncRecord.cw_total > 0))
    if org_id:
        query = query.where(SyncRecord.org == org_id)
    paid = PaymentLedger.select(PaymentLedger.cw_invoice_id).where(PaymentLedger.applied > 0)
    query = query.where(SyncRecord.cw_id.not_in(paid) &
                        (SyncRecord.amount_paid.is_null() | (SyncRecord.amount_paid == 0)))
    return query.order_by(SyncRecord.cw_id.desc()).first()


@bp.post("/pay")
@role("finance")
def pay():
    """Receive a payment in the Xero sandbox: half of an invoice, or all of it."""
    how = request.form.get("how", "part")
    org_id = whole_number(request.form.get("org"))
    record = _unpaid_invoice(org_id)
    if record is None:
        flash("There is no unpaid invoice in Xero yet: wait for the first invoice cycle "
              "(the dashboard shows it), then try again.")
        return redirect(url_for("demo.index"), 303)
    amount = "full" if how == "full" else str(
        (record.cw_total / 2).quantize(CENT, rounding=ROUND_HALF_UP))
    api_base = load_app(current_app.config["BASE_URL"]).api_base
    try:
        answer = httpx2.post(f"{api_base}/_sandbox/xero/pay", timeout=10.0, json={
            "tenant_id": record.org.tenant_id, "invoice_id": record.xero_id,
            "amount": amount, "reference": "Demo payment"})
        answer.raise_for_status()
    except httpx2.HTTPError as exc:
        flash(f"The Xero sandbox did not take the payment ({exc}). Is `make demo` still "
              "running?")
        return redirect(url_for("demo.index"), 303)
    from jobs.force import force_sync
    job = force_sync("payment")
    paid = "in full" if amount == "full" else f"{amount} {record.currency or ''}".strip()
    flash(f"Paid invoice {record.cw_number} {paid} in Xero ({record.org.name}). The payment "
          "cycle is running now: when it is done, ConnectWise's balance for that invoice "
          "matches Xero's amount due (see the record's Payments).")
    return redirect(url_for("runs.job", job_id=job.id), 303)
