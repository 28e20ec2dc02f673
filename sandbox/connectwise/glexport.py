"""The accounting interface: unposted records, the GL export preview and posting.

Each closed invoice has GL entries (the AR line, one per revenue line, the sales tax
line); `glEntryIds` on its export transaction lists them. An unposted procurement or
expense record is one GL entry with the record's own id. A batch's `processedRecordIds`
names GL entries; CW posts whole documents, so naming any entry of a document posts it
and the document leaves the unposted lists.
"""
from __future__ import annotations

import zlib
from datetime import datetime
from decimal import Decimal

from sandbox import catalog

from .data import AP_ACCOUNT, AR_ACCOUNT, GL_TYPE, TAX_ACCOUNT, ZERO, Store

ACCOUNT_NAMES = {number: desc for number, desc, *_ in catalog.GL_ACCOUNTS}


def _tax_rate(store: Store, tax_id: int) -> Decimal:
    return store.table("finance/taxCodes")[tax_id]["levelOneRate"]


def unposted_invoice(store: Store, invoice: dict, closed: str) -> dict:
    company = store.table("company/companies")[invoice["company"]["id"]]
    return {
        "id": invoice["id"], "billingLogId": invoice["id"],
        "invoiceNumber": invoice["invoiceNumber"], "invoiceType": invoice["type"],
        "locationId": invoice["locationId"], "departmentId": invoice["departmentId"],
        "company": dict(invoice["company"]), "billToCompany": dict(invoice["billToCompany"]),
        "shipToCompany": dict(invoice["shipToCompany"]),
        "billToSite": dict(invoice["billingSite"]), "shipToSite": dict(invoice["billingSite"]),
        "accountNumber": company["accountNumber"], "invoiceDate": invoice["date"],
        "dueDate": invoice["dueDate"], "dueDays": "30",
        "description": f"{invoice['type']} invoice {invoice['invoiceNumber']}",
        "currency": dict(invoice["currency"]), "taxCode": dict(invoice["taxCode"]),
        "billingTerms": dict(invoice["billingTerms"]),
        "invoiceTaxableFlag": invoice["taxableFlag"], "itemTaxableFlag": invoice["taxableFlag"],
        "avalaraTaxFlag": False, "stateTaxFlag": invoice["taxableFlag"],
        "stateTaxAmount": invoice["salesTax"], "stateTaxXref": invoice["taxCode"]["name"],
        "subTotal": invoice["subtotal"], "salesTaxAmount": invoice["salesTax"],
        "total": invoice["total"], "dateClosed": closed, "createdBy": "admin1",
        "_info": {"lastUpdated": invoice["_info"]["lastUpdated"]}}


def unposted(store: Store, kind: str) -> list[dict]:
    """The current unposted list of `kind`: invoices, procurement or expenses."""
    if kind == "invoices":
        invoices = store.table("finance/invoices")
        return [unposted_invoice(store, invoices[i], state["closed"])
                for i, state in store.unposted["invoices"].items()]
    return list(store.unposted[kind].values())


def _currency_ref(currency: dict) -> dict:
    return dict(currency)


