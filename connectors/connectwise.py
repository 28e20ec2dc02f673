"""The ConnectWise Manage (PSA) REST client: what the sync reads and the few things it
writes. Plain dicts in, plain dicts out (amounts as Decimal); every call goes through the
shared Transport, so it is retried, audited and redacted the same way as Xero's.

    cw = ConnectWise(CWSettings(site="au.myconnectwise.net", company_id="acme",
                                public_key=..., private_key=..., client_id=...), sink=sink)
    for invoice in cw.invoices_changed_since(watermark): ...

The codebase ("v4_6_release/") is discovered from the unauthenticated companyinfo call and
cached; a 404 triggers one rediscovery, since a ConnectWise upgrade can move it.
"""
from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Iterator
from urllib.parse import quote, urlsplit

import httpx2

from connectors import cw_conditions as cond
from connectors.audit import AuditSink
from connectors.errors import (
    ApiError, ApiUnavailable, AuthenticationFailed, BadRequest, ConnectionFailed,
    MalformedResponse, NotFound, ObjectExists, PermissionDenied, RateLimited, TimedOut,
    check_header_values,
)
from connectors.transport import RetryPolicy, Transport, decode_json
from security import UnsafeAddress, check_service_url

API_VERSION = "2022.1"
ACCEPT = f"application/vnd.connectwise.com+json; version={API_VERSION}"
PAGE_SIZE = 1000

# Cloud sites as users type them → the API hosts ConnectWise asks integrations to use.
CLOUD_API_HOSTS = {
    f"{region}.myconnectwise.net": f"api-{region}.myconnectwise.net"
    for region in ("na", "eu", "au", "aus", "za")
}

# Lists Ferry pages forward-only (by id, via the Link header's pageId); the small
# reference lists use page numbers.
FORWARD_ONLY = {"finance/invoices", "company/companies", "company/contacts",
                "procurement/purchaseorders", "expense/entries"}

# What each area Ferry reads needs in ConnectWise, for the 403 sentences.
PERMISSIONS = {
    "company": ("companies and contacts",
                "Companies > Company Maintenance and Contacts"),
    "finance/invoices": ("invoices and their payments", "Finance > Invoicing"),
    "finance/accounting": ("the accounting interface (unposted invoices, GL export and "
                           "batches)", "Finance > Accounting Interface"),
    "procurement": ("purchase orders", "Procurement > Purchasing"),
    "expense": ("expense entries", "Time & Expense > Expense Entries"),
    "system": ("locations, departments and members", "System > Table Setup and Members"),
}


@dataclass
class CWSettings:
    site: str                 # "au.myconnectwise.net", or a base URL such as http://127.0.0.1:8201
    company_id: str
    public_key: str
    private_key: str
    client_id: str

    def missing(self) -> list[str]:
        names = {"site": "the site", "company_id": "the company id",
                 "public_key": "the public key", "private_key": "the private key",
                 "client_id": "the client id"}
        return [label for key, label in names.items() if not (getattr(self, key) or "").strip()]


# The settings that travel in every call's headers (Authorization and clientId).
HEADER_FIELDS = {"public_key": "the public key", "private_key": "the private key",
                 "client_id": "the client id"}

# ConnectWise company ids are short codes typed at sign-in ("ferrydemo", "acme_corp").
# **assumed**: letters, digits, '_', '-' and '.' cover them (no public list of the rules).
COMPANY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# The codebase companyinfo names, e.g. "v2025_1/" or "v4_6_release/".
CODEBASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}/?$")


class UnsafeSettings(ValueError):
    """ConnectWise settings Ferry will not send keys with; the message says what to fix."""


def check_site(site: str) -> str:
    """The site as typed if Ferry may send the keys there: https (plain http only to this
    machine, for the sandbox), no user name, '?' or '#'. UnsafeSettings otherwise."""
    text = (site or "").strip()
    try:
        check_service_url(text if "://" in text else "https://" + text, "The site")
    except UnsafeAddress as exc:
        raise UnsafeSettings(str(exc)) from None
    return text


def check_company_id(company_id: str) -> str:
    text = (company_id or "").strip()
    if not COMPANY_ID.match(text) or ".." in text:
        raise UnsafeSettings(
            "The company id is the short code you type in the Company box when signing in "
            "to ConnectWise (letters, digits, '_', '-' or '.'); "
            f"“{text[:40]}” is not one.")
    return text


def site_roots(site: str) -> tuple[str, str]:
    """(login root, API root) for what the user typed as the site."""
    text = site.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    api_host = CLOUD_API_HOSTS.get(host, host)
    return f"{parts.scheme}://{host}{port}", f"{parts.scheme}://{api_host}{port}"


