"""GL export transactions exactly as the public samples sign them (zynksoftware/
Zynk-Workflow, "Exporting GL Batches from ConnectWise REST Interface" and "Downloading
GL Batches from ConnectWise Accounting Interface"; sandbox/FIDELITY.md 1.2): an INVOICE's
total positive and its revenue and sales tax lines negative; a CREDIT MEMO the
opposite. Both become positive Xero documents equal to CW's total."""
from decimal import Decimal as D

from sync.invoices import map_sales_transaction
from sync.sales import SalesSource

from .cw import AUD, CONTACT, GST, facts, mappings

GST_FREE = {"id": 7, "name": "GST-FREE"}


def sample(doc_type, total, lines, tax_total, number="119", **more):
    """A transaction in the samples' shape: revenue lines with glTypeId "RP", the ST
    line at quantity 0 and itemPrice 0, `dueDays` beside `dueDate`."""
    detail = [{"id": 1009 + i, "accountNumber": account, "glTypeId": "RP",
               "description": description, "quantity": D(q), "itemPrice": D(p),
               "total": D(t), "taxableFlag": code is GST, "taxCode": dict(code)}
              for i, (account, description, q, p, t, code) in enumerate(lines)]
    detail.append({"id": 1016, "accountNumber": "9999", "glTypeId": "ST",
                   "description": "Level 1 Sales Tax", "memo": "Sales Tax",
                   "quantity": D(0), "itemPrice": D(0), "total": D(tax_total)})
    txn = {"id": 125, "documentNumber": number, "documentType": doc_type,
           "documentDate": "2026-06-20T00:00:00", "dueDate": "2026-06-30T00:00:00",
           "dueDays": 10, "glTypeId": "AR", "accountNumber": "1200",
           "description": "Accounts Receivable", "company": {"id": 8, "identifier": "AngryFox"},
           "currency": dict(AUD), "taxCode": dict(GST), "total": D(total),
           "glEntryIds": "1010,1011,1012,1013,1014,1015", "detail": detail}
    txn.update(more)
    return txn


def mapped(txn, **more):
    return map_sales_transaction(SalesSource(txn, {"customerPO": ""}, facts(), CONTACT,
                                             **more), mappings())


def test_rest_sample_invoice_of_ten_is_a_positive_invoice_of_ten():
    txn = sample("INVOICE", "10", [("4000", "Non-Taxable Products", "-1", "10", "-10",
                                    GST_FREE)], "0")
    result = mapped(txn)
    assert result.payload["Type"] == "ACCREC"
    [line] = result.payload["LineItems"]
    assert (line["Quantity"], line["UnitAmount"]) == (D(1), D(10))
    assert result.cw_total == D("10.00") and result.rounding == 0
    assert result.payload["DueDate"] == "2026-06-30"


def test_accounting_interface_sample_shape_keeps_its_tax():
    """The sample's lines -35.00 and -7.00 under 42.00 carry a 20% rate; at this org's
    10% GST the same shape is -35.00 and -3.50 under 38.50."""
    txn = sample("INVOICE", "38.50", [("4000", "Widgets", "-5.00", "7.00", "-35.00", GST)],
                 "-3.50")
    result = mapped(txn)
    [line] = result.payload["LineItems"]
    assert (line["Quantity"], line["UnitAmount"], line["TaxType"]) == (D(5), D(7), "OUTPUT")
    assert result.cw_total == D("38.50")


def test_a_credit_memo_of_minus_38_50_is_a_positive_credit_note():
    txn = sample("CREDIT MEMO", "-38.50",
                 [("4000", "Widgets returned", "5.00", "7.00", "35.00", GST)], "3.50",
                 number="120")
    result = mapped(txn, applies_to_number="119")
    assert result.payload["Type"] == "ACCRECCREDIT"
    [line] = result.payload["LineItems"]
    assert (line["Quantity"], line["UnitAmount"]) == (D(5), D(7))
    assert result.cw_total == D("38.50")


def test_a_tax_line_on_the_ar_account_is_still_tax():
    """In the REST sample the transaction's accountNumber and its ST line's are both
    9999: the ST line is tax, not the AR control line."""
    txn = sample("INVOICE", "11.00", [("4000", "Support", "-1", "10", "-10", GST)], "-1.00",
                 accountNumber="9999")
    result = mapped(txn)
    assert result.cw_total == D("11.00") and result.rounding == 0
    txn["detail"][-1]["total"], txn["total"] = D("-2.00"), D("12.00")   # CW: 2.00 tax
    assert "ConnectWise totals it at 12.00 AUD (tax 2.00)" in mapped(txn).sentences[0]


def test_a_discount_line_stays_a_discount():
    """A line on the other side of an invoice (a debit of 5) lowers it."""
    txn = sample("INVOICE", "55.00", [("4000", "Support", "-1", "55", "-55", GST),
                                      ("4000", "Discount", "1", "5", "5", GST)], "-5.00")
    result = mapped(txn)
    amounts = [(l["Quantity"], l["UnitAmount"]) for l in result.payload["LineItems"]]
    assert amounts == [(D(1), D(55)), (D(-1), D(5))]
    assert result.cw_total == D("55.00")


def test_due_date_from_due_days_when_cw_gives_no_date():
    txn = sample("INVOICE", "11.00", [("4000", "Support", "-1", "10", "-10", GST)], "-1.00",
                 dueDate=None)
    assert mapped(txn).payload["DueDate"] == "2026-06-30"
    txn.update(dueDays=None)
    assert "no due date" in mapped(txn).sentences[0]