def _invoice_transaction(store: Store, invoice: dict, summarize: str) -> dict:
    company = store.table("company/companies")[invoice["company"]["id"]]
    rate = _tax_rate(store, invoice["taxCode"]["id"])
    entries = store.entry_ids[("invoice", invoice["id"])]
    doc_type = "CREDIT MEMO" if invoice["type"] == "CreditMemo" else "INVOICE"
    taxable = rate > 0
    common = {"documentDate": invoice["date"], "documentType": doc_type,
              "currency": _currency_ref(invoice["currency"]),
              "taxCode": dict(invoice["taxCode"]), "taxableFlag": taxable,
              "taxRate": rate / 100, "taxRatePercent": rate,
              "taxCodeXref": invoice["taxCode"]["name"]}
    lines = store.lines[invoice["id"]]
    detail = []
    if summarize == "Detailed":
        for entry, line in zip(entries[1:], lines):
            detail.append({
                "id": entry, "accountNumber": line.account, "glTypeId": GL_TYPE[line.account],
                "description": line.description, "itemDescription": line.description,
                "memo": f"{invoice['invoiceNumber']} {line.description}",
                "quantity": line.quantity, "itemPrice": line.item_price,
                "total": line.total, "salesCode": line.account,
                "item": {"id": 700 + zlib.crc32(line.item.encode()) % 100,
                         "identifier": line.item}
                if line.item else None,
                "invoiceSummaryOption": "Detailed", **common})
    else:
        groups: dict[str, list] = {}
        for entry, line in zip(entries[1:], lines):
            groups.setdefault(line.account, []).append((entry, line))
        for account, members in groups.items():
            total = sum((line.total for _e, line in members), ZERO)
            detail.append({
                "id": members[0][0], "accountNumber": account, "glTypeId": GL_TYPE[account],
                "description": ACCOUNT_NAMES[account], "memo": invoice["invoiceNumber"],
                "quantity": Decimal(1), "itemPrice": total, "total": total,
                "salesCode": account, "invoiceSummaryOption": "Condensed", **common})
    used = [entries[0]] + [d["id"] for d in detail]
    if invoice["salesTax"] != 0:
        detail.append({
            "id": entries[-1], "accountNumber": TAX_ACCOUNT, "glTypeId": "ST",
            "description": f"Sales tax {invoice['taxCode']['name']}",
            "memo": invoice["invoiceNumber"], "quantity": Decimal(1),
            "itemPrice": invoice["salesTax"], "total": invoice["salesTax"], **common})
        used.append(entries[-1])
    return {
        "id": invoice["id"], "documentNumber": invoice["invoiceNumber"],
        "documentType": doc_type, "documentDate": invoice["date"],
        "dueDate": invoice["dueDate"], "dueDays": 30, "billingType": invoice["type"],
        "accountNumber": AR_ACCOUNT, "glTypeId": "AR", "glClass": "",
        "company": dict(invoice["company"]), "companyAccountNumber": company["accountNumber"],
        "companyType": dict(company["types"][0]),
        "shipToCompany": dict(invoice["shipToCompany"]),
        "shipToCompanyAccountNumber": company["accountNumber"],
        "site": dict(invoice["billingSite"]), "attention": invoice["attention"],
        "billingTerms": dict(invoice["billingTerms"]), "billingTermsXref": "NET30",
        "currency": _currency_ref(invoice["currency"]), "taxCode": dict(invoice["taxCode"]),
        "taxable": taxable, "taxAccountNumber": TAX_ACCOUNT, "taxGroupRate": rate,
        "salesTax": invoice["salesTax"], "stateTax": invoice["salesTax"],
        "stateTaxXref": invoice["taxCode"]["name"],
        "taxableTotal": invoice["subtotal"] if taxable else ZERO,
        "taxLevels": [{"taxLevel": 1, "taxCodeXref": invoice["taxCode"]["name"],
                       "taxableAmount": invoice["subtotal"] if taxable else ZERO,
                       "taxAmount": invoice["salesTax"]}],
        "total": invoice["total"], "description": f"Invoice {invoice['invoiceNumber']}",
        "memo": invoice["customerPO"] or invoice["invoiceNumber"],
        "emailDeliveryFlag": True, "printDeliveryFlag": False, "piggyBackFlag": False,
        "agreementPrePaymentFlag": False, "useAvalaraFlag": False,
        "sendAvalaraTaxFlag": False, "taxDpAppliedFlag": False,
        "glEntryIds": ",".join(str(e) for e in used), "detail": detail}


def _customer(company: dict) -> dict:
    return {"company": {"id": company["id"], "identifier": company["identifier"],
                        "name": company["name"]},
            "accountNumber": company["accountNumber"],
            "companyType": dict(company["types"][0]),
            "contact": dict(company["billingContact"]),
            "billingTerms": dict(company["billingTerms"]), "billingTermsXref": "NET30",
            "dueDays": 30, "currency": dict(company["currency"]),
            "taxCode": dict(company["taxCode"]), "taxable": company["taxCode"]["name"] in
            ("GST", "VAT20")}


def _purchase_transactions(store: Store, records: list[dict]) -> list[dict]:
    by_po: dict[int, list[dict]] = {}
    for record in records:
        by_po.setdefault(record["purchaseOrder"]["id"], []).append(record)
    out = []
    for po_id, receipts in by_po.items():
        po = store.table("procurement/purchaseorders")[po_id]
        lines = {line["id"]: line for line in store.po_lines[po_id]}
        detail, taxes = [], []
        for receipt in receipts:
            line_id, quantity, net = receipt["_line"]
            line = lines[line_id]
            common = {"documentDate": receipt["dateClosed"],
                      "currency": dict(receipt["currency"]), "taxCode": dict(po["taxCode"]),
                      "vendorNumber": receipt["vendorAccountNumber"],
                      "item": dict(line["product"])}
            detail.append({"id": receipt["id"], "lineNumber": line["lineNumber"],
                           "accountNumber": "5000", "costAccountNumber": "5000",
                           "glTypeId": "P", "description": line["description"],
                           "itemDescription": line["description"],
                           "quantity": Decimal(quantity), "itemCost": line["unitCost"],
                           "cost": net, "total": net, "taxable": True,
                           "taxRate": Decimal("0.10"), **common})
            taxes.append({"id": receipt["id"], "lineNumber": line["lineNumber"],
                          "accountNumber": TAX_ACCOUNT, "glTypeId": "PT",
                          "total": receipt["taxTotal"], "taxableFlag": True,
                          "taxRatePercent": Decimal(10), **common})
        total = sum((r["total"] for r in receipts), ZERO)
        vendor = store.table("company/companies")[po["vendorCompany"]["id"]]
        out.append({
            "id": str(po_id), "documentNumber": po["vendorInvoiceNumber"],
            "documentDate": po.get("vendorInvoiceDate"), "purchaseDate": po["poDate"],
            "vendorInvoiceNumber": po["vendorInvoiceNumber"],
            "vendorInvoiceDate": po.get("vendorInvoiceDate"),
            "vendorNumber": vendor["accountNumber"], "vendorAccountNumber":
                vendor["accountNumber"], "company": dict(po["vendorCompany"]),
            "contact": dict(po["vendorContact"]), "apAccountNumber": AP_ACCOUNT,
            "billingTerms": dict(po["terms"]), "dueDays": 30,
            "currency": dict(po["currency"]), "taxCode": dict(po["taxCode"]),
            "packingSlip": ",".join(sorted({lines[r["_line"][0]].get("packingSlip", "")
                                            for r in receipts})),
            "description": po["poNumber"], "memo": po["poNumber"],
            "purchaseHeaderTaxableFlag": True, "purchaseHeaderFreightTaxableFlag": False,
            "freightAmount": ZERO, "dropshipFlag": False, "useAvalaraTaxFlag": False,
            "total": total, "purchaseDetail": detail, "purchaseDetailTax": taxes})
    return out


