"""The Flask app behind the sandbox: `/login/companyinfo`, the `apis/3.0` routes and the
test-only `/_sandbox/` actions. Module docstring of the package lists them all."""
from __future__ import annotations

import math
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask import Flask, Response, request

from sandbox.kit import basic_auth

from . import conditions as cond
from . import data, glexport, jsonout, listing
from .data import ZERO

CODEBASE = "v4_6_release/"
API_VERSION = "2025.8"
VERSION_RE = re.compile(r"^\d{4}\.\d{1,2}$")
CW_MEDIA = "application/vnd.connectwise.com+json"

# Plain tables served as lists with /count and /{id}.
TABLES = ["company/companies", "company/contacts", "system/locations", "system/departments",
          "system/members", "finance/taxCodes", "finance/currencies", "finance/glAccounts",
          "finance/invoices", "procurement/purchaseorders", "expense/entries",
          "system/callbacks", "finance/accounting/batches"]
UNPOSTED = {"finance/accounting/unpostedinvoices": "invoices",
            "finance/accounting/unpostedprocurement": "procurement",
            "finance/accounting/unpostedexpenses": "expenses"}
UNPOSTED_NAMES = {"finance/accounting/unpostedinvoices": "UnpostedInvoice",
                  "finance/accounting/unpostedprocurement": "UnpostedProcurement",
                  "finance/accounting/unpostedexpenses": "UnpostedExpense"}
# Areas a member without finance rights may not read (the read-only key pair).
FINANCE_AREAS = ("finance/", "procurement/", "expense/")
# The CW object name used in error messages, by table.
OBJECT_NAMES = {"company/companies": "Company", "company/contacts": "Contact",
                "system/locations": "Location", "system/departments": "Department",
                "system/members": "Member", "finance/taxCodes": "TaxCode",
                "finance/currencies": "Currency", "finance/glAccounts": "GLAccount",
                "finance/invoices": "Invoice", "procurement/purchaseorders": "PurchaseOrder",
                "expense/entries": "ExpenseEntry", "system/callbacks": "Callback",
                "finance/accounting/batches": "AccountingBatch"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, errors: list | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors, self.headers = errors, headers or {}


def invalid(resource: str, field_: str, message: str, code: str = "InvalidField") -> ApiError:
    """CW's 400 for a request it understood but will not accept."""
    return ApiError(400, "InvalidObject", f"{resource} object is invalid",
                    [{"code": code, "message": message, "resource": resource,
                      "field": field_}])


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(jsonout.dumps(body), status=status, headers=headers or {},
                    content_type="application/json; charset=utf-8")


@dataclass
class Settings:
    company: str
    public_key: str
    private_key: str
    client_id: str
    readonly_public_key: str
    readonly_private_key: str
    rate_limit_per_minute: int | None


@dataclass
class RateWindow:
    """Requests in the last minute, on the kit's clock (so tests can move time)."""
    times: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, now: float, limit: int) -> int | None:
        """None if admitted, else the whole seconds to wait."""
        with self.lock:
            while self.times and self.times[0] <= now - 60:
                self.times.popleft()
            if len(self.times) >= limit:
                return max(1, math.ceil(self.times[0] + 60 - now))
            self.times.append(now)
            return None


class Sandbox:
    """State shared by the routes: the store (rebuilt on reset), settings and the kit."""

    def __init__(self, seed: int, scale: int, settings: Settings):
        self.seed, self.scale, self.settings = seed, scale, settings
        self.kit = None
        self.rate = RateWindow()
        from .callbacks import Callbacks
        self.callbacks = Callbacks(self, seed)
        self.reset()

    def reset(self) -> None:
        self.store = data.generate(self.seed, self.scale)
        # A second generator, on its own random stream, makes what /_sandbox/ actions add.
        self.generator = data.Generator(self.store)
        self.generator.rng.seed(self.seed + 1)
        self._index_reference()
        self.paths: dict[str, dict] = {}
        self.rate = RateWindow()
        self.callbacks.reset()

    def _index_reference(self) -> None:
        g, s = self.generator, self.store
        for record in s.table("finance/taxCodes").values():
            g.tax[record["identifier"]] = (record, record["levelOneRate"] / 100)
        for record in s.table("finance/currencies").values():
            code = record["currencyIdentifier"]
            g.currency[code] = {
                "id": record["id"], "symbol": record["symbol"], "currencyCode": code,
                "decimalSeparator": ".", "numberOfDecimals": 2, "thousandsSeparator": ",",
                "negativeParenthesesFlag": False, "displaySymbolFlag": True,
                "currencyIdentifier": code, "displayIdFlag": code != "AUD",
                "rightAlign": False, "name": record["name"]}

    def now(self) -> datetime:
        return self.kit.clock.now()

    def known(self, key: str, records: list[dict]) -> dict:
        if key not in self.paths:
            self.paths[key] = cond.known_paths(records)
        return self.paths[key]

    def learn(self, key: str, record: dict) -> None:
        """A changed record may carry a field no record had before (applyToId...)."""
        if key in self.paths:
            self.paths[key].update(cond.known_paths([record]))


