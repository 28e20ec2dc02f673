"""The Accounting API under /api.xro/2.0: the guard every call passes (token, tenant,
scope, limits, Idempotency-Key) and the resources Ferry uses.

Responses carry Xero's envelope (`Id`, `Status`, `ProviderName`, `DateTimeUTC`) around
the plural list (`{"Invoices": [...]}`); `pagination` appears when `page` is asked for.
A list of invoices or credit notes without `page` leaves out LineItems, as Xero does;
one document fetched by id or number, or a page, includes them.
"""
from __future__ import annotations

import functools
import uuid

from flask import Blueprint, Response, g, request

from . import contacts, documents, lookup, payments, wire
from .dates import ms_date, parse_timestamp
from .documents import CREDIT_NOTE, INVOICE
from .errors import not_found, post_data_invalid, problem, validation_exception
from .identity import check_access_token
from .idempotency import MAX_KEY_LENGTH, fingerprint
from .jsonio import loads, respond
from .where import WhereError, compile_where

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
PROVIDER = "Ferry"

# Which scopes open which area: (full scope(s), read-only scope(s)).
SCOPES = {
    "settings": ({"accounting.settings"}, {"accounting.settings.read"}),
    "contacts": ({"accounting.contacts"}, {"accounting.contacts.read"}),
    "invoices": ({"accounting.transactions", "accounting.invoices"},
                 {"accounting.transactions.read", "accounting.invoices.read"}),
    "payments": ({"accounting.transactions", "accounting.payments"},
                 {"accounting.transactions.read", "accounting.payments.read"}),
}


def envelope(key: str, items: list, pagination: dict | None = None) -> dict:
    body = {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": PROVIDER,
            "DateTimeUTC": ms_date(g.now)}
    if pagination is not None:
        body["pagination"] = pagination
    body[key] = items
    return body


class ApiError(Exception):
    def __init__(self, response: Response):
        self.response = response


