"""Payment back-sync decisions (pure): what Xero says was received on an invoice, and
what to do to the CW invoice's payment so the two agree.

Converge, do not replay: Ferry never adds Xero's payments one by one to ConnectWise. It
computes the amount that must stand applied in CW (what Xero received on the invoice,
in the invoice's currency, at most what CW still lets be paid) and moves the invoice's
one CW payment to that amount: create it, change it, or take it back. A second run, a
deleted Xero payment or a crash between two writes all end in the same place.

- Received = Xero's AmountPaid (payments) + what overpayments and prepayments allocated
  to the invoice applied (Xero counts these in AmountCredited). Credit notes allocated in
  Xero are not payments: CW's own credit memos reduce the CW balance (Ferry mirrors them
  to Xero), so they are left out, and a Xero-only credit note is an exception.
- ConnectWise keeps one payment per invoice (sandbox/FIDELITY.md, "Payments").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

ZERO = Decimal("0.00")
CENT = Decimal("0.01")

RULE_FERRY_WROTE = "ferry_wrote"
RULE_NUMBER = "number_customer_amount"
RULE_LABELS = {RULE_FERRY_WROTE: "the Xero invoice Ferry wrote for it",
               RULE_NUMBER: "invoice number, confirmed by customer and amount"}


def money(value) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(CENT)


@dataclass
class Entry:
    """One part of what an invoice received in Xero."""
    xero_id: str
    kind: str                    # payment | overpayment | prepayment
    day: date | None
    amount: Decimal


@dataclass
class Received:
    total: Decimal
    entries: list[Entry] = field(default_factory=list)
    credit_notes: Decimal = ZERO          # allocated credit notes: not payments

    @property
    def last_day(self) -> date | None:
        days = [e.day for e in self.entries if e.day]
        return max(days) if days else None


def _day(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def received(invoice: dict) -> Received:
    """What the Xero invoice (as GET /Invoices returns it) received, in its currency."""
    entries = [Entry(p["PaymentID"], "payment", _day(p.get("Date")), money(p["Amount"]))
               for p in invoice.get("Payments") or [] if p.get("PaymentID")]
    for kind, key in (("overpayment", "Overpayments"), ("prepayment", "Prepayments")):
        for item in invoice.get(key) or []:
            applied = item.get("AppliedAmount")
            ident = item.get("OverpaymentID") or item.get("PrepaymentID")
            if ident and applied:
                entries.append(Entry(ident, kind, _day(item.get("Date")), money(applied)))
    allocated = sum((e.amount for e in entries if e.kind != "payment"), ZERO)
    paid = money(invoice.get("AmountPaid"))
    listed = sum((e.amount for e in entries if e.kind == "payment"), ZERO)
    if listed != paid:
        # The list and the sum disagree (a list cut short): the sum is Xero's figure.
        entries = [e for e in entries if e.kind != "payment"]
        if paid:
            entries.append(Entry(invoice["InvoiceID"], "payment",
                                 _day(invoice.get("FullyPaidOnDate")), paid))
    notes = money(invoice.get("AmountCredited")) - allocated
    return Received(paid + allocated, entries, max(notes, ZERO))


@dataclass
class Plan:
    action: str                          # none | create | update | delete
    amount: Decimal                      # the CW payment's amount afterwards
    payment_id: int | None               # the CW payment Ferry owns (before the action)
    problems: list[str] = field(default_factory=list)
    adopted: bool = False                # a CW payment found to be Ferry's (lost answer)
    foreign: bool = False                # CW holds a payment Ferry did not apply


def room(cw_invoice: dict) -> Decimal:
    """The most the invoice's one CW payment may be: its total less CW's credits."""
    return max(money(cw_invoice.get("total")) - money(cw_invoice.get("credits")), ZERO)


def surplus_problem(target: Decimal, cw_invoice: dict, currency: str = "") -> str | None:
    limit = room(cw_invoice)
    if money(target) <= limit:
        return None
    surplus = money(target) - limit
    number = cw_invoice.get("invoiceNumber") or cw_invoice.get("id")
    return (f"Xero has received {_amount(target, currency)} on this invoice, "
            f"{_amount(surplus, currency)} more than ConnectWise lets be paid on invoice "
            f"{number} ({_amount(limit, currency)} after its credits). Ferry applied "
            f"{_amount(limit, currency)}; the {_amount(surplus, currency)} left over needs "
            "a person: refund it, or move it in Xero to the invoice it was meant for. "
            "The next cycle follows what Xero then says.")


def already_settled(applied: Decimal, intent: Decimal | None, cw_invoice: dict,
                    target: Decimal) -> bool:
    """True when no CW write can be needed: nothing in flight, CW's payments on the
    invoice are exactly what Ferry applied, and that is what Xero's figure asks for."""
    return (intent is None and money(cw_invoice.get("payments")) == money(applied)
            and money(applied) == min(money(target), room(cw_invoice)))


