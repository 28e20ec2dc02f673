"""Exceptions that lead to the fix, against the sandboxes: what each exception is keyed on
is stored with it, the Unmapped view counts records and money exactly, the exceptions
page links to the fix, the record and its audit entries, a contact clash is resolved by
linking to an existing Xero contact, and a mapping change offers the records it fixes."""
import re
from contextlib import contextmanager

import pytest

from jobs.cycle import run_cycle
from models import Connection, ContactLink, RecordProblem, SyncRecord
from tests.conftest import csrf_token
from models import db
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)
from tests.sync_e2e.helpers import orgs

HX = {"HX-Request": "true"}


@pytest.fixture
def ferry(app, cw, xero):  # noqa: F811
    """Connected to both sandboxes with the catalogue's mappings, after a first invoice
    cycle. No app context is left open: the test client's requests keep their own."""
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        run_cycle("invoice")
    return app


@contextmanager
def data(app):
    with app.app_context(), db.connection_context():
        yield
SYDNEY = "Sydney IT Services Pty Ltd"


def exceptions(words):
    return [r for r in SyncRecord.select().where(SyncRecord.state == "exception")
            if any(words in p for p in r.problems or [])]


def test_keys_are_stored_and_unmapped_counts_them(ferry, client, auth):
    with data(ferry):
        freight = exceptions("GL account 4900")
        assert freight
        keys = {(p.kind, p.cw_value) for r in freight for p in r.problem_keys}
        assert keys == {("account", "4900")}
        clash = exceptions("already exists in org")
        assert {(p.kind, p.label) for r in clash for p in r.problem_keys} == {
            ("contact", "Harbour Dental Group")}
        expected = []
        for org in Connection.select().where(Connection.kind == "xero"):
            held = [r for r in freight if r.org_id == org.id]
            if held:
                expected.append((org.name, len(held),
                                 sum(p.amount for r in held for p in r.problem_keys)))
    auth.login()
    page = client.get("/mappings/unmapped").get_data(as_text=True)
    body = page.split("<tbody>")[1]
    assert expected
    for name, count, total in expected:
        row = next(part for part in body.split("<tr>") if name in part and "4900" in part)
        assert f">{count}<" in row and f"{total:,.2f}" in row


def test_exceptions_page_links_to_the_fix_the_record_and_its_audit(ferry, client, auth):
    with data(ferry):
        record = exceptions("GL account 4900")[0]
    auth.login()
    page = client.get("/exceptions/").get_data(as_text=True)
    row = page.split(f'id="exception-{record.id}"')[1].split("</tr>")[0]
    assert f'href="/records/{record.id}"' in row
    assert f"/mappings/org/{record.org_id}/accounts?q=4900" in row
    # Said in full, and the organisation only once: in its own column, not the sentence.
    assert "No Xero account for ConnectWise GL account 4900" in row
    assert "CW GL account" not in row and " in org " not in row
    with data(ferry):
        org_name = Connection.get_by_id(record.org_id).name
    assert row.count(org_name) == 1
    # The record was held back, never sent on its own: the link shows its run's calls,
    # and that audit page really lists some (a link to no entries helped nobody).
    audit = re.search(r'href="(/audit/\?run=\d+)"', row)
    assert audit and audit.group(1) == f"/audit/?run={record.last_run_id}"
    assert "No requests match" not in client.get(audit.group(1)).get_data(as_text=True)
    assert f'value="invoice:{record.cw_id}"' in row and 'action="/runs/force"' in row
    assert 'name="csrf_token"' in row
    filtered = client.get(f"/exceptions/?kind=account&value=4900&org={record.org_id}")
    assert f"exception-{record.id}" in filtered.get_data(as_text=True)
    assert "Resolve the contact clash" not in filtered.get_data(as_text=True)


