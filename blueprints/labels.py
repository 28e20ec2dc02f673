"""How record types are named on the pages, in one place."""

# One record ("Invoice 10041") and many ("Invoices written this month").
ONE = {"invoice": "Invoice", "credit_note": "Credit memo", "bill": "Bill"}
MANY = {"invoice": "Invoices", "credit_note": "Credit notes", "bill": "Bills"}
