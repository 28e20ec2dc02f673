"""The Xero Accounting API for one organisation (tenant): reference data, contacts,
invoices, credit notes, payments and allocations.

Every call carries `xero-tenant-id` and a live access token (connectors/xero_oauth.py),
passes through the per-tenant governor (connectors/xero_governor.py) on each attempt,
and leaves one audit record per attempt (connectors/transport.py). What comes back has
`/Date(…)/` values as aware datetimes and money as Decimal.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterator

import httpx2

from connectors.audit import AuditSink
from connectors.errors import (
    ApiError, ApiUnavailable, AuthenticationFailed, BadRequest, NotFound, RateLimited,
)
from connectors.transport import RetryPolicy, Transport, decode_json
from connectors.xero_batches import ElementResult, write_in_batches
from connectors.xero_governor import GovernedTransport, Governor
from connectors.xero_oauth import ReconnectNeeded, TokenKeeper, XeroApp
from models import Connection

API_PATH = "/api.xro/2.0"
# Records per page Ferry asks for on Xero's paged lists (Invoices, CreditNotes, Contacts,
# Payments, Overpayments, Prepayments take `pageSize`, the spec; at most 1,000, Xero's
# paging docs): ten times fewer reads than the default 100.
PAGE_SIZE = 1000
NUMBERS_PER_CALL = 40                 # keeps ?InvoiceNumbers=… well under URL limits

_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
# Number fields that hold money, rates or quantities: always Decimal, even when whole.
_MONEY_KEY = re.compile(r"(Amount|Total|Tax|Due|Paid|Credited|Credit|Rate|Quantity|"
                        r"Discount|Balance)$")


def parse_xero_date(value: str) -> datetime | None:
    """`/Date(1700000000000+0000)/` → aware datetime in UTC (None if not that form)."""
    match = _DATE.match(value)
    if not match:
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, timezone.utc)


def from_wire(value, key: str = ""):
    """Xero JSON → Python: `/Date()/` strings to datetimes, money numbers to Decimal."""
    if isinstance(value, dict):
        return _dict_from_wire(value)
    if isinstance(value, list):
        return [from_wire(v, key) for v in value]
    if isinstance(value, str) and value.startswith("/Date("):
        parsed = parse_xero_date(value)
        return parsed if parsed is not None else value
    if isinstance(value, int) and not isinstance(value, bool) and _money_key(key):
        return Decimal(value)
    return value


def _dict_from_wire(value: dict) -> dict:
    """from_wire of a dict, with the common plain text values kept inline (a page of
    1,000 invoices has ~100,000 values; a call per value was most of the cost)."""
    out = {}
    for k, v in value.items():
        if type(v) is str and not v.startswith("/Date("):
            out[k] = v
        elif type(v) is dict:
            out[k] = _dict_from_wire(v)
        else:
            out[k] = from_wire(v, k)
    return out


_MONEY_KEYS: dict[str, bool] = {}


def _money_key(key: str) -> bool:
    """_MONEY_KEY.search(key), remembered: Xero's field names are few."""
    found = _MONEY_KEYS.get(key)
    if found is None:
        found = bool(_MONEY_KEY.search(key))
        if len(_MONEY_KEYS) < 10_000:
            _MONEY_KEYS[key] = found
    return found


def where_equals(field: str, values: list[str]) -> str:
    """A `where` filter matching any of the values exactly: `F=="a" OR F=="b"`."""
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return " OR ".join(f"{field}=={quoted(v)}" for v in values)


