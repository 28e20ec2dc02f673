"""Facts of the synthetic MSP that both sandboxes must agree on.

ConnectWise's data (sandbox.connectwise) and the two Xero organisations (sandbox.xero)
are generated separately; what links them lives here, so that a first sync of the demo
maps cleanly except for the deliberate troublemakers named below.
"""
from datetime import date

# The synthetic year ends here whatever day the sandbox runs: same seed, same data.
ANCHOR_DATE = date(2026, 10, 31)
MONTHS_OF_HISTORY = 12

# CW locations and departments (ids as CW would number them) and the Xero org of each.
OFFICES = [
    {"location_id": 1, "location": "Adelaide", "xero_org": "Adelaide IT Services Pty Ltd"},
    {"location_id": 2, "location": "Sydney", "xero_org": "Sydney IT Services Pty Ltd"},
]
DEPARTMENTS = [
    {"id": 10, "identifier": "MS", "name": "Managed Services"},
    {"id": 11, "identifier": "PS", "name": "Professional Services"},
    {"id": 12, "identifier": "PROC", "name": "Procurement"},
]

# CW GL account number -> the Xero AU chart-of-accounts code it maps to in both orgs.
# None marks the troublemaker: a CW account with no Xero counterpart.
GL_ACCOUNTS = [
    # (cw number, cw description, gl type, xero code, xero name, xero type)
    ("4000", "Managed services revenue", "Income", "200", "Sales", "REVENUE"),
    ("4100", "Product sales", "Income", "210", "Product Sales", "REVENUE"),
    ("4200", "Professional services revenue", "Income", "220", "Project Revenue", "REVENUE"),
    ("4300", "Agreement revenue", "Income", "230", "Agreement Revenue", "REVENUE"),
    ("4900", "Freight recovered", "Income", None, None, None),  # no Xero counterpart
    ("5000", "Cost of goods sold", "COGS", "310", "Cost of Goods Sold", "DIRECTCOSTS"),
    ("6100", "Travel - national", "Expense", "493", "Travel - National", "EXPENSE"),
    ("6200", "Motor vehicle expenses", "Expense", "449", "Motor Vehicle Expenses", "EXPENSE"),
    ("6300", "Meals and entertainment", "Expense", "420", "Entertainment", "EXPENSE"),
    ("6400", "Office supplies", "Expense", "453", "Office Expenses", "EXPENSE"),
    ("1200", "Accounts receivable", "AR", "610", "Accounts Receivable", "CURRENT"),
    ("2100", "Accounts payable", "AP", "800", "Accounts Payable", "CURRLIAB"),
    ("2200", "GST", "Tax", "820", "GST", "CURRLIAB"),
    ("9999", "Rounding", "Expense", "860", "Rounding", "EXPENSE"),
]

# CW tax code identifier -> (rate %, Xero tax type on sales, on purchases).
# "VAT20" is the troublemaker: no Xero tax rate matches it.
TAX_CODES = [
    ("GST", "10", "OUTPUT", "INPUT"),
    ("GST-FREE", "0", "EXEMPTOUTPUT", "EXEMPTEXPENSES"),
    ("EXPORT", "0", "EXEMPTEXPORT", "EXEMPTEXPENSES"),
    ("BAS-EXCL", "0", "BASEXCLUDED", "BASEXCLUDED"),
    ("VAT20", "20", None, None),
]

CURRENCIES = [
    # code, name, and the Xero sandbox's day rate (AUD per unit) that Xero applies to a
    # document sent without CurrencyRate. ConnectWise records no exchange rate at all.
    ("AUD", "Australian Dollar", "1"),
    ("NZD", "New Zealand Dollar", "0.9120"),
    ("USD", "US Dollar", "1.5310"),
]

# Xero tracking categories in both orgs, and the CW values that feed them.
TRACKING = {
    "Office": ["Adelaide", "Sydney"],
    "Department": ["Managed Services", "Professional Services", "Procurement"],
}

# A CW customer whose name is already taken in the Sydney Xero org by a contact with a
# different ContactNumber (so matching by ContactNumber fails and by name must not merge).
CLASH_COMPANY = {"identifier": "HarbourDental", "name": "Harbour Dental Group",
                 "xero_org": "Sydney IT Services Pty Ltd",
                 "xero_contact_number": "HDG-LEGACY-01"}