def create_flask_app(sandbox: Sandbox) -> Flask:
    app = Flask("sandbox.connectwise")
    settings = sandbox.settings

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        body = {"code": exc.code, "message": exc.message}
        if exc.errors:
            body["errors"] = exc.errors
        return json_response(body, exc.status, exc.headers)

    @app.errorhandler(404)
    def not_found(_exc):
        return json_response({"code": "NotFound",
                              "message": f"The resource {request.path} was not found"}, 404)

    @app.errorhandler(405)
    def not_allowed(_exc):
        return json_response({"code": "MethodNotAllowed",
                              "message": f"{request.method} is not supported here"}, 405)

    @app.get("/login/companyinfo/<company_id>")
    def company_info(company_id: str):
        # CW answers an unknown company with 200 and a JSON null body.
        if company_id.lower() != settings.company.lower():
            return json_response(None)
        host = request.host
        return json_response({
            "CompanyName": "Ferry Demo MSP", "Codebase": CODEBASE,
            "VersionCode": "v" + API_VERSION, "VersionNumber": "v4.6.116830",
            "CompanyID": settings.company, "IsCloud": False, "SiteUrl": host,
            "AllowAccessToCloudApps": False})

    def check_request(path: str) -> None:
        if settings.rate_limit_per_minute:
            wait = sandbox.rate.admit(sandbox.kit.clock.monotonic(),
                                      settings.rate_limit_per_minute)
            if wait is not None:
                raise ApiError(429, "TooManyRequests",
                               "Too many requests, please slow down and retry later.",
                               headers={"Retry-After": str(wait)})
        if not request.headers.get("clientId"):
            raise ApiError(400, "InvalidClientId",
                           "A clientId header is required: register one at "
                           "developer.connectwise.com and send it as 'clientId'.")
        accept = request.headers.get("Accept", "")
        if CW_MEDIA in accept:
            params = dict(p.strip().partition("=")[::2] for p in accept.split(";")[1:])
            version = params.get("version")
            if version is not None and not VERSION_RE.match(version.strip()):
                raise ApiError(400, "InvalidVersion",
                               f"'{version}' is not an API version; use e.g. version=2022.1")
        creds = basic_auth(request.headers.get("Authorization"))
        if creds is None:
            raise ApiError(401, "Unauthorized", "Authorization header is missing or invalid")
        user, password = creds
        company, _plus, public = user.partition("+")
        pairs = {settings.public_key: settings.private_key,
                 settings.readonly_public_key: settings.readonly_private_key}
        if (company.lower() != settings.company.lower() or public not in pairs
                or pairs[public] != password):
            raise ApiError(401, "Unauthorized", "Password does not match, or the public key "
                                                "is not valid for this company")
        if public == settings.readonly_public_key and path.startswith(FINANCE_AREAS):
            raise ApiError(403, "Security",
                           "You do not have security permission to perform this action.")

    @app.route(f"/{CODEBASE}apis/3.0/<path:path>", methods=["GET", "POST", "DELETE", "PUT",
                                                           "PATCH"])
    def api(path: str):
        path = path.strip("/")
        check_request(path)
        with sandbox.store.lock:
            response = dispatch(sandbox, path)
        response.headers["api-current-version"] = API_VERSION
        return response

    from .actions import register_actions
    register_actions(app, sandbox)
    from .callbacks import register as register_callbacks
    register_callbacks(app, sandbox)
    return app


