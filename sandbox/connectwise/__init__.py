"""A ConnectWise Manage (PSA) REST API simulator for Ferry's demo and tests.

Run it:  python -m sandbox.connectwise --port 8201 --seed 1 [--scale N]
         [--company ferrydemo --public-key ferrypublic --private-key ferryprivate
          --client-id 5f2d0c1e-7a44-4b0e-9c55-3f0a8e6d2b11] [--rate-limit 600]
Import:  from sandbox.connectwise import create_app
         app = create_app(seed=1)       # kit-wrapped WSGI app; app.kit, app.sandbox

Default credentials (what the banner prints):
  company ferrydemo, public key ferrypublic, private key ferryprivate,
  client id 5f2d0c1e-7a44-4b0e-9c55-3f0a8e6d2b11 (any non-empty clientId is accepted).
  A second pair, ferryreadonly / ferryreadonlyprivate, belongs to a member without
  finance rights: finance/, procurement/ and expense/ answer 403 for it.

The API (base /v4_6_release/apis/3.0/, Basic auth "company+public:private", header
clientId, Accept application/vnd.connectwise.com+json; version=YYYY.N optional):
  GET  /login/companyinfo/{company}            (no auth; JSON null for an unknown company)
  GET  company/companies, company/contacts, system/locations, system/departments,
       system/members, finance/taxCodes, finance/currencies, finance/glAccounts,
       finance/invoices, procurement/purchaseorders, expense/entries, system/callbacks,
       finance/accounting/batches   (+ /count and /{id})
  GET  finance/accounting/unpostedinvoices | unpostedprocurement | unpostedexpenses
       (+ /count and /{id})
  GET|POST finance/invoices/{id}/payments (one payment per invoice: a second POST is
       refused), GET|PUT|PATCH|DELETE .../payments/{paymentId}
  GET  procurement/purchaseorders/{id}/lineitems (+ /count, /{lineId})
  POST finance/accounting/export   ExportAccountingBatchRequest -> GLExport (preview)
  POST finance/accounting/batches  {"processedRecordIds": [GL entry ids]} posts them
  POST system/callbacks, DELETE system/callbacks/{id}
Lists take conditions, orderBy, fields, page, pageSize (25 default, 1000 max) and answer
with a Link header; `pagination-type: forward-only` pages by `pageId` instead.
Over --rate-limit requests a minute (kit clock) the answer is 429 with Retry-After.

The accounting interface follows CW's documented GLExport samples (sandbox/FIDELITY.md
section 1): ledger signs (an INVOICE's total positive, its revenue and sales-tax lines
negative; a credit memo the other way), one purchase transaction per PO and packing slip
(`id` "PO #<po>, Packing Slip: <slip>"), opaque unposted/transaction ids and
unpostedProductId, and no thruDate meaning today. Posting: `processedRecordIds` names GL
entries (an invoice's `glEntryIds` and detail ids, a purchase transaction's detail and
tax line ids, an expense's id); naming any entry of a document posts the document; the
batch must set the export flag of each kind it posts.

Test-only actions (JSON POSTs; the kit's own /_sandbox/ endpoints are in sandbox.kit):
  /_sandbox/invoices/{id}/edit        {"line": 0, "itemPrice", "quantity", "description",
                                       "dueDate"}  -> _info.lastUpdated moves
  /_sandbox/invoices/{id}/close       the invoice joins the unposted invoices
  /_sandbox/invoices/{id}/credit-memo {"amount"}  a closed credit memo (applyToId = id)
  /_sandbox/invoices                  {"companyName", "identifier", "location",
                                       "currency", "taxCode", "amount", "quantity",
                                       "closed", "date", "type"}
  /_sandbox/purchaseorders/{id}/lineitems/{lineId}/receive {"quantity", "packingSlip"}
  /_sandbox/expenses                  {"memberId", "companyId", "amount", "type"}
Fault kinds added to the kit: "429" (CW's throttling answer with Retry-After).
"""
from __future__ import annotations

from .api import ApiError, Sandbox, Settings, create_flask_app, json_response

DEFAULTS = {"company": "ferrydemo", "public_key": "ferrypublic",
            "private_key": "ferryprivate",
            "client_id": "5f2d0c1e-7a44-4b0e-9c55-3f0a8e6d2b11"}
READONLY = ("ferryreadonly", "ferryreadonlyprivate")


def create_app(seed: int = 1, scale: int = 1, company: str = DEFAULTS["company"],
               public_key: str = DEFAULTS["public_key"],
               private_key: str = DEFAULTS["private_key"],
               client_id: str = DEFAULTS["client_id"],
               rate_limit_per_minute: int | None = None):
    """The kit-wrapped WSGI app. `.kit` is the Kit, `.sandbox` the state (store, settings),
    `.flask` the bare Flask app."""
    from sandbox.kit import Kit

    settings = Settings(company, public_key, private_key, client_id, *READONLY,
                        rate_limit_per_minute)
    sandbox = Sandbox(seed, scale, settings)
    kit = Kit("ConnectWise", sandbox.reset, seed)
    sandbox.kit = kit

    def throttled(_request, _rule):
        return json_response({"code": "TooManyRequests",
                              "message": "Too many requests, please slow down and retry "
                                         "later."}, 429, {"Retry-After": "2"})
    kit.fault_handlers["429"] = throttled
    flask_app = create_flask_app(sandbox)
    wrapped = kit.wrap(flask_app)
    wrapped.kit, wrapped.sandbox, wrapped.flask = kit, sandbox, flask_app
    return wrapped


__all__ = ["create_app", "ApiError", "DEFAULTS", "READONLY"]
