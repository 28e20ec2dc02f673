"""Test-only actions under `/_sandbox/`: what a person would do in ConnectWise's screens
(edit or close an invoice, raise a credit memo, bill a new customer, receive stock, enter
an expense). Plain JSON POSTs; each answers with the record it changed or made."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import Flask, request

from sandbox import catalog

from . import data
from .api import ApiError, Sandbox, _amount, json_response, not_found, parse_day


# What the company edit action may change besides identifier and name.
EDITABLE_COMPANY_FIELDS = ("phoneNumber", "faxNumber", "addressLine1", "addressLine2", "city",
                           "state", "zip", "accountNumber")

def register_actions(app: Flask, sandbox: Sandbox) -> None:
    def body() -> dict:
        value = request.get_json(silent=True)
        return value if isinstance(value, dict) else {}

    def invoice_or_404(invoice_id: int) -> dict:
        invoice = sandbox.store.table("finance/invoices").get(invoice_id)
        if invoice is None:
            raise not_found("Invoice", invoice_id)
        return invoice

    def changed(invoice: dict) -> None:
        invoice["_info"]["lastUpdated"] = sandbox.store.touch(sandbox.now())
        invoice["_info"]["updatedBy"] = "admin1"
        sandbox.learn("finance/invoices", invoice)

    @app.post("/_sandbox/invoices/<int:invoice_id>/edit")
    def edit_invoice(invoice_id: int):
        """{"line": 0, "itemPrice": "99.00", "quantity": "2", "description": "...",
        "dueDate": "2026-12-01"}: change one line and/or the due date."""
        args, store = body(), sandbox.store
        with store.lock:
            invoice = invoice_or_404(invoice_id)
            lines = store.lines[invoice_id]
            index = int(args.get("line", 0))
            if not 0 <= index < len(lines):
                raise ApiError(400, "InvalidObject", f"invoice has no line {index}")
            line = lines[index]
            if "itemPrice" in args:
                line.item_price = data.money(_amount(args["itemPrice"], "invoice", "itemPrice"))
            if "quantity" in args:
                line.quantity = _amount(args["quantity"], "invoice", "quantity")
            if "description" in args:
                line.description = str(args["description"])
            if "dueDate" in args:
                invoice["dueDate"] = data.day_stamp(parse_day(args["dueDate"]))
            rate = store.table("finance/taxCodes")[invoice["taxCode"]["id"]]["levelOneRate"]
            data.recalc(invoice, lines, rate / 100)
            changed(invoice)
            return json_response(invoice)

    @app.post("/_sandbox/invoices/<int:invoice_id>/close")
    def close_invoice(invoice_id: int):
        store = sandbox.store
        with store.lock:
            invoice = invoice_or_404(invoice_id)
            if invoice["status"]["name"] != "Closed":
                changed(invoice)
                data.close_invoice(store, invoice, invoice["_info"]["lastUpdated"])
            return json_response(invoice)

    @app.post("/_sandbox/invoices/<int:invoice_id>/credit-memo")
    def credit_memo(invoice_id: int):
        """{"amount": "50.00"} (default: the whole first line): a closed credit memo."""
        args, store = body(), sandbox.store
        with store.lock:
            original = invoice_or_404(invoice_id)
            if original["type"] == "CreditMemo":
                raise ApiError(400, "InvalidObject", "a credit memo cannot be credited")
            first = store.lines[invoice_id][0]
            price = (data.money(_amount(args["amount"], "invoice", "amount"))
                     if "amount" in args else first.total)
            lines = [data.Line(f"Credit: {first.description}", Decimal(1), -price,
                               first.account, first.item, first.kind)]
            company = store.table("company/companies")[original["company"]["id"]]
            when = store.touch(sandbox.now())
            memo = sandbox.generator.add_invoice(
                company, "CreditMemo", catalog.ANCHOR_DATE, lines,
                original["taxCode"]["name"], original, closed=True, now=when)
            original["_info"]["lastUpdated"] = when
            sandbox.learn("finance/invoices", memo)
            return json_response(memo, 201)

    @app.post("/_sandbox/invoices")
    def new_invoice():
        """{"companyName": "New Co Pty Ltd", "identifier": "NewCo", "location": "Sydney",
        "currency": "AUD", "taxCode": "GST", "amount": "500.00", "quantity": 1,
        "description": "...", "closed": true, "date": "2026-12-25", "type": "Agreement"}:
        bill a customer one line of `quantity` × `amount`,
        creating the company if it is new. `date` (default the data's anchor date) may
        lie in the future, as agreement invoices raised ahead of their month do."""
        args, store = body(), sandbox.store
        with store.lock:
            name = args.get("companyName") or "New Customer Pty Ltd"
            ident = args.get("identifier") or "".join(name.split())[:25]
            company = next((c for c in store.table("company/companies").values()
                            if c["identifier"].lower() == ident.lower()), None)
            when = store.touch(sandbox.now())
            if company is None:
                office = next((o for o in catalog.OFFICES
                               if o["location"] == args.get("location", "Adelaide")),
                              catalog.OFFICES[0])
                company = sandbox.generator._company(
                    name, ident, vendor=False, office=office,
                    currency=args.get("currency", "AUD"), tax=args.get("taxCode", "GST"),
                    entered=catalog.ANCHOR_DATE)
                company["_info"].update(lastUpdated=when, dateEntered=when)
                sandbox.learn("company/companies", company)
            amount = data.money(_amount(args.get("amount", "500.00"), "invoice", "amount"))
            quantity = _amount(args.get("quantity", 1), "invoice", "quantity")
            line = data.Line(args.get("description", "Professional services"), quantity,
                             amount, "4200", "LABOUR", "service")
            day = parse_day(args["date"]) if args.get("date") else catalog.ANCHOR_DATE
            kind = args.get("type", "Standard")
            if kind not in data.INVOICE_TYPES or kind == "CreditMemo":
                raise ApiError(400, "InvalidObject", "type must be one of " + ", ".join(
                    t for t in data.INVOICE_TYPES if t != "CreditMemo"))
            invoice = sandbox.generator.add_invoice(
                company, kind, day, [line],
                args.get("taxCode", company["taxCode"]["name"]),
                closed=bool(args.get("closed", True)), now=when)
            sandbox.learn("finance/invoices", invoice)
            return json_response(invoice, 201)

    @app.post("/_sandbox/companies/<int:company_id>/edit")
    def edit_company(company_id: int):
        """{"identifier": "NewId", "name": "...", "phoneNumber": "...", "addressLine1":
        "...", ...}: change a company's identifier, name, phone, address or account number
        as a person would in CW; an identifier another company holds is refused, as CW
        does."""
        args, store = body(), sandbox.store
        with store.lock:
            companies = store.table("company/companies")
            company = companies.get(company_id)
            if company is None:
                raise not_found("Company", company_id)
            ident = str(args.get("identifier") or company["identifier"])
            if any(c["identifier"].lower() == ident.lower() and c["id"] != company_id
                   for c in companies.values()):
                raise ApiError(400, "ObjectExists", f"identifier {ident} is already in use")
            company["identifier"] = ident
            company["name"] = str(args.get("name") or company["name"])
            for field in EDITABLE_COMPANY_FIELDS:
                if args.get(field):
                    company[field] = str(args[field])
            company["_info"]["lastUpdated"] = store.touch(sandbox.now())
            sandbox.learn("company/companies", company)
            return json_response(company)

    @app.post("/_sandbox/purchaseorders/<int:po_id>/lineitems/<int:line_id>/receive")
    def receive(po_id: int, line_id: int):
        """{"quantity": 1, "packingSlip": "PS-123"}: receive stock on one PO line."""
        args, store = body(), sandbox.store
        with store.lock:
            po = store.table("procurement/purchaseorders").get(po_id)
            if po is None:
                raise not_found("PurchaseOrder", po_id)
            line = next((x for x in store.po_lines[po_id] if x["id"] == line_id), None)
            if line is None:
                raise not_found("PurchaseOrderLineItem", line_id)
            remaining = int(line["quantity"]) - line["receivedQuantity"]
            quantity = int(args.get("quantity", remaining))
            if not 0 < quantity <= remaining:
                raise ApiError(400, "InvalidObject",
                               f"can receive between 1 and {remaining} more on this line")
            when = store.touch(sandbox.now())
            data.receive_line(store, po, line, quantity,
                              args.get("packingSlip") or f"PS{po_id}-{line_id}",
                              catalog.ANCHOR_DATE, when)
            return json_response(line)

    @app.post("/_sandbox/expenses")
    def add_expense():
        """{"memberId": 101, "amount": "42.50", "type": "Meals", "companyId": 250}:
        an approved expense entry, so it appears in the unposted expenses."""
        args, store = body(), sandbox.store
        with store.lock:
            member = store.table("system/members").get(int(args.get("memberId", 101)))
            if member is None:
                raise not_found("Member", args.get("memberId"))
            companies = store.table("company/companies")
            company = companies.get(int(args.get("companyId", min(companies))))
            if company is None:
                raise not_found("Company", args.get("companyId"))
            kind = next((t for t in data._EXPENSE_TYPES if t[1] == args.get("type", "Meals")),
                        None)
            if kind is None:
                raise ApiError(400, "InvalidObject", "type must be one of "
                               + ", ".join(t[1] for t in data._EXPENSE_TYPES))
            when = store.touch(sandbox.now())
            entry = data.add_expense(store, {
                "member": {"id": member["id"], "identifier": member["identifier"],
                           "name": f"{member['firstName']} {member['lastName']}"},
                "type": {"id": kind[0], "name": kind[1]},
                "company": {"id": company["id"], "identifier": company["identifier"],
                            "name": company["name"]},
                "classification": {"id": 1, "name": "Reimbursable"},
                "paymentMethod": {"id": 1, "name": "Credit Card"},
                "billableOption": "DoNotBill",
                "amount": data.money(_amount(args.get("amount", "42.50"), "expense",
                                             "amount")),
                "date": data.day_stamp(catalog.ANCHOR_DATE - timedelta(days=1)),
                "notes": args.get("notes", f"{kind[1]} - client visit"),
                "locationId": member["defaultLocation"]["id"], "status": "ApprovedByTierTwo",
            }, when)
            return json_response(entry, 201)