def _base_url(path: str) -> str:
    return f"{request.host_url}{CODEBASE}apis/3.0/{path}"


def serve_list(sandbox: Sandbox, key: str, records: list[dict], path: str,
               counting: bool) -> Response:
    paths = sandbox.known(key, records)
    try:
        if counting:
            return json_response(listing.count(records, request.args, paths))
        page = listing.page(records, request.args, request.headers, _base_url(path), paths)
    except listing.ListError as exc:
        raise invalid(key.rsplit("/", 1)[-1], exc.field, exc.message,
                      "InvalidConditions" if exc.field not in ("pageSize", "page", "pageId",
                                                               "orderBy") else "InvalidField")
    headers = {"Link": page.links} if page.links else {}
    return json_response(page.items, headers=headers)


def not_found(name: str, record_id) -> ApiError:
    return ApiError(404, "NotFound", f"{name} with id {record_id} not found")


def body_json() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidObject", "The request body is not a JSON object")
    return body


def dispatch(sandbox: Sandbox, path: str) -> Response:
    store, method = sandbox.store, request.method
    parts = path.split("/")
    counting = parts[-1] == "count" and method == "GET"
    base = "/".join(parts[:-1]) if counting else path

    if base in UNPOSTED and method == "GET":
        return serve_list(sandbox, base, glexport.unposted(store, UNPOSTED[base]), path,
                          counting)
    m = re.fullmatch(r"(finance/accounting/unposted\w+)/(\d+)", path)
    if m and m.group(1) in UNPOSTED and method == "GET":
        record_id = int(m.group(2))
        found = next((r for r in glexport.unposted(store, UNPOSTED[m.group(1)])
                      if r.get("id") == record_id), None)
        if found is None:
            raise not_found(UNPOSTED_NAMES[m.group(1)], record_id)
        return json_response(found)
    if path == "finance/accounting/export" and method == "POST":
        return export(sandbox)
    if path == "finance/accounting/batches" and method == "POST":
        return create_batch(sandbox)
    if path == "system/callbacks" and method == "POST":
        return create_callback(sandbox)

    m = re.fullmatch(r"finance/invoices/(\d+)/payments(?:/(\d+|count))?", path)
    if m:
        return payments(sandbox, int(m.group(1)), m.group(2))
    m = re.fullmatch(r"procurement/purchaseorders/(\d+)/lineitems(?:/(\d+|count))?", path)
    if m and method == "GET":
        po_id = int(m.group(1))
        if po_id not in store.table("procurement/purchaseorders"):
            raise not_found("PurchaseOrder", po_id)
        lines = store.po_lines[po_id]
        if m.group(2) and m.group(2) != "count":
            line = next((x for x in lines if x["id"] == int(m.group(2))), None)
            if line is None:
                raise not_found("PurchaseOrderLineItem", m.group(2))
            return json_response(line)
        return serve_list(sandbox, "procurement/lineitems", lines, path,
                          m.group(2) == "count")

    if base in TABLES and method == "GET":
        return serve_list(sandbox, base, list(store.table(base).values()), path, counting)
    m = re.fullmatch(r"(.+)/(\d+)", path)
    if m and m.group(1) in TABLES:
        table, record_id = m.group(1), int(m.group(2))
        record = store.table(table).get(record_id)
        if record is None:
            raise not_found(OBJECT_NAMES[table], record_id)
        if method == "GET":
            return json_response(record)
        if method == "DELETE" and table == "system/callbacks":
            del store.table(table)[record_id]
            return Response(status=204)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {table}")
    raise ApiError(404, "NotFound", f"The resource {path} was not found")


