"""The Xero contact of each CW company a cycle writes documents for, in one org.

A company Ferry linked before is used as linked, and updated when its details changed
(the hash of what Ferry would send differs from the one stored). A new company is looked
up by ContactNumber, then by name (sync.contacts decides; a name clash is never merged);
what is still unknown is created. Lookups go 40 to a call (or, for many companies, the
org's whole list is read 1,000 to a page); writes go 50 at a time.

Every create goes through jobs/xero_creations: its intent is recorded before the batch
goes out, so two cycles (invoices and bills hold different locks) or a cycle and a press
of Create and link in Mappings never make the same company's contact twice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

from connectors.xero import NUMBERS_PER_CALL, where_equals
from connectors.xero_batches import MAX_ELEMENTS
from peewee import EXCLUDED

from connectors.errors import ApiUnavailable, NotFound
from jobs import xero_creations
from models import Connection, ContactLink, utcnow
from sync.contacts import changed_fields, contact_payload, resolve_contact
from sync.versions import version_hash

# A first sync meets many companies at once: reading the org's contact list 1,000 a page
# then costs less than looking each up by number and name, 40 to a call.
LIST_PAGE = 1000
MIN_LOOKUPS_FOR_LIST = 4


@dataclass(frozen=True)
class Company:
    """A CW company and its billing contact, as read for this cycle."""
    record: Mapping
    billing_contact: Mapping | None = None


@dataclass(frozen=True)
class ContactOutcome:
    contact_id: str | None
    sentence: str | None = None     # why the company has no usable contact


def ensure_contacts(client, org: Connection, companies: dict[int, Company],
                    known: dict | None = None) -> dict[int, ContactOutcome]:
    """`known`: the cycle's memo of whole contact lists read (org id -> slim contacts),
    so an org's list is read at most once a cycle however many writes the cycle makes;
    contacts Ferry creates are added to it."""
    outcomes: dict[int, ContactOutcome] = {}
    wanted: dict[int, dict] = {}
    for cid, company in companies.items():
        try:
            wanted[cid] = contact_payload(company.record, company.billing_contact)
        except ValueError as exc:
            outcomes[cid] = ContactOutcome(None, str(exc))
    links = {link.cw_company_id: link for link in ContactLink.select().where(
        (ContactLink.org == org) & ContactLink.cw_company_id.in_(list(wanted)))}
    writes: list[tuple[int, dict]] = []
    for cid, link in links.items():
        outcomes[cid] = ContactOutcome(link.xero_contact_id)
        if link.details_hash != version_hash(wanted[cid]):
            writes.append((cid, {"ContactID": link.xero_contact_id, **wanted[cid]}))
    new = [cid for cid in wanted if cid not in links]
    found, claimed = _candidates(client, org, [companies[cid].record for cid in new],
                                 known)
    decisions = {cid: resolve_contact(companies[cid].record, found, org.name) for cid in new}
    full = _full_details(client, found, [d.contact_id for d in decisions.values()
                                         if d.action == "use"])
    for cid in new:
        record = companies[cid].record
        decision = decisions[cid]
        taken = next((c for c in claimed if (c.get("ContactNumber") or "").strip()
                      == wanted[cid]["ContactNumber"]), None)
        if decision.action == "create" and taken is not None:
            outcomes[cid] = ContactOutcome(None, (
                f"The Xero contact {taken.get('Name')} in org {org.name} already carries "
                f"contact number {wanted[cid]['ContactNumber']} for another ConnectWise "
                f"company; ConnectWise company {record.get('name')} was not merged. Give one "
                "of them another identifier in ConnectWise, or link it in Mappings."))
        elif decision.action in ("clash", "archived"):
            outcomes[cid] = ContactOutcome(None, decision.sentence)
        elif decision.action == "use":
            existing = full[decision.contact_id]
            _link(org, cid, decision.contact_id, None)
            outcomes[cid] = ContactOutcome(decision.contact_id)
            if changed_fields(wanted[cid], existing):
                writes.append((cid, {"ContactID": decision.contact_id, **wanted[cid]}))
            else:
                _link(org, cid, decision.contact_id, version_hash(wanted[cid]))
        else:
            writes.append((cid, wanted[cid]))
    claims, settled = _claim_creates(org, [cid for cid, p in writes if "ContactID" not in p])
    outcomes.update(settled)
    writes = [(cid, p) for cid, p in writes if "ContactID" in p or cid in claims]
    for start in range(0, len(writes), MAX_ELEMENTS):
        part = writes[start:start + MAX_ELEMENTS]
        saved = []
        try:
            results = client.save_contacts([p for _c, p in part])
        except BaseException as exc:
            for cid, _p in part:
                if cid in claims:
                    xero_creations.give_up(claims[cid],
                                           unknown=isinstance(exc, ApiUnavailable))
            raise
        for (cid, payload), result in zip(part, results):
            if result.ok:
                saved.append((cid, result.id, version_hash(wanted[cid])))
                outcomes[cid] = ContactOutcome(result.id)
                if cid in claims:
                    xero_creations.finish(claims[cid], result.id, payload.get("Name"))
                if "ContactID" not in payload and known is not None and org.id in known:
                    known[org.id].append(_slim({**payload, "ContactID": result.id,
                                                "ContactStatus": "ACTIVE"}))
            elif "ContactID" not in payload:
                xero_creations.give_up(claims[cid], unknown=result.unknown)
                outcomes[cid] = ContactOutcome(None, "Xero refused the contact for "
                                               f"{companies[cid].record.get('name')}: "
                                               + " ".join(result.errors))
        _link_many(org, saved)
    return outcomes


# How long a cycle waits for another run (or a press in Mappings) creating the same
# company's contact, before leaving its records for the next cycle.
CREATE_WAIT = 30.0
STILL_CREATING = ("Ferry is creating the Xero contact of ConnectWise company {company} in "
                  "org {org} in another run; its records are written on the next cycle.")


def _claim_creates(org: Connection, cids: list[int]) -> tuple[dict, dict]:
    """The intents of the contacts this cycle is about to create (the caller looked each
    company's number up just now and found no contact for it): {cid: Claim} for those
    this cycle creates, and {cid: ContactOutcome} for those made (or being made) by
    another run, waited for up to CREATE_WAIT."""
    claims, settled = {}, {}
    deadline, pending = time.monotonic() + CREATE_WAIT, list(cids)
    while pending:
        busy = []
        for cid in pending:
            c = xero_creations.claim(org.id, "contact", str(cid))
            if c.state == "created":
                link = ContactLink.get_or_none((ContactLink.org == org) &
                                               (ContactLink.cw_company_id == cid))
                if link is not None and link.xero_contact_id == c.xero_id:
                    settled[cid] = ContactOutcome(c.xero_id)     # made by the other run
                    continue
                # Not found by its number just now: gone, renumbered or relinked.
                c = xero_creations.take_over_created(c)
            if c.state == "mine" and c.lost_at is not None and (
                    utcnow() - c.lost_at < xero_creations.GRACE):
                xero_creations.give_up(c, unknown=True)   # Xero may still be writing it
                settled[cid] = ContactOutcome(None, STILL_CREATING.format(
                    company=cid, org=org.name))
            elif c.state == "mine":
                claims[cid] = c
            else:
                busy.append(cid)
        if busy and time.monotonic() >= deadline:
            settled.update((cid, ContactOutcome(None, STILL_CREATING.format(
                company=cid, org=org.name))) for cid in busy)
            break
        if busy:
            time.sleep(xero_creations.POLL)
        pending = busy
    return claims, settled


class ContactRefused(Exception):
    """Nothing was made; the sentence says why and what to do."""


def create_for_company(client, org: Connection, company: Company, name: str, *,
                       wait: float = 20.0) -> tuple[xero_creations.Outcome, dict]:
    """A new Xero contact for a CW company under `name` (a person's choice in Mappings,
    the company's own name being taken), made once: a second press, one at the same
    time, or one after Xero's answer was lost finds the first one's contact. Returns the
    outcome and the contact as Xero has it. Raises ContactRefused, InFlight, Unknown or
    the connector's errors; links nothing (the caller links)."""
    cid = int(company.record["id"])
    payload = {**contact_payload(company.record, company.billing_contact), "Name": name}
    number = payload["ContactNumber"]
    seen: dict[str, dict] = {}

    def alive(contact_id: str) -> bool:
        try:
            answer = client.call("GET", f"/Contacts/{contact_id}") or {}
        except NotFound:
            return False
        contact = (answer.get("Contacts") or [None])[0]
        if contact is None or contact.get("ContactStatus", "ACTIVE") != "ACTIVE":
            return False
        seen[contact_id] = contact
        return True

    def find() -> str | None:
        link = ContactLink.get_or_none((ContactLink.org == org) &
                                       (ContactLink.cw_company_id == cid))
        if link is not None and alive(link.xero_contact_id):
            return link.xero_contact_id
        others = {lk.xero_contact_id for lk in ContactLink.select().where(
            (ContactLink.org == org) & (ContactLink.cw_company_id != cid))}
        for contact in client.contacts_by_numbers([number]):
            if ((contact.get("ContactNumber") or "").strip() == number
                    and contact.get("ContactStatus", "ACTIVE") == "ACTIVE"
                    and contact["ContactID"] not in others):
                seen[contact["ContactID"]] = contact
                return contact["ContactID"]
        return None

    def create() -> str:
        if client.contacts_by_name(name):
            raise ContactRefused(
                f"Xero org {org.name} already has a contact named {name}; choose another "
                "name, or link to that contact instead.")
        result = client.save_contacts([payload])[0]
        if result.unknown:
            raise xero_creations.Unknown(name)
        if not result.ok:
            raise ContactRefused("Xero refused the new contact: " + " ".join(result.errors))
        seen[result.id] = {**payload, **(result.element or {}), "ContactID": result.id}
        return result.id

    outcome = xero_creations.create_once(
        org.id, "contact", str(cid), create=create, find=find, alive=alive, name=name,
        look_first=True, wait=wait)
    contact = seen.get(outcome.xero_id)
    if contact is None and alive(outcome.xero_id):
        contact = seen[outcome.xero_id]
    return outcome, contact or {"ContactID": outcome.xero_id, "Name": outcome.name}


# What deciding on a contact reads of it (sync.contacts.resolve_contact); the details
# compared before an update are read again by id, for the few contacts adopted.
SLIM = ("ContactID", "ContactNumber", "ContactStatus", "Name")


def _slim(contact: Mapping) -> dict:
    return {k: contact[k] for k in SLIM if k in contact}


def _full_details(client, found: list[dict], ids: list[str]) -> dict[str, dict]:
    """The contacts `ids` with every detail: from `found` when it has them, else read
    by id (IDs, 40 to a call)."""
    have = {c["ContactID"]: c for c in found if c["ContactID"] in set(ids)}
    slim = sorted({i for i, c in have.items() if set(c) <= set(SLIM)})
    for start in range(0, len(slim), NUMBERS_PER_CALL):
        answer = client.call("GET", "/Contacts", params={
            "IDs": ",".join(slim[start:start + NUMBERS_PER_CALL])})
        have.update((c["ContactID"], c) for c in (answer or {}).get("Contacts", []))
    return have


def _candidates(client, org: Connection, records: list[Mapping], known: dict | None = None
                ) -> tuple[list[dict], list[dict]]:
    """Xero contacts that may be these (unlinked) companies, by ContactNumber or name;
    and apart, those found by number that Ferry already linked to another CW company
    (an identifier given to a new company after the old one's changed): never theirs."""
    numbers = [(r.get("identifier") or "").strip() for r in records]
    everyone = (known or {}).get(org.id) if records else None
    if everyone is None and records:
        everyone = _whole_list(client, 2 * -(-len(records) // NUMBERS_PER_CALL))
        if everyone is not None and known is not None:
            known[org.id] = [_slim(c) for c in everyone]
    if everyone is not None:
        wanted = set(numbers) - {""}
        by_number = [c for c in everyone if (c.get("ContactNumber") or "").strip() in wanted]
    else:
        by_number = _by_numbers(client, [n for n in numbers if n]) if numbers else []
    linked = {link.xero_contact_id for link in ContactLink.select().where(
        (ContactLink.org == org) &
        ContactLink.xero_contact_id.in_([c["ContactID"] for c in by_number]))
              } if by_number else set()
    found = [c for c in by_number if c["ContactID"] not in linked]
    claimed = [c for c in by_number if c["ContactID"] in linked]
    taken = {(c.get("ContactNumber") or "").strip() for c in found}
    names = sorted({(r.get("name") or "").strip() for r in records
                    if (r.get("identifier") or "").strip() not in taken and r.get("name")})
    if everyone is not None:
        folded = {_fold(n) for n in names}
        found += [c for c in everyone if _fold(c.get("Name")) in folded
                  and c["ContactID"] not in linked and c not in by_number]
        return found, claimed
    for start in range(0, len(names), NUMBERS_PER_CALL):
        answer = client.call("GET", "/Contacts", params={
            "where": where_equals("Name", names[start:start + NUMBERS_PER_CALL])})
        found += [c for c in (answer or {}).get("Contacts", []) if c["ContactID"] not in linked]
    return found, claimed


def _whole_list(client, lookups: int) -> list[dict] | None:
    """The org's whole contact list, when reading it page by page costs fewer calls than
    the `lookups` by number and name would; None (and at most that many calls spent)
    when the list is longer."""
    if lookups <= MIN_LOOKUPS_FOR_LIST:
        return None
    everyone: list[dict] = []
    for page in range(1, lookups):
        rows = (client.call("GET", "/Contacts", params={
            "page": page, "pageSize": LIST_PAGE, "includeArchived": "true"})
                or {}).get("Contacts", [])
        everyone += rows
        if len(rows) < LIST_PAGE:
            return everyone
    return None


def _by_numbers(client, numbers: list[str]) -> list[dict]:
    """Contacts by ContactNumber, archived ones too: a company whose contact was
    archived must not get a second one made silently."""
    return client.contacts_by_numbers(numbers, include_archived=True)


def _fold(value) -> str:
    return " ".join(str(value or "").split()).casefold()


def _link_many(org: Connection, links: list[tuple[int, str, str | None]]) -> None:
    """One statement for a batch's (company, contact, details hash) links: what 50
    _link calls would do, without building and running 50 statements."""
    if not links:
        return
    ContactLink.insert_many(
        [{"org": org, "cw_company_id": cid, "xero_contact_id": contact_id,
          "details_hash": details} for cid, contact_id, details in links]).on_conflict(
        conflict_target=[ContactLink.org, ContactLink.cw_company_id],
        update={ContactLink.xero_contact_id: EXCLUDED.xero_contact_id,
                ContactLink.details_hash: EXCLUDED.details_hash}).execute()


def _link(org: Connection, cw_company_id: int, contact_id: str, details: str | None) -> None:
    ContactLink.insert(org=org, cw_company_id=cw_company_id, xero_contact_id=contact_id,
                       details_hash=details).on_conflict(
        conflict_target=[ContactLink.org, ContactLink.cw_company_id],
        update={ContactLink.xero_contact_id: contact_id,
                ContactLink.details_hash: details}).execute()