def query_parse_error(message: str) -> Response:
    return respond({"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}, 400)


def blueprint(sandbox) -> Blueprint:
    store, identity, limits, keys = sandbox.store, sandbox.identity, sandbox.limits, sandbox.keys
    bp = Blueprint("xero_api", __name__, url_prefix="/api.xro/2.0")

    def guarded(area: str):
        def wrap(handler):
            @functools.wraps(handler)
            def view(**kwargs):
                try:
                    return run(area, handler, kwargs)
                except ApiError as exc:
                    return exc.response
            return view
        return wrap

    def run(area, handler, kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return problem(401, "Unauthorized", "AuthenticationUnsuccessful",
                           {"WWW-Authenticate": "Bearer"})
        claims, error = check_access_token(identity, header[7:].strip())
        if error:
            return error
        tenant_id = (request.headers.get("xero-tenant-id") or "").strip().lower()
        org = store.org(tenant_id)
        if org is None or not identity.connected(org.tenant_id):
            return problem(403, "Forbidden", "AuthenticationUnsuccessful")
        full, read = SCOPES[area]
        granted = set(claims.get("scope", []))
        writing = request.method != "GET"
        if not granted & (full if writing else full | read):
            return problem(401, "Unauthorized", "AuthorizationUnsuccessful")
        if "json" not in request.headers.get("Accept", ""):
            return Response("This sandbox answers in JSON only: send Accept: application/json "
                            "(Xero would answer in XML).", status=406, mimetype="text/plain")
        trouble, retry_after, limit_headers = limits.acquire(org.tenant_id)
        if trouble:
            limit_headers.update({"X-Rate-Limit-Problem": trouble, "Retry-After": str(retry_after)})
            return Response(status=429, headers=limit_headers)
        try:
            with store.lock:
                g.now = sandbox.kit.clock.now()
                g.org = org
                response = idempotent(org, lambda: handler(org, **kwargs)) if writing \
                    else handler(org, **kwargs)
        finally:
            limits.release(org.tenant_id)
        response.headers.update(limits.headers(org.tenant_id))
        return response

    def idempotent(org, produce):
        key = request.headers.get("Idempotency-Key")
        if not key:
            return produce()
        if len(key) > MAX_KEY_LENGTH:
            return respond({"ErrorNumber": 10, "Type": "ValidationException",
                            "Message": f"Idempotency-Key must be at most {MAX_KEY_LENGTH} "
                                       "characters."}, 400)
        fp = fingerprint(request.method, request.path, request.query_string.decode(),
                         request.get_data())
        stored = keys.find(org.tenant_id, key)
        if stored is not None:
            if stored.fingerprint != fp:
                return respond({"ErrorNumber": 10, "Type": "ValidationException",
                                "Message": "The Idempotency-Key has already been used with a "
                                           "different request."}, 400)
            return Response(stored.body, status=stored.status, headers=stored.headers,
                            mimetype="application/json")
        response = produce()
        keys.remember(org.tenant_id, key, fp, response.status_code,
                      {k: v for k, v in response.headers.items()
                       if k.lower() not in {"content-length", "content-type"}},
                      response.get_data())
        return response

    # -- reading helpers ---------------------------------------------------------------------
    def unitdp() -> int:
        return 4 if request.args.get("unitdp") == "4" else 2

    def csv_arg(name: str) -> list[str]:
        raw = request.args.get(name, "")
        return [part.strip() for part in raw.split(",") if part.strip()]

    def listing(key: str, type_name: str, rows: list[dict], fields: set[str], *,
                id_key: str | None = None, number_key: str | None = None,
                pageable: bool = True) -> Response:
        """Apply If-Modified-Since, IDs, where, order and page to wire rows."""
        since = parse_timestamp(request.headers.get("If-Modified-Since"))
        if since is not None:
            rows = [r for r in rows if r.get("UpdatedDateUTC")
                    and parse_timestamp(r["UpdatedDateUTC"]) >= since]
        if id_key and csv_arg("IDs"):
            wanted = {i.lower() for i in csv_arg("IDs")}
            rows = [r for r in rows if r[id_key].lower() in wanted]
        if number_key and csv_arg(number_key + "s"):
            wanted = {n.lower() for n in csv_arg(number_key + "s")}
            rows = [r for r in rows if (r.get(number_key) or "").lower() in wanted]
        if csv_arg("Statuses"):
            wanted = set(csv_arg("Statuses"))
            rows = [r for r in rows if r.get("Status") in wanted]
        if csv_arg("ContactIDs"):
            wanted = {i.lower() for i in csv_arg("ContactIDs")}
            rows = [r for r in rows if r.get("Contact", {}).get("ContactID", "").lower() in wanted]
        if request.args.get("where"):
            try:
                predicate = compile_where(request.args["where"], fields, type_name)
            except WhereError as exc:
                raise ApiError(query_parse_error(str(exc))) from None
            rows = [r for r in rows if predicate(r)]
        rows = ordered(rows, fields)
        if not pageable or "page" not in request.args:
            return respond(envelope(key, rows))
        try:
            page = max(1, int(request.args["page"]))
            size = min(MAX_PAGE_SIZE, max(1, int(request.args.get("pageSize", PAGE_SIZE))))
        except ValueError:
            raise ApiError(query_parse_error("page and pageSize must be whole numbers")) from None
        count = len(rows)
        pagination = {"page": page, "pageSize": size, "pageCount": -(-count // size),
                      "itemCount": count}
        return respond(envelope(key, rows[(page - 1) * size: page * size], pagination))

    def ordered(rows, fields):
        order = request.args.get("order", "").strip()
        if not order:
            return rows
        name, _, direction = order.partition(" ")
        if name not in fields:
            raise ApiError(query_parse_error(
                f"No property or field '{name}' exists in the ordering"))

        def sort_key(row):
            value = row.get(name)
            if isinstance(value, str) and value.startswith("/Date("):
                return (0, parse_timestamp(value))
            return (0 if value is not None else 1, value if value is not None else "")
        return sorted(rows, key=sort_key, reverse=direction.strip().upper() == "DESC")

    def body_items(plural: str) -> list:
        try:
            data = loads(request.get_data() or b"null")
        except ValueError as exc:
            raise ApiError(post_data_invalid(f"JSON for post data was invalid, {exc}")) from None
        if isinstance(data, dict) and isinstance(data.get(plural), list):
            return data[plural]
        if isinstance(data, dict) and plural not in data:
            return [data]
        raise ApiError(post_data_invalid(
            f"JSON for post data was invalid: expected an object or {{\"{plural}\": [...]}}"))

    def summarize() -> bool:
        return request.args.get("summarizeErrors", "true").lower() != "false"

    def batch_response(plural: str, results, render, error_flag: str) -> Response:
        """Xero's two answers to a batch: 200 with per-element status when
        summarizeErrors=false, otherwise 400 listing the failed elements if any failed."""
        elements, failed = [], []
        for record, errors, echo in results:
            if errors:
                element = render(echo, failed=True)
                element[error_flag] = True
                element["ValidationErrors"] = [{"Message": m} for m in errors]
                element["StatusAttributeString"] = "ERROR"
                failed.append(element)
            else:
                element = render(record, failed=False)
                if not summarize():
                    element["StatusAttributeString"] = "OK"
            elements.append(element)
        if failed and summarize():
            return validation_exception(failed)
        return respond(envelope(plural, elements))

    # -- settings ------------------------------------------------------------------------------
    @bp.get("/Organisation")
    @guarded("settings")
    def organisation(org):
        return respond(envelope("Organisations", [wire.organisation(org)]))

    @bp.get("/Accounts")
    @bp.get("/Accounts/<account_id>")
    @guarded("settings")
    def accounts(org, account_id=None):
        rows = [wire.account(a) for a in org.accounts]
        if account_id:
            rows = [r for r in rows if r["AccountID"] == account_id.lower()]
            if not rows:
                return not_found()
        return listing("Accounts", "Account", rows, set(ACCOUNT_FIELDS), pageable=False)

    @bp.get("/TaxRates")
    @bp.get("/TaxRates/<tax_type>")
    @guarded("settings")
    def tax_rates(org, tax_type=None):
        rows = [wire.tax_rate(t) for t in org.tax_rates]
        wanted = tax_type or request.args.get("TaxType")
        if wanted:
            rows = [r for r in rows if r["TaxType"] == wanted]
        return listing("TaxRates", "TaxRate", rows, set(TAX_RATE_FIELDS), pageable=False)

    @bp.get("/TrackingCategories")
    @bp.get("/TrackingCategories/<category_id>")
    @guarded("settings")
    def tracking_categories(org, category_id=None):
        rows = [wire.plain(c) for c in org.tracking]
        if category_id:
            rows = [r for r in rows if r["TrackingCategoryID"] == category_id.lower()]
            if not rows:
                return not_found()
        return listing("TrackingCategories", "TrackingCategory", rows,
                       {"Name", "Status", "TrackingCategoryID"}, pageable=False)

    @bp.get("/Currencies")
    @guarded("settings")
    def currencies(org):
        return listing("Currencies", "Currency", [dict(c) for c in org.currencies],
                       {"Code", "Description"}, pageable=False)

    # -- contacts --------------------------------------------------------------------------
    @bp.get("/Contacts")
    @bp.get("/Contacts/<contact_ref>")
    @guarded("contacts")
    def get_contacts(org, contact_ref=None):
        if contact_ref:
            found = contacts.find_by_id(org, contact_ref) or contacts.find_by_number(org, contact_ref)
            if found is None:
                return not_found()
            return respond(envelope("Contacts", [wire.contact(found)]))
        records = list(org.contacts.values())
        if request.args.get("includeArchived", "").lower() != "true" and not csv_arg("IDs"):
            records = [c for c in records if c["ContactStatus"] != "ARCHIVED"]
        term = request.args.get("searchTerm", "").strip().lower()
        if term:
            records = [c for c in records if any(
                term in str(c.get(f) or "").lower() for f in
                ("Name", "FirstName", "LastName", "ContactNumber", "CompanyNumber", "EmailAddress"))]
        return listing("Contacts", "Contact", [wire.contact(c) for c in records],
                       set(CONTACT_FIELDS), id_key="ContactID")

    @bp.put("/Contacts")
    @bp.post("/Contacts")
    @bp.post("/Contacts/<contact_id>")
    @guarded("contacts")
    def write_contacts(org, contact_id=None):
        items = body_items("Contacts")
        results = [contacts.write(org, raw, request.method, g.now, store.new_id, contact_id)
                   for raw in items]
        if contact_id and results and results[0][1] and results[0][1][0].endswith("could not be found."):
            return not_found()
        return batch_response("Contacts", results,
                              lambda rec, failed: wire.plain(rec) if failed else wire.contact(rec),
                              "HasValidationErrors")

    def narrowed(kind, records: dict) -> list[dict]:
        """The stored documents an id, number or status filter can match, picked before
        rendering: a look-up of 50 numbers must not render every document of the org.
        `listing` applies the same filters again to the rendered rows."""
        docs = list(records.values())
        if csv_arg("IDs"):
            docs = [records[i.lower()] for i in csv_arg("IDs") if i.lower() in records]
        if csv_arg(kind.number_key + "s"):
            wanted = {n.lower() for n in csv_arg(kind.number_key + "s")}
            docs = [d for d in docs if (d.get(kind.number_key) or "").lower() in wanted]
        if csv_arg("Statuses"):
            wanted = set(csv_arg("Statuses"))
            docs = [d for d in docs if d.get("Status") in wanted]
        return docs

    # -- invoices and credit notes ------------------------------------------------------------------
    def document_routes(kind, plural, fields):
        def render(doc, failed=False):
            out = wire.document(doc, g.org, kind, unitdp=unitdp())
            out["HasErrors"] = failed
            return out

        @guarded("invoices")
        def get_documents(org, ref=None):
            records = kind.records(org)
            if ref:
                found = records.get(ref.lower()) or next(
                    (d for d in lookup.documents_numbered(org, kind, ref.lower())
                     if (d.get(kind.number_key) or "").lower() == ref.lower()), None)
                if found is None:
                    return not_found()
                return respond(envelope(plural, [render(found)]))
            with_lines = "page" in request.args and request.args.get("summaryOnly") != "true"
            rows = [wire.document(d, org, kind, with_lines=with_lines, unitdp=unitdp())
                    for d in narrowed(kind, records)]
            return listing(plural, kind.label, rows, fields, id_key=kind.id_key,
                           number_key=kind.number_key)

        @guarded("invoices")
        def write_documents(org, ref=None):
            if ref and kind.records(org).get(ref.lower()) is None:
                return not_found()
            items = body_items(plural)
            results = [documents.write(org, kind, raw, request.method, g.now, unitdp(),
                                       store.new_id, ref) for raw in items]
            return batch_response(plural, results, render, "HasErrors")

        bp.add_url_rule(f"/{plural}", f"get_{plural}", get_documents, methods=["GET"])
        bp.add_url_rule(f"/{plural}/<ref>", f"get_one_{plural}", get_documents, methods=["GET"])
        bp.add_url_rule(f"/{plural}", f"write_{plural}", write_documents, methods=["PUT", "POST"])
        bp.add_url_rule(f"/{plural}/<ref>", f"update_{plural}", write_documents, methods=["POST"])

    document_routes(INVOICE, "Invoices", set(INVOICE_FIELDS))
    document_routes(CREDIT_NOTE, "CreditNotes", set(CREDIT_NOTE_FIELDS))

    @bp.put("/CreditNotes/<note_id>/Allocations")
    @guarded("invoices")
    def allocate(org, note_id):
        note = org.credit_notes.get(note_id.lower())
        if note is None:
            return not_found()
        results = []
        for raw in body_items("Allocations"):
            allocation, errors = payments.allocate(org, note, raw, g.now, store.new_id)
            results.append((allocation, errors, raw))

        def render(rec, failed):
            return wire.plain(rec) if failed else wire.allocation_result(org, rec, note)
        return _allocations_response(results, render)

    def _allocations_response(results, render):
        # Allocations carry StatusAttributeString and ValidationErrors but no error flag.
        elements, failed = [], []
        for record, errors, echo in results:
            if errors:
                element = render(echo, True)
                element.update(StatusAttributeString="ERROR",
                               ValidationErrors=[{"Message": m} for m in errors])
                failed.append(element)
            else:
                element = render(record, False)
                if not summarize():
                    element["StatusAttributeString"] = "OK"
            elements.append(element)
        if failed and summarize():
            return validation_exception(failed)
        return respond(envelope("Allocations", elements))

    # -- payments and overpayments ----------------------------------------------------------------
    @bp.get("/Payments")
    @bp.get("/Payments/<payment_id>")
    @guarded("payments")
    def get_payments(org, payment_id=None):
        rows = [wire.payment(p, org) for p in org.payments.values()]
        if payment_id:
            rows = [r for r in rows if r["PaymentID"] == payment_id.lower()]
            if not rows:
                return not_found()
            return respond(envelope("Payments", rows))
        return listing("Payments", "Payment", rows, set(PAYMENT_FIELDS))

    @bp.put("/Payments")
    @bp.post("/Payments")      # createPayment: one Payment object (or the wrapper)
    @guarded("payments")
    def create_payments(org):
        results = [payments.create(org, raw, g.now, store.new_id)
                   for raw in body_items("Payments")]

        def render(rec, failed):
            return wire.plain(rec) if failed else wire.payment(rec, org)
        return batch_response("Payments", results, render, "HasValidationErrors")

    @bp.post("/Payments/<payment_id>")
    @guarded("payments")
    def delete_payment(org, payment_id):
        payment = org.payments.get(payment_id.lower())
        if payment is None:
            return not_found()
        items = body_items("Payments")
        if len(items) != 1 or not isinstance(items[0], dict) or items[0].get("Status") != "DELETED":
            errors = ["Payments can only be deleted: send {\"Status\": \"DELETED\"}."]
        else:
            errors = payments.delete(org, payment, g.now)
        result = [(payment, errors, wire.payment(payment, org))]
        return batch_response("Payments", result,
                              lambda rec, failed: rec if failed else wire.payment(rec, org),
                              "HasValidationErrors")

    @bp.get("/Overpayments")
    @bp.get("/Overpayments/<overpayment_id>")
    @guarded("payments")
    def get_overpayments(org, overpayment_id=None):
        rows = [wire.overpayment(o, org) for o in org.overpayments.values()]
        if overpayment_id:
            rows = [r for r in rows if r["OverpaymentID"] == overpayment_id.lower()]
            if not rows:
                return not_found()
        return listing("Overpayments", "Overpayment", rows, set(OVERPAYMENT_FIELDS))

    @bp.get("/Prepayments")
    @bp.get("/Prepayments/<prepayment_id>")
    @guarded("payments")
    def get_prepayments(org, prepayment_id=None):
        rows = [wire.prepayment(o, org) for o in org.prepayments.values()]
        if prepayment_id:
            rows = [r for r in rows if r["PrepaymentID"] == prepayment_id.lower()]
            if not rows:
                return not_found()
        return listing("Prepayments", "Prepayment", rows, set(PREPAYMENT_FIELDS))

    def allocate_received(org, kind, table, source_id):
        source = table.get(source_id.lower())
        if source is None:
            return not_found()
        results = []
        for raw in body_items("Allocations"):
            allocation, errors = payments.allocate_received(org, kind, source, raw, g.now,
                                                            store.new_id)
            results.append((allocation, errors, raw))

        def render(rec, failed):
            if failed:
                return wire.plain(rec) if isinstance(rec, dict) else {}
            out = next(a for a in wire.received(source, org, kind)["Allocations"]
                       if a["AllocationID"] == rec["AllocationID"])
            out[kind] = {f"{kind}ID": source[f"{kind}ID"]}
            return out
        return _allocations_response(results, render)

    @bp.put("/Overpayments/<overpayment_id>/Allocations")
    @guarded("payments")
    def allocate_overpayment(org, overpayment_id):
        return allocate_received(org, "Overpayment", org.overpayments, overpayment_id)

    @bp.put("/Prepayments/<prepayment_id>/Allocations")
    @guarded("payments")
    def allocate_prepayment(org, prepayment_id):
        return allocate_received(org, "Prepayment", org.prepayments, prepayment_id)

    return bp


# Field names the `where` and `order` parameters may use (the wire properties).
ACCOUNT_FIELDS = ["AccountID", "Code", "Name", "Status", "Type", "TaxType", "Class",
                  "EnablePaymentsToAccount", "ShowInExpenseClaims", "SystemAccount",
                  "BankAccountNumber", "CurrencyCode", "UpdatedDateUTC"]
TAX_RATE_FIELDS = ["Name", "TaxType", "Status", "ReportTaxType", "EffectiveRate",
                   "DisplayTaxRate", "CanApplyToRevenue", "CanApplyToExpenses"]
CONTACT_FIELDS = ["ContactID", "ContactNumber", "AccountNumber", "ContactStatus", "Name",
                  "FirstName", "LastName", "EmailAddress", "IsSupplier", "IsCustomer",
                  "UpdatedDateUTC", "CompanyNumber", "TaxNumber", "DefaultCurrency"]
INVOICE_FIELDS = ["Type", "InvoiceID", "InvoiceNumber", "Reference", "Contact", "Date",
                  "DueDate", "Status", "LineAmountTypes", "CurrencyCode", "CurrencyRate",
                  "SubTotal", "TotalTax", "Total", "AmountDue", "AmountPaid", "AmountCredited",
                  "UpdatedDateUTC", "FullyPaidOnDate", "SentToContact", "HasAttachments"]
CREDIT_NOTE_FIELDS = ["Type", "CreditNoteID", "CreditNoteNumber", "Reference", "Contact",
                      "Date", "DueDate", "Status", "LineAmountTypes", "CurrencyCode",
                      "CurrencyRate", "SubTotal", "TotalTax", "Total", "RemainingCredit",
                      "UpdatedDateUTC", "FullyPaidOnDate", "SentToContact"]
PAYMENT_FIELDS = ["PaymentID", "Date", "Amount", "Reference", "Status", "PaymentType",
                  "UpdatedDateUTC", "Invoice", "CreditNote", "Account", "IsReconciled",
                  "CurrencyRate"]
OVERPAYMENT_FIELDS = ["OverpaymentID", "Type", "Contact", "Date", "Status", "Total",
                      "RemainingCredit", "UpdatedDateUTC", "CurrencyCode"]
PREPAYMENT_FIELDS = ["PrepaymentID", "Type", "Contact", "Date", "Status", "Total",
                     "RemainingCredit", "UpdatedDateUTC", "CurrencyCode"]
