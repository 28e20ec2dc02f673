"""The payment cycle: what Xero received on sales invoices flows back to ConnectWise.

Per Xero org: read the ACCREC invoices changed since the org's watermark (Xero's
If-Modified-Since, paged: a payment, its deletion and an overpayment or prepayment
allocation all change the invoice), the invoices of the payments changed since it, plus
those left in exception; match each to its CW
invoice; converge the CW invoice's one payment to what Xero received (sync/payments.py).
Then overpayments and prepayments changed since the watermark: credit left on one is an
exception for a person. An org where nothing changed costs two Xero calls.

The ledger (PaymentLedger) is written before each CW write (`intent`) and after it
(`applied`); an intent left behind by a lost answer or a dead worker is settled by reading
the CW invoice's payments first, so nothing is applied twice.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from connectors.errors import ApiError, NotFound, OutcomeUnknown
from connectors.xero_governor import DayLimitReached
from connectors.xero_oauth import XeroAuthError
from jobs.audit import DatabaseAuditSink
from jobs.cycle_log import cycle_finished
from jobs.context import in_job_context
from jobs.cycle import (
    CountingSink, Pacing, _connectwise, _xero, keep_codebase, mark_interrupted,
)
from jobs.cycle_lock import CycleBusy, CycleLock, Heartbeat
from jobs.queue import get_redis
from jobs.record_facts import note_xero
from models import (
    Connection, ContactLink, PaymentLedger, RecordEvent, Setting, SyncRecord, SyncRun,
    XeroPaymentSeen, utcnow,
)
from sync import payments as pay

log = logging.getLogger("ferry.payments")

RECORD_TYPE = "payment"
WATERMARK = "sync.payment_watermark.{}"          # per Xero org (connection id)
# Overpayments and prepayments are read when invoices changed, and at least this often.
UNALLOCATED_CHECK = "sync.payment_unallocated_checked.{}"
UNALLOCATED_EVERY = timedelta(hours=24)


class Tally:
    def __init__(self):
        self.read = self.written = self.skipped = self.exceptions = 0


def run_payment_cycle(*, trigger: str = "schedule", only_ids=None, forced: bool = False,
                      pacing: Pacing | None = None) -> SyncRun:
    """One payment cycle in this process (app context and DB connection open).
    `only_ids`: CW invoice ids to settle now, whatever the watermark says."""
    pacing = pacing or Pacing()
    mark_interrupted()
    # Kept as the invoice cycle keeps it: a heartbeat thread extends the lock and stamps
    # the run, however long a Xero read takes; a dead worker's run shows as interrupted.
    lock = CycleLock(get_redis(), RECORD_TYPE)
    lock.acquire()
    now = utcnow()
    run = SyncRun.create(record_type=RECORD_TYPE, trigger=trigger, started_at=now,
                         heartbeat_at=now)
    beat = Heartbeat(lock, run.id).start()
    tally = Tally()
    try:
        with DatabaseAuditSink() as audit:
            sink = CountingSink(audit, run.id)
            try:
                _cycle(run, only_ids, forced, sink, pacing, lock, tally)
                run.status = "done"
            except (DayLimitReached, ApiError, XeroAuthError) as exc:
                run.status, run.message = "stopped", str(exc)
                log.warning("payment cycle %s stopped: %s", run.id, exc)
            except Exception as exc:
                run.status = "failed"
                run.message = f"The cycle failed unexpectedly ({type(exc).__name__})."
                log.exception("payment cycle %s failed", run.id)
            run.read, run.written = tally.read, tally.written
            run.skipped, run.exceptions = tally.skipped, tally.exceptions
            run.cw_calls = sink.calls["connectwise"]
            run.xero_calls = sink.calls["xero"]
            run.finished_at = run.heartbeat_at = utcnow()
            run.save()
    finally:
        beat.stop()
        lock.release()
    cycle_finished(run)                    # the run's line in the log (jobs/cycle_log.py)
    from jobs.alerts import after_cycle    # the run's new exceptions, mailed if set so
    after_cycle(run)
    return run


def _cycle(run, only_ids, forced, sink, pacing, lock, tally) -> None:
    cw_connection = Connection.get_or_none((Connection.kind == "connectwise") &
                                           (Connection.status == "active"))
    if cw_connection is None:
        raise ApiError("ConnectWise is not connected: fill in its settings first.")
    orgs = list(Connection.select().where((Connection.kind == "xero") &
                                          (Connection.status == "active"))
                .order_by(Connection.id))
    cw = _connectwise(cw_connection, sink, run)
    try:
        for org in orgs:
            lock.check()
            with _xero(org, run, sink, pacing) as client:
                OrgPayments(run, org, client, cw, tally, lock).cycle(only_ids, forced)
    finally:
        keep_codebase(cw_connection, cw)
        cw.close()


class OrgPayments:
    """One org's part of a payment cycle."""

    def __init__(self, run, org, client, cw, tally, lock):
        self.run, self.org, self.client, self.cw, self.tally = run, org, client, cw, tally
        # Checked before each write (ledger, CW, records, watermark): a run whose lock
        # went to another worker stops (LockLost) so the two never apply one payment.
        self.lock = lock

    # -- reading ---------------------------------------------------------------------
    def cycle(self, only_ids, forced) -> None:
        if only_ids is not None:
            ids = self._xero_ids_of(only_ids)
            if ids:
                for invoice in self.client.invoices_by_ids(sorted(ids)):
                    self.settle(invoice)
            return
        watermark = None if forced else _watermark(self.org.id)
        newest = watermark
        seen = set()
        for invoice in self.client.sales_invoices_changed(watermark):
            # If-Modified-Since has whole seconds: the newest invoice of the last cycle
            # comes back each time, and is not settled again unless it changed.
            if watermark is not None and _naive(invoice.get("UpdatedDateUTC")) is not None \
                    and _naive(invoice["UpdatedDateUTC"]) <= watermark:
                continue
            seen.add(invoice["InvoiceID"])
            newest = _later(newest, invoice.get("UpdatedDateUTC"))
            self.settle(invoice)
        # The payments changed since, too (the design): that a payment moves its
        # invoice's UpdatedDateUTC is assumed (sandbox/FIDELITY.md P.3), that it moves
        # its own is not; an invoice found only this way is read by id.
        paid = set()
        for payment in self.client.payments(modified_since=watermark):
            if watermark is not None and _naive(payment.get("UpdatedDateUTC")) is not None \
                    and _naive(payment["UpdatedDateUTC"]) <= watermark:
                continue
            newest = _later(newest, payment.get("UpdatedDateUTC"))
            ref = payment.get("Invoice") or {}
            if ref.get("InvoiceID") and ref.get("Type", "ACCREC") == "ACCREC":
                paid.add(ref["InvoiceID"])
        # Exceptions are looked at again each cycle: what fixes them may happen in CW.
        waiting = (self._waiting_xero_ids() | paid) - seen
        if waiting:
            for invoice in self.client.invoices_by_ids(sorted(waiting)):
                self.settle(invoice)
        newest = self.unallocated(watermark, bool(seen) or forced, newest)
        if newest is not None and newest != watermark:
            self.lock.check()
            Setting.set_value(WATERMARK.format(self.org.id), newest.isoformat())

    def _xero_ids_of(self, cw_ids) -> set[str]:
        ids = {r.xero_id for r in SyncRecord.select().where(
            (SyncRecord.record_type.in_(("invoice", RECORD_TYPE))) &
            SyncRecord.cw_id.in_(list(cw_ids)) & (SyncRecord.org == self.org.id) &
            SyncRecord.xero_id.is_null(False))}
        ids |= {r.xero_invoice_id for r in PaymentLedger.select().where(
            PaymentLedger.cw_invoice_id.in_(list(cw_ids)) & (PaymentLedger.org == self.org.id)
            & PaymentLedger.xero_invoice_id.is_null(False))}
        return ids

    def _waiting_xero_ids(self) -> set[str]:
        """Invoices whose payment is in exception or whose CW write never confirmed."""
        ids = {r.xero_id for r in SyncRecord.select(SyncRecord.xero_id).where(
            (SyncRecord.record_type == RECORD_TYPE) & (SyncRecord.org == self.org.id) &
            (SyncRecord.state == "exception") & (SyncRecord.cw_id > 0) &
            SyncRecord.xero_id.is_null(False))}
        ids |= {r.xero_invoice_id for r in PaymentLedger.select().where(
            (PaymentLedger.org == self.org.id) & PaymentLedger.intent.is_null(False) &
            PaymentLedger.xero_invoice_id.is_null(False))}
        return ids

    # -- one invoice -------------------------------------------------------------------
    def settle(self, invoice: dict) -> None:
        self.lock.check()
        self.tally.read += 1
        ledger = PaymentLedger.get_or_none(PaymentLedger.xero_invoice_id == invoice["InvoiceID"])
        written = SyncRecord.get_or_none((SyncRecord.record_type == "invoice") &
                                         (SyncRecord.xero_id == invoice["InvoiceID"]))
        known = ledger.cw_invoice_id if ledger else written.cw_id if written else None
        if written is not None:
            self._note_invoice(written, invoice)
        # The CW calls for this invoice are found in the audit log under payment:<id>.
        with self.cw.bind(record_ref=f"payment:{known}" if known else None):
            self._settle(invoice, ledger)

    def _note_invoice(self, written, invoice: dict) -> None:
        """The invoice's own record shows Xero's status and amounts as just read, so its
        page agrees with its Payments (the invoice cycle only notes them when it writes)."""
        before = (written.xero_status, written.amount_due, written.amount_paid)
        note_xero(written, invoice)
        if (written.xero_status, written.amount_due, written.amount_paid) != before:
            written.save(only=[SyncRecord.xero_status, SyncRecord.amount_due,
                               SyncRecord.amount_paid, SyncRecord.updated_at])

    def _settle(self, invoice: dict, ledger) -> None:
        got = pay.received(invoice)
        currency = invoice.get("CurrencyCode") or ""
        if not got.entries and ledger is None:
            return                  # nothing received and nothing Ferry ever applied
        cw_id, rule, problems = self.match(invoice, ledger)
        if cw_id is None:
            self._xero_only("invoice", invoice["InvoiceID"],
                            invoice.get("InvoiceNumber") or "", problems)
            return
        try:
            cw_invoice = self.cw.invoice(cw_id)
        except NotFound:
            record = self._record(cw_id, invoice, invoice.get("InvoiceNumber"))
            self._exception(record, [
                f"ConnectWise has no invoice {record.cw_number or cw_id} any more (deleted "
                "or merged there), so Xero's payments on it cannot be applied. Record "
                "them in ConnectWise against the invoice that replaced it."])
            return
        if ledger is None:
            ledger = PaymentLedger.get_or_none(PaymentLedger.cw_invoice_id == cw_id) or \
                PaymentLedger(cw_invoice_id=cw_id, applied=pay.ZERO)
        ledger.org = self.org.id
        ledger.cw_number = cw_invoice.get("invoiceNumber")
        ledger.xero_invoice_id, ledger.match_rule = invoice["InvoiceID"], rule
        ledger.xero_received, ledger.currency = got.total, currency
        ledger.save()
        record = self._record(cw_id, invoice, cw_invoice.get("invoiceNumber"))
        self._remember(invoice, got, cw_id)
        problems = []
        if pay.already_settled(ledger.applied, ledger.intent, cw_invoice, got.total):
            surplus = pay.surplus_problem(got.total, cw_invoice, currency)
            problems += [surplus] if surplus else []
        else:
            plan = self._converge(ledger, got, cw_invoice, currency)
            if plan is None:
                self.tally.skipped += 1
                return      # the CW answer was lost twice: settled by the next cycle
            problems += plan.problems
        # A payment leaves CW's credits as they were: no need to read the invoice again.
        note = pay.credit_note_problem(got, cw_invoice, currency)
        if note:
            problems.append(note)
        if problems:
            self._exception(record, problems)
        else:
            self._settled(record)

    def _converge(self, ledger, got, cw_invoice, currency):
        """Read CW's payments on the invoice, then create, change or take back Ferry's
        one payment. Returns the plan, or None when the outcome stayed unknown."""
        cw_id = ledger.cw_invoice_id
        for attempt in (1, 2):
            current = self.cw.invoice_payments(cw_id)
            plan = pay.plan(got.total, cw_invoice, current,
                            known_payment_id=ledger.cw_payment_id, intent=ledger.intent,
                            currency=currency)
            if plan.action == "none":
                if not plan.foreign:
                    self._confirm(ledger, plan.amount, plan.payment_id, got,
                                  adopted=plan.adopted)
                return plan
            self.lock.check()
            ledger.intent, ledger.intent_at = plan.amount, utcnow()
            ledger.save()                             # before the write: see the docstring
            try:
                payment_id = self._write(cw_id, plan, got)
            except OutcomeUnknown:
                if attempt == 2:
                    return None
                continue                              # read CW's payments again first
            self.tally.written += 1
            self._confirm(ledger, plan.amount, payment_id, got)
            return plan
        return None

    def _write(self, cw_id, plan, got) -> int | None:
        day = pay.cw_date(got.last_day)
        if plan.action == "create":
            # No `type`: no public source shows a value for it (Zynk's REST sample sends
            # none), and an invented one could be refused (sandbox/FIDELITY.md P.1).
            made = self.cw.create_invoice_payment(cw_id, {
                "amount": plan.amount, **({"paymentDate": day} if day else {})})
            return made.get("id")
        if plan.action == "update":
            self.cw.update_invoice_payment(cw_id, plan.payment_id, plan.amount, day)
            return plan.payment_id
        self.cw.delete_invoice_payment(cw_id, plan.payment_id)
        return None

    def _confirm(self, ledger, amount, payment_id, got, adopted=False) -> None:
        changed = ledger.applied != amount or ledger.cw_payment_id != payment_id
        before = ledger.applied or pay.ZERO
        ledger.applied, ledger.cw_payment_id = amount, payment_id
        ledger.intent, ledger.intent_at = None, None
        if changed or adopted:
            ledger.applied_at = utcnow()
        ledger.save()
        now = utcnow()
        live = [e.xero_id for e in got.entries]
        if live and amount > 0:
            (XeroPaymentSeen.update(cw_payment_id=payment_id, applied_at=now)
             .where((XeroPaymentSeen.org == self.org.id) &
                    (XeroPaymentSeen.xero_invoice_id == ledger.xero_invoice_id) &
                    XeroPaymentSeen.xero_id.in_(live) & XeroPaymentSeen.applied_at.is_null())
             .execute())
        record = SyncRecord.get_or_none((SyncRecord.record_type == RECORD_TYPE) &
                                        (SyncRecord.cw_id == ledger.cw_invoice_id))
        if record is not None and (changed or adopted):
            what = (f"{pay._amount(amount, ledger.currency)} applied in ConnectWise"
                    + (f" (payment {payment_id})" if payment_id else "")
                    if amount > 0 else "Ferry's payment taken back in ConnectWise "
                    "(nothing received in Xero now)")
            if adopted:
                what += "; found already in ConnectWise, so not applied again"
            self._event(record, "applied", what + ".")
        invoice = SyncRecord.get_or_none((SyncRecord.record_type == "invoice") &
                                         (SyncRecord.cw_id == ledger.cw_invoice_id))
        if invoice is not None and changed:
            # The invoice's own history says what happened to its payment in CW.
            money = f"{pay.money(amount):,.2f} {ledger.currency or ''}".strip()
            ref = f" (CW payment {payment_id})" if payment_id else ""
            if amount <= 0:
                what = (f"Payment of {pay.money(before):,.2f} {ledger.currency or ''}"
                        .strip() + " removed in ConnectWise: Xero shows nothing received "
                        "on this invoice now.")
            elif before > 0 and before != amount:
                what = f"Payment changed to {money} in ConnectWise{ref}."
            else:
                what = f"Payment of {money} applied in ConnectWise{ref}."
            self._event(invoice, "payment", what)

    # -- matching ----------------------------------------------------------------------
    def match(self, invoice, ledger):
        """(cw invoice id, rule, problems). 1: the Xero invoice Ferry wrote; 2: the
        invoice number, confirmed by customer and amount."""
        written = SyncRecord.get_or_none((SyncRecord.record_type == "invoice") &
                                         (SyncRecord.xero_id == invoice["InvoiceID"]))
        if written is not None:
            return written.cw_id, pay.RULE_FERRY_WROTE, []
        if ledger is not None:
            return ledger.cw_invoice_id, ledger.match_rule, []
        number = invoice.get("InvoiceNumber")
        matches = self.cw.invoices_by_number(number) if number else []
        contact_id = (invoice.get("Contact") or {}).get("ContactID")
        linked = {link.cw_company_id for link in ContactLink.select().where(
            (ContactLink.org == self.org.id) & (ContactLink.xero_contact_id == contact_id))}
        name = ((invoice.get("Contact") or {}).get("Name") or "").strip().lower()

        def customer_ok(cw_invoice):
            company = cw_invoice.get("company") or {}
            return company.get("id") in linked or \
                (company.get("name") or "").strip().lower() == name
        found, problems = pay.number_match_problems(invoice, matches, customer_ok)
        return (found["id"], pay.RULE_NUMBER, []) if found else (None, None, problems)

    # -- overpayments and prepayments --------------------------------------------------
    def unallocated(self, watermark, changed: bool, newest):
        key = UNALLOCATED_CHECK.format(self.org.id)
        last = Setting.get_value(key)
        due = last is None or datetime.fromisoformat(last) < utcnow() - UNALLOCATED_EVERY
        if not (changed or due or self._open_unallocated()):
            return newest
        for kind, items in (("overpayment", self.client.overpayments(
                modified_since=watermark)), ("prepayment", self.client.prepayments(
                modified_since=watermark))):
            for item in items:
                if not _received(item):
                    continue
                if watermark is not None and _naive(item.get("UpdatedDateUTC")) is not None \
                        and _naive(item["UpdatedDateUTC"]) <= watermark and not changed:
                    continue
                newest = _later(newest, item.get("UpdatedDateUTC"))
                ident = item.get("OverpaymentID") or item.get("PrepaymentID")
                label = (f"{kind.capitalize()} {pay._amount(item.get('Total'), item.get('CurrencyCode'))} "
                         f"from {(item.get('Contact') or {}).get('Name', '')}")
                sentence = pay.unallocated_problem(item, kind)
                self._xero_only(kind, ident, label, [sentence] if sentence else [],
                                amount=item.get("Total"), day=item.get("Date"))
        Setting.set_value(key, utcnow().isoformat())
        return newest

    def _open_unallocated(self) -> bool:
        return SyncRecord.select().where(
            (SyncRecord.record_type == RECORD_TYPE) & (SyncRecord.org == self.org.id) &
            (SyncRecord.state == "exception") & (SyncRecord.cw_id < 0)).exists()

    # -- what the pages show -----------------------------------------------------------
    def _record(self, cw_id, invoice, number) -> SyncRecord:
        record = SyncRecord.get_or_none((SyncRecord.record_type == RECORD_TYPE) &
                                        (SyncRecord.cw_id == cw_id))
        if record is None:
            record = SyncRecord.create(record_type=RECORD_TYPE, cw_id=cw_id, cw_number=number,
                                       org=self.org.id, xero_id=invoice["InvoiceID"],
                                       state="pending", last_run=self.run)
        else:
            record.org, record.xero_id, record.cw_number = \
                self.org.id, invoice["InvoiceID"], number
        return record

    def _xero_only(self, kind, xero_id, label, problems, amount=None, day=None) -> None:
        """Something in Xero with no CW invoice (an unmatched invoice, an unallocated
        overpayment or prepayment). Its record is keyed by the XeroPaymentSeen row, as
        a negative number, since it has no CW id."""
        self.lock.check()
        seen, _ = XeroPaymentSeen.get_or_create(
            org=self.org.id, xero_id=xero_id, xero_invoice_id=None,
            defaults={"kind": kind, "amount": pay.money(amount), "status": "AUTHORISED",
                      "date": pay._day(day)})
        record = SyncRecord.get_or_none((SyncRecord.record_type == RECORD_TYPE) &
                                        (SyncRecord.cw_id == -seen.id))
        if record is None and not problems:
            return
        if record is None:
            record = SyncRecord.create(record_type=RECORD_TYPE, cw_id=-seen.id,
                                       cw_number=label[:250], org=self.org.id,
                                       xero_id=xero_id, state="pending", last_run=self.run)
        if problems:
            self._exception(record, problems)
        else:
            self._settled(record, "Resolved in Xero.")

    def _remember(self, invoice, got, cw_id) -> None:
        """Each Xero payment/allocation on the invoice, for the record page; those gone
        from Xero (a deleted payment) are marked DELETED."""
        now = utcnow()
        live = set()
        for entry in got.entries:
            live.add(entry.xero_id)
            row = XeroPaymentSeen.get_or_none(
                (XeroPaymentSeen.org == self.org.id) & (XeroPaymentSeen.xero_id == entry.xero_id)
                & (XeroPaymentSeen.xero_invoice_id == invoice["InvoiceID"]))
            if row is None:
                XeroPaymentSeen.create(org=self.org.id, xero_id=entry.xero_id, kind=entry.kind,
                                       xero_invoice_id=invoice["InvoiceID"], cw_invoice_id=cw_id,
                                       date=entry.day, amount=entry.amount,
                                       status="AUTHORISED", seen_at=now)
            elif row.amount != entry.amount or row.status != "AUTHORISED":
                row.amount, row.status, row.seen_at, row.applied_at = \
                    entry.amount, "AUTHORISED", now, None
                row.save()
        (XeroPaymentSeen.update(status="DELETED", seen_at=now)
         .where((XeroPaymentSeen.org == self.org.id) &
                (XeroPaymentSeen.xero_invoice_id == invoice["InvoiceID"]) &
                (XeroPaymentSeen.status == "AUTHORISED") &
                XeroPaymentSeen.xero_id.not_in(list(live) or [""]))
         .execute())

    def _exception(self, record, problems) -> None:
        self.tally.exceptions += 1
        changed = record.state != "exception" or record.problems != problems
        record.state, record.problems, record.last_run = "exception", problems, self.run
        record.save()
        if changed:
            self._event(record, "exception", " ".join(problems))

    def _settled(self, record, message: str | None = None) -> None:
        was = record.state
        record.state, record.problems, record.last_run = "synced", None, self.run
        record.save()
        if was == "exception":
            self._event(record, "resolved", message or "Payments agree with Xero again.")

    def _event(self, record, kind, message) -> None:
        RecordEvent.create(record=record, run=self.run, kind=kind, message=message)


