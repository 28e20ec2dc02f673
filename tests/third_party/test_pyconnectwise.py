"""pyconnectwise (generated from ConnectWise's own OpenAPI schema; Ferry's
manage-models.schema.json came from its models) against the CW sandbox over HTTP.

The client cannot be pointed at http://127.0.0.1:PORT as shipped: `_get_url` and
`_try_get_codebase_from_api` hard-code `https://{manage_url}`. The subclass below
overrides only those two methods to use http; everything else (Basic auth
"company+public:private", the clientId header, the codebase from
/login/companyinfo, Link-header paging, the pydantic models) is the client's own.

Client quirks that are not sandbox bugs:
- with no Link header (a list that fits on one page) `PaginatedResponse` assumes
  ConnectWise Automate's header-less paging and asks for page 2 once, which is empty;
- `finance.accounting.batches.post` parses the answer as a GLExport (the schema's
  declared type); the sandbox answers with the AccountingBatch, which parses to an
  all-empty GLExport;
- it does not implement `pagination-type: forward-only`.
"""
from __future__ import annotations

from datetime import datetime

import httpx2
import pytest

REASON = "pyconnectwise is not installed (a third-party client, not a Ferry dependency)"
pyconnectwise = pytest.importorskip("pyconnectwise", reason=REASON)
manage_client = pytest.importorskip("pyconnectwise.clients.manage_client", reason=REASON)
cw_exceptions = pytest.importorskip("pyconnectwise.exceptions", reason=REASON)

# pyconnectwise's generated models pass `example=` to pydantic's Field (deprecated in v2).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Using extra keyword arguments on `Field` is deprecated:DeprecationWarning")

COMPANY, PUBLIC, PRIVATE = "ferrydemo", "ferrypublic", "ferryprivate"
CLIENT_ID = "5f2d0c1e-7a44-4b0e-9c55-3f0a8e6d2b11"


class HttpManageClient(manage_client.ConnectWiseManageAPIClient):
    """The stock client with http:// in place of its hard-coded https://."""

    def _get_url(self) -> str:
        return f"http://{self.manage_url}/{self.codebase.strip('/')}/apis/3.0"

    def _try_get_codebase_from_api(self, manage_url, company_name, headers):
        answer = self._make_request("GET", f"http://{manage_url}/login/companyinfo/"
                                           f"{company_name}", headers=headers)
        return answer.json().get("Codebase")


@pytest.fixture(scope="module")
def cw(cw_url):
    return HttpManageClient(COMPANY, cw_url.split("://", 1)[1], CLIENT_ID, PUBLIC, PRIVATE)


@pytest.fixture
def fresh(cw, cw_url):
    httpx2.post(cw_url + "/_sandbox/reset").raise_for_status()
    return cw


def test_codebase_comes_from_companyinfo(cw):
    assert cw.codebase == "v4_6_release/"


def test_invoices_conditions_page_count_and_id(cw):
    big = cw.finance.invoices.get(params={"conditions": "total > 100", "orderBy": "id desc",
                                          "pageSize": 5})
    assert len(big) == 5 and all(i.total > 100 for i in big)
    assert [i.id for i in big] == sorted((i.id for i in big), reverse=True)
    second = cw.finance.invoices.get(params={"conditions": "total > 100",
                                             "orderBy": "id desc", "page": 2, "pageSize": 5})
    assert not {i.id for i in big} & {i.id for i in second}
    count = cw.finance.invoices.count.get(params={"conditions": "total > 100"}).count
    one = cw.finance.invoices.id(big[0].id).get()
    assert (one.id, one.total, one.company.id) == (big[0].id, big[0].total, big[0].company.id)
    paged = cw.finance.invoices.paginated(1, 100, params={"conditions": "total > 100"})
    everything = list(paged.all())
    assert len(everything) == count == len({i.id for i in everything})
    assert isinstance(everything[0].date, datetime)


def test_bad_conditions_are_the_client_s_400(cw):
    with pytest.raises(cw_exceptions.MalformedRequestException):
        cw.finance.invoices.get(params={"conditions": "noSuchField = 1"})


def test_unposted_lists_by_page_and_by_id(fresh):
    pages = fresh.finance.accounting.unpostedinvoices.paginated(1, 50)
    unposted = list(pages.all())
    assert len(unposted) == fresh.finance.accounting.unpostedinvoices.count.get().count
    one = fresh.finance.accounting.unpostedinvoices.id(unposted[0].id).get()
    assert (one.id, one.invoice_number, one.total) == (
        unposted[0].id, unposted[0].invoice_number, unposted[0].total)
    procurement = fresh.finance.accounting.unpostedprocurement.get(params={"pageSize": 5})
    expenses = fresh.finance.accounting.unpostedexpenses.get(params={"pageSize": 5})
    assert procurement and expenses
    assert fresh.finance.accounting.unpostedexpenses.id(expenses[0].id).get().id == \
        expenses[0].id
    with pytest.raises(cw_exceptions.NotFoundException):
        fresh.finance.accounting.unpostedinvoices.id(999999999).get()


