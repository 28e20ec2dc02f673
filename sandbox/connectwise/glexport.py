"""The accounting interface: unposted records, the GL export preview and posting, in the
shapes and ledger signs of ConnectWise's documented GLExport samples (sandbox/FIDELITY.md
section 1 says which parts are confirmed and which assumed).

A closed invoice has GL entries: its transaction's `glEntryIds` (the AR side) and one per
detail line (revenue lines and the sales tax line). A received PO line has two: its
`purchaseDetail` line and its `purchaseDetailTax` line. An approved expense is one entry
with the expense's id. A batch's `processedRecordIds` names GL entries; naming any entry
of a document posts the whole document and it leaves the unposted lists.
"""
from __future__ import annotations

import zlib
from datetime import datetime
from decimal import Decimal

from sandbox import catalog

from .data import (_PRODUCTS, AP_ACCOUNT, AR_ACCOUNT, BILLING_TERMS, DUE_DAYS, GL_TYPE,
                   TAX_ACCOUNT, ZERO, Store, stamp)

ACCOUNT_NAMES = {number: desc for number, desc, *_ in catalog.GL_ACCOUNTS}


def _tax_rate(store: Store, tax_id: int) -> Decimal:
    return store.table("finance/taxCodes")[tax_id]["levelOneRate"]


def _due_days(terms: dict) -> int:
    return DUE_DAYS if terms.get("id") == BILLING_TERMS["id"] else 0


def unposted_invoice(store: Store, invoice: dict, state: dict) -> dict:
    company = store.table("company/companies")[invoice["company"]["id"]]
    return {
        "id": state["id"], "billingLogId": invoice["id"],
        "invoiceNumber": invoice["invoiceNumber"], "invoiceType": invoice["type"],
        "locationId": invoice["locationId"], "departmentId": invoice["departmentId"],
        "company": dict(invoice["company"]), "billToCompany": dict(invoice["billToCompany"]),
        "shipToCompany": dict(invoice["shipToCompany"]),
        "billToSite": dict(invoice["billingSite"]), "shipToSite": dict(invoice["billingSite"]),
        "accountNumber": company["accountNumber"], "invoiceDate": invoice["date"],
        "dueDate": invoice["dueDate"], "dueDays": str(_due_days(invoice["billingTerms"])),
        "description": f"{invoice['type']} invoice {invoice['invoiceNumber']}",
        "currency": dict(invoice["currency"]), "taxCode": dict(invoice["taxCode"]),
        "billingTerms": dict(invoice["billingTerms"]),
        "invoiceTaxableFlag": invoice["taxableFlag"], "itemTaxableFlag": invoice["taxableFlag"],
        "avalaraTaxFlag": False, "stateTaxFlag": invoice["taxableFlag"],
        "stateTaxAmount": invoice["salesTax"], "stateTaxXref": invoice["taxCode"]["name"],
        "subTotal": invoice["subtotal"], "salesTaxAmount": invoice["salesTax"],
        "total": invoice["total"], "dateClosed": state["closed"], "createdBy": "admin1",
        "_info": {"lastUpdated": invoice["_info"]["lastUpdated"]}}


def unposted(store: Store, kind: str) -> list[dict]:
    """The current unposted list of `kind`: invoices, procurement or expenses."""
    if kind == "invoices":
        invoices = store.table("finance/invoices")
        return [unposted_invoice(store, invoices[i], state)
                for i, state in store.unposted["invoices"].items()]
    return list(store.unposted[kind].values())


def _item(identifier: str | None) -> dict | None:
    if not identifier:
        return None
    return {"id": 700 + zlib.crc32(identifier.encode()) % 100, "identifier": identifier}


