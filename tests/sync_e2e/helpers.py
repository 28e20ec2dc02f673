"""Looking into the sandboxes the way a person would look into ConnectWise and Xero."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

import httpx2


def orgs(xero_served) -> dict:
    """Org name -> the Xero sandbox's org (its invoices, credit notes, contacts)."""
    return {org.name: org for org in xero_served.app.xero.store.orgs.values()}


def documents(org, kind: str = "ACCREC") -> list[dict]:
    if kind == "ACCRECCREDIT":
        return list(org.credit_notes.values())
    return [d for d in org.invoices.values() if d.get("Type") == kind]


def duplicates(org) -> dict:
    """Numbers held by more than one live document: what "never twice" forbids. Ferry
    makes each bill's InvoiceNumber unique (its key `PO <po> slip <slip>` is in it), so
    bills count by number too (Xero drops their Reference)."""
    keys = Counter()
    for doc in org.invoices.values():
        if doc.get("Status") in ("DELETED", "VOIDED"):
            continue
        keys[doc.get("Type", "ACCREC") + " " + (doc.get("InvoiceNumber") or "")] += 1
    for doc in org.credit_notes.values():
        keys["CREDIT " + doc["CreditNoteNumber"]] += 1
    return {k: n for k, n in keys.items() if n > 1}


def fault(served, **rule) -> None:
    httpx2.post(f"{served.url}/_sandbox/faults", json=rule).raise_for_status()


def action(served, path: str, body: dict | None = None) -> dict:
    answer = httpx2.post(f"{served.url}/_sandbox/{path}", json=body or {})
    answer.raise_for_status()
    return answer.json()


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
