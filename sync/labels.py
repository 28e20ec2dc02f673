"""How record types are named to a person (pages, mails, `flask check`), in one place:
below the blueprints so the engine and admin/ can use it too."""

# One record ("Invoice 10041") and many ("Invoices written this month").
ONE = {"invoice": "Invoice", "credit_note": "Credit note", "bill": "Bill",
       "payment": "Payment"}
MANY = {"invoice": "Invoices", "credit_note": "Credit notes", "bill": "Bills",
        "payment": "Payments"}
# The ConnectWise records a cycle reads (payments flow the other way: Xero to CW).
DOCUMENT_TYPES = ("invoice", "credit_note", "bill")