def _area(path: str) -> str:
    path = path.strip("/")
    for key in ("finance/accounting", "finance/invoices", "company", "procurement",
                "expense", "system"):
        if path.startswith(key):
            return key
    return path.split("/", 1)[0]


def permission_sentence(path: str) -> str:
    what, role = PERMISSIONS.get(_area(path), (path, "the matching area"))
    return (f"The ConnectWise API member may not read {what}. In ConnectWise, open "
            f"System > Security Roles and give the API member's role Inquire rights on "
            f"{role} (or create an API member with a security role that has them), "
            f"then test again.")


def _quoted_once(exc: ApiError, quoted: dict[str, str], subject: str) -> str:
    """The error's sentence, or, when it would quote the server's words again, one that
    refers to them: a test shows what the server said once, not once per check."""
    if not exc.said or exc.said not in quoted:
        if exc.said:
            quoted[exc.said] = subject
        return exc.sentence
    return (f"Ferry cannot read {subject.lower()} either: ConnectWise gave the same answer "
            f"as for {quoted[exc.said].lower()} (HTTP {exc.status}).")


@dataclass
class Check:
    ok: bool
    subject: str
    sentence: str


@dataclass
class ConnectionTest:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, ok: bool, subject: str, sentence: str) -> None:
        self.checks.append(Check(ok, subject, sentence))