def plan(target: Decimal, cw_invoice: dict, cw_payments: list[dict], *,
         known_payment_id: int | None, intent: Decimal | None, currency: str = "") -> Plan:
    """What to do to the CW invoice so the amount Ferry applied equals `target`.

    `cw_payments` are CW's payments on the invoice as read just now; `known_payment_id`
    the one Ferry's ledger says it made; `intent` the amount a write that never confirmed
    was meant to set (a lost answer or a crash)."""
    number = cw_invoice.get("invoiceNumber") or cw_invoice.get("id")
    ours = next((p for p in cw_payments if known_payment_id is not None
                 and p.get("id") == known_payment_id), None)
    adopted = False
    others = [p for p in cw_payments if p is not ours]
    if ours is None and len(others) == 1:
        amount = money(others[0].get("amount"))
        # A write whose answer was lost, or CW already holding exactly Xero's figure.
        if (intent is not None and amount == money(intent)) or amount == money(target):
            ours, others, adopted = others[0], [], True
    problems = []
    apply = min(money(target), room(cw_invoice))
    surplus = surplus_problem(target, cw_invoice, currency)
    if surplus:
        problems.append(surplus)
    if others:
        other = others[0]
        problems.append(
            f"ConnectWise invoice {number} already has a payment of "
            f"{_amount(money(other.get('amount')), currency)} that Ferry did not apply"
            + (f" (applied by {other['appliedBy']})" if other.get("appliedBy") else "")
            + f". ConnectWise keeps one payment per invoice, so Ferry cannot record "
            f"Xero's {_amount(target, currency)} beside it. Payments are recorded in Xero: "
            "remove that payment in ConnectWise (Finance > Invoices, the invoice's "
            "Payments), and the next cycle applies Xero's.")
        return Plan("none", money(other.get("amount")), None, problems, foreign=True)
    current = money(ours.get("amount")) if ours else ZERO
    payment_id = ours.get("id") if ours else None
    if apply == current:
        return Plan("none", apply, payment_id, problems, adopted)
    if apply == ZERO:
        return Plan("delete", ZERO, payment_id, problems, adopted)
    if ours is not None:
        return Plan("update", apply, payment_id, problems, adopted)
    return Plan("create", apply, None, problems, adopted)


def credit_note_problem(received_: Received, cw_invoice: dict, currency: str = "") -> str | None:
    """Credit notes allocated in Xero are not payments. CW's credit memos reach Xero as
    allocated credit notes, so the two should agree; one allocated only in Xero leaves
    CW's balance above Xero's amount due, which Ferry does not paper over."""
    cw_credits = money(cw_invoice.get("credits"))
    if received_.credit_notes > cw_credits:
        extra = received_.credit_notes - cw_credits
        return (f"Xero has {_amount(received_.credit_notes, currency)} of credit notes "
                f"allocated to this invoice, ConnectWise {_amount(cw_credits, currency)} "
                f"of credits. Credit notes are not payments, so Ferry does not apply the "
                f"{_amount(extra, currency)} difference: raise the credit memo in "
                "ConnectWise and apply it to the invoice (Ferry then writes it to Xero), or "
                "remove the allocation in Xero.")
    return None


def number_match_problems(xero_invoice: dict, cw_matches: list[dict],
                          customer_ok) -> tuple[dict | None, list[str]]:
    """Rule 2: the Xero invoice's number names one CW invoice whose customer and amount
    agree. `customer_ok(cw_invoice)` says whether its company is the Xero contact."""
    number = xero_invoice.get("InvoiceNumber") or "(no number)"
    if not cw_matches:
        return None, [f"Xero invoice {number} has payments, but ConnectWise has no invoice "
                      f"numbered {number} and Ferry did not write it, so they have nowhere "
                      "to go. If it belongs to a ConnectWise invoice, give it that "
                      "invoice's number in Xero; otherwise nothing is needed in "
                      "ConnectWise and this can be left."]
    if len(cw_matches) > 1:
        return None, [f"More than one ConnectWise invoice is numbered {number}; Ferry "
                      "cannot tell which one Xero's payment is for. Apply it in "
                      "ConnectWise by hand."]
    cw = cw_matches[0]
    problems = []
    if not customer_ok(cw):
        problems.append(f"Xero invoice {number} is for {_contact(xero_invoice)}, but "
                        f"ConnectWise invoice {number} is for "
                        f"{(cw.get('company') or {}).get('name', 'another customer')}. "
                        "Check which invoice the payment is for and correct the number or "
                        "contact in Xero.")
    if money(xero_invoice.get("Total")) != money(cw.get("total")) or \
            (xero_invoice.get("CurrencyCode") and (cw.get("currency") or {}).get(
                "currencyCode") not in (None, xero_invoice.get("CurrencyCode"))):
        problems.append(f"Xero invoice {number} is for "
                        f"{_amount(xero_invoice.get('Total'), xero_invoice.get('CurrencyCode'))}"
                        f", ConnectWise invoice {number} for "
                        f"{_amount(cw.get('total'), (cw.get('currency') or {}).get('currencyCode'))}"
                        ". Ferry applies payments only to the same invoice: correct the "
                        "invoice in Xero or ConnectWise.")
    return (None if problems else cw), problems


def unallocated_problem(item: dict, kind: str) -> str | None:
    """An overpayment or prepayment with credit left: money received that no invoice
    holds, for a person to allocate or refund."""
    left = money(item.get("RemainingCredit"))
    if item.get("Status") in ("VOIDED", "DELETED") or left <= 0:
        return None
    when = _day(item.get("Date"))
    return (f"Xero holds a{'n' if kind == 'overpayment' else ''} {kind} of "
            f"{_amount(left, item.get('CurrencyCode'))} from {_contact(item)}"
            + (f" (received {when.isoformat()})" if when else "")
            + " that is not allocated to any invoice. Allocate it in Xero to the invoice "
            "it pays (Ferry then applies it in ConnectWise), or refund it.")


def cw_date(day: date | None) -> str | None:
    return f"{day.isoformat()}T00:00:00Z" if day else None


def _contact(doc: dict) -> str:
    return (doc.get("Contact") or {}).get("Name") or "the customer"


def _amount(value, currency: str | None = "") -> str:
    text = f"{money(value):,.2f}"
    return f"{currency} {text}" if currency else text