def test_export_then_batch_posts_the_invoice(fresh):
    first = fresh.finance.accounting.unpostedinvoices.get(params={"pageSize": 1})[0]
    export = fresh.finance.accounting.export.post(data={
        "batchIdentifier": "TP-EXPORT", "exportInvoicesFlag": True,
        "exportExpensesFlag": False, "exportProductsFlag": False,
        "includedInvoiceIds": [first.id], "summarizeInvoices": "Default",
        "thruDate": "2030-01-01T00:00:00Z"})
    # The export transaction is matched by its document number (its id is CW's own), and
    # carries ledger signs: the detail lines sum to minus the total (sandbox/FIDELITY.md).
    assert [t.document_number for t in export.transactions] == [first.invoice_number]
    tx = export.transactions[0]
    assert sum(d.total for d in tx.detail) == -tx.total
    entry_ids = [int(i) for i in tx.gl_entry_ids.split(",")] + [d.id for d in tx.detail]
    fresh.finance.accounting.batches.post(data={"batchIdentifier": "TP-BATCH",
                                                "exportInvoicesFlag": True,
                                                "processedRecordIds": entry_ids})
    batches = fresh.finance.accounting.batches.get()
    assert [b.batch_identifier for b in batches] == ["TP-BATCH"]
    with pytest.raises(cw_exceptions.NotFoundException):
        fresh.finance.accounting.unpostedinvoices.id(first.id).get()
    with pytest.raises(cw_exceptions.ObjectExistsError):
        fresh.finance.accounting.batches.post(data={"batchIdentifier": "tp-batch",
                                                    "exportInvoicesFlag": True,
                                                    "processedRecordIds": entry_ids[:1]})


def test_invoice_payments(fresh):
    invoice = fresh.finance.invoices.get(params={"conditions": "balance > 10",
                                                 "pageSize": 1})[0]
    made = fresh.finance.invoices.id(invoice.id).payments.post(data={
        "type": "P", "amount": 10, "paymentDate": "2026-01-02T00:00:00Z"})
    assert made.amount == 10 and made.invoice.id == invoice.id
    listed = fresh.finance.invoices.id(invoice.id).payments.get()
    assert made.id in {p.id for p in listed}
    assert fresh.finance.invoices.id(invoice.id).get().balance == invoice.balance - 10


def test_companies_purchase_orders_and_expenses_paginate(cw):
    named = cw.company.companies.get(params={"conditions": "deletedFlag = false",
                                             "fields": "id,name,identifier", "pageSize": 10})
    assert len(named) == 10 and all(c.name and c.identifier for c in named)
    assert all(c.address_line1 is None for c in named)       # only the fields asked for
    companies = list(cw.company.companies.paginated(1, 25).all())
    assert len(companies) == cw.company.companies.count.get().count
    orders = list(cw.procurement.purchaseorders.paginated(1, 7).all())
    assert len(orders) == cw.procurement.purchaseorders.count.get().count
    lines = cw.procurement.purchaseorders.id(orders[0].id).lineitems.get()
    assert lines and all(line.purchase_order_id == orders[0].id for line in lines)
    expenses = list(cw.expense.entries.paginated(1, 10, params={"orderBy": "date desc"}).all())
    assert len(expenses) == cw.expense.entries.count.get().count
    dates = [e.date for e in expenses]
    assert dates == sorted(dates, reverse=True)


def test_single_page_without_link_header_costs_one_empty_request(cw):
    small = cw.finance.tax_codes.paginated(1, 1000)
    assert small.has_next_page            # the client's guess with no Link header
    assert len(list(small.all())) == cw.finance.tax_codes.count.get().count


def test_reference_lists_deserialise(cw):
    assert cw.finance.tax_codes.get() and cw.finance.currencies.get()
    assert cw.finance.gl_accounts.get() and cw.system.locations.get()
    assert cw.system.departments.get() and cw.system.members.get()


def test_readonly_member_is_the_client_s_403(cw_url):
    readonly = HttpManageClient(COMPANY, cw_url.split("://", 1)[1], CLIENT_ID,
                                "ferryreadonly", "ferryreadonlyprivate")
    with pytest.raises(cw_exceptions.PermissionsFailedException):
        readonly.finance.invoices.get()
    with pytest.raises(cw_exceptions.AuthenticationFailedException):
        HttpManageClient(COMPANY, cw_url.split("://", 1)[1], CLIENT_ID, PUBLIC,
                         "wrong").company.companies.get()