class XeroClient:
    def __init__(self, transport: Transport, tokens: TokenKeeper, *, grant_id: int,
                 tenant_id: str, connection_id: int | None = None):
        self.transport = transport
        self.tokens = tokens
        self.grant_id = grant_id
        self.tenant_id = tenant_id
        self.connection_id = connection_id

    # -- the one way a call is made ------------------------------------------------------
    def call(self, method: str, path: str, *, params=None, json=None,
             encoded: bytes | None = None, headers: dict | None = None,
             idempotent: bool | None = None):
        """`encoded`: a JSON body already encoded (encode_json in UTF-8), instead of
        `json`, for a body whose bytes the caller needed anyway."""
        token = self.tokens.access_token(self.grant_id)
        for first_try in (True, False):
            sent = {"Authorization": f"Bearer {token}", "xero-tenant-id": self.tenant_id,
                    "Accept": "application/json", **(headers or {})}
            response = self.transport.request(method, API_PATH + path, params=params,
                                              json=json, encoded=encoded, headers=sent,
                                              idempotent=idempotent)
            if first_try and response.status_code == 401 and _token_expired(response):
                # Our clock said the token was live; Xero's says not. Refresh once.
                token = self.tokens.after_rejection(self.grant_id, token)
                continue
            break
        Governor.raise_for_day(self.tenant_id, response)
        if response.status_code >= 400:
            raise self._error(response)
        if not response.content:
            return None
        return from_wire(decode_json(response, "xero"))

    def _error(self, response: httpx2.Response) -> Exception:
        status = response.status_code
        try:
            body = decode_json(response, "xero")
        except ApiError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if status == 400:
            messages = _validation_messages(body) or [body.get("Message") or response.text]
            return BadRequest("Xero refused the request: " + " ".join(messages),
                              status=400, code=body.get("Type"), details=messages)
        if status == 403 and "AuthenticationUnsuccessful" in str(body.get("Detail", "")):
            return self._lost_access()
        if status in (401, 403):
            return AuthenticationFailed(
                "Xero refused Ferry's access (" + str(body.get("Detail") or status) + "). "
                "Check that the Xero app has the scopes listed in Settings, then connect "
                "Xero again.", status=status, code=body.get("Detail"))
        if status == 404:
            return NotFound("Xero has no such record (it may have been deleted there).",
                            status=404)
        if status == 429:
            return RateLimited("Xero is limiting Ferry's calls to this organisation; Ferry "
                               "will carry on in its next cycle.", status=429,
                               retry_after=RetryPolicy.retry_after(response))
        return ApiUnavailable(f"Xero answered HTTP {status}; it may be having problems. "
                              "Ferry will try again in its next cycle.", status=status)

    def _lost_access(self) -> ReconnectNeeded:
        reason = ("This Xero organisation is no longer connected to Ferry (it was "
                  "disconnected in Xero). An administrator must choose Connect Xero in "
                  "Settings again and tick it.")
        if self.connection_id is not None:
            Connection.update(status="needs_reconnect", last_error=reason).where(
                (Connection.id == self.connection_id) & (Connection.status == "active")
            ).execute()
        return ReconnectNeeded(reason)

    def _list(self, path: str, key: str, params=None, headers=None) -> list[dict]:
        return (self.call("GET", path, params=params, headers=headers) or {}).get(key, [])

    def _paged(self, path: str, key: str, params=None, headers=None) -> Iterator[dict]:
        page = 1
        while True:
            rows = self._list(path, key, {**(params or {}), "page": page,
                                          "pageSize": PAGE_SIZE}, headers)
            yield from rows
            if len(rows) < PAGE_SIZE:
                return
            page += 1

    # -- reference data ------------------------------------------------------------------
    def organisation(self) -> dict:
        return self._list("/Organisation", "Organisations")[0]

    def accounts(self, where: str | None = None) -> list[dict]:
        return self._list("/Accounts", "Accounts", {"where": where} if where else None)

    def tax_rates(self) -> list[dict]:
        return self._list("/TaxRates", "TaxRates")

    def tracking_categories(self) -> list[dict]:
        return self._list("/TrackingCategories", "TrackingCategories")

    def currencies(self) -> list[dict]:
        return self._list("/Currencies", "Currencies")

    # -- contacts --------------------------------------------------------------------------
    def contacts_by_numbers(self, numbers: list[str], *,
                            include_archived: bool = False) -> list[dict]:
        """Contacts by ContactNumber; Xero leaves archived ones out of lists unless
        includeArchived=true (the spec's parameter)."""
        extra = {"includeArchived": "true"} if include_archived else {}
        found = []
        for start in range(0, len(numbers), NUMBERS_PER_CALL):
            part = numbers[start:start + NUMBERS_PER_CALL]
            found += self._list("/Contacts", "Contacts",
                                {"where": where_equals("ContactNumber", part), **extra})
        return found

    def contacts_by_name(self, name: str) -> list[dict]:
        return self._list("/Contacts", "Contacts", {"where": where_equals("Name", [name])})

    def search_contacts(self, term: str) -> list[dict]:
        return list(self._paged("/Contacts", "Contacts", {"searchTerm": term}))

    def save_contacts(self, contacts: list[dict]) -> list[ElementResult]:
        """Create or update (POST) contacts in batches; one result per contact, in order."""
        return write_in_batches(self, "POST", "/Contacts", "Contacts", contacts,
                                id_key="ContactID", number_key="ContactNumber")

    # -- invoices and credit notes -------------------------------------------------------
    def invoices_by_numbers(self, numbers: list[str]) -> list[dict]:
        return self._by_numbers("/Invoices", "Invoices", "InvoiceNumbers", numbers)

    def invoices_by_ids(self, ids: list[str]) -> list[dict]:
        return self._by_numbers("/Invoices", "Invoices", "IDs", ids)

    def invoices(self, *, where: str | None = None, statuses: list[str] | None = None,
                 modified_since: datetime | None = None) -> Iterator[dict]:
        return self._paged("/Invoices", "Invoices", _filters(where, statuses),
                           _since(modified_since))

    def save_invoices(self, invoices: list[dict], *, create_only: bool = False
                      ) -> list[ElementResult]:
        """PUT creates only; POST creates or updates. Unit amounts keep 4 decimals."""
        return write_in_batches(self, "PUT" if create_only else "POST", "/Invoices",
                                "Invoices", invoices, id_key="InvoiceID",
                                number_key="InvoiceNumber", params={"unitdp": 4})

    def credit_notes_by_numbers(self, numbers: list[str]) -> list[dict]:
        found = []
        for start in range(0, len(numbers), NUMBERS_PER_CALL):
            part = numbers[start:start + NUMBERS_PER_CALL]
            found += self._list("/CreditNotes", "CreditNotes",
                                {"where": where_equals("CreditNoteNumber", part)})
        return found

    def credit_notes_by_ids(self, ids: list[str]) -> list[dict]:
        return self._by_numbers("/CreditNotes", "CreditNotes", "IDs", ids)

    def credit_notes(self, *, where: str | None = None, statuses: list[str] | None = None,
                     modified_since: datetime | None = None) -> Iterator[dict]:
        return self._paged("/CreditNotes", "CreditNotes", _filters(where, statuses),
                           _since(modified_since))

    def save_credit_notes(self, notes: list[dict], *, create_only: bool = False
                          ) -> list[ElementResult]:
        return write_in_batches(self, "PUT" if create_only else "POST", "/CreditNotes",
                                "CreditNotes", notes, id_key="CreditNoteID",
                                number_key="CreditNoteNumber", params={"unitdp": 4})

    def allocate_credit_note(self, credit_note_id: str, allocations: list[dict]
                             ) -> list[ElementResult]:
        """Allocate a credit note to invoices: [{Amount, Invoice: {InvoiceID}, Date}]."""
        return write_in_batches(self, "PUT", f"/CreditNotes/{credit_note_id}/Allocations",
                                "Allocations", allocations, id_key="AllocationID")

    def _by_numbers(self, path, key, param, values) -> list[dict]:
        found = []
        for start in range(0, len(values), NUMBERS_PER_CALL):
            found += self._list(path, key, {param: ",".join(values[start:start +
                                                                   NUMBERS_PER_CALL])})
        return found

    # -- payments --------------------------------------------------------------------------
    def payments(self, *, modified_since: datetime | None = None,
                 where: str | None = None) -> Iterator[dict]:
        """Payments changed since `modified_since` (all pages)."""
        return self._paged("/Payments", "Payments", _filters(where, None),
                           _since(modified_since))

    # -- payment back-sync (jobs/cycle_payments.py) ------------------------------------
    def sales_invoices_changed(self, since: datetime | None) -> Iterator[dict]:
        """ACCREC invoices changed since `since` (all pages): a payment, its deletion or
        an allocation changes the invoice's AmountPaid/AmountCredited and UpdatedDateUTC.
        An org where nothing changed answers the first page empty: one call."""
        return self.invoices(where='Type=="ACCREC"', modified_since=since)

    def overpayments(self, *, modified_since: datetime | None = None) -> Iterator[dict]:
        return self._paged("/Overpayments", "Overpayments", None, _since(modified_since))

    def prepayments(self, *, modified_since: datetime | None = None) -> Iterator[dict]:
        return self._paged("/Prepayments", "Prepayments", None, _since(modified_since))


