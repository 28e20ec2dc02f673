"""Contact clashes resolved in the browser: a ConnectWise company whose name is taken in a
Xero org by another contact is either linked to an existing Xero contact (found by
searching the org) or given a new contact under a distinguishing name. Both write
through the Xero connector with every call in the audit log; the link is what the
next cycle uses, and the held-back records are offered for re-sync.

A new contact is made once however often Create and link is pressed (twice, in two tabs
at once, again after Xero's answer was lost): jobs.cycle_contacts.create_for_company,
through jobs/xero_creations. After a link the page moves on: the clash leaves the list
and, until they are re-synced, the records it held back are offered for re-sync (by HTMX
the fragment, by a plain post a redirect to the page)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from blueprints.mappings import bp, is_htmx
from blueprints.mappings.tables import offer
from blueprints.query_args import whole_number
from connectors.errors import ApiError, ApiUnavailable
from jobs import choices, problem_keys, xero_creations
from jobs.cycle_contacts import Company, ContactRefused, create_for_company
from jobs.audit import DatabaseAuditSink
from models import Connection, ContactLink, RecordProblem, SyncRecord
from sync.contacts import contact_payload
from sync.versions import version_hash
from blueprints.roles import role


def _org(org_id: int) -> Connection:
    org = Connection.get_or_none((Connection.id == org_id) & (Connection.kind == "xero"))
    if org is None:
        abort(404)
    return org


def _linked_companies(org: Connection) -> set[str]:
    return {str(link.cw_company_id) for link in ContactLink.select(
        ContactLink.cw_company_id).where(ContactLink.org == org)}


def _clashes(org: Connection) -> list[dict]:
    """Clashes still to resolve: a company linked since (here, or by a cycle) is not one;
    its records wait for their re-sync (_resync_offer)."""
    rows = (RecordProblem.select(RecordProblem, SyncRecord).join(SyncRecord)
            .where((RecordProblem.org == org) & (RecordProblem.kind == "contact") &
                   (SyncRecord.state == "exception")).order_by(RecordProblem.label))
    linked = _linked_companies(org)
    out: dict[str, dict] = {}
    for p in rows:
        if p.cw_value in linked:
            continue
        item = out.setdefault(p.cw_value, {"company_id": p.cw_value, "name": p.label,
                                           "records": [], "sentence": None})
        item["records"].append(p.record)
        item["sentence"] = item["sentence"] or (p.record.problems or [None])[0]
    return list(out.values())


def _company(company_id: int):
    """The CW company and billing contact, as a cycle reads them."""
    from jobs.cycle_sales import read_companies
    with DatabaseAuditSink() as sink, choices.connectwise(sink) as cw:
        return read_companies(cw, {company_id}).get(company_id)


def _resync_offer(org: Connection):
    """The records a clash held back whose company has its contact now: offered for
    re-sync until they are written."""
    linked = _linked_companies(org)
    rows = (RecordProblem.select(RecordProblem.cw_value).join(SyncRecord)
            .where((RecordProblem.org == org) & (RecordProblem.kind == "contact") &
                   (SyncRecord.state == "exception")).distinct())
    companies = sorted({p.cw_value for p in rows} & linked)
    return offer(problem_keys.open_records("contacts", companies, org.id)) if companies \
        else None


def _render(org, status=200, chosen=None, **extra):
    clashes = _clashes(org)
    chosen = request.values.get("company", "") if chosen is None else chosen
    ctx = {"org": org, "clashes": clashes, "chosen": chosen,
           "current": next((c for c in clashes if c["company_id"] == chosen), None),
           "found": None, "term": "", "problem": None, "message": None,
           "offer": _resync_offer(org),
           "orgs": list(Connection.select().where(Connection.kind == "xero")
                        .order_by(Connection.name))}
    ctx.update(extra)
    template = "mappings/_contacts.html" if is_htmx() else "mappings/contacts.html"
    return render_template(template, **ctx), status


@bp.route("/org/<int:org_id>/contacts")
@role("viewer")
def contacts(org_id):
    org = _org(org_id)
    term = request.args.get("term", "").strip()
    if not term:
        return _render(org)
    if len(term) < 2:
        return _render(org, 422, term=term,
                       problem="Type at least two letters of the contact's name.")
    try:
        with DatabaseAuditSink() as sink, choices.xero_client(org, sink) as client:
            found = client.search_contacts(term)[:50]
    except Exception as exc:  # the org not answering: say so, keep the page
        return _render(org, 502, term=term, problem=(
            f"Xero org {org.name} did not answer the search ({exc}); try again."))
    return _render(org, term=term, found=found)


def _linked(org, company_id: int, contact_id: str, company) -> None:
    # The hash of what the cycle would send: it then leaves the contact as it is until
    # the company changes in ConnectWise.
    details = None
    if company is not None:
        try:
            details = version_hash(contact_payload(company.record, company.billing_contact))
        except ValueError:
            details = None
    ContactLink.insert(org=org, cw_company_id=company_id, xero_contact_id=contact_id,
                       details_hash=details).on_conflict(
        conflict_target=[ContactLink.org, ContactLink.cw_company_id],
        update={ContactLink.xero_contact_id: contact_id,
                ContactLink.details_hash: details}).execute()
    choices.invalidate_reference(org.id)


def _done(org, message: str):
    """The page moves on: the clash has left the list, its records are offered for
    re-sync (_render finds them). A plain post is redirected to the page (no form)."""
    if not is_htmx():
        flash(message)
        return redirect(url_for(".contacts", org_id=org.id), code=303)
    return _render(org, chosen="", message=message)


@bp.post("/org/<int:org_id>/contacts/link")
@role("finance")
def link_contact(org_id):
    org = _org(org_id)
    company_id = request.form.get("company", "")
    contact_id = request.form.get("contact_id", "").strip()
    if whole_number(company_id) is None or not contact_id:
        return _render(org, 422, problem="Search for the Xero contact, then press Link "
                       "beside the one this company is.")
    try:
        with DatabaseAuditSink() as sink, choices.xero_client(org, sink) as client:
            answer = client.call("GET", f"/Contacts/{contact_id}") or {}
        contact = (answer.get("Contacts") or [None])[0]
        company = _company(int(company_id))
    except (ApiError, choices.NotConnected) as exc:
        return _render(org, 502, problem=f"Nothing was linked: {exc}")
    if contact is None:
        return _render(org, 422, problem="Xero no longer has that contact; search again.")
    _linked(org, int(company_id), contact["ContactID"], company)
    from blueprints.mappings.history import record
    record("contacts", "linked", f"ConnectWise company {company_id} → Xero contact "
           f"{contact.get('Name')}", org)
    return _done(org, f"Linked to the Xero contact {contact.get('Name')}. "
                 "Re-sync the records it held back below.")


@bp.post("/org/<int:org_id>/contacts/create")
@role("finance")
def create_contact(org_id):
    org = _org(org_id)
    company_id = request.form.get("company", "")
    name = " ".join(request.form.get("name", "").split())
    if whole_number(company_id) is None:
        abort(400)
    if not name:
        return _render(org, 422, problem="Type the name the new Xero contact should "
                       "have, different from the one already taken.")
    if len(name) > 255:
        return _render(org, 422, problem="A Xero contact name is at most 255 characters.")
    try:
        company = _company(int(company_id))
        if company is None:
            return _render(org, 422, problem="ConnectWise no longer has that company.")
        with DatabaseAuditSink() as sink, choices.xero_client(org, sink) as client:
            outcome, contact = create_for_company(client, org, Company(
                company.record, company.billing_contact), name)
    except ValueError as exc:   # the company's identifier cannot be a ContactNumber
        return _render(org, 422, problem=str(exc))
    except ContactRefused as exc:
        return _render(org, 422, problem=str(exc))
    except xero_creations.InFlight as exc:
        return _render(org, 409, problem=(
            f"Xero is still creating this company's contact, asked for at "
            f"{exc.since:%H:%M} UTC (an earlier press of Create and link, or a sync). "
            f"Reload this page in a minute; if it is not there by {exc.until:%H:%M} UTC, "
            "press Create and link again: Ferry looks in Xero first and makes it only if "
            "Xero does not have it."))
    except (xero_creations.Unknown, ApiUnavailable) as exc:
        return _render(org, 502, problem=(
            f"Xero did not say what became of the new contact {name} ({exc}); it may "
            "have made the contact. Press Create and link again: Ferry looks in Xero "
            "first and makes it only if Xero does not have it."))
    except (ApiError, choices.NotConnected) as exc:
        return _render(org, 502, problem=f"Nothing was created: {exc}")
    _linked(org, int(company_id), outcome.xero_id, company)
    from blueprints.mappings.history import record
    record("contacts", "created and linked" if outcome.created else "linked",
           f"ConnectWise company {company_id} → Xero contact {contact.get('Name') or name}",
           org)
    made = contact.get("Name") or name
    if outcome.created:
        return _done(org, f"Created the Xero contact {made} and linked it. "
                     "Re-sync the records it held back below.")
    return _done(org, f"ConnectWise company {company.record.get('name')} already has its "
                 f"Xero contact {made} (made by an earlier press or found in Xero); "
                 "it is linked, nothing new was created. Re-sync the records it held "
                 "back below.")
