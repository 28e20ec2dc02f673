"""Xero's refusal of a document, as a sentence a finance person can act on.

Most refusals are passed on as Xero words them. A document dated in a locked period is
refused with "The document date cannot be before the end of year lock date, currently
set at 31-Mar-2026" (or "the period lock date"; waynerobinson/xeroizer issue 92,
sandbox/FIDELITY.md section 3); no change in Ferry fixes that, so the sentence says what
does. The same holds for a document to an ARCHIVED contact ("The contact with the
specified contact details has been archived. The contact must be un-archived before
creating new invoices or credit notes."; FIDELITY.md 3.4).
"""
from __future__ import annotations

import re

_LOCK = re.compile(r"cannot be before the (end of year|period) lock date"
                   r"(?:, currently set at ([^.]+))?", re.IGNORECASE)


def refusal_sentence(label: str, errors: list[str]) -> str:
    text = " ".join(errors)
    lock = _LOCK.search(text)
    if lock:
        kind = "end-of-year" if lock.group(1).lower() == "end of year" else "period"
        when = f" ({kind} lock date {lock.group(2).strip()})" if lock.group(2) else ""
        return (f"Xero refused {label}: its date falls in a period that is locked in Xero"
                f"{when}. Ask your Xero adviser to move the lock date and then force a "
                "sync of this record, or date the document in an open period in "
                "ConnectWise and Ferry writes it on the next cycle.")
    if "has been archived" in text and "contact" in text.lower():
        return (f"Xero refused {label}: its contact is archived in Xero, and Xero takes no "
                "new invoices, bills or credit notes for an archived contact. Restore the "
                "contact in Xero (Contacts, Archived) and force a sync of this record, or "
                "link the company to another contact in Mappings.")
    return f"Xero refused {label}: {text}"