# Money customers paid in (the spec's Overpayment and Prepayment Type enums); SPEND-*
# and APPREPAYMENT are money paid out to suppliers, which never goes to ConnectWise.
RECEIVED_TYPES = {"RECEIVE-OVERPAYMENT", "AROVERPAYMENT", "RECEIVE-PREPAYMENT",
                  "ARPREPAYMENT"}


def _received(item: dict) -> bool:
    kind = item.get("Type")
    return not kind or kind in RECEIVED_TYPES


def _watermark(org_id: int) -> datetime | None:
    raw = Setting.get_value(WATERMARK.format(org_id))
    return datetime.fromisoformat(raw) if raw else None


def _naive(value) -> datetime | None:
    """An aware Xero time as naive UTC (how Ferry stores times); None if not a time."""
    if not isinstance(value, datetime):
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _later(current: datetime | None, value) -> datetime | None:
    value = _naive(value)
    if value is None:
        return current
    return value if current is None or value > current else current


# -- the RQ jobs -----------------------------------------------------------------------
@in_job_context
def payment_cycle():
    try:
        return run_payment_cycle().id
    except CycleBusy:
        log.info("payment cycle already running; this run is skipped")
        return None


@in_job_context
def forced_payment_cycle(record_type: str = RECORD_TYPE, cw_ids: list[int] | None = None
                         ) -> int:
    """Queued by jobs/force.py with the record type first, as the other forced cycles
    are (the runs page reads it from the job's arguments)."""
    return run_payment_cycle(trigger="force", only_ids=cw_ids, forced=True).id