class ConnectWise:
    def __init__(self, settings: CWSettings, *, sink: AuditSink, timeout: float = 30.0,
                 retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep,
                 context: dict | None = None, client: httpx2.Client | None = None,
                 codebase: str | None = None):
        self.settings = settings
        check_site(settings.site)                   # keys travel only to a checked host
        check_company_id(settings.company_id)
        # What travels in the headers (a value saved before Ferry checked it): a sentence
        # here, not a UnicodeEncodeError on the first call.
        check_header_values({label.capitalize(): getattr(settings, name) for name, label in
                             HEADER_FIELDS.items()}, "ConnectWise")
        self.login_root, self.api_root = site_roots(settings.site)
        credentials = f"{settings.company_id}+{settings.public_key}:{settings.private_key}"
        headers = {"Accept": ACCEPT, "clientId": settings.client_id,
                   "Authorization": "Basic " + base64.b64encode(
                       credentials.encode("utf-8")).decode("ascii")}
        # The keys go to the API host only. A cloud site's login host (na.myconnectwise.net
        # beside api-na...) is open to the credential-free companyinfo call; both hosts
        # come from the saved site, never from an answer.
        self.transport = Transport("connectwise", self.api_root, sink=sink, timeout=timeout,
                                   retry=retry, headers=headers, client=client, sleep=sleep,
                                   context=context, open_origins=(self.login_root,))
        # A codebase found earlier (it changes only when CW upgrades the site) saves the
        # companyinfo call; a 404 under it finds the new one (see call()).
        self._codebase: str | None = (codebase if codebase and CODEBASE.match(codebase)
                                      and ".." not in codebase else None)

    @property
    def known_codebase(self) -> str | None:
        """The codebase in use, if this client has found or been given one."""
        return self._codebase

    def close(self) -> None:
        self.transport.close()

    def bind(self, **fields):
        """Tag the calls inside the block with run_id / record_ref (see Transport.bind)."""
        return self.transport.bind(**fields)

    # -- codebase ------------------------------------------------------------------------
    def company_info(self) -> dict | None:
        """The unauthenticated companyinfo answer; None when the company is unknown."""
        url = f"{self.login_root}/login/companyinfo/{quote(self.settings.company_id, safe='')}"
        # No keys, client id or other header of the API's: this call needs none.
        response = self.transport.request("GET", url, credentials=False,
                                          headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise MalformedResponse(
                f"{self.login_root} answered HTTP {response.status_code} where ConnectWise "
                "describes a company. Check the site address: it is the address you sign "
                "in to ConnectWise at, such as na.myconnectwise.net.",
                status=response.status_code)
        info = decode_json(response, "connectwise")
        if info is not None and not (isinstance(info, dict) and isinstance(
                info.get("Codebase"), str) and CODEBASE.match(info["Codebase"])
                and ".." not in info["Codebase"]):
            raise MalformedResponse(
                f"{self.login_root} did not answer like a ConnectWise server. Check the "
                "site address.", status=response.status_code)
        return info

    @property
    def codebase(self) -> str:
        if self._codebase is None:
            info = self.company_info()
            if info is None:
                raise NotFound(
                    f"ConnectWise at {self.login_root} has no company "
                    f"'{self.settings.company_id}'. Check the company id: it is what you "
                    "type in the Company box when signing in to ConnectWise.",
                    code="UnknownCompany")
            self._codebase = info["Codebase"].strip("/") + "/"
        return self._codebase

    def _base(self) -> str:
        return f"{self.api_root}/{self.codebase}apis/3.0/"

    # -- calls ---------------------------------------------------------------------------
    def call(self, method: str, path: str, *, params=None, json=None, headers=None,
             idempotent: bool | None = None) -> httpx2.Response:
        """One API call; error answers become typed errors. `path` is relative to
        apis/3.0/ or a full URL (a Link header's)."""
        response = self._send(method, path, params, json, headers, idempotent)
        if response.status_code == 404 and self._codebase is not None:
            before = self._codebase
            self._codebase = None
            if self.codebase != before:
                url = path if "://" not in path else path.replace(before, self._codebase, 1)
                response = self._send(method, url, params, json, headers, idempotent)
        if response.status_code >= 400:
            raise self.error_for(response, path)
        return response

    def _send(self, method, path, params, json, headers, idempotent) -> httpx2.Response:
        url = path if "://" in path else self._base() + path.lstrip("/")
        return self.transport.request(method, url, params=params, json=json,
                                      headers=headers, idempotent=idempotent)

    def get(self, path: str, **params) -> dict | list:
        return decode_json(self.call("GET", path, params=params or None), "connectwise")

    def post(self, path: str, body: dict, *, idempotent: bool = False) -> dict:
        return decode_json(self.call("POST", path, json=body, idempotent=idempotent),
                           "connectwise")

    def error_for(self, response: httpx2.Response, path: str) -> ApiError:
        """The typed error, with a sentence, for a ConnectWise error answer."""
        status = response.status_code
        try:
            body = decode_json(response, "connectwise")
        except MalformedResponse:
            body = None
        body = body if isinstance(body, dict) else {}
        code = str(body.get("code") or "")
        message = str(body.get("message") or response.reason_phrase)
        details = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        kw = {"status": status, "code": code or None, "details": details}
        detail_text = "; ".join(str(e.get("message")) for e in details if e.get("message"))
        # The sentences below end with their own full stop.
        said = f"{message}{': ' + detail_text if detail_text else ''}".rstrip(". ")
        what = urlsplit(path).path.rsplit("apis/3.0/", 1)[-1].strip("/")
        if status == 401:
            return AuthenticationFailed(
                f"ConnectWise refused the API keys for company '{self.settings.company_id}'. "
                "Check the public and private key (System > Members > API Members > API "
                "Keys) and the company id, then save and test again.", **kw)
        if status == 403:
            return PermissionDenied(permission_sentence(what), **kw)
        if code == "InvalidClientId":
            return BadRequest(
                "ConnectWise did not accept the client id. Register Ferry at "
                "developer.connectwise.com (ClientID), paste the id in Settings and save.",
                **kw)
        if code == "ObjectExists" or any(e.get("code") == "ObjectExists" for e in details):
            return ObjectExists(f"ConnectWise already has this record ({said}).", said=said,
                                **kw)
        if status == 404:
            return NotFound(f"ConnectWise has no {what} ({said}). It may have been "
                            "deleted or merged in ConnectWise.", said=said, **kw)
        if status == 429:
            wait = RetryPolicy.retry_after(response)
            return RateLimited(
                "ConnectWise asked Ferry to slow down"
                + (f" for {wait:.0f} seconds" if wait is not None else "")
                + ". The cycle will carry on by itself later.", retry_after=wait, **kw)
        if status in (400, 409, 422):
            return BadRequest(f"ConnectWise refused {response.request.method} {what}: {said}.",
                              said=said, **kw)
        if status >= 500:
            return ApiUnavailable(
                f"ConnectWise had a problem (HTTP {status}) answering {what}. This is "
                "usually brief; Ferry will try again on the next cycle.", **kw)
        return ApiError(f"ConnectWise answered HTTP {status} to {what}: {said}.", said=said,
                        **kw)

    # -- lists ---------------------------------------------------------------------------
    def iter_list(self, path: str, *, conditions: str | None = None,
                  fields: Iterable[str] | None = None, order_by: str | None = None,
                  forward_only: bool | None = None, page_size: int = PAGE_SIZE
                  ) -> Iterator[dict]:
        """Every record of a list, page after page: forward-only through the Link header
        where Ferry uses it (and no orderBy is asked for), page numbers otherwise."""
        if forward_only is None:
            forward_only = path in FORWARD_ONLY and order_by is None
        params = {"pageSize": page_size}
        if conditions:
            params["conditions"] = conditions
        if fields:
            params["fields"] = ",".join(fields)
        if order_by:
            params["orderBy"] = order_by
        headers = {"pagination-type": "forward-only"} if forward_only else None
        url, page = path, 1
        while True:
            if not forward_only:
                params["page"] = page
            response = self.call("GET", url, params=params, headers=headers)
            items = decode_json(response, "connectwise")
            if not isinstance(items, list):
                raise MalformedResponse(
                    f"ConnectWise answered the list {path} with something that is not a "
                    "list. Check that the site address points at ConnectWise.",
                    status=response.status_code)
            yield from items
            following = response.links.get("next", {}).get("url")
            if forward_only:
                if not following or not items:
                    return
                url, params = following, None   # the Link carries pageId and the filters
            else:
                if not items:
                    return
                if "link" in response.headers:
                    if not following:
                        return
                elif len(items) < page_size:
                    return
                page += 1

    def count(self, path: str, conditions: str | None = None) -> int:
        params = {"conditions": conditions} if conditions else None
        body = decode_json(self.call("GET", path.rstrip("/") + "/count", params=params),
                           "connectwise")
        if not isinstance(body, dict) or not isinstance(body.get("count"), int):
            raise MalformedResponse(f"ConnectWise's count of {path} was not a number.")
        return body["count"]

    def by_ids(self, path: str, ids: Iterable[int], *, also: str | None = None,
               id_field: str = "id", fields: Iterable[str] | None = None
               ) -> Iterator[dict]:
        """Records whose id is in `ids`, in as many requests as short URLs need (only
        `fields` of each, when given)."""
        for conditions in cond.split_in(id_field, sorted(set(ids)), also=also):
            yield from self.iter_list(path, conditions=conditions, fields=fields)

    # -- what the sync reads -------------------------------------------------------------
    def companies(self, conditions: str | None = None) -> Iterator[dict]:
        return self.iter_list("company/companies", conditions=conditions)

    def contacts(self, conditions: str | None = None) -> Iterator[dict]:
        return self.iter_list("company/contacts", conditions=conditions)

    def locations(self) -> Iterator[dict]:
        return self.iter_list("system/locations")

    def departments(self) -> Iterator[dict]:
        return self.iter_list("system/departments")

    def members(self, conditions: str | None = None) -> Iterator[dict]:
        return self.iter_list("system/members", conditions=conditions)

    def tax_codes(self) -> Iterator[dict]:
        return self.iter_list("finance/taxCodes")

    def currencies(self) -> Iterator[dict]:
        return self.iter_list("finance/currencies")

    def gl_accounts(self) -> Iterator[dict]:
        return self.iter_list("finance/glAccounts")

    def invoices_changed_since(self, watermark: datetime | None,
                               conditions: str | None = None) -> Iterator[dict]:
        """Invoices whose _info/lastUpdated is after `watermark` (all when None)."""
        since = cond.gt("_info/lastUpdated", watermark) if watermark else None
        return self.iter_list("finance/invoices", conditions=cond.and_(since, conditions))

    def invoice(self, invoice_id: int) -> dict:
        return self.get(f"finance/invoices/{int(invoice_id)}")

    def invoices_by_ids(self, ids: Iterable[int]) -> Iterator[dict]:
        return self.by_ids("finance/invoices", ids)

    def invoice_payments(self, invoice_id: int) -> list[dict]:
        return list(self.iter_list(f"finance/invoices/{int(invoice_id)}/payments"))

    def create_invoice_payment(self, invoice_id: int, payment: dict) -> dict:
        """Apply a payment (`amount`, `paymentDate`; CW's Payment has no external
        id). Not retried blindly: after OutcomeUnknown, look at invoice_payments() before
        sending again. CW keeps one payment per invoice: change it with
        update_invoice_payment()."""
        return self.post(f"finance/invoices/{int(invoice_id)}/payments", payment)

    def unposted_invoices(self, conditions: str | None = None) -> Iterator[dict]:
        return self.iter_list("finance/accounting/unpostedinvoices", conditions=conditions)

    def unposted_procurement(self, conditions: str | None = None) -> Iterator[dict]:
        return self.iter_list("finance/accounting/unpostedprocurement", conditions=conditions)

    def unposted_expenses(self, conditions: str | None = None) -> Iterator[dict]:
        return self.iter_list("finance/accounting/unpostedexpenses", conditions=conditions)

    def export_preview(self, request: dict) -> dict:
        """The GLExport for an ExportAccountingBatchRequest. A preview changes nothing in
        ConnectWise, so it is safe to retry."""
        return self.post("finance/accounting/export", request, idempotent=True)

    def create_accounting_batch(self, request: dict) -> dict:
        """Mark GL entries as posted (`processedRecordIds`). Not retried blindly."""
        return self.post("finance/accounting/batches", request)

    def purchase_orders(self, conditions: str | None = None) -> Iterator[dict]:
        return self.iter_list("procurement/purchaseorders", conditions=conditions)

    def purchase_order_lines(self, po_id: int) -> list[dict]:
        return list(self.iter_list(f"procurement/purchaseorders/{int(po_id)}/lineitems"))

    def expense_entries(self, conditions: str | None = None) -> Iterator[dict]:
        return self.iter_list("expense/entries", conditions=conditions)

    # -- the settings page's "Test connection" ----------------------------------------
    READ_CHECKS = (("company/companies", "Companies"), ("finance/invoices", "Invoices"),
                   ("finance/accounting/unpostedinvoices", "Accounting interface"),
                   ("procurement/purchaseorders", "Purchase orders"),
                   ("expense/entries", "Expenses"))

    def test_connection(self) -> ConnectionTest:
        """Each thing that must be right, with a sentence saying what to fix if not."""
        result = ConnectionTest()
        missing = self.settings.missing()
        if missing:
            result.add(False, "Settings", "Enter " + ", ".join(missing) + ", then save. "
                       + ("The client id comes from registering Ferry at "
                          "developer.connectwise.com. " if "the client id" in missing else ""))
            return result
        site = self.login_root
        try:
            info = self.company_info()
        except (ConnectionFailed, TimedOut) as exc:
            reason = "no answer in time" if isinstance(exc, TimedOut) else "no connection"
            result.add(False, "Site", f"Ferry could not reach {site} ({reason}). Check the "
                       "site address: it is where you sign in to ConnectWise, such as "
                       "na.myconnectwise.net, or your own server's name.")
            return result
        except MalformedResponse:
            result.add(False, "Site", f"{site} answered, but not like a ConnectWise server. "
                       "Check the site address: it is where you sign in to ConnectWise.")
            return result
        if info is None:
            result.add(False, "Company", f"ConnectWise at {site} has no company "
                       f"'{self.settings.company_id}'. Check the company id: it is what "
                       "you type in the Company box when signing in.")
            return result
        self._codebase = info["Codebase"].strip("/") + "/"
        result.add(True, "Site", f"Found {info.get('CompanyName') or 'the company'} at "
                   f"{site} (ConnectWise {info.get('VersionCode', '')}).".replace(" ()", ""))
        quoted: dict[str, str] = {}     # the server's words -> the check that showed them
        for path, subject in self.READ_CHECKS:
            try:
                self.call("GET", path, params={"pageSize": 1, "fields": "id"})
            except AuthenticationFailed as exc:
                result.add(False, "API keys", exc.sentence)
                return result
            except BadRequest as exc:
                if exc.code == "InvalidClientId":
                    result.add(False, "Client id", exc.sentence)
                    return result
                result.add(False, subject, _quoted_once(exc, quoted, subject))
            except PermissionDenied as exc:
                result.add(False, subject, exc.sentence)
            except ApiError as exc:
                result.add(False, subject, _quoted_once(exc, quoted, subject))
            else:
                result.add(True, subject, f"Ferry can read {subject.lower()}.")
        return result

    # -- payment back-sync (jobs/cycle_payments.py) ------------------------------------
    def update_invoice_payment(self, invoice_id: int, payment_id: int, amount,
                               payment_date: str | None = None) -> dict:
        """Set the invoice's one payment to `amount` (JSON Patch replace). Setting a value
        twice gives the same result, so a retry after a lost answer is safe."""
        ops = [{"op": "replace", "path": "amount", "value": amount}]
        if payment_date:
            ops.append({"op": "replace", "path": "paymentDate", "value": payment_date})
        return decode_json(self.call("PATCH", f"finance/invoices/{int(invoice_id)}/payments/"
                                     f"{int(payment_id)}", json=ops, idempotent=True),
                           "connectwise")

    def delete_invoice_payment(self, invoice_id: int, payment_id: int) -> None:
        """Take the payment back (its amount returns to the balance); a payment already
        gone counts as done."""
        try:
            self.call("DELETE", f"finance/invoices/{int(invoice_id)}/payments/"
                      f"{int(payment_id)}", idempotent=True)
        except NotFound:
            pass

    def invoices_by_number(self, number: str) -> list[dict]:
        return list(self.iter_list("finance/invoices",
                                   conditions=cond.eq("invoiceNumber", number)))