def _invoice_transaction(store: Store, invoice: dict, state: dict, summarize: str) -> dict:
    """One GLExportTransaction with CW's ledger signs (FIDELITY.md 1.2): the AR total as
    the invoice has it, every detail line (revenue and sales tax) the other way, so the
    lines sum to minus the total. `quantity × itemPrice = total`, itemPrice positive."""
    company = store.table("company/companies")[invoice["company"]["id"]]
    rate = _tax_rate(store, invoice["taxCode"]["id"])
    doc_type = "CREDIT MEMO" if invoice["type"] == "CreditMemo" else "INVOICE"
    taxable = rate > 0
    tax_name = invoice["taxCode"]["name"]
    common = {"documentDate": invoice["date"], "documentType": doc_type, "glClass": "",
              "currency": dict(invoice["currency"]), "taxCode": dict(invoice["taxCode"]),
              "taxCodeXref": tax_name, "locationXref": "DEFAULT", "taxAgencyXref": "",
              "taxable2Flag": False, "taxable3Flag": False, "taxable4Flag": False,
              "taxable5Flag": False, "serializedFlag": False, "serialNumbers": "",
              "invoiceSummaryOption": "0"}
    lines = store.lines[invoice["id"]]
    entries = state["detail"]
    detail = []

    def revenue(entry: int, account: str, quantity: Decimal, price: Decimal, total: Decimal,
                text: str, item: str | None, kind: str) -> dict:
        # Ledger sign: an invoice's revenue is a credit (negative), a credit memo's a debit.
        signed = -total
        qty = abs(quantity) if signed >= 0 else -abs(quantity)
        return {
            "id": entry, "accountNumber": account, "glTypeId": GL_TYPE[account],
            "glItemId": item or "", "productAccountNumber": account, "salesCode": account,
            "costAccountNumber": "5000" if kind == "product" else "",
            "inventoryAccountNumber": "",
            "description": "Taxable Products" if taxable else "Non-Taxable Products",
            "memo": text, "salesDescription": text, "itemDescription": text,
            "quantity": qty, "itemPrice": abs(price), "total": signed,
            "cost": ZERO, "itemCost": ZERO, "taxableFlag": taxable, "itemTaxableFlag": taxable,
            "taxRate": ZERO, "taxRatePercent": ZERO, "taxNote": "",
            "item": _item(item), "itemTypeXref": "Inventory" if kind == "product" else
            "Service", "dropShippedFlag": False,
            "unitOfMeasure": {"id": 13, "name": "Each"} if kind == "product"
            else {"id": 2, "name": "Hour"}, **common}

    if summarize == "Condensed":
        groups: dict[str, list] = {}
        for entry, line in zip(entries, lines):
            groups.setdefault(line.account, []).append((entry, line))
        for account, members in groups.items():
            total = sum((line.total for _e, line in members), ZERO)
            detail.append(revenue(members[0][0], account, Decimal(1), total, total,
                                  ACCOUNT_NAMES[account], None, "service"))
    else:
        for entry, line in zip(entries, lines):
            detail.append(revenue(entry, line.account, line.quantity, line.item_price,
                                  line.total, line.description, line.item, line.kind))
    # The sales tax line: always there (0 when untaxed), quantity and price 0.
    detail.append({
        "id": entries[-1], "accountNumber": TAX_ACCOUNT, "glTypeId": "ST", "glItemId": "",
        "productAccountNumber": "4000", "salesCode": "", "costAccountNumber": "",
        "inventoryAccountNumber": "", "memo": "Sales Tax",
        "description": "Level 1 Sales Tax", "salesDescription": "", "itemDescription": "",
        "quantity": ZERO, "itemPrice": ZERO, "total": -invoice["salesTax"], "cost": ZERO,
        "itemCost": ZERO, "taxableFlag": False, "itemTaxableFlag": False,
        "taxRate": rate / 100, "taxRatePercent": rate, "taxNote": "AUTOSTAX",
        "itemTypeXref": "", "dropShippedFlag": False,
        "unitOfMeasure": {"id": 2, "name": "Hour"}, **common})
    taxable_total = invoice["subtotal"] if taxable else ZERO
    location = store.table("system/locations").get(invoice["locationId"]) or {}
    return {
        "id": state["transaction"], "documentNumber": invoice["invoiceNumber"],
        "documentType": doc_type, "documentDate": invoice["date"],
        "dueDate": invoice["dueDate"], "dueDays": _due_days(invoice["billingTerms"]),
        "billingType": invoice["type"], "accountNumber": AR_ACCOUNT, "glTypeId": "AR",
        "glClass": "", "description": "Accounts Receivable",
        "memo": invoice["customerPO"], "attention": invoice["attention"],
        "salesTerritory": location.get("name", ""),
        "company": dict(invoice["company"]), "companyAccountNumber": company["accountNumber"],
        "companyType": dict(company["types"][0]),
        "shipToCompany": dict(invoice["shipToCompany"]),
        "shipToCompanyAccountNumber": company["accountNumber"],
        "shipToCompanyType": dict(company["types"][0]), "shipToTaxId": "",
        "site": dict(invoice["billingSite"]), "shipSite": dict(invoice["billingSite"]),
        "billingTerms": dict(invoice["billingTerms"]),
        "billingTermsXref": invoice["billingTerms"]["name"],
        "currency": dict(invoice["currency"]), "taxCode": dict(invoice["taxCode"]),
        "taxable": taxable, "taxAccountNumber": TAX_ACCOUNT, "taxGroupRate": rate / 100,
        "salesTax": invoice["salesTax"], "stateTax": invoice["salesTax"],
        "countyTax": ZERO, "stateTaxXref": tax_name, "countyTaxXref": "",
        "taxAgencyXref": company["accountNumber"], "taxId": "",
        "taxableTotal": taxable_total, "taxableAmount1": taxable_total,
        "taxableAmount2": ZERO, "taxableAmount3": ZERO, "taxableAmount4": ZERO,
        "taxableAmount5": ZERO,
        "taxLevels": [{"taxLevel": 1, "taxCodeXref": tax_name,
                       "taxableAmount": taxable_total, "taxAmount": invoice["salesTax"]}],
        "total": invoice["total"],
        "emailDeliveryFlag": True, "printDeliveryFlag": False, "piggyBackFlag": False,
        "agreementPrePaymentFlag": False, "useAvalaraFlag": False,
        "sendAvalaraTaxFlag": False, "taxDpAppliedFlag": False,
        "glEntryIds": ",".join(str(e) for e in state["ar"]), "detail": detail}


