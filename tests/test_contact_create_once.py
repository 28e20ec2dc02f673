"""Create and link (a contact clash resolved by a new Xero contact) makes one Xero contact
however often it is pressed: twice in a row (with another name typed the second time),
twice at once, and again after Xero's answer to the first never came. The page moves on
after it: the clash row leaves and the held-back records are offered for re-sync, by
HTMX (the fragment) and by a plain form post (redirect to a page that offers them).
Against both sandboxes over loopback HTTP."""
import re
import threading

import pytest

from jobs.cycle import run_cycle
from models import ContactLink, SyncRecord
from tests.conftest import csrf_token
from tests.sync_e2e.helpers import fault, orgs
from tests.test_mappings_exceptions import (  # noqa: F401  (fixtures)
    HX, SYDNEY, cw, data, exceptions, ferry, xero)

CONTACTS = "/api.xro/2.0/Contacts"
RESYNC = re.compile(r"<button[^>]*>Re-sync (it|them) now</button>")


def the_clash(app):
    with data(app):
        clash = exceptions("already exists in org")
        assert clash
        return clash, clash[0].org_id, clash[0].problem_keys.get().cw_value


def press(client, org_id, company, name, *, htmx):
    token = csrf_token(client, f"/mappings/org/{org_id}/contacts?company={company}")
    return client.post(f"/mappings/org/{org_id}/contacts/create",
                       headers=HX if htmx else {},
                       data={"csrf_token": token, "company": company, "name": name})


def page_after(client, answer, *, htmx) -> str:
    """What the person sees after the press: the fragment HTMX swaps in, or the page
    the plain form post is redirected to."""
    if htmx:
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.get_data(as_text=True)
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)
    shown = client.get(answer.headers["Location"])
    assert shown.status_code == 200
    return shown.get_data(as_text=True)


def assert_moved_on(html, company, clash):
    """The clash row and its form are gone; the re-sync of what it held back is offered."""
    assert "Create and link" not in html
    assert f"company={company}\"" not in html          # no Resolve link for it
    assert RESYNC.search(html), html
    offered = set(re.findall(r'name="record" value="invoice:(\d+)"', html))
    assert offered == {str(r.cw_id) for r in clash}


def contacts_numbered(xero, number):  # noqa: F811
    return [c for c in orgs(xero)[SYDNEY].contacts.values()
            if (c.get("ContactNumber") or "") == number and c["ContactStatus"] == "ACTIVE"]


def linked_contact(app, org_id, company):
    with data(app):
        return ContactLink.get((ContactLink.org == org_id) &
                               (ContactLink.cw_company_id == int(company))).xero_contact_id


def assert_one_contact_and_resync(app, xero, org_id, company, clash):  # noqa: F811
    """Exactly one Xero contact carries the company's number; the link and, after the
    re-sync, every held-back invoice go to it."""
    contact_id = linked_contact(app, org_id, company)
    contact = orgs(xero)[SYDNEY].contacts[contact_id.lower()]
    assert len(contacts_numbered(xero, contact["ContactNumber"])) == 1, [
        c["Name"] for c in contacts_numbered(xero, contact["ContactNumber"])]
    with data(app):
        run_cycle("invoice", trigger="force", only_ids=[r.cw_id for r in clash])
        assert {SyncRecord.get_by_id(r.id).state for r in clash} == {"synced"}
        records = [SyncRecord.get_by_id(r.id) for r in clash]
    invoices = orgs(xero)[SYDNEY].invoices
    assert {invoices[r.xero_id.lower()]["_contact_id"].lower() for r in records} == {
        contact_id.lower()}
    return contact


@pytest.mark.parametrize("htmx", [False, True], ids=["form-post", "htmx"])
def test_create_and_link_pressed_twice_makes_one_contact(ferry, client, auth, xero,  # noqa: F811
                                                         htmx):
    clash, org_id, company = the_clash(ferry)
    auth.login()
    first = press(client, org_id, company, "Harbour Dental Group (Sydney clinic)", htmx=htmx)
    html = page_after(client, first, htmx=htmx)
    assert "Created the Xero contact Harbour Dental Group (Sydney clinic) and linked it" in html
    assert_moved_on(html, company, clash)
    # The page, opened again, still offers the re-sync and no longer the clash.
    again = client.get(f"/mappings/org/{org_id}/contacts?company={company}")
    assert_moved_on(again.get_data(as_text=True), company, clash)

    # A second press (another tab, the back button, a double click) with another name.
    second = press(client, org_id, company, "Harbour Dental Group (customer)", htmx=htmx)
    html = page_after(client, second, htmx=htmx)
    assert "already has its Xero contact Harbour Dental Group (Sydney clinic)" in html
    assert_moved_on(html, company, clash)
    contact = assert_one_contact_and_resync(ferry, xero, org_id, company, clash)
    assert contact["Name"] == "Harbour Dental Group (Sydney clinic)"


def test_two_presses_at_once_make_one_contact(ferry, app, auth, xero):  # noqa: F811
    """Two people (or tabs) press at the same moment, with different names typed; Xero
    takes its time answering the create."""
    clash, org_id, company = the_clash(ferry)
    fault(xero, kind="slow", method="POST", path=CONTACTS, rate=1.0, delay=1.5)
    clients = [app.test_client() for _ in range(2)]
    for c in clients:
        type(auth)(c).login()
    names = ["Harbour Dental Group (Sydney clinic)", "Harbour Dental Group (customer)"]
    start, answers = threading.Barrier(2), [None, None]

    def one(i):
        token = csrf_token(clients[i], f"/mappings/org/{org_id}/contacts?company={company}")
        start.wait()
        answers[i] = clients[i].post(
            f"/mappings/org/{org_id}/contacts/create", headers=HX,
            data={"csrf_token": token, "company": company, "name": names[i]})

    journal = xero.app.xero.kit.journal
    before = max([e["seq"] for e in journal.entries()] or [0])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for answer in answers:
        assert_moved_on(page_after(clients[0], answer, htmx=True), company, clash)
    assert len(journal.entries(method="POST", path=CONTACTS, since=before)) == 1
    assert_one_contact_and_resync(ferry, xero, org_id, company, clash)


def test_a_press_after_the_answer_never_came_finds_the_contact(
        ferry, client, auth, xero):  # noqa: F811
    """Xero made the contact but its answer was lost on the way back (every retry too):
    the page says the contact may exist, and the next press finds it instead of making a
    second one."""
    clash, org_id, company = the_clash(ferry)
    auth.login()
    fault(xero, kind="lost_response", method="POST", path=CONTACTS, rate=1.0, times=4)
    lost = press(client, org_id, company, "Harbour Dental Group (Sydney clinic)", htmx=True)
    assert lost.status_code == 502
    said = lost.get_data(as_text=True)
    assert "Nothing was created" not in said
    assert "may have made the contact" in said
    second = press(client, org_id, company, "Harbour Dental Group (customer)", htmx=True)
    html = page_after(client, second, htmx=True)
    assert "already has its Xero contact Harbour Dental Group (Sydney clinic)" in html
    assert_moved_on(html, company, clash)
    contact = assert_one_contact_and_resync(ferry, xero, org_id, company, clash)
    assert contact["Name"] == "Harbour Dental Group (Sydney clinic)"
    from models import XeroCreation
    with data(ferry):
        assert XeroCreation.get(XeroCreation.key == company).xero_id.lower() == contact["ContactID"].lower()
