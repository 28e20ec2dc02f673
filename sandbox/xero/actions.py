"""Test-only actions under /_sandbox/xero/: what a person does in Xero's own screens,
and shortcuts tests need. All are JSON POSTs except `GET /_sandbox/xero/tenants`; an org
is named by `tenant_id` or `org` (its name). They bypass tokens and limits.

- `POST /_sandbox/xero/pay` `{org, invoice_id | invoice_number, amount?: "full" | "12.34",
  date?, reference?, account_code?: "090"}`: a payment received; more than is due pays
  the invoice in full and keeps the rest as an overpayment on the contact.
- `POST /_sandbox/xero/void` / `POST /_sandbox/xero/delete` `{org, invoice_id |
  invoice_number, remove_payments?: false}`: void an AUTHORISED invoice (after removing
  its payments, if asked) or delete a DRAFT/SUBMITTED one.
- `POST /_sandbox/xero/edit-invoice` `{org, invoice_id | invoice_number, line?: 0,
  unit_amount?: "12.34", contact_id?}`: a person edits an invoice in Xero's screen (a
  line's unit price, the contact), under the rules a POST update follows (a paid or
  voided one refuses).
- `POST /_sandbox/xero/delete-payment` `{org, payment_id}`.
- `POST /_sandbox/xero/prepay` `{org, contact_id | invoice_number (its contact), amount,
  date?, currency?}`: money received before any invoice (a prepayment on the contact).
- `POST /_sandbox/xero/allocate` `{org, overpayment_id | prepayment_id, invoice_id |
  invoice_number, amount, date?}`: allocate an overpayment or prepayment to an invoice,
  as PUT /Overpayments|Prepayments/{id}/Allocations does.
- `POST /_sandbox/xero/edit-contact` `{org, contact_id | contact_number, ...fields}`.
- `POST /_sandbox/xero/archive-contact` `{org, contact_id | contact_number}`: archive a
  contact as a person does in Xero (Contacts > Archive); `{..., "restore": true}` undoes it.
- `POST /_sandbox/xero/lock-dates` `{org, period_lock_date?: "2026-06-30" | null,
  end_of_year_lock_date?: ... | null}`: set or clear the org's lock dates (Advisor >
  Financial settings in Xero); a key left out keeps its value.
- `POST /_sandbox/xero/revoke-connection` `{org}`: the user disconnects Ferry from an org.
- `POST /_sandbox/xero/expire-token` `{access_token?}`: that token, or every token issued
  so far, now counts as expired.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import Blueprint, request

from . import contacts, documents, payments, wire
from .dates import parse_date
from .jsonio import loads, respond


def blueprint(sandbox) -> Blueprint:
    store, identity = sandbox.store, sandbox.identity
    bp = Blueprint("xero_actions", __name__, url_prefix="/_sandbox/xero")

    def fail(message: str, status: int = 400):
        return respond({"error": message}, status)

    def body() -> dict:
        try:
            data = loads(request.get_data() or b"{}")
        except ValueError:
            data = None
        return data if isinstance(data, dict) else {}

    def org_of(data):
        org = store.org(str(data.get("tenant_id") or "")) or store.org_named(str(data.get("org") or ""))
        return org

    def invoice_of(org, data):
        if data.get("invoice_id"):
            return org.invoices.get(str(data["invoice_id"]).lower())
        number = str(data.get("invoice_number") or "").lower()
        return next((d for d in org.invoices.values()
                     if number and (d.get("InvoiceNumber") or "").lower() == number), None)

    @bp.get("/tenants")
    def tenants():
        return respond([{"tenantId": o.tenant_id, "tenantName": o.name,
                         "connected": identity.connected(o.tenant_id)}
                        for o in store.orgs.values()])

    @bp.post("/pay")
    def pay():
        data = body()
        with store.lock:
            org = org_of(data)
            if org is None:
                return fail("Unknown org: send tenant_id or org (its name).", 404)
            invoice = invoice_of(org, data)
            if invoice is None:
                return fail("Unknown invoice.", 404)
            now = sandbox.kit.clock.now()
            due = invoice["AmountDue"]
            try:
                amount = due if str(data.get("amount", "full")) == "full" else \
                    documents.money(Decimal(str(data["amount"])))
            except InvalidOperation:
                return fail("amount must be \"full\" or a number.")
            when = parse_date(data.get("date")) or now.date()
            extra = amount - due if amount > due else Decimal(0)
            payment, errors, _ = payments.create(org, {
                "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                "Account": {"Code": data.get("account_code", "090")},
                "Amount": amount - extra, "Date": when.isoformat(),
                "Reference": data.get("reference", "")}, now, store.new_id)
            if errors:
                return fail(" ".join(errors))
            out = {"payment": wire.payment(payment, org),
                   "invoice": wire.document(invoice, org, documents.INVOICE)}
            if extra > 0:
                over = payments.overpay(org, invoice, extra, when, now, store.new_id)
                out["overpayment"] = wire.overpayment(over, org)
            return respond(out)

    @bp.post("/prepay")
    def prepay():
        data = body()
        with store.lock:
            org = org_of(data)
            if org is None:
                return fail("Unknown org: send tenant_id or org (its name).", 404)
            contact_id = str(data.get("contact_id") or "").lower()
            currency = str(data.get("currency") or "AUD")
            if not contact_id:
                invoice = invoice_of(org, data)
                if invoice is None:
                    return fail("Send contact_id, or invoice_number for its contact.", 404)
                contact_id, currency = invoice["_contact_id"], invoice["CurrencyCode"]
            if contact_id not in org.contacts:
                return fail("Unknown contact.", 404)
            try:
                amount = documents.money(Decimal(str(data["amount"])))
            except (KeyError, InvalidOperation):
                return fail("amount must be a number.")
            now = sandbox.kit.clock.now()
            when = parse_date(data.get("date")) or now.date()
            made = payments.prepay(org, contact_id, amount, when, now, store.new_id,
                                   currency)
            return respond(wire.prepayment(made, org))

    @bp.post("/allocate")
    def allocate():
        data = body()
        with store.lock:
            org = org_of(data)
            if org is None:
                return fail("Unknown org: send tenant_id or org (its name).", 404)
            if data.get("overpayment_id"):
                kind, source = "Overpayment", org.overpayments.get(
                    str(data["overpayment_id"]).lower())
            else:
                kind, source = "Prepayment", org.prepayments.get(
                    str(data.get("prepayment_id") or "").lower())
            invoice = invoice_of(org, data)
            if source is None or invoice is None:
                return fail("Unknown overpayment/prepayment or invoice.", 404)
            allocation, errors = payments.allocate_received(
                org, kind, source, {"Invoice": {"InvoiceID": invoice["InvoiceID"]},
                                    "Amount": data.get("amount"), "Date": data.get("date")},
                sandbox.kit.clock.now(), store.new_id)
            if errors:
                return fail(" ".join(errors), 409)
            return respond({"allocation_id": allocation["AllocationID"],
                            "invoice": wire.document(invoice, org, documents.INVOICE)})

    def contact_of(org, data):
        if data.get("contact_id"):
            return contacts.find_by_id(org, data["contact_id"])
        return contacts.find_by_number(org, data.get("contact_number"))

    @bp.post("/archive-contact")
    def archive_contact():
        data = body()
        with store.lock:
            org = org_of(data)
            contact = contact_of(org, data) if org else None
            if contact is None:
                return fail("Unknown org or contact.", 404)
            contact["ContactStatus"] = "ACTIVE" if data.get("restore") else "ARCHIVED"
            contact["UpdatedDateUTC"] = sandbox.kit.clock.now()
            return respond(wire.contact(contact))

    @bp.post("/lock-dates")
    def lock_dates():
        data = body()
        with store.lock:
            org = org_of(data)
            if org is None:
                return fail("Unknown org: send tenant_id or org (its name).", 404)
            for key in ("period_lock_date", "end_of_year_lock_date"):
                if key not in data:
                    continue
                value = parse_date(data[key]) if data[key] else None
                if data[key] and value is None:
                    return fail(f"{key} must be a date (YYYY-MM-DD) or null.")
                setattr(org, key, value)
            return respond(wire.organisation(org))

    def change_status(status: str):
        data = body()
        with store.lock:
            org = org_of(data)
            invoice = invoice_of(org, data) if org else None
            if invoice is None:
                return fail("Unknown org or invoice.", 404)
            now = sandbox.kit.clock.now()
            if data.get("remove_payments"):
                for payment_id in invoice.get("_payments", []):
                    if org.payments[payment_id]["Status"] == "AUTHORISED":
                        payments.delete(org, org.payments[payment_id], now)
            saved, errors, _ = documents.write(org, documents.INVOICE, {"Status": status},
                                               "POST", now, 4, store.new_id,
                                               invoice["InvoiceID"])
            if errors:
                return fail(" ".join(errors), 409)
            return respond(wire.document(saved, org, documents.INVOICE))

    @bp.post("/void")
    def void():
        return change_status("VOIDED")

    @bp.post("/delete")
    def delete():
        return change_status("DELETED")

    @bp.post("/edit-invoice")
    def edit_invoice():
        data = body()
        with store.lock:
            org = org_of(data)
            invoice = invoice_of(org, data) if org else None
            if invoice is None:
                return fail("Unknown org or invoice.", 404)
            changes = {}
            if data.get("unit_amount") is not None:
                lines = [{k: v for k, v in line.items()
                          if k in ("LineItemID", "Description", "ItemCode", "Quantity",
                                   "UnitAmount", "DiscountRate", "AccountCode", "TaxType",
                                   "Tracking")}
                         for line in invoice.get("LineItems", [])]
                index = int(data.get("line", 0))
                if not 0 <= index < len(lines):
                    return fail("No such line.")
                lines[index]["UnitAmount"] = data["unit_amount"]
                changes["LineItems"] = lines
            if data.get("contact_id"):
                changes["Contact"] = {"ContactID": data["contact_id"]}
            saved, errors, _ = documents.write(org, documents.INVOICE, changes, "POST",
                                               sandbox.kit.clock.now(), 4, store.new_id,
                                               invoice["InvoiceID"])
            if errors:
                return fail(" ".join(errors), 409)
            return respond(wire.document(saved, org, documents.INVOICE))

    @bp.post("/delete-payment")
    def delete_payment():
        data = body()
        with store.lock:
            org = org_of(data)
            payment = org.payments.get(str(data.get("payment_id") or "").lower()) if org else None
            if payment is None:
                return fail("Unknown org or payment.", 404)
            errors = payments.delete(org, payment, sandbox.kit.clock.now())
            if errors:
                return fail(" ".join(errors), 409)
            return respond(wire.payment(payment, org))

    @bp.post("/edit-contact")
    def edit_contact():
        data = body()
        with store.lock:
            org = org_of(data)
            found = None
            if org is not None:
                found = contacts.find_by_id(org, data.get("contact_id")) or \
                    contacts.find_by_number(org, data.get("contact_number"))
            if found is None:
                return fail("Unknown org or contact.", 404)
            changes = {k: v for k, v in data.items() if k in contacts.SETTABLE}
            saved, errors, _ = contacts.write(org, changes, "POST", sandbox.kit.clock.now(),
                                              store.new_id, found["ContactID"])
            if errors:
                return fail(" ".join(errors), 409)
            return respond(wire.contact(saved))

    @bp.post("/revoke-connection")
    def revoke_connection():
        data = body()
        org = org_of(data)
        if org is None:
            return fail("Unknown org: send tenant_id or org (its name).", 404)
        removed = [c for c, v in identity.connections.items() if v["tenantId"] == org.tenant_id]
        for conn_id in removed:
            del identity.connections[conn_id]
        return respond({"removed": removed})

    @bp.post("/expire-token")
    def expire_token():
        data = body()
        token = data.get("access_token")
        if token:
            claims = identity.read_access_token(str(token))
            if claims is None:
                return fail("Not a token this sandbox issued.")
            identity.expired_jtis.add(claims["jti"])
        else:
            identity.expire_all()
        return respond({"expired": True})

    return bp
