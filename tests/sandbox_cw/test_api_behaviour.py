"""Paging, auth, throttling and the companyinfo look-up behave as the real API does."""
import re
from urllib.parse import parse_qs, urlparse

import httpx2
import pytest

from sandbox.connectwise import DEFAULTS, create_app

from .conftest import API, Served, api_client, basic, body

LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def links(response) -> dict:
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


def test_company_info_gives_the_codebase_and_null_for_strangers(cw):
    info = httpx2.get(f"{cw.url}/login/companyinfo/{DEFAULTS['company']}").json()
    assert info["Codebase"] == "v4_6_release/" and info["CompanyID"] == DEFAULTS["company"]
    assert {"CompanyName", "VersionCode", "VersionNumber", "IsCloud", "SiteUrl"} <= set(info)
    unknown = httpx2.get(f"{cw.url}/login/companyinfo/nobody")
    assert unknown.status_code == 200 and unknown.text == "null"


def test_navigable_paging_links_walk_every_record_once(cw):
    total = cw.client.get("finance/invoices/count").json()["count"]
    seen, url, pages = [], "finance/invoices?pageSize=120", 0
    first = cw.client.get(url)
    assert set(links(first)) == {"next", "last"}
    assert parse_qs(urlparse(links(first)["last"]).query)["page"] == [str(-(-total // 120))]
    response = first
    while True:
        pages += 1
        seen += [r["id"] for r in response.json()]
        nxt = links(response).get("next")
        if not nxt:
            break
        response = cw.client.get(nxt)
        assert {"first", "prev"} <= set(links(response))
    assert set(links(response)) == {"first", "prev"}       # the last page
    assert len(seen) == total == len(set(seen)) and pages == -(-total // 120)


def test_page_size_defaults_to_25_and_caps_at_1000(cw):
    assert len(cw.client.get("finance/invoices").json()) == 25
    assert len(cw.client.get("finance/invoices", params={"pageSize": 5000}).json()) == 500
    beyond = cw.client.get("finance/invoices", params={"page": 99, "pageSize": 100})
    assert beyond.status_code == 200 and beyond.json() == []


def test_forward_only_paging_follows_page_id(cw):
    client = api_client(cw.url, **{"pagination-type": "forward-only"})
    ids, response = [], client.get("company/companies", params={
        "pageSize": 40, "conditions": "isVendorFlag = false"})
    while True:
        ids += [r["id"] for r in response.json()]
        found = links(response)
        assert set(found) <= {"next"}
        if not found:
            break
        query = parse_qs(urlparse(found["next"]).query)
        assert query["pageId"] == [str(ids[-1])] and "conditions" in query
        response = client.get(found["next"])
    assert ids == sorted(ids) and len(ids) == len(set(ids)) >= 150


def test_order_by_and_fields(cw):
    rows = cw.client.get("finance/invoices", params={
        "orderBy": "total desc, id asc", "fields": "id,total,company/name,_info/lastUpdated",
        "pageSize": 50}).json()
    totals = [r["total"] for r in rows]
    assert totals == sorted(totals, reverse=True)
    assert set(rows[0]) == {"id", "total", "company", "_info"}
    assert set(rows[0]["company"]) == {"name"} and set(rows[0]["_info"]) == {"lastUpdated"}
    bad = cw.client.get("finance/invoices", params={"orderBy": "total sideways"})
    assert bad.status_code == 400


@pytest.mark.parametrize("header,value,status", [
    ("Authorization", basic(DEFAULTS["company"], "ferrypublic", "wrong"), 401),
    ("Authorization", basic("othercompany", "ferrypublic", "ferryprivate"), 401),
    ("Authorization", "Bearer abc", 401),
    ("Accept", "application/vnd.connectwise.com+json; version=latest", 400),
])
def test_bad_credentials_and_versions_are_refused(cw, header, value, status):
    response = cw.client.get("company/companies", headers={header: value})
    assert response.status_code == status
    assert set(body(response)) == {"code", "message"}


def test_any_sane_version_is_accepted(cw):
    for accept in ("application/vnd.connectwise.com+json; version=2025.8",
                   "application/json", "*/*"):
        assert cw.client.get("system/locations", headers={"Accept": accept}).status_code == 200


def test_missing_client_id_is_refused_with_a_message_naming_it(cw):
    client = api_client(cw.url)
    del client.headers["clientId"]
    response = client.get("company/companies")
    assert response.status_code == 400 and "clientId" in body(response)["message"]


def test_member_without_finance_rights_gets_403_on_finance_only(cw, readonly_client):
    assert readonly_client.get("company/companies").status_code == 200
    denied = readonly_client.get("finance/invoices")
    assert denied.status_code == 403 and body(denied)["code"] == "Security"


def test_throttling_answers_429_with_numeric_retry_after():
    served = Served(create_app(seed=1, rate_limit_per_minute=5))
    try:
        statuses = [served.client.get("system/locations").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        throttled = served.client.get("system/locations")
        assert int(throttled.headers["Retry-After"]) in range(1, 61)
        httpx2.post(served.url + "/_sandbox/clock", json={"advance_seconds": 61})
        assert served.client.get("system/locations").status_code == 200
    finally:
        served.close()


def test_429_fault_kind_can_be_injected(cw):
    httpx2.post(cw.url + "/_sandbox/faults",
                json={"kind": "429", "path": API + "finance/invoices", "nth": 1})
    try:
        response = cw.client.get("finance/invoices")
        assert response.status_code == 429 and response.headers["Retry-After"].isdigit()
        assert cw.client.get("finance/invoices").status_code == 200
    finally:
        httpx2.delete(cw.url + "/_sandbox/faults")


def test_secrets_never_reach_the_journal(cw):
    cw.client.get("system/departments")
    entries = httpx2.get(cw.url + "/_sandbox/journal",
                         params={"path": API + "system/departments"}).json()
    assert entries and "ferryprivate" not in str(entries)
