"""Reading ConnectWise over real HTTP: codebase discovery, paging, conditions."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connectors import cw_conditions as cond
from connectors.audit import ListSink


def test_codebase_is_discovered_once_and_cached(cw):
    client = cw.client()
    assert len(list(client.tax_codes())) > 0
    assert len(list(client.currencies())) > 0
    assert len(cw.journal(path="/login/companyinfo/*")) == 1
    assert client.codebase == "v4_6_release/"


def test_a_moved_codebase_is_rediscovered_after_a_404(cw):
    client = cw.client()
    client._codebase = "v2019_3/"   # what an upgrade leaves behind in a long-lived worker
    assert list(client.tax_codes())
    assert client.codebase == "v4_6_release/"
    paths = [e["path"] for e in cw.journal()]
    assert paths[0].startswith("/v2019_3/") and paths[1] == "/login/companyinfo/ferrydemo"


def test_forward_only_paging_reads_every_invoice_once(cw):
    client = cw.client()
    total = client.count("finance/invoices")
    invoices = list(client.iter_list("finance/invoices", page_size=40))
    ids = [i["id"] for i in invoices]
    assert len(ids) == total > 200 and len(set(ids)) == total and ids == sorted(ids)
    pages = cw.journal(path="*/finance/invoices")
    assert len(pages) == -(-total // 40)
    assert all(p["headers"].get("Pagination-Type") == "forward-only" for p in pages)
    assert "pageId=" in pages[-1]["query"]


def test_numbered_paging_with_an_order(cw):
    client = cw.client()
    rows = list(client.iter_list("company/companies", order_by="name desc", page_size=7))
    assert len(rows) == client.count("company/companies")
    names = [r["name"].casefold() for r in rows]
    assert names == sorted(names, reverse=True)
    queries = [p["query"] for p in cw.journal(path="*/company/companies")]
    assert any("page=2" in q for q in queries)


def test_amounts_are_decimals(cw):
    invoice = next(cw.client().invoices_changed_since(None))
    assert isinstance(invoice["total"], Decimal)


def test_invoices_changed_since_a_watermark(cw):
    client = cw.client()
    everything = list(client.invoices_changed_since(None))
    stamps = sorted(i["_info"]["lastUpdated"] for i in everything)
    middle = datetime.fromisoformat(stamps[len(stamps) // 2].replace("Z", "+00:00"))
    later = list(client.invoices_changed_since(middle))
    assert later and len(later) < len(everything)
    assert all(i["_info"]["lastUpdated"] > stamps[len(stamps) // 2] for i in later)


@pytest.mark.parametrize("name", [
    'O"Brien & Sons',
    "Back\\slash \\\" Pty",
    "Brackets [2026-01-01T00:00:00Z] (and) or",
    "Zürich Ünïcødé — 東京 ✓",
    "Quote at end\\",
])
def test_awkward_strings_round_trip_through_the_conditions_parser(cw, name):
    made = cw.action("invoices", {"companyName": name, "identifier": "Awk" + str(len(name)),
                                  "amount": "10.00"})
    client = cw.client()
    found = list(client.companies(cond.eq("name", name)))
    assert [c["id"] for c in found] == [made["company"]["id"]]
    assert found[0]["name"] == name
    contains = list(client.companies(cond.contains("name", name[2:-1])))
    assert made["company"]["id"] in [c["id"] for c in contains]


def test_long_id_lists_are_split_into_short_urls(cw):
    client = cw.client(sink=ListSink())
    ids = [i["id"] for i in client.invoices_changed_since(None)]
    found = list(client.invoices_by_ids(ids + [999_999_999]))
    assert sorted(i["id"] for i in found) == sorted(ids)
    calls = [c for c in client.transport.sink.records if "/finance/invoices" in c.url]
    assert len(calls) > 1 and all(len(c.url) < 2000 for c in calls)


def test_conditions_builder_writes_what_cw_expects():
    when = datetime(2026, 1, 1, 10, 30, tzinfo=timezone.utc)
    text = cond.and_(cond.gt("_info/lastUpdated", when),
                     cond.or_(cond.eq("type", "CreditMemo"), cond.in_("id", [1, 2])),
                     cond.eq("closedFlag", True), cond.ne("balance", Decimal("0.00")))
    assert text == ('(_info/lastUpdated > [2026-01-01T10:30:00Z]) and ((type = "CreditMemo")'
                    ' or (id in (1, 2))) and (closedFlag = true) and (balance != 0.00)')
    chunks = list(cond.split_in("id", range(1, 2001), also='status/name = "Closed"',
                                budget=400))
    assert all(cond.encoded_length(c) <= 400 for c in chunks)
    assert sum(c.count(",") + 1 for c in chunks) == 2000
