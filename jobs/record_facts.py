"""What the records pages show about a record, noted as a cycle goes: the customer or
vendor, the document's own date and currency (from what ConnectWise said), and Xero's
status and amounts (from Xero's copy of the document after a write or a look-up)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from connectors.xero import parse_xero_date


def note_candidate(record, cand, payload: dict | None = None) -> bool:
    """Copy the ConnectWise facts of `cand` onto `record` (unsaved); True if any changed.
    Its total too, so a record that never reaches Xero still shows what it is worth."""
    payload = payload or {}
    name = (cand.company.record or {}).get("name") if cand.company else None
    values = {"party_name": (name or None) and str(name)[:255],
              "doc_date": _day(cand.date) or _day(payload.get("Date")),
              "currency": ((cand.currency or payload.get("CurrencyCode") or "")[:3] or None),
              "cw_total": getattr(cand, "total", None)}
    changed = False
    for field, value in values.items():
        if value is not None and getattr(record, field) != value:
            setattr(record, field, value)
            changed = True
    return changed


def note_xero(record, element: dict | None) -> None:
    """Copy Xero's status and amounts from its copy of the document (unsaved). A credit
    note's amount still open is its RemainingCredit."""
    if not element:
        return
    if element.get("Status"):
        record.xero_status = str(element["Status"])[:20]
    due = element.get("AmountDue", element.get("RemainingCredit"))
    paid = element.get("AmountPaid", element.get("AppliedAmount"))
    if _money(due) is not None:
        record.amount_due = _money(due)
    if _money(paid) is not None:
        record.amount_paid = _money(paid)


def _money(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _day(value) -> date | None:
    """CW's "2026-10-31T00:00:00Z", a plain "2026-10-31", or Xero's "/Date(...)/"."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    if text.startswith("/Date("):
        parsed = parse_xero_date(text)
        return parsed.date() if parsed else None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
