"""Reading invoices and credit memos through CW's accounting interface.

The unposted-invoices list says what changed since the watermark (every CW invoice type
appears there once closed); the GL export preview gives each one's GL-ready lines; the
invoice records add what the export lacks (customer PO, applyToId, location and
department); companies and their billing contacts feed the Xero contacts.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import chain

from connectors import cw_conditions as cond
from jobs import cycle_waiting
from jobs.cycle_contacts import Company
from jobs.cycle_records import Candidate, cw_time
from models import SyncRecord
from sync.invoices import map_sales_transaction
from sync.routing import CwRef, RoutingFacts
from sync.money import cents, to_decimal
from sync.sales import SalesSource, document_sign

EXPORT_CHUNK = 200            # invoices per export preview
KINDS = {"invoice": "invoices", "credit_note": "credit memos"}


UNPOSTED_INVOICES = "finance/accounting/unpostedinvoices"


def changed_numbers(cw, record_type: str, since: datetime | None, read_before: dict,
                    overlap_minutes: int) -> tuple[list[str], dict[str, str]]:
    """Invoice numbers of the unposted invoices changed since `since`, and the memo of
    this read for the next cycle.

    The unposted list's own `id` is not the invoice id (sandbox/FIDELITY.md 1.1), but its
    `invoiceNumber` is the invoice's, so read_sales reads the invoices by number (no
    number-to-id look-up first). A cycle reads again the rows of its overlap window; a
    row whose `_info/lastUpdated` is what the last completed cycle read (`read_before`:
    number -> lastUpdated) has not changed and is left out, so an idle cycle costs this
    one list call. Of each row only what read_sales needs is kept (memory stays small
    in a large backfill)."""
    kind = (cond.eq if record_type == "credit_note" else cond.ne)("invoiceType", "CreditMemo")
    changed = cond.gt("_info/lastUpdated", since) if since else None
    rows, stamps, numbers = _seen(cw), {}, {}
    for row in cw.unposted_invoices(cond.and_(changed, kind)):
        number, stamp = str(row["invoiceNumber"]), _stamp(row)
        if stamp:
            stamps[number] = stamp
        if stamp and read_before.get(number) == stamp:
            continue
        numbers[number] = _company_id(row)
        rows[number] = {"id": row["id"], "invoiceDate": row.get("invoiceDate")}
    # A company's invoices side by side: a page then reads each company once, where
    # list order would have most companies read again on every page.
    ordered = sorted(numbers, key=lambda n: (numbers[n], len(n), n))
    return ordered, _overlap_memo(stamps, overlap_minutes)


def _company_id(row: dict) -> int:
    company = row.get("company")
    value = company.get("id") if isinstance(company, dict) else None
    return value if isinstance(value, int) else -1


def invoice_ids(cw, numbers: list[str]) -> list[int]:
    """CW invoice ids of these invoice numbers (asking for those two fields only)."""
    if not numbers:
        return []
    return [i["id"] for i in cw.by_ids("finance/invoices", numbers, id_field="invoiceNumber",
                                       fields=("id", "invoiceNumber"))]


def _stamp(row: dict) -> str | None:
    stamp = (row.get("_info") or {}).get("lastUpdated")
    return stamp if isinstance(stamp, str) else None


def _overlap_memo(stamps: dict[str, str], minutes: int) -> dict[str, str]:
    """The rows the next cycle's overlap window reads again: those within `minutes` of
    the newest (its watermark is at most the newest)."""
    times = {}
    for number, stamp in stamps.items():
        try:
            times[number] = cw_time(stamp)
        except ValueError:          # unreadable: not remembered, so read again
            pass
    if not times:
        return {}
    start = max(times.values()) - timedelta(minutes=minutes)
    return {n: stamps[n] for n, t in times.items() if t >= start}


def _seen(cw) -> dict:
    """Unposted rows (by number) this cycle's client already read, as read_sales needs
    them."""
    if not hasattr(cw, "_ferry_unposted_rows"):
        cw._ferry_unposted_rows = {}
    return cw._ferry_unposted_rows


def read_sales(cw, record_type: str, keys: list, names: dict,
               today: date | None = None) -> list[Candidate]:
    """One candidate per CW invoice, named in `keys` by its id (int) or its invoice
    number (str, as the unposted list names it): mapped from its GL export transaction;
    waiting when the export leaves it out because its date has not come (an export
    without thruDate stops at CW's today); an exception naming the record otherwise.

    Every link is by documented fields: the invoice's `invoiceNumber` finds its row in
    the unposted list (whose `id` an export request's includedInvoiceIds names) and its
    transaction (`documentNumber`); the transaction's own `id` is never used."""
    ids = sorted({k for k in keys if isinstance(k, int)})
    by_number = sorted({k for k in keys if isinstance(k, str)})
    if not ids and not by_number:
        return []
    today = today or cycle_waiting.today()
    wanted_credit = record_type == "credit_note"
    seen = _seen(cw)
    read = chain(cw.invoices_by_ids(ids) if ids else (),
                 cw.by_ids("finance/invoices", by_number, id_field="invoiceNumber")
                 if by_number else ())
    invoices = {i["id"]: i for i in read if (i.get("type") == "CreditMemo") == wanted_credit}
    numbers = {str(i["invoiceNumber"]): i for i in invoices.values()}
    rows = {n: seen.pop(n) for n in numbers if n in seen}
    unread = set(numbers) - set(rows)
    if unread:
        rows.update((str(r["invoiceNumber"]), r) for r in cw.by_ids(
            UNPOSTED_INVOICES, unread, id_field="invoiceNumber"))
    row_ids = sorted(r["id"] for r in rows.values())
    transactions = {}
    for start in range(0, len(row_ids), EXPORT_CHUNK):
        export = cw.export_preview({
            "summarizeInvoices": "Detailed", "exportInvoicesFlag": True,
            "includedInvoiceIds": row_ids[start:start + EXPORT_CHUNK],
            "exportExpensesFlag": False, "exportProductsFlag": False})
        for txn in export.get("transactions") or ():
            transactions[str(txn.get("documentNumber"))] = txn
    applied = {i["applyToId"] for i in invoices.values() if i.get("applyToId")}
    originals = {i["id"]: i for i in cw.invoices_by_ids(sorted(applied))} if applied else {}
    companies = read_companies(cw, {i["company"]["id"] for i in invoices.values()
                                    if i.get("company")})
    settled = _synced_ids(record_type, [i["id"] for n, i in numbers.items()
                                        if n not in rows])
    out = []
    for number, invoice in numbers.items():
        txn = transactions.get(number)
        if txn is None and number not in rows and invoice["id"] in settled:
            continue        # written to Xero, then posted in CW: nothing left to do
        label = ("Credit memo " if wanted_credit else "Invoice ") + number
        company = companies.get((invoice.get("company") or {}).get("id")) or Company(
            invoice.get("company") or {})
        facts = RoutingFacts(
            KINDS[record_type],
            _ref(invoice.get("locationId"), names["locations"]),
            _ref(invoice.get("departmentId"), names["departments"]),
            integrator_tags=tuple(t.get("name", "") for t in
                                  company.record.get("integratorTags") or ()
                                  if isinstance(t, dict)),
            company_types=tuple(t.get("name", "") for t in company.record.get("types") or ()
                                if isinstance(t, dict)))
        candidate = Candidate(
            record_type=record_type, cw_id=invoice["id"], number=number, label=label,
            updated_at=cw_time((invoice.get("_info") or {}).get("lastUpdated")),
            facts=facts, company=company, build=_unbuildable,
            apply_to_id=invoice.get("applyToId"), date=invoice.get("date"),
            currency=(invoice.get("currency") or {}).get("currencyCode"))
        if txn is not None:
            original = originals.get(invoice.get("applyToId"))
            candidate.build = partial(_build, txn, invoice, facts,
                                      original.get("invoiceNumber") if original else None)
            candidate.date = txn.get("documentDate") or candidate.date
            candidate.currency = ((txn.get("currency") or {}).get("currencyCode")
                                  or candidate.currency)
            candidate.gl_entry_ids = entry_ids(txn)
            candidate.total = _total(txn)
        elif number not in rows:
            candidate.problem = (
                f"{label} is no longer in ConnectWise's unposted invoices (it was posted "
                "there, or reopened); Ferry writes only unposted invoices. If it should "
                "reach Xero, unpost it in ConnectWise (Finance, Invoices) and sync again.")
        else:
            raw = rows[number].get("invoiceDate") or invoice.get("date")
            on = _day(raw)
            if raw and on is None:
                candidate.problem = (
                    f"{label} could not be read: its date “{raw}” is not a date as "
                    "ConnectWise sends them (2026-12-31T00:00:00Z), and ConnectWise's GL "
                    "export left it out. Correct it in ConnectWise; Ferry tries it again "
                    "when it changes.")
            elif on is not None and on >= today:
                candidate.waiting = (f"Waiting for its date {on.isoformat()}: ConnectWise "
                                     "exports an invoice only once its date has come.")
            else:
                candidate.problem = (
                    f"ConnectWise's GL export left out {label.lower()} dated "
                    f"{on.isoformat() if on else '(no date)'} although it is unposted; "
                    "check it in ConnectWise (Finance, Accounting Interface) and sync again.")
        out.append(candidate)
    return out


def _total(txn) -> Decimal | None:
    """The transaction's total as the document shows it (a credit memo's positive), or
    None when CW gave none that reads as an amount (mapping says why)."""
    try:
        return cents(to_decimal(txn["total"]) * document_sign(txn)) \
            if txn.get("total") is not None else None
    except (ArithmeticError, TypeError, ValueError):
        return None


def _synced_ids(record_type: str, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    return {r.cw_id for r in SyncRecord.select(SyncRecord.cw_id).where(
        (SyncRecord.record_type == record_type) & SyncRecord.cw_id.in_(ids)
        & (SyncRecord.state == "synced"))}


def entry_ids(txn) -> list[int]:
    """What posting the document names: its `glEntryIds` and the ids of its detail lines
    other than sales tax (`glTypeId` "ST"), as the one public map that posts does
    (sandbox/FIDELITY.md 1.5)."""
    ids = [int(e) for e in str(txn.get("glEntryIds") or "").split(",") if e.strip().isdigit()]
    ids += [d["id"] for d in txn.get("detail") or ()
            if isinstance(d.get("id"), int) and d.get("glTypeId") != "ST"]
    return sorted(set(ids))


def _day(value) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _unbuildable(contact, mappings):
    raise RuntimeError("a waiting or unreadable record is never mapped")


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
