"""Reading received purchase orders through CW's accounting interface: one bill per
purchase transaction of the GL export (a purchase order and packing slip).

The unposted procurement list is short (it holds only what is not yet posted), so a
cycle that finds a row changed since its watermark reads it whole. Its rows name their purchase order (`purchaseOrder` {id, name})
and carry the opaque `unpostedProductId` an export request's `includedProductIds`
takes; the export's `purchaseTransactions[]` then give each bill's lines. A transaction
is matched to its rows by its `documentNumber` (the PO number) = the rows'
`purchaseOrder.name`; its `id` string is never parsed (sandbox/FIDELITY.md 1.3, 1.4).

A bill's identity is its key `PO <number> slip <slip>` (sync/bills.py), kept in
SyncRecord.cw_number; its cw_id is a number Ferry gives it (CW has no integer id for a
purchase transaction), kept for as long as the record lives.
"""
from __future__ import annotations

from datetime import datetime
from functools import partial

from peewee import fn

from connectors import cw_conditions as cond
from jobs.cycle_records import Candidate, cw_time
from jobs.cycle_sales import _overlap_memo, _ref, _stamp, read_companies
from models import SyncRecord
from sync.bills import BillSource, bill_key, map_bill
from sync.money import cents, to_decimal
from sync.routing import RoutingFacts

EXPORT_CHUNK = 200            # unposted procurement rows per export preview


def read_bills(cw, since: datetime | None, retry_keys: set[str], only_ids,
               names: dict, read_before: dict | None = None,
               overlap_read: dict | None = None, overlap_minutes: int = 0
               ) -> list[Candidate]:
    """The bills to work on. A row the last completed cycle read with the same
    `_info/lastUpdated` (`read_before`, by unpostedProductId) has not changed; the memo
    of this read's overlap window goes into `overlap_read` (as for invoices)."""
    read_before = read_before or {}

    def changed(row) -> bool:
        stamp = _stamp(row)
        return _changed(row, since) and not (stamp and read_before.get(
            str(row.get("unpostedProductId"))) == stamp)
    if since is not None and only_ids is None and not retry_keys:
        # Most cycles find nothing new: ask for the rows changed since first (one call),
        # and read the whole list, which a bill's other rows need, only if one did.
        recent = list(cw.unposted_procurement(cond.gt("_info/lastUpdated", since)))
        if not any(changed(r) for r in recent):
            if overlap_read is not None:
                overlap_read.update(_overlap_memo(_stamps(recent), overlap_minutes))
            return []
    rows = list(cw.unposted_procurement())
    by_po: dict[str, list[dict]] = {}
    for row in rows:
        by_po.setdefault(str((row.get("purchaseOrder") or {}).get("name") or ""), []).append(row)
    if overlap_read is not None:
        overlap_read.update(_overlap_memo(_stamps(rows), overlap_minutes))
    only_keys = _keys_of(only_ids) if only_ids is not None else None
    # Export only the purchase orders that may hold a wanted bill.
    wanted_pos = {po for po, group in by_po.items()
                  if only_keys is not None and any(_po_of(k) == po for k in only_keys)
                  or only_keys is None and (
                      since is None or any(changed(r) for r in group)
                      or any(_po_of(k) == po for k in retry_keys))}
    ask = [r for po in sorted(wanted_pos) for r in by_po[po] if r.get("unpostedProductId")]
    transactions, vendors = [], {}
    for start in range(0, len(ask), EXPORT_CHUNK):
        export = cw.export_preview({
            "summarizeInvoices": "Detailed", "exportProductsFlag": True,
            "exportInvoicesFlag": False, "exportExpensesFlag": False,
            "includedProductIds": [r["unpostedProductId"] for r in ask[start:start + EXPORT_CHUNK]]})
        transactions += export.get("purchaseTransactions") or []
        for vendor in export.get("vendors") or ():
            vid = (vendor.get("company") or vendor.get("vendor") or {}).get("id")
            if vid is not None:
                vendors[vid] = vendor
    if only_keys is not None:
        transactions = [t for t in transactions if bill_key(t) in only_keys]
    companies = read_companies(cw, {t["company"]["id"] for t in transactions
                                    if (t.get("company") or {}).get("id") is not None})
    ids = _ids_for([bill_key(t) for t in transactions])
    out = []
    for txn in transactions:
        key = bill_key(txn)
        group = by_po.get(str(txn.get("documentNumber") or ""), [])
        first = group[0] if group else {}
        facts = RoutingFacts("bills", _ref(first.get("locationId"), names["locations"]),
                             _ref(first.get("departmentId"), names["departments"]))
        vendor_id = (txn.get("company") or {}).get("id")
        company = companies.get(vendor_id)
        times = [cw_time((r.get("_info") or {}).get("lastUpdated")) for r in group]
        candidate = Candidate(
            record_type="bill", cw_id=ids[key], number=key, label=f"Bill for {key}",
            updated_at=max((t for t in times if t), default=None), facts=facts,
            company=company, build=partial(_build, txn, facts,
                                           (vendors.get(vendor_id) or {}).get("dueDays")),
            date=txn.get("vendorInvoiceDate") or txn.get("documentDate"),
            gl_entry_ids=_entry_ids(txn),
            currency=(txn.get("currency") or {}).get("currencyCode"))
        try:
            candidate.total = (cents(to_decimal(txn["total"]))
                               if txn.get("total") is not None else None)
        except (ArithmeticError, TypeError, ValueError):
            pass            # mapping it says what is wrong with the amount
        if company is None:
            candidate.problem = (f"ConnectWise names no vendor company for {key}; set the "
                                 "vendor on the purchase order in ConnectWise.")
        out.append(candidate)
    return out