def _customer(company: dict) -> dict:
    return {"company": {"id": company["id"], "identifier": company["identifier"],
                        "name": company["name"]},
            "accountNumber": company["accountNumber"],
            "companyType": dict(company["types"][0]),
            "contact": dict(company["billingContact"]),
            "billingTerms": dict(company["billingTerms"]),
            "billingTermsXref": company["billingTerms"]["name"],
            "dueDays": _due_days(company["billingTerms"]), "currency": dict(company["currency"]),
            "taxCode": dict(company["taxCode"]), "taxable": company["taxCode"]["name"] in
            ("GST", "VAT20")}


def _purchase_transactions(store: Store, records: list[dict]) -> list[dict]:
    """One GLExportPurchaseTransaction per purchase order and packing slip (FIDELITY.md
    1.3): `id` "PO #<po>, Packing Slip: <slip>", total positive, detail lines with
    negative quantity and total and a positive itemCost, as in the REST sample."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for record in records:
        key = (record["purchaseOrder"]["id"], record["_receipt"]["packingSlip"])
        groups.setdefault(key, []).append(record)
    out = []
    for (po_id, slip), receipts in groups.items():
        po = store.table("procurement/purchaseorders")[po_id]
        lines = {line["id"]: line for line in store.po_lines[po_id]}
        vendor = store.table("company/companies")[po["vendorCompany"]["id"]]
        customer = store.table("company/companies").get(po["customerCompany"]["id"], {})
        detail, taxes = [], []
        for receipt in receipts:
            private = receipt["_receipt"]
            line = lines[private["line"]]
            quantity, net = Decimal(private["quantity"]), private["net"]
            sku = line["product"]["identifier"]
            price = next((Decimal(p) for s, _d, p in _PRODUCTS if s == sku), ZERO)
            common = {"documentDate": receipt["dateClosed"], "glClass": "",
                      "currency": dict(receipt["currency"]), "taxCode": dict(po["taxCode"]),
                      "vendorNumber": vendor["accountNumber"],
                      "vendorAccountNumber": vendor["accountNumber"],
                      "lineNumber": line["lineNumber"], "locationXref": "DEFAULT",
                      "purchaseHeaderTaxGroup": po["taxCode"]["name"],
                      "serializedFlag": False, "serialNumbers": "", "dropShippedFlag": False}
            detail.append({
                "id": private["detail"], "accountNumber": "5000", "costAccountNumber": "5000",
                "inventoryAccountNumber": "5000", "salesCode": "5000",
                "glTypeId": GL_TYPE["5000"], "glItemId": sku, "description": "Purchase",
                "memo": line["description"], "itemDescription": line["description"],
                "salesDescription": line["description"],
                "item": {"id": line["product"]["id"], "identifier": sku},
                "quantity": -quantity, "itemCost": line["unitCost"], "cost": net,
                "total": -net, "itemPrice": price, "taxable": True,
                "taxCodeXref": po["taxCode"]["name"], "taxRate": Decimal("0.10"),
                "unitOfMeasure": {"id": 13, "name": "Each"}, "itemTypeXref": "Inventory",
                **common})
            taxes.append({
                "id": private["tax"], "accountNumber": TAX_ACCOUNT, "glTypeId": "PT",
                "glItemId": "", "memo": "Sales Tax", "quantity": ZERO, "itemCost": ZERO,
                "itemPrice": ZERO, "cost": ZERO, "total": -receipt["taxTotal"],
                "taxableFlag": True, "taxRate": Decimal("0.10"),
                "taxRatePercent": Decimal(10), "taxNote": "AUTOSTAX", **common})
        total = sum((r["total"] for r in receipts), ZERO)
        terms = dict(po["terms"])
        out.append({
            "id": f"PO #{po['poNumber']}, Packing Slip: {slip}",
            "documentNumber": po["poNumber"], "documentDate": po["poDate"],
            "purchaseDate": po["poDate"], "description": "Purchase", "memo": "",
            "apAccountNumber": AP_ACCOUNT, "purchaseClass": "",
            "company": dict(po["vendorCompany"]), "companyType": dict(vendor["types"][0]),
            "contact": dict(po["vendorContact"]),
            "site": {"id": vendor["id"] * 10, "name": "Main"},
            "vendorNumber": vendor["accountNumber"],
            "vendorAccountNumber": vendor["accountNumber"],
            "vendorInvoiceNumber": po["vendorInvoiceNumber"],
            "vendorInvoiceDate": po.get("vendorInvoiceDate"),
            "billingTerms": terms, "billingTermsXref": terms["name"],
            "dueDays": _due_days(terms), "currency": dict(po["currency"]),
            "taxCode": dict(po["taxCode"]), "taxGroupRate": Decimal("0.10"),
            "purchaseHeaderTaxGroup": po["taxCode"]["name"], "stateTaxXref":
                po["taxCode"]["name"], "countyTaxXref": "", "cityTaxXref": "",
            "taxAgencyXref": "", "shipToCompany": dict(po["customerCompany"]),
            "shipToCompanyAccountNumber": customer.get("accountNumber", ""),
            "packingSlip": slip, "freightPackingSlip": slip, "freightAmount": ZERO,
            "purchaseHeaderTaxableFlag": True, "purchaseHeaderFreightTaxableFlag": False,
            "dropshipFlag": False, "useAvalaraTaxFlag": False,
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


def _as_sets(request: dict) -> dict:
    """The request with its id lists as sets, so that naming 200 invoices does not cost
    200 comparisons for each unposted one. `in` means the same on a set of JSON values;
    a list holding something unhashable (an object) stays a list."""
    out = dict(request)
    for key in request:
        if key.startswith(("included", "excluded")) and isinstance(request[key], list):
            try:
                out[key] = frozenset(request[key])
            except TypeError:
                pass
    return out


def export(store: Store, request: dict, now: datetime) -> dict:
    """The GL export preview for an ExportAccountingBatchRequest. Nothing is posted.
    Without `thruDate` CW exports up to the current date (FIDELITY.md 1.6): a document
    dated later waits."""
    request = _as_sets(request)
    thru = request.get("thruDate") or stamp(now)
    location = request.get("locationId")
    summarize = request.get("summarizeInvoices") or "Default"
    invoices = store.table("finance/invoices")
    transactions = []
    for invoice_id, state in store.unposted["invoices"].items():
        invoice = invoices[invoice_id]
        if (invoice["date"] > thru or (location and invoice["locationId"] != location)
                or not _wanted(request, "InvoiceIds", state["id"], "exportInvoicesFlag")):
            continue
        transactions.append(_invoice_transaction(store, invoice, state, summarize))
    receipts = [r for r in store.unposted["procurement"].values()
                if not r["dateClosed"] > thru
                and not (location and r["locationId"] != location)
                and _wanted(request, "ProductIds", r["unpostedProductId"],
                            "exportProductsFlag")]
    expenses = [r for r in store.unposted["expenses"].values()
                if not r["dateExpense"] > thru
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
                     "company": {"id": i, "identifier": companies[i]["identifier"]},
                     "vendorNumber": companies[i]["accountNumber"],
                     "accountNumber": companies[i]["accountNumber"],
                     "billingTerms": dict(companies[i]["billingTerms"]),
                     "dueDays": _due_days(companies[i]["billingTerms"]),
                     "site": {"id": i * 10, "name": "Main"},
                     "taxCode": dict(companies[i]["taxCode"])} for i in vendor_ids],
        "expenses": [_expense(r) for r in expenses],
        "expenseBills": [], "adjustmentTransactions": [], "inventoryTransfers": []}


KINDS = {"invoice": ("invoices", "exportInvoicesFlag"),
         "procurement": ("procurement", "exportProductsFlag"),
         "expense": ("expenses", "exportExpensesFlag")}


def refused(store: Store, entry_ids: list[int], flags: dict) -> tuple[list[int], list[int]]:
    """(ids that are unknown or already posted, ids of a kind the batch does not
    export) for a batch request."""
    bad = [e for e in entry_ids if e not in store.gl_entries or e in store.posted]
    off = [e for e in entry_ids if e in store.gl_entries
           and not flags.get(KINDS[store.gl_entries[e][0]][1])]
    return bad, off


def post(store: Store, entry_ids: list[int]) -> None:
    """Post the documents these GL entries belong to (checked by `refused` first)."""
    for entry in entry_ids:
        kind, record_id = store.gl_entries[entry]
        store.posted.update(store.entry_ids[(kind, record_id)])
        store.unposted[KINDS[kind][0]].pop(record_id, None)


def parse_thru(raw) -> str | None:
    if not raw:
        return None
    when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