def _filters(where, statuses) -> dict:
    params = {}
    if where:
        params["where"] = where
    if statuses:
        params["Statuses"] = ",".join(statuses)
    return params


def _since(when: datetime | None) -> dict | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    # The spec's form (format: date-time, example "2020-02-06T12:17:43.202-08:00"), which
    # xero-python sends too; UTC, whole seconds (Xero compares to the second).
    stamp = when.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"If-Modified-Since": stamp}


def _token_expired(response: httpx2.Response) -> bool:
    challenge = response.headers.get("WWW-Authenticate", "").lower()
    return "expired" in challenge or "TokenExpired" in response.text


def _validation_messages(body: dict) -> list[str]:
    messages = []
    for element in body.get("Elements") or []:
        for error in element.get("ValidationErrors") or []:
            if error.get("Message"):
                messages.append(error["Message"])
    return messages


def open_client(app: XeroApp, connection: Connection, *, sink: AuditSink,
                tokens: TokenKeeper, governor: Governor,
                retry: RetryPolicy = RetryPolicy(), sleep=None) -> XeroClient:
    """A client for one Ferry Xero connection (an organisation under a grant)."""
    if connection.status != "active":
        raise ReconnectNeeded(connection.last_error or
                              "This Xero organisation is not connected. Connect Xero in "
                              "Settings.")
    http = httpx2.Client(transport=GovernedTransport(governor), timeout=30.0)
    extra = {"sleep": sleep} if sleep is not None else {}
    transport = Transport("xero", app.api_base, sink=sink, retry=retry, client=http,
                          context={"connection_id": connection.id}, **extra)
    return XeroClient(transport, tokens, grant_id=connection.settings["grant_id"],
                      tenant_id=connection.tenant_id, connection_id=connection.id)