# -- finance/invoices/{id}/payments ------------------------------------------------------
def _amount(value, resource: str, field_: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise invalid(resource, field_, f"{field_} must be a number") from None
    if not amount.is_finite():
        raise invalid(resource, field_, f"{field_} must be a number")
    return amount


def _date_field(value, resource: str, field_: str) -> str:
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(resource, field_, f"{field_} must be a date like 2026-01-31T00:00:00Z") \
            from None
    return when.strftime("%Y-%m-%dT00:00:00Z")


def payments(sandbox: Sandbox, invoice_id: int, tail: str | None) -> Response:
    """An invoice's payments. ConnectWise keeps one payment per invoice (sandbox/
    FIDELITY.md, "Payments"): a second POST is refused, and a payment's amount is changed
    with PUT or PATCH on payments/{id} (pyconnectwise's FinanceInvoicesIdPaymentsIdEndpoint
    has get, put, patch and delete). The balance follows: total - payments - credits."""
    store, method = sandbox.store, request.method
    invoice = store.table("finance/invoices").get(invoice_id)
    if invoice is None:
        raise not_found("Invoice", invoice_id)
    rows = store.payments[invoice_id]
    key = "finance/invoices/payments"
    if method == "GET" and tail in (None, "count"):
        return serve_list(sandbox, key, rows, request.path.split("apis/3.0/", 1)[1],
                          tail == "count")
    if method == "POST" and tail is None:
        body = body_json()
        if rows:
            raise invalid("payment", "invoice",
                          f"Invoice {invoice['invoiceNumber']} already has a payment; "
                          "only one payment is allowed per invoice (update it instead)",
                          "ObjectExists")
        if body.get("amount") is None:
            raise invalid("payment", "amount", "amount is required", "MissingRequiredField")
        amount = _payment_amount(body["amount"], invoice, ZERO)
        day = _date_field(body.get("paymentDate") or data.stamp(sandbox.now()), "payment",
                          "paymentDate")
        when = store.touch(sandbox.now())
        payment = data.add_payment(store, invoice, amount, day, when)
        payment["type"] = body.get("type") or "Payment"
        invoice["_info"]["lastUpdated"] = when
        sandbox.learn(key, payment)
        return json_response(payment, 201)
    if tail and tail != "count":
        payment = next((p for p in rows if p["id"] == int(tail)), None)
        if payment is None:
            raise not_found("Payment", tail)
        if method == "GET":
            return json_response(payment)
        if method in ("PUT", "PATCH"):
            changes = _payment_changes(method)
            amount = payment["amount"]
            if "amount" in changes:
                amount = _payment_amount(changes["amount"], invoice, payment["amount"])
            if "paymentDate" in changes:
                payment["paymentDate"] = _date_field(changes["paymentDate"], "payment",
                                                     "paymentDate")
            if "type" in changes and changes["type"]:
                payment["type"] = str(changes["type"])
            when = store.touch(sandbox.now())
            data.set_payment_amount(invoice, payment, amount, when)
            invoice["_info"]["lastUpdated"] = when
            return json_response(payment)
        if method == "DELETE":
            rows.remove(payment)
            data.set_payment_amount(invoice, payment, ZERO, None)
            invoice["_info"]["lastUpdated"] = store.touch(sandbox.now())
            return Response(status=204)
    raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on payments")


def _payment_amount(value, invoice: dict, current: Decimal) -> Decimal:
    """A payment amount CW accepts: positive and within the balance it may take."""
    amount = data.money(_amount(value, "payment", "amount"))
    if amount <= 0:
        raise invalid("payment", "amount", "amount must be greater than zero")
    room = invoice["balance"] + current
    if amount > room:
        raise invalid("payment", "amount", f"amount {amount} is more than the balance {room}")
    return amount


PAYMENT_WRITABLE = {"amount", "paymentDate", "type"}


def _payment_changes(method: str) -> dict:
    """PUT sends the payment; PATCH sends JSON Patch operations (CW's PatchOperation:
    op, path, value)."""
    if method == "PUT":
        body = body_json()
        return {k: v for k, v in body.items() if k in PAYMENT_WRITABLE}
    ops = request.get_json(silent=True)
    if not isinstance(ops, list):
        raise ApiError(400, "InvalidObject", "PATCH takes a list of operations")
    changes = {}
    for op in ops:
        path = str((op or {}).get("path") or "").strip("/")
        if (op or {}).get("op") != "replace" or path not in PAYMENT_WRITABLE:
            raise invalid("payment", path or "path", f"{path or 'this field'} cannot be "
                          "changed with this operation")
        changes[path] = op.get("value")
    return changes


# -- accounting ---------------------------------------------------------------------------
EXPORT_KEYS = {"batchIdentifier", "glInterfaceIdentifier", "summarizeInvoices",
               "exportInvoicesFlag", "exportExpensesFlag", "exportProductsFlag",
               "includedInvoiceIds", "excludedInvoiceIds", "includedExpenseIds",
               "excludedExpenseIds", "includedProductIds", "excludedProductIds",
               "locationId", "thruDate"}


def export(sandbox: Sandbox) -> Response:
    body = body_json()
    unknown = sorted(set(body) - EXPORT_KEYS)
    if unknown:
        raise invalid("batch", unknown[0], f"{unknown[0]} is not a field of the export request")
    summarize = body.get("summarizeInvoices")
    if summarize not in (None, "Default", "Condensed", "Detailed"):
        raise invalid("batch", "summarizeInvoices",
                      "summarizeInvoices must be Default, Condensed or Detailed")
    try:
        body["thruDate"] = glexport.parse_thru(body.get("thruDate"))
    except ValueError:
        raise invalid("batch", "thruDate", "thruDate must be a datetime") from None
    return json_response(glexport.export(sandbox.store, body, sandbox.now()))


BATCH_FLAGS = ("exportInvoicesFlag", "exportExpensesFlag", "exportProductsFlag")


def create_batch(sandbox: Sandbox) -> Response:
    store = sandbox.store
    body = body_json()
    ids = body.get("processedRecordIds")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
        raise invalid("batch", "processedRecordIds",
                      "processedRecordIds must be a non-empty list of record ids",
                      "MissingRequiredField")
    # CreateAccountingBatchRequest documents each flag as "Batch must export Invoices,
    # Expenses or Products" (FIDELITY.md 1.5).
    flags = {name: body.get(name) is True for name in BATCH_FLAGS}
    if not any(flags.values()):
        raise invalid("batch", "exportInvoicesFlag",
                      "Batch must export Invoices, Expenses or Products")
    ident = body.get("batchIdentifier") or f"BATCH{len(store.table('finance/accounting/batches')) + 1}"
    if any(b["batchIdentifier"].lower() == ident.lower()
           for b in store.table("finance/accounting/batches").values()):
        raise invalid("batch", "batchIdentifier",
                      f"A batch with identifier {ident} already exists", "ObjectExists")
    bad, off = glexport.refused(store, ids, flags)
    if bad:
        raise invalid("batch", "processedRecordIds",
                      f"Record ids not found or already posted: "
                      f"{', '.join(map(str, bad[:10]))}")
    if off:
        raise invalid("batch", "processedRecordIds",
                      f"Record ids of a kind this batch does not export (set its export "
                      f"flag): {', '.join(map(str, off[:10]))}")
    glexport.post(store, ids)
    when = store.touch(sandbox.now())
    batch = store.add("finance/accounting/batches", {
        "batchIdentifier": ident, **flags,
        "closedFlag": True, "_info": {"lastUpdated": when, "dateEntered": when,
                                      "enteredBy": "ferryapi"}})
    return json_response(batch, 201)


def create_callback(sandbox: Sandbox) -> Response:
    store = sandbox.store
    body = body_json()
    for name in ("url", "type", "level"):
        if not body.get(name):
            raise invalid("callback", name, f"{name} is required", "MissingRequiredField")
    same = ("url", "type", "level", "objectId")
    if any(all(c.get(k) == body.get(k) for k in same)
           for c in store.table("system/callbacks").values()):
        raise invalid("callback", "url", "A callback for this url, type, level and object "
                                         "already exists", "ObjectExists")
    record = store.add("system/callbacks", {
        "description": body.get("description", ""), "url": body["url"],
        "objectId": int(body.get("objectId") or 0), "type": body["type"],
        "level": body["level"], "memberId": 101, "payloadVersion":
            body.get("payloadVersion", "2022.1"), "inactiveFlag": bool(body.get("inactiveFlag")),
        "isSoapCallbackFlag": False, "isSelfSuppressedFlag": bool(
            body.get("isSelfSuppressedFlag")),
        "_info": {"lastUpdated": store.touch(sandbox.now())}})
    sandbox.callbacks.registered()
    return json_response(record, 201)


def parse_day(value: str) -> date:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