def _stamps(rows) -> dict[str, str]:
    """`_info/lastUpdated` of each row, by unpostedProductId."""
    return {str(r["unpostedProductId"]): _stamp(r) for r in rows
            if r.get("unpostedProductId") and _stamp(r)}


def retry_markers(query) -> set[str]:
    """The keys of the bills an earlier cycle did not settle."""
    return {r.cw_number for r in query if r.cw_number}


def _build(txn, facts, vendor_due_days, contact, mappings):
    return map_bill(BillSource(txn, facts, contact, vendor_due_days=vendor_due_days),
                    mappings)


def _changed(row: dict, since: datetime) -> bool:
    updated = cw_time((row.get("_info") or {}).get("lastUpdated"))
    return updated is None or updated > since


def _po_of(key: str) -> str:
    """The PO number in a key `PO <number>[ slip <slip>]`, Ferry's own format."""
    rest = key[3:] if key.startswith("PO ") else key
    return rest.split(" slip ", 1)[0]


def _entry_ids(txn) -> list[int]:
    """What posting the bill names: its purchaseDetail and purchaseDetailTax ids
    (sandbox/FIDELITY.md 1.5)."""
    return sorted({d["id"] for part in ("purchaseDetail", "purchaseDetailTax")
                   for d in txn.get(part) or () if isinstance(d.get("id"), int)})


def _keys_of(ids) -> set[str]:
    return {r.cw_number for r in SyncRecord.select(SyncRecord.cw_number).where(
        (SyncRecord.record_type == "bill") & SyncRecord.cw_id.in_(list(ids)))
        if r.cw_number}


def _ids_for(keys: list[str]) -> dict[str, int]:
    """Ferry's number for each bill key: the one its record has, else the next free
    one (cycles of one type never overlap, so the next free number is this cycle's)."""
    from jobs.cycle_storable import stored_number
    # Keys as SyncRecord.cw_number keeps them (one with a NUL, or too long, in a form
    # the database holds: jobs/cycle_storable.py).
    stored = {key: stored_number("bill", key) for key in keys}
    held = {r.cw_number: r.cw_id for r in SyncRecord.select(
        SyncRecord.cw_number, SyncRecord.cw_id).where(
        (SyncRecord.record_type == "bill") &
        SyncRecord.cw_number.in_(sorted(set(stored.values()))))} if keys else {}
    known = {key: held[stored[key]] for key in keys if stored[key] in held}
    top = SyncRecord.select(fn.MAX(SyncRecord.cw_id)).where(
        SyncRecord.record_type == "bill").scalar() or 0
    for key in keys:
        if key not in known:
            top += 1
            known[key] = top
    return known
