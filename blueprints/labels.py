"""How record types are named on the pages, in one place."""

# One record ("Invoice 10041") and many ("Invoices written this month").
ONE = {"invoice": "Invoice", "credit_note": "Credit note", "bill": "Bill",
       "payment": "Payment"}
MANY = {"invoice": "Invoices", "credit_note": "Credit notes", "bill": "Bills",
        "payment": "Payments"}
# The ConnectWise records a cycle reads (payments flow the other way: Xero to CW).
DOCUMENT_TYPES = ("invoice", "credit_note", "bill")


def filter_date(raw: str, label: str, errors: list[str]):
    """A filter's date typed as 2026-11-21, or None; a sentence in `errors` if it is not
    a date (the records and audit filters share it)."""
    from datetime import date
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{label} date “{raw}” is not a date like 2026-11-21.")
        return None
