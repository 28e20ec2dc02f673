"""Reading invoices and credit memos through CW's accounting interface.

The unposted-invoices list says what changed since the watermark (every CW invoice type
appears there once closed); the GL export preview gives each one's GL-ready lines; the
invoice records add what the export lacks (customer PO, applyToId, location and
department); companies and their billing contacts feed the Xero contacts.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from connectors import cw_conditions as cond
from jobs.cycle_contacts import Company
from jobs.cycle_records import Candidate, cw_time
from sync.invoices import map_sales_transaction
from sync.routing import CwRef, RoutingFacts
from sync.sales import SalesSource

EXPORT_CHUNK = 200            # invoices per export preview
KINDS = {"invoice": "invoices", "credit_note": "credit memos"}


def changed_ids(cw, record_type: str, since: datetime | None) -> list[int]:
    kind = (cond.eq if record_type == "credit_note" else cond.ne)("invoiceType", "CreditMemo")
    changed = cond.gt("_info/lastUpdated", since) if since else None
    return [row["id"] for row in cw.unposted_invoices(cond.and_(changed, kind))]


def read_sales(cw, record_type: str, ids: list[int], names: dict) -> list[Candidate]:
    ids = sorted(set(ids))
    if not ids:
        return []
    transactions = []
    for start in range(0, len(ids), EXPORT_CHUNK):
        export = cw.export_preview({
            "summarizeInvoices": "Detailed", "includedInvoiceIds": ids[start:start + EXPORT_CHUNK],
            "exportExpensesFlag": False, "exportProductsFlag": False})
        transactions += export.get("transactions") or []
    wanted_credit = record_type == "credit_note"
    transactions = [t for t in transactions
                    if ((t.get("documentType") or "").upper() == "CREDIT MEMO") == wanted_credit]
    invoices = {i["id"]: i for i in cw.invoices_by_ids([t["id"] for t in transactions])}
    applied = {i["applyToId"] for i in invoices.values() if i.get("applyToId")}
    originals = {i["id"]: i for i in cw.invoices_by_ids(sorted(applied))} if applied else {}
    companies = read_companies(cw, {t["company"]["id"] for t in transactions})
    out = []
    for txn in transactions:
        invoice = invoices.get(txn["id"])
        if invoice is None:
            continue
        company = companies.get(txn["company"]["id"]) or Company(txn["company"])
        original = originals.get(invoice.get("applyToId"))
        facts = RoutingFacts(
            KINDS[record_type],
            _ref(invoice.get("locationId"), names["locations"]),
            _ref(invoice.get("departmentId"), names["departments"]),
            integrator_tags=tuple(t.get("name", "") for t in
                                  company.record.get("integratorTags") or ()
                                  if isinstance(t, dict)),
            company_types=tuple(t.get("name", "") for t in company.record.get("types") or ()))
        label = ("Credit memo " if wanted_credit else "Invoice ") + str(txn["documentNumber"])
        out.append(Candidate(
            record_type=record_type, cw_id=txn["id"], number=str(txn["documentNumber"]),
            label=label, updated_at=cw_time((invoice.get("_info") or {}).get("lastUpdated")),
            facts=facts, company=company,
            build=partial(_build, txn, invoice, facts,
                          original.get("invoiceNumber") if original else None),
            apply_to_id=invoice.get("applyToId"), date=txn.get("documentDate"),
            currency=(txn.get("currency") or {}).get("currencyCode"),
            gl_entry_ids=[int(e) for e in str(txn.get("glEntryIds") or "").split(",") if e]))
    return out


def _build(txn, invoice, facts, applies_to_number, contact, mappings):
    return map_sales_transaction(
        SalesSource(txn, invoice, facts, contact, applies_to_number=applies_to_number),
        mappings)


def read_companies(cw, ids: set[int]) -> dict[int, Company]:
    if not ids:
        return {}
    records = {c["id"]: c for c in cw.by_ids("company/companies", ids)}
    contact_ids = {(c.get("billingContact") or {}).get("id") for c in records.values()}
    contact_ids.discard(None)
    contacts = ({c["id"]: c for c in cw.by_ids("company/contacts", contact_ids)}
                if contact_ids else {})
    return {cid: Company(rec, contacts.get((rec.get("billingContact") or {}).get("id")))
            for cid, rec in records.items()}


def reference_names(cw) -> dict:
    """Location and department names, for routing sentences."""
    return {"locations": {r["id"]: r.get("name", str(r["id"])) for r in cw.locations()},
            "departments": {r["id"]: r.get("name", str(r["id"])) for r in cw.departments()}}


def _ref(ref_id, names: dict) -> CwRef | None:
    return CwRef(ref_id, names.get(ref_id, str(ref_id))) if ref_id else None


def overlap_start(watermark: datetime | None, minutes: int) -> datetime | None:
    return watermark - timedelta(minutes=minutes) if watermark else None