def test_a_mapping_change_offers_the_exceptions_it_fixes(ferry, client, auth):
    with data(ferry):
        record = exceptions("GL account 4900")[0]
        held = {str(r.cw_id) for r in exceptions("GL account 4900")
                if r.org_id == record.org_id}
    auth.login()
    token = csrf_token(client, "/mappings/")
    answer = client.post(f"/mappings/org/{record.org_id}/accounts/new", headers=HX, data={
        "csrf_token": token, "cw_gl_account": "4900", "xero_account_code": "260"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "This change may fix" in html
    offered = set(re.findall(r'name="record" value="invoice:(\d+)"', html))
    assert offered == held
    with data(ferry):
        run_cycle("invoice", trigger="force", only_ids=[int(i) for i in offered])
        assert all(SyncRecord.get(SyncRecord.cw_id == int(i)).state == "synced"
                   for i in offered)


def test_dismiss_by_plain_form_post_needs_a_reason(ferry, client, auth):
    with data(ferry):
        record = exceptions("GL account 4900")[0]
    auth.login()
    token = csrf_token(client, "/exceptions/")
    refused = client.post(f"/exceptions/{record.id}/dismiss", data={"csrf_token": token,
                                                                    "reason": " "})
    assert refused.status_code == 422
    assert "Say why this exception can be dismissed" in refused.get_data(as_text=True)
    with data(ferry):
        assert SyncRecord.get_by_id(record.id).state == "exception"
    done = client.post(f"/exceptions/{record.id}/dismiss", data={
        "csrf_token": token, "reason": "Entered by hand"})
    assert done.status_code == 303
    with data(ferry):
        assert SyncRecord.get_by_id(record.id).state == "excluded"
    assert f"exception-{record.id}" not in client.get("/exceptions/").get_data(as_text=True)


def test_a_clash_linked_to_an_existing_xero_contact(ferry, client, auth, xero):  # noqa: F811
    with data(ferry):
        clash = exceptions("already exists in org")
        org_id = clash[0].org_id
        company = clash[0].problem_keys.get().cw_value
    auth.login()
    found = client.get(f"/mappings/org/{org_id}/contacts?company={company}"
                       "&term=Harbour Dental").get_data(as_text=True)
    ids = re.findall(r'name="contact_id" value="([^"]+)"', found)
    assert len(ids) == 1                     # the legacy contact of the same name
    token = csrf_token(client, f"/mappings/org/{org_id}/contacts")
    linked = client.post(f"/mappings/org/{org_id}/contacts/link", headers=HX, data={
        "csrf_token": token, "company": company, "contact_id": ids[0]})
    html = linked.get_data(as_text=True)
    assert "Linked to the Xero contact Harbour Dental Group" in html
    assert len(re.findall(r'name="record" value="invoice:', html)) == len(clash)
    with data(ferry):
        assert ContactLink.get(ContactLink.org == org_id,
                               ContactLink.cw_company_id == int(company)
                               ).xero_contact_id == ids[0]
        run_cycle("invoice", trigger="force", only_ids=[r.cw_id for r in clash])
        assert {SyncRecord.get_by_id(r.id).state for r in clash} == {"synced"}
        assert RecordProblem.select().join(SyncRecord).where(
            (SyncRecord.state == "exception") & (RecordProblem.kind == "contact")).count() == 0
    docs = [d for d in orgs(xero)[SYDNEY].invoices.values()
            if (d.get("_contact_id") or "").lower() == ids[0].lower()]
    assert len(docs) == len(clash)


def test_a_csv_import_offers_the_exceptions_it_fixes(ferry, client, auth):
    import base64
    with data(ferry):
        record = exceptions("GL account 4900")[0]
        held = {str(r.cw_id) for r in exceptions("GL account 4900")
                if r.org_id == record.org_id}
    auth.login()
    token = csrf_token(client, "/mappings/import")
    applied = client.post("/mappings/import/apply", data={
        "csrf_token": token, "kind": "accounts", "org": str(record.org_id),
        "data": base64.b64encode(b"cw_gl_account,xero_account_code\r\n4900,260\r\n").decode()})
    html = applied.get_data(as_text=True)
    assert applied.status_code == 200 and "1 added" in html and "(1 row written)" in html
    assert set(re.findall(r'name="record" value="invoice:(\d+)"', html)) == held