def _expense(record: dict) -> dict:
    return {
        "id": record["id"], "documentDate": record["dateExpense"], "documentType": "EXPENSE",
        "accountNumber": record["accountNumber"], "apAccountNumber": AP_ACCOUNT,
        "glTypeId": "EE", "glClass": "", "member": dict(record["member"]),
        "company": dict(record["company"]), "currency": dict(record["currency"]),
        "description": record["chargeDescription"], "memo": record["expenseType"]["name"],
        "vendorNumber": record["member"]["identifier"], "total": record["total"],
        "periodStartDate": record["dateExpense"], "periodEndDate": record["dateExpense"],
        "offset": {"id": record["id"], "accountNumber": AP_ACCOUNT, "glTypeId": "AP",
                   "documentDate": record["dateExpense"], "documentType": "EXPENSE",
                   "description": "Expense reimbursement", "member": dict(record["member"]),
                   "total": -record["total"]}}


def _wanted(request: dict, ids_key: str, record_id, flag: str) -> bool:
    if request.get(flag) is False:
        return False
    included = request.get(f"included{ids_key}") or []
    excluded = request.get(f"excluded{ids_key}") or []
    return (not included or record_id in included) and record_id not in excluded


def export(store: Store, request: dict) -> dict:
    """The GL export preview for an ExportAccountingBatchRequest. Nothing is posted."""
    thru = request.get("thruDate")
    location = request.get("locationId")
    summarize = request.get("summarizeInvoices") or "Default"
    invoices = store.table("finance/invoices")
    transactions = []
    for invoice_id in store.unposted["invoices"]:
        invoice = invoices[invoice_id]
        if ((thru and invoice["date"] > thru) or (location and invoice["locationId"] != location)
                or not _wanted(request, "InvoiceIds", invoice_id, "exportInvoicesFlag")):
            continue
        transactions.append(_invoice_transaction(store, invoice, summarize))
    receipts = [r for r in store.unposted["procurement"].values()
                if not (thru and r["dateClosed"] > thru)
                and not (location and r["locationId"] != location)
                and _wanted(request, "ProductIds", r["unpostedProductId"],
                            "exportProductsFlag")]
    expenses = [r for r in store.unposted["expenses"].values()
                if not (thru and r["dateExpense"] > thru)
                and not (location and r["locationId"] != location)
                and _wanted(request, "ExpenseIds", r["id"], "exportExpensesFlag")]
    companies = store.table("company/companies")
    customer_ids = sorted({t["company"]["id"] for t in transactions})
    vendor_ids = sorted({r["vendor"]["id"] for r in receipts})
    return {
        "transactions": transactions,
        "customers": [_customer(companies[i]) for i in customer_ids],
        "purchaseTransactions": _purchase_transactions(store, receipts),
        "vendors": [{"vendor": {"id": i, "identifier": companies[i]["identifier"],
                                "name": companies[i]["name"]},
                     "vendorNumber": companies[i]["accountNumber"],
                     "accountNumber": companies[i]["accountNumber"],
                     "billingTerms": dict(companies[i]["billingTerms"]), "dueDays": 30,
                     "taxCode": dict(companies[i]["taxCode"])} for i in vendor_ids],
        "expenses": [_expense(r) for r in expenses],
        "expenseBills": [], "adjustmentTransactions": [], "inventoryTransfers": []}


def post(store: Store, entry_ids: list[int]) -> list[int]:
    """Post the documents these GL entries belong to; returns ids that are unknown."""
    unknown = [e for e in entry_ids if e not in store.gl_entries]
    if unknown:
        return unknown
    for entry in entry_ids:
        kind, record_id = store.gl_entries[entry]
        store.posted.update(store.entry_ids[(kind, record_id)])
        table = {"invoice": "invoices", "procurement": "procurement",
                 "expense": "expenses"}[kind]
        store.unposted[table].pop(record_id, None)
    return []


def parse_thru(raw) -> str | None:
    if not raw:
        return None
    when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
