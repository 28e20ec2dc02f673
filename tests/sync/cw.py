"""Builders of CW records shaped as the ConnectWise API returns them (camelCase, money
as Decimal), and the mapping tables of a Sydney org like the sandbox's."""
from decimal import Decimal as D

from sync.routing import CwRef, RoutingFacts
from sync.tables import OrgMappings, RecordSettings, TaxTypes, TrackingMap

ORG = "Sydney IT Services Pty Ltd"
SYDNEY = CwRef(2, "Sydney")
MANAGED = CwRef(10, "Managed Services")
PROCUREMENT = CwRef(12, "Procurement")
CONTACT = {"ContactID": "7b0c1a2e-0000-4000-8000-000000000001"}

AUD = {"id": 1, "currencyCode": "AUD", "name": "Australian Dollar", "symbol": "$"}
USD = {"id": 3, "currencyCode": "USD", "name": "US Dollar", "symbol": "$"}
GST = {"id": 1, "name": "GST"}


def mappings(**overrides) -> OrgMappings:
    fields = dict(
        org_name=ORG,
        accounts={"4000": "200", "4100": "210", "4200": "220", "4300": "230",
                  "5000": "310", "9999": "860"},
        sales_tax=TaxTypes({"GST": "OUTPUT", "GST-FREE": "EXEMPTOUTPUT",
                            "EXPORT": "EXEMPTEXPORT"}, untaxed="EXEMPTOUTPUT"),
        purchase_tax=TaxTypes({"GST": "INPUT", "GST-FREE": "EXEMPTEXPENSES"}),
        tax_rates={"OUTPUT": D("10"), "INPUT": D("10"), "EXEMPTOUTPUT": D("0"),
                   "EXEMPTEXPORT": D("0"), "EXEMPTEXPENSES": D("0"), "BASEXCLUDED": D("0")},
        tracking=(TrackingMap("Office", "location", {1: "Adelaide", 2: "Sydney"}),
                  TrackingMap("Department", "department",
                              {10: "Managed Services", 11: "Professional Services"})),
        items={"LAPTOP-14": "LAP14"},
        settings={"invoice": RecordSettings("AUTHORISED"),
                  "credit_note": RecordSettings("DRAFT"),
                  "bill": RecordSettings("DRAFT")},
        rounding_account="860",
        base_currency="AUD",
    )
    fields.update(overrides)
    return OrgMappings(**fields)


def facts(kind="invoices", location=SYDNEY, department=MANAGED, **more) -> RoutingFacts:
    return RoutingFacts(kind, location=location, department=department, **more)


def line(account, description, quantity, price, total=None, **more) -> dict:
    quantity, price = D(quantity), D(price)
    total = D(total) if total is not None else (quantity * price).quantize(D("0.01"))
    return {"accountNumber": account, "glTypeId": "R", "description": description,
            "quantity": quantity, "itemPrice": price, "total": total,
            "taxCode": dict(GST), "taxableFlag": True, **more}


def tax_line(total) -> dict:
    """The sales tax line as the CW invoice shows it; `transaction` gives it the ledger
    shape of the samples (quantity 0, itemPrice 0, total signed)."""
    return {"accountNumber": "2200", "glTypeId": "ST", "description": "Level 1 Sales Tax",
            "memo": "Sales Tax", "quantity": D(1), "itemPrice": D(total), "total": D(total),
            "taxCode": dict(GST)}


def ledger(detail: dict) -> dict:
    """A line written in the CW invoice's own terms (an invoice's lines positive, a
    credit memo's negative) in the GL export's ledger signs, as the Zynk GLExport
    samples show them (sandbox/FIDELITY.md 1.2): revenue lines of an INVOICE at
    quantity -1, itemPrice 10, total -10; a CREDIT MEMO's lines positive; itemPrice
    always positive; the ST line at quantity 0, itemPrice 0."""
    out = dict(detail)
    out["total"] = -detail["total"]
    if detail.get("glTypeId") == "ST":
        out["quantity"], out["itemPrice"] = D(0), D(0)
    else:
        price = detail["itemPrice"]
        out["quantity"] = -detail["quantity"] if price >= 0 else detail["quantity"]
        out["itemPrice"] = abs(price)
    return out


def transaction(number, detail, *, doc_type="INVOICE", currency=AUD, tax_code=GST,
                total=None, date="2026-03-04T00:00:00Z", due="2026-04-03T00:00:00Z") -> dict:
    """An export transaction from lines in the invoice's own terms (see `ledger`): its
    `total` is the invoice's (positive for an INVOICE, negative for a CREDIT MEMO) and
    its detail lines carry the opposite ledger sign."""
    if total is None:
        total = sum((d["total"] for d in detail), D(0))
    return {"id": 700000 + int(number), "documentNumber": number, "documentType": doc_type,
            "documentDate": date, "dueDate": due, "dueDays": 30, "accountNumber": "1200",
            "glTypeId": "AR",
            "company": {"id": 251, "identifier": "CoastalDental", "name": "Coastal Dental"},
            "currency": dict(currency), "taxCode": dict(tax_code), "total": D(total),
            "glEntryIds": "1,2,3", "detail": [ledger(d) for d in detail]}


def invoice(number, *, customer_po="", type_="Standard", apply_to=None) -> dict:
    record = {"id": int(number) - 10000, "invoiceNumber": number, "type": type_,
              "customerPO": customer_po, "locationId": 2, "departmentId": 10}
    if apply_to is not None:
        record["applyToId"] = apply_to
    return record
